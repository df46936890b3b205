//! What an engineer running the server relies on: the ownership matrix over every operation that
//! takes an id, security headers, request ids, and the Prometheus metrics.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::checkout::{GOOD_CARD, billing, pay, reserved, start_payment};
use crate::support::process::ServerProcess;
use crate::support::{TestApp, expect_error, expect_status};

#[tokio::test]
async fn nobody_reaches_another_persons_listing_order_or_payment_by_its_id() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    expect_status(pay(&app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    let stranger = app.register("stranger@example.com").await;
    let ticket = format!("/api/tickets/{}", purchase.ticket["id"].as_str().expect("id"));
    let order = format!("/api/orders/{}", purchase.order_id());
    let order_id = json!({"orderId": purchase.order_id()});
    let edit = crate::support::with(crate::support::listing("Mine now", 100), json!({"version": 2}));
    let token = app.stripe().card_token(GOOD_CARD).await;
    let confirm = json!({"orderId": purchase.order_id(), "cardToken": token, "billing": billing()});

    // Every operation that names someone else's listing or order, as the stranger and as the seller
    // (who owns the listing but not the buyer's order), then signed out.
    let matrix: Vec<(Method, String, Option<Value>, bool)> = vec![
        (Method::PUT, ticket.clone(), Some(edit), false),
        (Method::DELETE, ticket.clone(), None, false),
        // `null`: the body is the ticket file itself.
        (Method::PUT, format!("{ticket}/file"), Some(Value::Null), false),
        (Method::GET, order.clone(), None, true),
        (Method::GET, format!("{order}/ticket"), None, true),
        (Method::POST, format!("{order}/cancel"), Some(json!({})), true),
        (Method::POST, format!("{order}/refund"), Some(json!({})), true),
        (Method::POST, "/api/payments".to_owned(), Some(order_id), true),
        (Method::POST, "/api/payments/confirm".to_owned(), Some(confirm), true),
    ];
    for (method, path, body, sellers_too) in &matrix {
        let mut callers = vec![&stranger];
        if *sellers_too {
            callers.push(&purchase.seller);
        }
        for caller in callers {
            let mut request = app.authed(caller, method.clone(), path);
            match body {
                Some(Value::Null) => {
                    request = request.header("content-type", "application/pdf").body(crate::support::TICKET_PDF)
                }
                Some(body) => request = request.json(body),
                None => {}
            }
            expect_error(request.send().await.expect("send"), StatusCode::NOT_FOUND, "not_found").await;
        }
        let mut request = app.request(method.clone(), path);
        match body {
            Some(Value::Null) => {
                request = request.header("content-type", "application/pdf").body(crate::support::TICKET_PDF)
            }
            Some(body) => request = request.json(body),
            None => {}
        }
        expect_error(request.send().await.expect("send"), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }

    // Nothing changed: the order is still the buyer's, complete and not refunded.
    let seen =
        expect_status(app.authed(&purchase.buyer, Method::GET, &order).send().await.expect("send"), StatusCode::OK)
            .await;
    assert_eq!(seen["status"], "complete", "{seen}");
    let listed = expect_status(app.request(Method::GET, &ticket).send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(listed["eventName"], purchase.ticket["eventName"]);
    let again = start_payment(&app, &purchase.buyer, purchase.order_id()).await;
    expect_error(again, StatusCode::CONFLICT, "order_already_paid").await;
}

#[tokio::test]
async fn responses_carry_security_headers_and_a_request_id() {
    let app = TestApp::spawn_with_stripe(&[("PUBLIC_URL", "https://tickets.example")]).await;
    let response = app.request(Method::GET, "/api/tickets").send().await.expect("send");
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(headers["strict-transport-security"].to_str().expect("ascii").starts_with("max-age="));
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let scripts = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src")).expect("script-src");
    assert!(!scripts.contains("'unsafe-inline'"), "inline scripts stay forbidden: {csp}");
    assert!(csp.contains(&app.stripe().url), "Stripe.js is allowed from its origin: {csp}");
    let generated = headers["x-request-id"].to_str().expect("ascii").to_owned();
    assert_eq!(generated.len(), 32, "a fresh id: {generated}");

    // A caller's own id is kept; one that could forge log lines is replaced.
    let response =
        app.request(Method::GET, "/api/tickets").header("x-request-id", "edge-7f3a.1").send().await.expect("send");
    assert_eq!(response.headers()["x-request-id"], "edge-7f3a.1");
    let response = app
        .request(Method::GET, "/api/tickets")
        .header("x-request-id", "x\" status=200 forged")
        .send()
        .await
        .expect("send");
    assert_ne!(response.headers()["x-request-id"], "x\" status=200 forged");
    // Errors carry the id too.
    let response = app.request(Method::GET, "/api/nothing-here").send().await.expect("send");
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_read_the_marketplace_state() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    for _ in 0..3 {
        app.request(Method::GET, &format!("/api/orders/{}", purchase.order_id())).send().await.expect("send");
    }
    let response = app.request(Method::GET, "/metrics").send().await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");
    let line = |prefix: &str| {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
            .to_owned()
    };
    assert!(
        line(r#"ticket_exchange_http_requests_total{method="GET",route="/api/orders/{id}",status="401"}"#)
            .ends_with(" 3"),
        "requests are counted by route template, not by raw path"
    );
    assert!(line("ticket_exchange_http_request_duration_seconds_count").contains("route="));
    assert_eq!(line("ticket_exchange_live_holds "), "ticket_exchange_live_holds 1");
    assert_eq!(line(r#"ticket_exchange_orders{status="created"}"#), r#"ticket_exchange_orders{status="created"} 1"#);
    assert!(text.contains("ticket_exchange_outbox_lag_seconds"));
    assert!(text.contains("ticket_exchange_outbox_parked_deliveries 0"));
    assert!(text.contains("ticket_exchange_database_up 1"));
    assert!(!text.contains(purchase.order_id()), "ids never become labels");

    // Through a proxy (the public Ingress) the figures are not served.
    let proxied = app.request(Method::GET, "/metrics").header("x-forwarded-for", "203.0.113.9").send().await;
    expect_error(proxied.expect("send"), StatusCode::NOT_FOUND, "route_not_found").await;
}

#[tokio::test]
async fn one_address_sending_too_fast_is_told_to_wait_and_others_are_not() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_PER_MINUTE", "5"), ("TRUST_FORWARDED_FOR", "true")]).await;
    let from = |addr: &'static str| app.request(Method::GET, "/api/tickets").header("x-forwarded-for", addr);
    for _ in 0..5 {
        assert_eq!(from("198.51.100.7").send().await.expect("send").status(), StatusCode::OK);
    }
    let limited = from("198.51.100.7").send().await.expect("send");
    let retry_after: u64 = limited.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(from("203.0.113.20").send().await.expect("send").status(), StatusCode::OK, "another address");
    // Probes are never limited, so a busy client cannot get a pod taken out of service.
    let probe = app.request(Method::GET, "/api/readyz").header("x-forwarded-for", "198.51.100.7").send().await;
    assert_eq!(probe.expect("send").status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_format_json_every_line_is_json_and_carries_the_request_id() {
    let app = TestApp::spawn().await;
    let env = [("BACKGROUND_JOBS", "false"), ("LOG_FORMAT", "json"), ("RUST_LOG", "info")];
    let mut server = ServerProcess::start_logging(&app.database_url, &env).await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/tickets", server.base_url))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let lines = server.stop_and_read_log();

    let entries: Vec<Value> =
        lines.iter().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"))).collect();
    let access = entries
        .iter()
        .find(|entry| entry["fields"]["message"] == "answered" && entry["span"]["request_id"] == "trace-42")
        .unwrap_or_else(|| panic!("no access line for the request: {lines:?}"));
    assert_eq!(access["span"]["route"], "/api/tickets");
    assert_eq!(access["fields"]["status"], 200);
    assert!(entries.iter().any(|entry| entry["fields"]["message"] == "listening"), "{lines:?}");
}
