use reqwest::{Method, StatusCode};

use crate::support::{TestApp, expect_error, expect_status};

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_body() {
    let app = TestApp::spawn().await;
    expect_error(
        app.request(Method::GET, "/api/nope").send().await.expect("send"),
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;
    expect_error(
        app.request(Method::PATCH, "/api/tickets").send().await.expect("send"),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors() {
    let app = TestApp::spawn().await;
    let register = || app.request(Method::POST, "/api/users/register");
    let response = register().header("content-type", "application/json").body("{\"email\": ").send().await;
    expect_error(response.expect("send"), StatusCode::BAD_REQUEST, "invalid_body").await;
    let response = register().header("content-type", "text/plain").body("hello").send().await;
    expect_error(response.expect("send"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let response = register().send().await;
    expect_error(response.expect("send"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(100 * 1024));
    let response = register().header("content-type", "application/json").body(huge.clone()).send().await;
    expect_error(response.expect("send"), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let chunked = reqwest::Body::wrap_stream(futures_util::stream::iter(
        huge.into_bytes().chunks(1024).map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec())).collect::<Vec<_>>(),
    ));
    let response = register().header("content-type", "application/json").body(chunked).send().await;
    expect_error(response.expect("send"), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn bad_ids_in_paths_are_rejected() {
    let app = TestApp::spawn().await;
    let response = app.request(Method::GET, "/api/tickets/not-a-uuid").send().await.expect("send");
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    let response = app.request(Method::GET, &format!("/api/tickets/{}", uuid::Uuid::new_v4())).send().await;
    expect_error(response.expect("send"), StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn probes_spec_and_docs_are_served() {
    let app = TestApp::spawn().await;
    let health =
        expect_status(app.request(Method::GET, "/api/healthz").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(health["status"], "ok");
    let ready =
        expect_status(app.request(Method::GET, "/api/readyz").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(ready["status"], "ok");
    let spec =
        expect_status(app.request(Method::GET, "/api/openapi.json").send().await.expect("send"), StatusCode::OK).await;
    assert!(spec["paths"]["/api/tickets"].is_object());
    let docs = app.request(Method::GET, "/api/docs").send().await.expect("send");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("html").contains("swagger"));
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_unreachable() {
    let app = TestApp::spawn_with(&[]).await;
    let broken = ticket_exchange::db::connect(
        &ticket_exchange::db::Connector::new("postgres://postgres@127.0.0.1:1/none", None).expect("connector"),
        1,
    )
    .expect("pool");
    let mut config = ticket_exchange::config::Config::from_lookup(|name| {
        (name == "DATABASE_URL").then(|| "postgres://postgres@127.0.0.1:1/none".to_owned())
    })
    .expect("config");
    config.shutdown_grace = std::time::Duration::from_secs(1);
    let state = ticket_exchange::state::AppState::new(broken, app.clock.clone(), config).expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    tokio::spawn(ticket_exchange::app::run(acceptor, state, std::future::pending()));
    let client = reqwest::Client::new();
    let ready = client.get(format!("{url}/api/readyz")).send().await.expect("send");
    assert_eq!(expect_status(ready, StatusCode::SERVICE_UNAVAILABLE).await["status"], "database unreachable");
    let tickets = client.get(format!("{url}/api/tickets")).send().await.expect("send");
    let body = expect_error(tickets, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    assert!(!body.to_string().contains("127.0.0.1"), "nothing internal leaks: {body}");
}

#[tokio::test]
async fn the_apps_origins_pass_cors_preflight_and_others_do_not() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/api/tickets")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization,api-version")
            .send()
    };
    let allowed = preflight("tauri://localhost").await.expect("send");
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(allowed.headers()["access-control-allow-origin"], "tauri://localhost");
    let refused = preflight("https://evil.example").await.expect("send");
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    assert!(!refused.status().is_success());
}

#[tokio::test]
async fn a_nul_character_anywhere_is_a_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let nul = "Jazz\u{0}night";
    let cases = [
        (
            app.request(Method::POST, "/api/users/register").json(&serde_json::json!({
                "email": "a\u{0}b@example.com", "password": "correct horse battery", "termsAccepted": true
            })),
            "register",
        ),
        (
            app.request(Method::POST, "/api/users/login").json(&serde_json::json!({
                "email": "seller\u{0}@example.com", "password": "x"
            })),
            "login",
        ),
        (app.authed(&seller, Method::POST, "/api/tickets").json(&crate::support::listing(nul, 4_500)), "listing"),
        (
            app.authed(&seller, Method::POST, "/api/tickets").json(&crate::support::with(
                crate::support::listing("Jazz", 4_500),
                serde_json::json!({"currency": "C\u{0}D"}),
            )),
            "currency",
        ),
        (app.request(Method::GET, "/api/tickets?q=Jazz%00night"), "search"),
        (
            app.authed(&seller, Method::POST, "/api/payments/confirm").json(&serde_json::json!({
                "orderId": uuid::Uuid::new_v4(), "cardToken": "tok_\u{0}"
            })),
            "card token",
        ),
    ];
    for (request, what) in cases {
        let response = request.send().await.expect("send");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("error body");
        assert!(body["errors"][0]["code"].is_string(), "{what}: {body}");
    }
    let market =
        expect_status(app.request(Method::GET, "/api/tickets").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(market["items"], serde_json::json!([]), "nothing was stored");
}

#[tokio::test]
async fn a_price_stripe_could_not_charge_is_refused_at_create_and_edit() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    for (price, currency, message) in
        [(49, "CAD", "0.50 CAD"), (49, "USD", "0.50 USD"), (49, "EUR", "0.50 EUR"), (29, "GBP", "0.30 GBP")]
    {
        let response = app
            .authed(&seller, Method::POST, "/api/tickets")
            .json(&crate::support::with(
                crate::support::listing("Cheap", price),
                serde_json::json!({"currency": currency}),
            ))
            .send()
            .await
            .expect("send");
        let body = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "below_minimum_charge").await;
        assert_eq!(body["errors"][0]["field"], "price");
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains(message)), "{body}");
    }
    let ticket = app.create_ticket(&seller, "Fine", 50).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let response = app
        .authed(&seller, Method::PUT, &path)
        .json(&crate::support::with(
            crate::support::listing("Fine", 10),
            serde_json::json!({"version": ticket["version"]}),
        ))
        .send()
        .await
        .expect("send");
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "below_minimum_charge").await;
    let unchanged = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    assert_eq!((unchanged["price"].as_i64(), unchanged["version"].as_i64()), (Some(50), ticket["version"].as_i64()));
}
