//! Money at the worst moment: Stripe answering late, failing, or acting without answering, with a
//! real fault proxy between the server and localstripe and between localstripe's webhooks and the
//! server.

use std::time::Duration;

use chrono::TimeDelta;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ticket_exchange::orders::sweep::sweep_lapsed_holds;
use ticket_exchange::payments::reconcile::reconcile;

use crate::support::checkout::{GOOD_CARD, Purchase, order, pay, reserved, start_payment, ticket_status};
use crate::support::database::count;
use crate::support::fault_proxy::Fault;
use crate::support::{TestApp, expect_error, expect_status};

async fn paid(app: &TestApp) -> (Purchase, String) {
    let purchase = reserved(app, 4_500).await;
    let started = expect_status(start_payment(app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    let paid = expect_status(pay(app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    assert_eq!(paid["order"]["status"], "complete");
    (purchase, started["paymentIntentId"].as_str().expect("intent").to_owned())
}

async fn refunds_at_stripe(app: &TestApp, intent: &str) -> Vec<Value> {
    app.stripe().get(&format!("/refunds?payment_intent={intent}")).await["data"].as_array().cloned().unwrap_or_default()
}

async fn refund(app: &TestApp, purchase: &Purchase) -> reqwest::Response {
    let path = format!("/api/orders/{}/refund", purchase.order_id());
    app.authed(&purchase.buyer, Method::POST, &path).json(&json!({})).send().await.expect("send")
}

/// Emails recorded for the order's events of `kind`.
async fn emails(app: &TestApp, purchase: &Purchase, kind: &str) -> i64 {
    app.dispatcher().drain().await.expect("drain");
    count(
        &app.database_url,
        &format!(
            "SELECT count(*) AS count FROM sent_emails s JOIN outbox_events e ON e.id = s.event_id \
             WHERE s.status = 'sent' AND s.kind = '{kind}' AND e.aggregate_id = '{}'",
            purchase.order_id()
        ),
    )
    .await
}

async fn reconcile_now(app: &TestApp) -> ticket_exchange::payments::reconcile::ReconcileReport {
    app.advance(TimeDelta::minutes(3));
    let payments = app.state.payments.as_ref().expect("payments");
    reconcile(payments, &app.pool, app.clock_now(), Duration::from_secs(120)).await.expect("reconcile")
}

/// A buyer who paid, but whose server never heard: Stripe charged the card, the confirm's answer was
/// lost on the way back, and the webhook will come minutes late (it is held).
async fn paid_unheard(app: &TestApp) -> Purchase {
    let purchase = reserved(app, 4_500).await;
    expect_status(start_payment(app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    app.webhook_faults().on("/api/webhooks/stripe").apply(Fault::Hold);
    app.stripe_faults().on("/confirm").method(Method::POST).times(1).apply(Fault::DropAfterForward);
    let response = pay(app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await;
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "payment_provider_unavailable").await;
    purchase
}

#[tokio::test]
async fn a_payment_stripe_accepted_in_time_wins_the_ticket_however_late_we_hear_of_it() {
    let app = TestApp::spawn_with_faulty_stripe(&[]).await;
    let purchase = paid_unheard(&app).await;
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["status"], "awaiting_payment");

    app.advance(TimeDelta::minutes(16));
    assert_eq!(sweep_lapsed_holds(&app.pool, app.clock_now(), 100).await.expect("sweep"), 0);
    let rival = app.register("rival@example.com").await;
    expect_error(app.reserve(&rival, &purchase.ticket["id"]).await, StatusCode::CONFLICT, "ticket_unavailable").await;

    app.dispatcher().drain().await.expect("drain");
    let done = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!(done["status"], "complete", "{done}");
    let paid_at: chrono::DateTime<chrono::Utc> = done["paidAt"].as_str().expect("paidAt").parse().expect("time");
    let hold_end: chrono::DateTime<chrono::Utc> = done["expiresAt"].as_str().expect("expiresAt").parse().expect("time");
    assert!(paid_at <= hold_end, "Stripe's charge time, not when we heard of it: {paid_at} vs {hold_end}");
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "sold");
    let intent = done["paymentStatus"].as_str().expect("payment status");
    assert_eq!(intent, "succeeded");
    assert_eq!(
        count(&app.database_url, "SELECT count(*) AS count FROM orders WHERE refund_requested_at IS NOT NULL").await,
        0
    );
    expect_error(app.reserve(&rival, &purchase.ticket["id"]).await, StatusCode::CONFLICT, "ticket_unavailable").await;
    assert_eq!(emails(&app, &purchase, "order_confirmation").await, 1);
}

#[tokio::test]
async fn a_refund_whose_answer_was_lost_is_settled_from_stripe_and_never_forgotten() {
    let app = TestApp::spawn_with_faulty_stripe(&[]).await;
    let (purchase, intent) = paid(&app).await;
    app.stripe_faults().on("/v1/refunds").method(Method::POST).times(1).apply(Fault::DropAfterForward);

    let pending = expect_status(refund(&app, &purchase).await, StatusCode::ACCEPTED).await;
    assert_eq!((pending["status"].as_str(), pending["refundPending"].as_bool()), (Some("complete"), Some(true)));
    assert_eq!(refunds_at_stripe(&app, &intent).await.len(), 1, "Stripe made the refund");
    expect_error(refund(&app, &purchase).await, StatusCode::CONFLICT, "refund_in_progress").await;

    let report = reconcile_now(&app).await;
    assert_eq!(report.refunds_finished, 1, "{report:?}");
    let refunded = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!((refunded["status"].as_str(), refunded["refundPending"].as_bool()), (Some("refunded"), Some(false)));
    assert_eq!(refunds_at_stripe(&app, &intent).await.len(), 1, "never refunded twice");
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "available");
    assert_eq!(emails(&app, &purchase, "order_refunded").await, 1);
}

#[tokio::test]
async fn a_refund_stripe_failed_to_make_is_asked_again_with_a_new_key() {
    let app = TestApp::spawn_with_faulty_stripe(&[]).await;
    let (purchase, intent) = paid(&app).await;
    app.stripe_faults().on("/v1/refunds").method(Method::POST).times(1).apply(Fault::Fail(500));

    let pending = expect_status(refund(&app, &purchase).await, StatusCode::ACCEPTED).await;
    assert_eq!(pending["refundPending"], true, "kept, not cleared: {pending}");
    assert!(refunds_at_stripe(&app, &intent).await.is_empty());

    let report = reconcile_now(&app).await;
    assert_eq!(report.refunds_finished, 1, "{report:?}");
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["status"], "refunded");
    assert_eq!(refunds_at_stripe(&app, &intent).await.len(), 1);
    let keys = count(
        &app.database_url,
        "SELECT count(*) AS count FROM stripe_requests WHERE operation IN ('refund', 'refund:2')",
    )
    .await;
    assert_eq!(keys, 2, "the second attempt carried a key of its own");
    assert_eq!(app.stripe_faults().seen("/v1/refunds?").len(), 2, "Stripe's list is read before each attempt");
}

#[tokio::test]
async fn a_refund_made_in_stripes_dashboard_reaches_the_order_once() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let (purchase, intent) = paid(&app).await;
    app.stripe().refund_directly(&intent).await;
    let stored = app.stripe().get(&format!("/payment_intents/{intent}")).await;
    let charge = json!({
        "id": stored["latest_charge"]["id"], "object": "charge", "payment_intent": intent,
        "amount": 4_725, "amount_refunded": 4_725, "refunded": true
    });
    assert_eq!(app.post_stripe_event("evt_dash", "charge.refunded", charge.clone()).await["outcome"], "handled");
    assert_eq!(app.post_stripe_event("evt_dash", "charge.refunded", charge).await["outcome"], "duplicate");

    let refunded = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!(
        (refunded["status"].as_str(), refunded["refundReason"].as_str()),
        (Some("refunded"), Some("refunded_at_stripe"))
    );
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "available", "the listing follows the refund rules");
    assert_eq!(emails(&app, &purchase, "order_refunded").await, 1);
    expect_status(refund(&app, &purchase).await, StatusCode::OK).await;
    assert_eq!(refunds_at_stripe(&app, &intent).await.len(), 1, "asking afterwards refunds nothing more");
}

#[tokio::test]
async fn disputes_reach_the_order_and_a_lost_one_refunds_it_once() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let (purchase, intent) = paid(&app).await;
    let dispute = |status: &str| json!({"id": "dp_1", "object": "dispute", "payment_intent": intent, "status": status});

    assert_eq!(
        app.post_stripe_event("evt_d1", "charge.dispute.created", dispute("needs_response")).await["outcome"],
        "handled"
    );
    let open = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!((open["status"].as_str(), open["dispute"].as_str()), (Some("complete"), Some("open")));

    assert_eq!(app.post_stripe_event("evt_d2", "charge.dispute.closed", dispute("lost")).await["outcome"], "handled");
    assert_eq!(app.post_stripe_event("evt_d2", "charge.dispute.closed", dispute("lost")).await["outcome"], "duplicate");
    // A late `created` cannot reopen it.
    app.post_stripe_event("evt_d0", "charge.dispute.created", dispute("needs_response")).await;
    let lost = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!(
        (lost["status"].as_str(), lost["dispute"].as_str(), lost["refundReason"].as_str()),
        (Some("refunded"), Some("lost"), Some("dispute_lost"))
    );
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "available");
    assert_eq!(emails(&app, &purchase, "order_refunded").await, 1);
}

#[tokio::test]
async fn a_won_dispute_leaves_the_sale_standing() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let (purchase, intent) = paid(&app).await;
    let dispute = |status: &str| json!({"id": "dp_2", "object": "dispute", "payment_intent": intent, "status": status});
    // Out of order: closed first.
    app.post_stripe_event("evt_w2", "charge.dispute.closed", dispute("won")).await;
    app.post_stripe_event("evt_w1", "charge.dispute.created", dispute("needs_response")).await;
    let won = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!((won["status"].as_str(), won["dispute"].as_str()), (Some("complete"), Some("won")));
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "sold");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_stripe_cannot_starve_the_database_pool() {
    // Every page of the market from the database, so browsing needs the pool each time.
    let app = TestApp::spawn_with_faulty_stripe(&[
        ("DATABASE_POOL_SIZE", "3"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("MARKET_PAGE_MAX_AGE", "0s"),
    ])
    .await;
    let seller = app.register("seller@example.com").await;
    let mut checkouts = Vec::new();
    for n in 0..12 {
        let buyer = app.register(&format!("buyer{n}@example.com")).await;
        let ticket = app.create_ticket(&seller, &format!("Seat {n}"), 4_500).await;
        let order = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
        checkouts.push((buyer, order["id"].as_str().expect("id").to_owned()));
    }
    app.stripe_faults().on("/v1/").apply(Fault::Delay(Duration::from_millis(1_500)));

    let done = std::sync::atomic::AtomicBool::new(false);
    let started = async {
        let started = join_all(checkouts.iter().map(|(buyer, order_id)| start_payment(&app, buyer, order_id))).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        started
    };
    // Others browse the whole time the payments are starting (bounded).
    let browsing = async {
        let mut statuses = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) && statuses.len() < 2_000 {
            let path = if statuses.len() % 2 == 0 { "/api/tickets" } else { "/api/users/current-user" };
            let request = app.authed(&seller, Method::GET, path);
            statuses.push(request.send().await.expect("send").status());
        }
        statuses
    };
    let (started, browsing) = tokio::join!(started, browsing);
    assert!(!browsing.is_empty());
    assert!(browsing.iter().all(|status| *status == StatusCode::OK), "browsing never fails: {browsing:?}");
    for response in started {
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "every payment starts: {body}");
    }
}

async fn cancel(app: &TestApp, purchase: &Purchase) -> reqwest::Response {
    let path = format!("/api/orders/{}/cancel", purchase.order_id());
    app.authed(&purchase.buyer, Method::POST, &path).send().await.expect("send")
}

#[tokio::test]
async fn a_buyer_who_cancels_after_paying_unawares_gets_the_ticket_not_a_refund() {
    let app = TestApp::spawn_with_faulty_stripe(&[]).await;
    let purchase = paid_unheard(&app).await;

    // The buyer saw an error and cancels; Stripe is asked before the ticket goes anywhere.
    let after = expect_status(cancel(&app, &purchase).await, StatusCode::OK).await;
    assert_eq!(after["status"], "complete", "{after}");
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "sold");
    let rival = app.register("rival@example.com").await;
    expect_error(app.reserve(&rival, &purchase.ticket["id"]).await, StatusCode::CONFLICT, "ticket_unavailable").await;
}

#[tokio::test]
async fn a_buyer_who_cancels_a_started_payment_has_it_cancelled_at_stripe_first() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let started = expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    let cancelled = expect_status(cancel(&app, &purchase).await, StatusCode::OK).await;
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["cancelReason"].as_str()),
        (Some("cancelled"), Some("buyer_cancelled"))
    );
    let intent =
        app.stripe().get(&format!("/payment_intents/{}", started["paymentIntentId"].as_str().expect("id"))).await;
    assert_eq!(intent["status"], "canceled");
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "available");
    expect_error(cancel(&app, &purchase).await, StatusCode::CONFLICT, "order_not_cancellable").await;
}

#[tokio::test]
async fn money_refunded_at_stripe_before_the_order_settled_never_buys_the_ticket() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let started = expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    let intent = started["paymentIntentId"].as_str().expect("intent").to_owned();
    crate::support::checkout::charge_at_stripe(&app, &intent).await;
    app.stripe().refund_directly(&intent).await;

    // The buyer asks where their payment stands: Stripe says paid, and refunded.
    let response = app
        .authed(&purchase.buyer, Method::POST, "/api/payments/confirm")
        .json(&json!({"orderId": purchase.order_id()}))
        .send()
        .await
        .expect("send");
    let seen = expect_status(response, StatusCode::OK).await;
    assert_ne!(seen["order"]["status"], "complete", "{seen}");
    app.dispatcher().drain().await.expect("drain");
    let refunded = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!(
        (refunded["status"].as_str(), refunded["refundReason"].as_str()),
        (Some("refunded"), Some("refunded_at_stripe")),
        "{refunded}"
    );
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "available", "the hold ended with the money back");
    assert_eq!(refunds_at_stripe(&app, &intent).await.len(), 1, "refunded once, at Stripe");
    assert_eq!(emails(&app, &purchase, "order_confirmation").await, 0);
}

#[tokio::test]
async fn no_request_needs_two_pool_connections_at_once() {
    // With one connection in the pool, anything that held one while asking for another would wait
    // for itself until the pool gave up.
    let app = TestApp::spawn_with_stripe(&[("DATABASE_POOL_SIZE", "1")]).await;
    let (purchase, intent) = paid(&app).await;
    let history = app.authed(&purchase.buyer, Method::GET, "/api/orders").send().await.expect("send");
    expect_status(history, StatusCode::OK).await;
    expect_status(refund(&app, &purchase).await, StatusCode::OK).await;
    assert_eq!(refunds_at_stripe(&app, &intent).await.len(), 1);
    let other = reserved_again(&app, &purchase).await;
    expect_status(start_payment(&app, &purchase.buyer, &other).await, StatusCode::OK).await;
    let cancelled =
        app.authed(&purchase.buyer, Method::POST, &format!("/api/orders/{other}/cancel")).send().await.expect("send");
    assert_eq!(expect_status(cancelled, StatusCode::OK).await["status"], "cancelled");
    let login = app
        .request(Method::POST, "/api/users/login")
        .json(&json!({"email": "buyer@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("send");
    expect_status(login, StatusCode::OK).await;
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(emails(&app, &purchase, "order_refunded").await, 1);
}

/// The same listing, back on the market after its refund (its seller attached a reissued ticket),
/// reserved again by the same buyer.
async fn reserved_again(app: &TestApp, purchase: &Purchase) -> String {
    app.attach_file(&purchase.seller, &purchase.ticket, crate::support::TICKET_PDF).await;
    let order = expect_status(app.reserve(&purchase.buyer, &purchase.ticket["id"]).await, StatusCode::CREATED).await;
    order["id"].as_str().expect("id").to_owned()
}
