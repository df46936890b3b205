use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, error_fields, expect_error, expect_status};

fn register_body(email: &str, password: &str) -> serde_json::Value {
    json!({"email": email, "password": password, "termsAccepted": true})
}

/// `GET /api/users/current-user` with `token` in the session cookie, as a browser sends it.
async fn current_user_by_cookie(app: &TestApp, token: &str) -> serde_json::Value {
    let response = app
        .request(Method::GET, "/api/users/current-user")
        .header("cookie", format!("tx_session={token}"))
        .send()
        .await
        .expect("send");
    expect_status(response, StatusCode::OK).await["currentUser"].clone()
}

#[tokio::test]
async fn register_signs_in_by_cookie_and_by_bearer_token() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::POST, "/api/users/register")
        .json(&register_body("Ann@Example.com", "correct horse battery"))
        .send()
        .await
        .expect("send");
    let cookie = response.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    let body = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(body["user"]["email"], "Ann@Example.com");
    let token = body["token"].as_str().expect("token");
    assert!(token.len() >= 43, "at least 256 bits of token: {token}");
    assert!(cookie.starts_with(&format!("tx_session={token};")), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");

    let by_bearer = app.request(Method::GET, "/api/users/current-user").bearer_auth(token).send().await.expect("send");
    assert_eq!(expect_status(by_bearer, StatusCode::OK).await["currentUser"]["email"], "Ann@Example.com");
    assert_eq!(current_user_by_cookie(&app, token).await["id"], body["user"]["id"]);
    let anonymous = app.request(Method::GET, "/api/users/current-user").send().await.expect("send");
    assert_eq!(expect_status(anonymous, StatusCode::OK).await["currentUser"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_browser_gets_the_session_only_in_the_cookie_and_an_app_only_in_the_body() {
    let app = TestApp::spawn().await;
    let mut browser = register_body("browser@example.com", "correct horse battery");
    browser["session"] = json!("cookie");
    let response = app.request(Method::POST, "/api/users/register").json(&browser).send().await.expect("send");
    let cookie = response.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    let body = expect_status(response, StatusCode::CREATED).await;
    assert!(body.get("token").is_none(), "no token in reach of page scripts: {body}");
    let token = cookie.strip_prefix("tx_session=").and_then(|rest| rest.split(';').next()).expect("a session cookie");
    assert_eq!(current_user_by_cookie(&app, token).await["email"], "browser@example.com");

    let login = json!({"email": "browser@example.com", "password": "correct horse battery", "session": "token"});
    let response = app.request(Method::POST, "/api/users/login").json(&login).send().await.expect("send");
    assert!(response.headers().get("set-cookie").is_none(), "an app gets no cookie");
    let body = expect_status(response, StatusCode::OK).await;
    let token = body["token"].as_str().expect("token");
    let by_bearer = app.request(Method::GET, "/api/users/current-user").bearer_auth(token).send().await.expect("send");
    assert_eq!(expect_status(by_bearer, StatusCode::OK).await["currentUser"]["email"], "browser@example.com");

    let mut neither = login.clone();
    neither["session"] = json!("both");
    let response = app.request(Method::POST, "/api/users/login").json(&neither).send().await.expect("send");
    assert!(response.headers().get("set-cookie").is_none());
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let app = TestApp::spawn_with(&[("PUBLIC_URL", "https://tickets.example")]).await;
    let response = app
        .request(Method::POST, "/api/users/register")
        .json(&register_body("ann@example.com", "correct horse battery"))
        .send()
        .await
        .expect("send");
    assert!(response.headers()["set-cookie"].to_str().expect("ascii").contains("; Secure"));
}

#[tokio::test]
async fn emails_are_unique_regardless_of_case() {
    let app = TestApp::spawn().await;
    app.register("ann@example.com").await;
    let response = app
        .request(Method::POST, "/api/users/register")
        .json(&register_body("  ANN@example.COM ", "another password"))
        .send()
        .await
        .expect("send");
    let body = expect_error(response, StatusCode::CONFLICT, "email_taken").await;
    assert_eq!(error_fields(&body), ["email"]);
}

#[tokio::test]
async fn registration_rejects_bad_fields_all_at_once_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::POST, "/api/users/register")
        .json(&json!({"email": "not-an-email", "password": "short", "termsAccepted": false}))
        .send()
        .await
        .expect("send");
    let body = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email").await;
    assert_eq!(error_fields(&body), ["email", "password", "termsAccepted"]);

    let too_long = "x".repeat(129);
    let response = app
        .request(Method::POST, "/api/users/register")
        .json(&register_body("ann@example.com", &too_long))
        .send()
        .await
        .expect("send");
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "too_long").await;

    // Nothing was stored: the address is still free.
    app.register("ann@example.com").await;
}

#[tokio::test]
async fn registration_rejects_wrong_json_types() {
    let app = TestApp::spawn().await;
    for body in [
        json!({"email": 12, "password": "correct horse battery", "termsAccepted": true}),
        json!({"email": "ann@example.com", "password": true, "termsAccepted": true}),
        json!({"email": "ann@example.com", "password": "correct horse battery", "termsAccepted": "yes"}),
        json!({"email": "ann@example.com", "password": "correct horse battery"}),
        json!(["ann@example.com"]),
    ] {
        let response = app.request(Method::POST, "/api/users/register").json(&body).send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.register("ann@example.com").await;
    let mut bodies = Vec::new();
    for (email, password) in [("ann@example.com", "wrong password!"), ("nobody@example.com", "correct horse battery")] {
        let response = app
            .request(Method::POST, "/api/users/login")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("send");
        bodies.push(expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await);
    }
    assert_eq!(bodies[0], bodies[1]);

    let response = app
        .request(Method::POST, "/api/users/login")
        .json(&json!({"email": "ANN@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("send");
    let body = expect_status(response, StatusCode::OK).await;
    assert!(body["token"].as_str().is_some_and(|token| !token.is_empty()));
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let response = app.authed(&ann, Method::POST, "/api/users/logout").send().await.expect("send");
    assert!(response.headers()["set-cookie"].to_str().expect("ascii").contains("Max-Age=0"));
    expect_status(response, StatusCode::NO_CONTENT).await;

    let response = app
        .authed(&ann, Method::POST, "/api/tickets")
        .json(&crate::support::listing("Concert", 1000))
        .send()
        .await
        .expect("send");
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.authed(&ann, Method::GET, "/api/users/current-user").send().await.expect("send");
    assert_eq!(expect_status(response, StatusCode::OK).await["currentUser"], serde_json::Value::Null);
    let response = app.authed(&ann, Method::POST, "/api/users/logout").send().await.expect("send");
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn sessions_end_after_idling_and_after_their_absolute_lifetime() {
    let app = TestApp::spawn_with(&[("SESSION_IDLE_TIMEOUT", "1h"), ("SESSION_MAX_AGE", "3h")]).await;
    let current = |token: String| {
        let request = app.request(Method::GET, "/api/users/current-user").bearer_auth(token);
        async move { expect_status(request.send().await.expect("send"), StatusCode::OK).await["currentUser"].is_object() }
    };
    let idle = app.register("idle@example.com").await;
    app.advance(TimeDelta::minutes(59));
    assert!(current(idle.token.clone()).await, "used within the idle timeout");
    app.advance(TimeDelta::minutes(61));
    assert!(!current(idle.token.clone()).await, "idle for more than an hour");

    let busy = app.register("busy@example.com").await;
    for _ in 0..5 {
        app.advance(TimeDelta::minutes(30));
        assert!(current(busy.token.clone()).await);
    }
    app.advance(TimeDelta::minutes(31));
    assert!(!current(busy.token.clone()).await, "past the absolute lifetime despite activity");
}

#[derive(diesel::QueryableByName)]
struct LastSeen {
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    last_seen_at: chrono::DateTime<chrono::Utc>,
}

/// When the session of `user_id` was last recorded as used.
async fn last_seen(app: &TestApp, user_id: uuid::Uuid) -> chrono::DateTime<chrono::Utc> {
    use diesel_async::RunQueryDsl;
    let mut conn = app.pool.get().await.expect("conn");
    diesel::sql_query("SELECT last_seen_at FROM sessions WHERE user_id = $1")
        .bind::<diesel::sql_types::Uuid, _>(user_id)
        .get_result::<LastSeen>(&mut conn)
        .await
        .expect("session")
        .last_seen_at
}

#[tokio::test]
async fn a_session_records_its_use_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let use_it = || async {
        let response = app.authed(&ann, Method::GET, "/api/users/current-user").send().await.expect("send");
        assert!(expect_status(response, StatusCode::OK).await["currentUser"].is_object());
    };
    let signed_in = last_seen(&app, ann.user_id).await;
    app.advance(TimeDelta::seconds(59));
    use_it().await;
    assert_eq!(
        last_seen(&app, ann.user_id).await,
        signed_in,
        "a use within a minute of the last one recorded writes nothing"
    );
    app.advance(TimeDelta::seconds(2));
    use_it().await;
    assert_eq!(
        last_seen(&app, ann.user_id).await.timestamp_micros(),
        app.clock_now().timestamp_micros(),
        "a minute on, the use is recorded"
    );
}

#[tokio::test]
async fn a_reservation_refused_at_the_first_look_writes_nothing_not_even_the_session() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let first = app.register("first@example.com").await;
    let ann = app.register("ann@example.com").await;
    let taken = app.create_ticket(&seller, "Taken", 4_500).await;
    let free = app.create_ticket(&seller, "Free", 4_500).await;
    expect_status(app.reserve(&first, &taken["id"]).await, StatusCode::CREATED).await;
    let signed_in = last_seen(&app, ann.user_id).await;

    app.advance(TimeDelta::minutes(2));
    expect_error(app.reserve(&ann, &taken["id"]).await, StatusCode::CONFLICT, "ticket_unavailable").await;
    assert_eq!(last_seen(&app, ann.user_id).await, signed_in, "a crowd's losers leave their sessions as they were");

    expect_status(app.reserve(&ann, &free["id"]).await, StatusCode::CREATED).await;
    assert_eq!(
        last_seen(&app, ann.user_id).await.timestamp_micros(),
        app.clock_now().timestamp_micros(),
        "a reservation made records the session's use"
    );

    // A refusal after the first look (here the hold limit, met under the buyer's lock) is a use too.
    for n in 0..2 {
        let more = app.create_ticket(&seller, &format!("More {n}"), 4_500).await;
        expect_status(app.reserve(&ann, &more["id"]).await, StatusCode::CREATED).await;
    }
    let one_too_many = app.create_ticket(&seller, "One too many", 4_500).await;
    app.advance(TimeDelta::minutes(2));
    expect_error(app.reserve(&ann, &one_too_many["id"]).await, StatusCode::CONFLICT, "hold_limit_reached").await;
    assert_eq!(
        last_seen(&app, ann.user_id).await.timestamp_micros(),
        app.clock_now().timestamp_micros(),
        "a refusal past the first look records the session's use"
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account() {
    let app = TestApp::spawn().await;
    app.register("ann@example.com").await;
    let login = |password: &'static str| {
        app.request(Method::POST, "/api/users/login").json(&json!({"email": "ann@example.com", "password": password}))
    };
    for _ in 0..5 {
        expect_error(
            login("wrong password!").send().await.expect("send"),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let response = login("correct horse battery").send().await.expect("send");
    let retry_after: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    app.advance(TimeDelta::minutes(15));
    expect_status(login("correct horse battery").send().await.expect("send"), StatusCode::OK).await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_client_address() {
    let app = TestApp::spawn_with(&[("LOGIN_MAX_FAILURES_PER_ADDRESS", "3")]).await;
    app.register("ann@example.com").await;
    for n in 0..3 {
        let response = app
            .request(Method::POST, "/api/users/login")
            .json(&json!({"email": format!("guess{n}@example.com"), "password": "whatever123"}))
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let response = app
        .request(Method::POST, "/api/users/login")
        .json(&json!({"email": "ann@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("send");
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[tokio::test]
async fn an_attacker_elsewhere_cannot_lock_the_owner_out() {
    let app = TestApp::spawn_with(&[("TRUST_FORWARDED_FOR", "true")]).await;
    app.register("ann@example.com").await;
    let login = |from: &str, password: &str| {
        app.request(Method::POST, "/api/users/login")
            .header("x-forwarded-for", from)
            .json(&json!({"email": "ann@example.com", "password": password}))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(login("203.0.113.9", "wrong password!").await.expect("send").status());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 3, "{statuses:?}");
    expect_status(login("198.51.100.7", "correct horse battery").await.expect("send"), StatusCode::OK).await;
    let still = login("203.0.113.9", "correct horse battery").await.expect("send");
    expect_error(still, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_simultaneous_wrong_passwords_get_at_most_five_password_checks() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_MINUTE", "0")]).await;
    app.register("ann@example.com").await;
    let attempts = (0..30).map(|_| {
        app.request(Method::POST, "/api/users/login")
            .json(&json!({"email": "ann@example.com", "password": "wrong password!"}))
            .send()
    });
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(attempts).await.into_iter().map(|r| r.expect("send").status()).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(checked, 5, "only five passwords were checked: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    let recorded =
        crate::support::database::count(&app.database_url, "SELECT count(*) AS count FROM login_failures").await;
    assert_eq!(recorded, 5);
}
