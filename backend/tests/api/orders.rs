use chrono::TimeDelta;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ticket_exchange::orders::sweep::sweep_lapsed_holds;

use crate::support::process::ServerProcess;
use crate::support::{Session, TestApp, expect_error, expect_status, seed};

async fn ticket_status(app: &TestApp, ticket: &Value) -> String {
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let body = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    body["status"].as_str().expect("status").to_owned()
}

async fn order(app: &TestApp, session: &Session, order: &Value) -> Value {
    let path = format!("/api/orders/{}", order["id"].as_str().expect("id"));
    expect_status(app.authed(session, Method::GET, &path).send().await.expect("send"), StatusCode::OK).await
}

#[tokio::test]
async fn a_reservation_holds_the_listing_for_fifteen_minutes() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;

    let order = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    assert_eq!(order["status"], "created");
    assert_eq!(order["ticketTitle"], "Jazz night");
    assert_eq!(order["price"], 4_500);
    assert_eq!(order["version"], 1);
    let expires: chrono::DateTime<chrono::Utc> = order["expiresAt"].as_str().expect("expiresAt").parse().expect("time");
    assert_eq!(expires, app.clock_now() + TimeDelta::minutes(15));

    assert_eq!(ticket_status(&app, &ticket).await, "held");
    let market =
        expect_status(app.request(Method::GET, "/api/tickets").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(market["items"], serde_json::json!([]), "a held listing is off the market");
    let history =
        expect_status(app.authed(&buyer, Method::GET, "/api/orders").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(history["items"][0]["id"], order["id"]);

    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let edit = app
        .authed(&seller, Method::PUT, &path)
        .json(&crate::support::with(crate::support::listing("x", 100), json!({"version": 2})))
        .send()
        .await;
    expect_error(edit.expect("send"), StatusCode::CONFLICT, "ticket_not_editable").await;
    let delete = app.authed(&seller, Method::DELETE, &path).send().await.expect("send");
    expect_error(delete, StatusCode::CONFLICT, "ticket_not_editable").await;
}

#[tokio::test]
async fn reservations_that_cannot_be_made_are_refused() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    expect_error(app.reserve(&seller, &ticket["id"]).await, StatusCode::CONFLICT, "own_ticket").await;
    expect_error(app.reserve(&seller, &json!(uuid::Uuid::new_v4())).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(app.reserve(&seller, &json!("nope")).await, StatusCode::BAD_REQUEST, "invalid_body").await;
    let response = app
        .authed(&seller, Method::POST, "/api/orders")
        .json(&json!({"ticketId": ticket["id"], "status": "complete"}))
        .send()
        .await
        .expect("send");
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    let response = app.request(Method::POST, "/api/orders").json(&json!({"ticketId": ticket["id"]})).send().await;
    expect_error(response.expect("send"), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(ticket_status(&app, &ticket).await, "available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_200_simultaneous_buyers_exactly_one_wins() {
    let app = TestApp::spawn_with(&[("DATABASE_POOL_SIZE", "16")]).await;
    let seller = app.register("seller@example.com").await;
    let ticket = app.create_ticket(&seller, "Last ticket", 9_900).await;
    let buyers = seed::buyers(&app.database_url, 200, app.clock_now()).await;

    let responses = join_all(buyers.iter().map(|buyer| app.reserve(buyer, &ticket["id"]))).await;
    let mut created = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                expect_error(response, StatusCode::CONFLICT, "ticket_unavailable").await;
            }
            other => panic!("unexpected {other}: {}", response.text().await.unwrap_or_default()),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(ticket_status(&app, &ticket).await, "held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_database_still_sell_once() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let ticket = app.create_ticket(&seller, "Last ticket", 9_900).await;
    let buyers = seed::buyers(&app.database_url, 200, chrono::Utc::now()).await;
    let replicas = [
        ServerProcess::start(&app.database_url, &[("BACKGROUND_JOBS", "false")]).await,
        ServerProcess::start(&app.database_url, &[("BACKGROUND_JOBS", "false")]).await,
    ];
    let client = reqwest::Client::new();
    let requests = buyers.iter().enumerate().map(|(n, buyer)| {
        client
            .post(format!("{}/api/orders", replicas[n % 2].base_url))
            .bearer_auth(&buyer.token)
            .json(&json!({"ticketId": ticket["id"]}))
            .send()
    });
    let statuses: Vec<StatusCode> = join_all(requests).await.into_iter().map(|r| r.expect("send").status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_buyer_holds_at_most_three_listings_even_when_racing() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;
    let mut tickets = Vec::new();
    for n in 0..10 {
        tickets.push(app.create_ticket(&seller, &format!("Seat {n}"), 1_000).await);
    }
    let responses = join_all(tickets.iter().map(|ticket| app.reserve(&buyer, &ticket["id"]))).await;
    let created = responses.iter().filter(|r| r.status() == StatusCode::CREATED).count();
    assert_eq!(created, 3);
    for response in responses.into_iter().filter(|r| r.status() != StatusCode::CREATED) {
        expect_error(response, StatusCode::CONFLICT, "hold_limit_reached").await;
    }
}

#[tokio::test]
async fn a_lapsed_hold_is_free_at_once_and_the_sweep_makes_it_so() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let first = app.register("first@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    let held = expect_status(app.reserve(&first, &ticket["id"]).await, StatusCode::CREATED).await;

    app.advance(TimeDelta::minutes(15));
    // Before any sweep: reads already treat the hold as over.
    assert_eq!(ticket_status(&app, &ticket).await, "available");
    let seen = order(&app, &first, &held).await;
    assert_eq!((seen["status"].as_str(), seen["cancelReason"].as_str()), (Some("cancelled"), Some("expired")));

    assert_eq!(sweep_lapsed_holds(&app.pool, app.clock_now(), 100).await.expect("sweep"), 1);
    assert_eq!(sweep_lapsed_holds(&app.pool, app.clock_now(), 100).await.expect("sweep again"), 0, "idempotent");
    let swept = order(&app, &first, &held).await;
    assert_eq!((swept["status"].as_str(), swept["version"].as_i64()), (Some("cancelled"), Some(2)));
    assert_eq!(ticket_status(&app, &ticket).await, "available");
}

#[tokio::test]
async fn a_new_reservation_takes_over_a_lapsed_hold_before_the_sweep() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    let first = app.register("first@example.com").await;
    let second = app.register("second@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    let old = expect_status(app.reserve(&first, &ticket["id"]).await, StatusCode::CREATED).await;
    expect_error(app.reserve(&second, &ticket["id"]).await, StatusCode::CONFLICT, "ticket_unavailable").await;

    app.advance(TimeDelta::minutes(16));
    let new = expect_status(app.reserve(&second, &ticket["id"]).await, StatusCode::CREATED).await;
    let old_now = order(&app, &first, &old).await;
    assert_eq!((old_now["status"].as_str(), old_now["version"].as_i64()), (Some("cancelled"), Some(2)));

    // A late sweep, a late cancel of the old order and a replayed expiry event all leave the new hold alone.
    assert_eq!(sweep_lapsed_holds(&app.pool, app.clock_now(), 100).await.expect("sweep"), 0);
    let path = format!("/api/orders/{}/cancel", old["id"].as_str().expect("id"));
    let late_cancel = app.authed(&first, Method::POST, &path).send().await.expect("send");
    expect_error(late_cancel, StatusCode::CONFLICT, "order_not_cancellable").await;
    use diesel_async::RunQueryDsl;
    let mut conn = app.pool.get().await.expect("conn");
    diesel::sql_query("UPDATE outbox_deliveries SET status = 'pending', next_attempt_at = '2000-01-01' ")
        .execute(&mut conn)
        .await
        .expect("replay every delivery");
    let report = app.dispatcher().drain().await.expect("drain");
    assert!(report.delivered >= 1, "{report:?}");
    assert_eq!(ticket_status(&app, &ticket).await, "held");
    assert_eq!(order(&app, &second, &new).await["status"], "created");
}

#[tokio::test]
async fn buyers_release_their_own_holds_and_nobody_else_can() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;
    let other = app.register("other@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    let held = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    let id = held["id"].as_str().expect("id");

    for intruder in [&other, &seller] {
        let response = app.authed(intruder, Method::POST, &format!("/api/orders/{id}/cancel")).send().await;
        expect_error(response.expect("send"), StatusCode::NOT_FOUND, "not_found").await;
        let response = app.authed(intruder, Method::GET, &format!("/api/orders/{id}")).send().await;
        expect_error(response.expect("send"), StatusCode::NOT_FOUND, "not_found").await;
        let history = app.authed(intruder, Method::GET, "/api/orders").send().await.expect("send");
        assert_eq!(expect_status(history, StatusCode::OK).await["total"], 0);
    }
    let response = app.request(Method::GET, &format!("/api/orders/{id}")).send().await.expect("send");
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let response = app.authed(&buyer, Method::POST, &format!("/api/orders/{id}/cancel")).send().await;
    let cancelled = expect_status(response.expect("send"), StatusCode::OK).await;
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["cancelReason"].as_str()),
        (Some("cancelled"), Some("buyer_cancelled"))
    );
    assert_eq!(ticket_status(&app, &ticket).await, "available");
    let again = app.authed(&buyer, Method::POST, &format!("/api/orders/{id}/cancel")).send().await;
    expect_error(again.expect("send"), StatusCode::CONFLICT, "order_not_cancellable").await;
}

#[tokio::test]
async fn order_history_keeps_what_was_bought_at_the_time() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    let held = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    let id = held["id"].as_str().expect("id");
    expect_status(
        app.authed(&buyer, Method::POST, &format!("/api/orders/{id}/cancel")).send().await.expect("send"),
        StatusCode::OK,
    )
    .await;
    let current = expect_status(
        app.request(Method::GET, &format!("/api/tickets/{}", ticket["id"].as_str().expect("id")))
            .send()
            .await
            .expect("send"),
        StatusCode::OK,
    )
    .await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let edit = app
        .authed(&seller, Method::PUT, &path)
        .json(&crate::support::with(
            crate::support::listing("Jazz night (moved)", 9_000),
            json!({"version": current["version"]}),
        ))
        .send()
        .await
        .expect("send");
    expect_status(edit, StatusCode::OK).await;
    app.advance(TimeDelta::seconds(1));
    let again = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;

    let history = expect_status(
        app.authed(&buyer, Method::GET, "/api/orders?limit=1").send().await.expect("send"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(history["total"], 2);
    assert_eq!(history["items"][0]["id"], again["id"], "newest first");
    assert_eq!(history["items"][0]["ticketTitle"], "Jazz night (moved)");
    let page2 = app.authed(&buyer, Method::GET, "/api/orders?limit=1&offset=1").send().await.expect("send");
    let first = &expect_status(page2, StatusCode::OK).await["items"][0];
    assert_eq!((first["ticketTitle"].as_str(), first["price"].as_i64()), (Some("Jazz night"), Some(4_500)));
}

#[derive(diesel::QueryableByName)]
struct Payload {
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    payload: Value,
}

#[tokio::test]
async fn a_reservation_taxes_as_the_rate_rounds_and_its_event_names_the_buyer() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn_with(&[("TAX_RATE_PERCENT", "14.975"), ("MAX_LIVE_HOLDS", "10")]).await;
    let rate = ticket_exchange::money::TaxRate::parse_percent("14.975").expect("rate");
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;
    for price in [50, 101, 1_999, 4_517, 99_999_999] {
        let ticket = app.create_ticket(&seller, "Seat", price).await;
        let order = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
        let tax = rate.of(price);
        assert_eq!((order["tax"].as_i64(), order["total"].as_i64()), (Some(tax), Some(price + tax)), "price {price}");
    }
    let mut conn = app.pool.get().await.expect("conn");
    let events: Vec<Payload> = diesel::sql_query("SELECT payload FROM outbox_events WHERE kind = 'order.created'")
        .load(&mut conn)
        .await
        .expect("events");
    assert_eq!(events.len(), 5);
    for event in events {
        let event: ticket_exchange::outbox::Event = serde_json::from_value(event.payload).expect("an event");
        let ticket_exchange::outbox::Event::OrderCreated { buyer_id, .. } = event else { panic!("{event:?}") };
        assert_eq!(buyer_id, buyer.user_id);
    }
}
