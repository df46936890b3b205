use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeDelta;
use diesel::sql_types::{BigInt, Text};
use reqwest::{Method, StatusCode};
use serde_json::json;
use ticket_exchange::outbox::{ConsumerError, Dispatcher, RetryPolicy, consumers};

use crate::support::process::ServerProcess;
use crate::support::{TestApp, expect_status, seed};

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct DeliveryState {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    last_error: Option<String>,
}

async fn deliveries(app: &TestApp) -> Vec<DeliveryState> {
    use diesel_async::RunQueryDsl;
    let mut conn = app.pool.get().await.expect("conn");
    diesel::sql_query("SELECT status, attempts, last_error FROM outbox_deliveries ORDER BY event_id")
        .load(&mut conn)
        .await
        .expect("deliveries")
}

/// Reserves and cancels one ticket: one `order.cancelled` event for the payments consumer.
async fn cancelled_order(app: &TestApp) {
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    let order = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    let path = format!("/api/orders/{}/cancel", order["id"].as_str().expect("id"));
    expect_status(app.authed(&buyer, Method::POST, &path).send().await.expect("send"), StatusCode::OK).await;
}

fn policy(max_attempts: i32) -> RetryPolicy {
    RetryPolicy { max_attempts, ..RetryPolicy::default() }
}

#[tokio::test]
async fn failed_deliveries_are_retried_after_a_growing_delay_until_they_succeed() {
    let app = TestApp::spawn().await;
    cancelled_order(&app).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let dispatcher = Dispatcher::new(app.pool.clone(), app.clock.clone(), policy(5)).register(
        consumers::CANCEL_PAYMENT,
        move |_delivery| {
            let attempt = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move { if attempt < 3 { Err(ConsumerError::new("payment provider down")) } else { Ok(()) } }
        },
    );

    assert_eq!(dispatcher.drain().await.expect("drain").retried, 1);
    assert_eq!(dispatcher.drain().await.expect("drain").attempted(), 0, "not due before the backoff");
    app.advance(TimeDelta::seconds(2));
    assert_eq!(dispatcher.drain().await.expect("drain").retried, 1);
    app.advance(TimeDelta::seconds(3));
    assert_eq!(dispatcher.drain().await.expect("drain").attempted(), 0, "the second delay is longer");
    app.advance(TimeDelta::seconds(1));
    assert_eq!(dispatcher.drain().await.expect("drain").delivered, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(deliveries(&app).await, [DeliveryState { status: "delivered".into(), attempts: 3, last_error: None }]);
}

#[tokio::test]
async fn a_poison_event_is_parked_after_its_attempts_and_never_blocks_the_rest() {
    let app = TestApp::spawn().await;
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.pool.get().await.expect("conn");
        let id: Vec<EventId> = diesel::sql_query(
            "INSERT INTO outbox_events (kind, aggregate_id, payload, created_at)
             VALUES ('order.expired', gen_random_uuid(), '{\"type\": \"order.expired\", \"garbage\": true}', $1)
             RETURNING id",
        )
        .bind::<diesel::sql_types::Timestamptz, _>(app.clock_now())
        .load(&mut conn)
        .await
        .expect("poison event");
        diesel::sql_query("INSERT INTO outbox_deliveries (event_id, consumer, next_attempt_at) VALUES ($1, $2, $3)")
            .bind::<BigInt, _>(id[0].id)
            .bind::<Text, _>(consumers::CANCEL_PAYMENT)
            .bind::<diesel::sql_types::Timestamptz, _>(app.clock_now())
            .execute(&mut conn)
            .await
            .expect("poison delivery");
    }
    cancelled_order(&app).await;
    let dispatcher = Dispatcher::new(app.pool.clone(), app.clock.clone(), policy(3))
        .register(consumers::CANCEL_PAYMENT, |_delivery| async { Ok(()) });

    let mut parked = 0;
    let mut delivered = 0;
    for _ in 0..4 {
        let report = dispatcher.drain().await.expect("drain");
        parked += report.parked;
        delivered += report.delivered;
        app.advance(TimeDelta::minutes(10));
    }
    assert_eq!((parked, delivered), (1, 1));
    let states = deliveries(&app).await;
    assert_eq!(states[0].status, "parked");
    assert_eq!(states[0].attempts, 3);
    assert!(states[0].last_error.as_deref().is_some_and(|e| e.contains("unreadable event payload")), "{states:?}");
    assert_eq!(states[1].status, "delivered");
    assert_eq!(dispatcher.drain().await.expect("drain").attempted(), 0, "parked stays parked");
}

#[derive(diesel::QueryableByName)]
struct EventId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchers_on_several_replicas_hand_each_delivery_to_one_of_them() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    let people = seed::buyers(&app.database_url, 41, now).await;
    for buyer in &people[1..] {
        let draft = ticket_exchange::listings::TicketDraft::parse("Seat", 1_000, None).expect("draft");
        let ticket = ticket_exchange::listings::create(&app.pool, people[0].user_id, &draft, now).await.expect("list");
        let order = ticket_exchange::orders::reserve(&app.pool, buyer.user_id, ticket.id, now, app.state.config.orders)
            .await
            .expect("reserve");
        ticket_exchange::orders::cancel(&app.pool, buyer.user_id, order.id, now).await.expect("cancel");
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let replica = || {
        let counter = calls.clone();
        Dispatcher::new(app.pool.clone(), app.clock.clone(), policy(3)).register(consumers::CANCEL_PAYMENT, move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
    };
    let (a, b, c) = (replica(), replica(), replica());
    let (ra, rb, rc) = tokio::join!(a.drain(), b.drain(), c.drain());
    let delivered = ra.expect("a").delivered + rb.expect("b").delivered + rc.expect("c").delivered;
    assert_eq!(delivered, 40);
    assert_eq!(calls.load(Ordering::SeqCst), 40, "no delivery handed out twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_between_commit_and_delivery_loses_no_event() {
    let app = TestApp::spawn().await;
    let mut server =
        ServerProcess::start(&app.database_url, &[("OUTBOX_INTERVAL", "1h"), ("SWEEP_INTERVAL", "1h")]).await;
    let client = reqwest::Client::new();
    let people = seed::buyers(&app.database_url, 2, chrono::Utc::now()).await;
    let ticket: serde_json::Value = client
        .post(format!("{}/api/tickets", server.base_url))
        .bearer_auth(&people[0].token)
        .json(&json!({"title": "Jazz night", "price": 4_500}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let order: serde_json::Value = client
        .post(format!("{}/api/orders", server.base_url))
        .bearer_auth(&people[1].token)
        .json(&json!({"ticketId": ticket["id"]}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let cancel = client
        .post(format!("{}/api/orders/{}/cancel", server.base_url, order["id"].as_str().expect("id")))
        .bearer_auth(&people[1].token)
        .send()
        .await
        .expect("send");
    assert_eq!(cancel.status(), StatusCode::OK);
    server.kill();

    assert_eq!(deliveries(&app).await[0].status, "pending", "committed, not yet delivered when the process died");
    // The next process to run the dispatcher (here: this one) delivers it.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let restarted = Dispatcher::new(app.pool.clone(), Arc::new(ticket_exchange::clock::SystemClock), policy(3))
        .register(consumers::CANCEL_PAYMENT, move |delivery| {
            assert_eq!(delivery.event.kind(), "order.cancelled");
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        });
    assert_eq!(restarted.drain().await.expect("drain").delivered, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
