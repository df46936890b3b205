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
    let someone = uuid::Uuid::new_v4().simple();
    let seller = app.register(&format!("seller-{someone}@example.com")).await;
    let buyer = app.register(&format!("buyer-{someone}@example.com")).await;
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
        let ticket = seed::ticket_for_sale(&app, people[0].user_id, "Seat", now).await;
        let session = ticket_exchange::accounts::SessionCheck::new(&buyer.token, now, app.state.config.sessions);
        let order =
            ticket_exchange::orders::reserve(&app.state.reservations, &session, ticket.id).await.expect("reserve");
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
        .json(&crate::support::listing("Jazz night", 4_500))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let ticket = crate::support::publish(&client, &server.base_url, &people[0], &ticket).await;
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

/// A dispatcher whose consumer waits until the test lets it finish, telling the test when it starts.
fn gated(
    app: &TestApp,
    outcome: Result<(), &'static str>,
) -> (Dispatcher, tokio::sync::mpsc::UnboundedReceiver<i64>, Arc<tokio::sync::Notify>) {
    let (started, starts) = tokio::sync::mpsc::unbounded_channel();
    let gate = Arc::new(tokio::sync::Notify::new());
    let opened = gate.clone();
    let dispatcher = Dispatcher::new(app.pool.clone(), app.clock.clone(), policy(5)).register(
        consumers::CANCEL_PAYMENT,
        move |delivery| {
            let (started, opened) = (started.clone(), opened.clone());
            async move {
                let _ = started.send(delivery.event_id);
                opened.notified().await;
                outcome.map_err(ConsumerError::new)
            }
        },
    );
    (dispatcher, starts, gate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_whose_lease_ran_out_cannot_overwrite_the_current_holder() {
    let app = TestApp::spawn().await;
    cancelled_order(&app).await;
    let (stale, mut stale_started, stale_gate) = gated(&app, Err("too late to matter"));
    let (current, mut current_started, current_gate) = gated(&app, Ok(()));

    let stale_run = tokio::spawn(async move { stale.dispatch_due(1).await });
    stale_started.recv().await.expect("the first dispatcher claimed it");
    app.advance(TimeDelta::seconds(121));
    let current_run = tokio::spawn(async move { current.dispatch_due(1).await });
    current_started.recv().await.expect("the lease ran out and the second dispatcher took over");

    stale_gate.notify_one();
    let stale_report = stale_run.await.expect("join").expect("dispatch");
    assert_eq!((stale_report.fenced, stale_report.retried), (1, 0), "{stale_report:?}");
    app.advance(TimeDelta::seconds(5));
    let (bystander, _, _) = gated(&app, Ok(()));
    assert_eq!(bystander.dispatch_due(10).await.expect("dispatch").attempted(), 0, "still the current holder's");

    current_gate.notify_one();
    assert_eq!(current_run.await.expect("join").expect("dispatch").delivered, 1);
    assert_eq!(deliveries(&app).await, [DeliveryState { status: "delivered".into(), attempts: 2, last_error: None }]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_covers_the_delivery_being_worked_on_not_a_batch() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        cancelled_order(&app).await;
    }
    let (slow, mut slow_started, slow_gate) = gated(&app, Ok(()));
    let slow_run = tokio::spawn(async move { slow.dispatch_due(100).await });
    slow_started.recv().await.expect("claimed one");

    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let other = Dispatcher::new(app.pool.clone(), app.clock.clone(), policy(5)).register(
        consumers::CANCEL_PAYMENT,
        move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        },
    );
    assert_eq!(other.drain().await.expect("drain").delivered, 2, "the rest are not locked up behind a slow one");
    slow_gate.notify_one();
    assert_eq!(slow_run.await.expect("join").expect("dispatch").delivered, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn work_in_another_workers_hands_is_put_off_without_counting_an_attempt() {
    let app = TestApp::spawn().await;
    cancelled_order(&app).await;
    let busy = Arc::new(AtomicUsize::new(2));
    let left = busy.clone();
    let dispatcher = Dispatcher::new(app.pool.clone(), app.clock.clone(), policy(1)).register(
        consumers::CANCEL_PAYMENT,
        move |_| {
            let still_busy = left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
            async move { if still_busy { Err(ConsumerError::busy("another worker is on it")) } else { Ok(()) } }
        },
    );
    for _ in 0..2 {
        let report = dispatcher.drain().await.expect("drain");
        assert_eq!((report.deferred, report.parked), (1, 0), "{report:?}");
        assert_eq!(deliveries(&app).await[0].attempts, 0, "not an attempt");
        app.advance(TimeDelta::seconds(120));
    }
    assert_eq!(dispatcher.drain().await.expect("drain").delivered, 1, "one real attempt, within max_attempts = 1");
}

#[tokio::test]
async fn operators_list_parked_deliveries_and_re_drive_them() {
    let app = TestApp::spawn().await;
    cancelled_order(&app).await;
    let failing = Dispatcher::new(app.pool.clone(), app.clock.clone(), policy(1))
        .register(consumers::CANCEL_PAYMENT, |_| async { Err(ConsumerError::new("Stripe key revoked")) });
    assert_eq!(failing.drain().await.expect("drain").parked, 1);

    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ticket-exchange"))
            .arg("outbox")
            .args(args)
            .env_clear()
            .env("DATABASE_URL", &app.database_url)
            .output()
            .expect("run the CLI");
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let listed = cli(&["parked"]);
    let line = listed.lines().next().expect("one parked delivery");
    assert!(line.contains(consumers::CANCEL_PAYMENT) && line.contains("order.cancelled"), "{listed}");
    assert!(line.contains("Stripe key revoked"), "{listed}");
    let event_id = line.split('\t').next().expect("event id");

    assert!(cli(&["retry", event_id]).contains("1 deliveries"));
    assert_eq!(
        deliveries(&app).await[0],
        DeliveryState { status: "pending".into(), attempts: 0, last_error: Some("Stripe key revoked".into()) }
    );
    // The command puts it due at the real time; the test's clock catches up.
    app.advance(chrono::Utc::now() - app.clock_now() + TimeDelta::seconds(1));
    let fixed = Dispatcher::new(app.pool.clone(), app.clock.clone(), policy(1))
        .register(consumers::CANCEL_PAYMENT, |_| async { Ok(()) });
    assert_eq!(fixed.drain().await.expect("drain").delivered, 1);
    assert_eq!(cli(&["parked"]).trim(), "no parked deliveries");
}
