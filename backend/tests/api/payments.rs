use chrono::TimeDelta;
use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stripe_gateway::webhook::sign;
use ticket_exchange::orders::sweep::sweep_lapsed_holds;
use ticket_exchange::payments::reconcile::reconcile;

use crate::support::checkout::{
    DECLINED_CARD, GOOD_CARD, LATE, Purchase, billing, charge_at_stripe, hold_ended_while_stripe_was_down, order, pay,
    reserved, start_payment, stripe_is_back, ticket_status,
};
use crate::support::stripe::{LocalStripe, WEBHOOK_SECRET};
use crate::support::{TestApp, expect_error, expect_status};

/// Charges the order's PaymentIntent at Stripe without our server hearing of it: what happens when the
/// server dies after Stripe confirmed and before its own commit.
async fn charge_behind_our_back(app: &TestApp, purchase: &Purchase) -> String {
    let started = expect_status(start_payment(app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    let intent = started["paymentIntentId"].as_str().expect("intent").to_owned();
    charge_at_stripe(app, &intent).await;
    intent
}

fn signed(app: &TestApp, id: &str, kind: &str, object: Value, age_secs: i64) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(&json!({
        "id": id, "object": "event", "type": kind, "created": app.clock_now().timestamp(),
        "data": {"object": object}
    }))
    .expect("json");
    let header = sign(&body, WEBHOOK_SECRET, app.clock_now().timestamp() - age_secs);
    (body, header)
}

async fn post_webhook(app: &TestApp, body: Vec<u8>, header: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn a_buyer_pays_by_card_and_the_order_completes_at_once() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    assert_eq!((purchase.order["tax"].as_i64(), purchase.order["total"].as_i64()), (Some(225), Some(4_725)));

    let started = expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    assert_eq!(started["amount"], 4_725, "the amount charged is the total shown");
    assert_eq!(started["status"], "requires_payment_method");
    assert!(started["clientSecret"].as_str().is_some_and(|s| s.contains("_secret_")));
    assert_eq!(started["order"]["status"], "awaiting_payment");
    let again = expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    assert_eq!(again["paymentIntentId"], started["paymentIntentId"], "never a second PaymentIntent");

    let paid = expect_status(pay(&app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(paid["order"]["status"], "complete");
    assert_eq!(paid["order"]["billing"]["name"], "Ada Lovelace");
    assert!(paid["order"]["completedAt"].is_string());
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "sold");
    let intent =
        app.stripe().get(&format!("/payment_intents/{}", started["paymentIntentId"].as_str().expect("id"))).await;
    assert_eq!((intent["amount"].as_i64(), intent["status"].as_str()), (Some(4_725), Some("succeeded")));

    expect_error(
        start_payment(&app, &purchase.buyer, purchase.order_id()).await,
        StatusCode::CONFLICT,
        "order_already_paid",
    )
    .await;
    let stranger = app.register("stranger@example.com").await;
    expect_error(start_payment(&app, &stranger, purchase.order_id()).await, StatusCode::NOT_FOUND, "not_found").await;
    let seller_try = start_payment(&app, &purchase.seller, purchase.order_id()).await;
    expect_error(seller_try, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_declined_card_leaves_the_order_payable() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;

    let declined = pay(&app, &purchase.buyer, purchase.order_id(), DECLINED_CARD).await;
    let body = expect_error(declined, StatusCode::UNPROCESSABLE_ENTITY, "card_declined").await;
    assert_eq!(body["errors"][0]["field"], "cardToken");
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["status"], "awaiting_payment");
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "held");

    let paid = expect_status(pay(&app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    assert_eq!(paid["order"]["status"], "complete");
}

#[tokio::test]
async fn payment_requests_with_bad_input_change_nothing() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let confirm = |body: Value| app.authed(&purchase.buyer, Method::POST, "/api/payments/confirm").json(&body).send();
    let response = confirm(json!({"orderId": purchase.order_id()})).await.expect("send");
    expect_error(response, StatusCode::CONFLICT, "payment_not_started").await;
    expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    let token = app.stripe().card_token(GOOD_CARD).await;

    let response = confirm(json!({"orderId": purchase.order_id(), "cardToken": token})).await.expect("send");
    let body = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "required").await;
    assert!(body["errors"].as_array().expect("errors").len() >= 5, "every missing billing field: {body}");
    let mut bad_country = billing();
    bad_country["country"] = json!("Canada");
    let response = confirm(json!({"orderId": purchase.order_id(), "cardToken": token, "billing": bad_country}))
        .await
        .expect("send");
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_country").await;
    let response = confirm(json!({"orderId": purchase.order_id(), "cardToken": "pm_123", "billing": billing()}))
        .await
        .expect("send");
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_card_token").await;
    let response = confirm(json!({"orderId": purchase.order_id(), "cardToken": "tok_madeup", "billing": billing()}))
        .await
        .expect("send");
    let body = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_card_token").await;
    assert_eq!(body["errors"][0]["field"], "cardToken", "a token Stripe does not know is the client's fault");
    let response = confirm(json!({"orderId": purchase.order_id(), "cardToken": 42})).await.expect("send");
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    let response = confirm(json!({"orderId": "nope"})).await.expect("send");
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;

    let current = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!(current["status"], "awaiting_payment");
    assert!(current.get("billing").is_none(), "nothing stored: {current}");
}

#[tokio::test]
async fn a_lapsed_hold_cannot_be_paid_and_its_payment_intent_is_cancelled() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let started = expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    app.advance(TimeDelta::minutes(15));
    expect_error(
        pay(&app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await,
        StatusCode::CONFLICT,
        "order_expired",
    )
    .await;
    expect_error(
        start_payment(&app, &purchase.buyer, purchase.order_id()).await,
        StatusCode::CONFLICT,
        "order_expired",
    )
    .await;

    // The payment started, so the ticket is not released without asking Stripe first.
    assert_eq!(sweep_lapsed_holds(&app.pool, app.clock_now(), 100).await.expect("sweep"), 0);
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "held");
    let report = app.dispatcher().drain().await.expect("drain");
    assert_eq!((report.retried, report.parked), (0, 0), "{report:?}");
    let intent =
        app.stripe().get(&format!("/payment_intents/{}", started["paymentIntentId"].as_str().expect("id"))).await;
    assert_eq!(intent["status"], "canceled");
    let seen = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!((seen["status"].as_str(), seen["paymentStatus"].as_str()), (Some("cancelled"), Some("canceled")));
    assert_eq!(seen["cancelReason"], "expired");
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "available", "released once Stripe said unpaid");
}

#[tokio::test]
async fn webhooks_must_be_signed_fresh_and_are_acted_on_once() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let intent = charge_behind_our_back(&app, &purchase).await;
    let object = json!({"id": intent, "object": "payment_intent", "status": "succeeded"});

    let (body, _) = signed(&app, "evt_forged", "payment_intent.succeeded", object.clone(), 0);
    let forged = sign(&body, "whsec_someone_else", app.clock_now().timestamp());
    expect_error(post_webhook(&app, body.clone(), &forged).await, StatusCode::BAD_REQUEST, "invalid_signature").await;
    expect_error(post_webhook(&app, body.clone(), "t=1,v1=nothex").await, StatusCode::BAD_REQUEST, "invalid_signature")
        .await;
    let response = app
        .request(Method::POST, "/api/webhooks/stripe")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("send");
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_signature").await;
    let (stale_body, stale) = signed(&app, "evt_stale", "payment_intent.succeeded", object.clone(), 301);
    expect_error(post_webhook(&app, stale_body, &stale).await, StatusCode::BAD_REQUEST, "invalid_signature").await;
    assert_eq!(
        order(&app, &purchase.buyer, purchase.order_id()).await["status"],
        "awaiting_payment",
        "nothing changed"
    );

    let (body, header) = signed(&app, "evt_real", "payment_intent.succeeded", object.clone(), 299);
    let first = expect_status(post_webhook(&app, body.clone(), &header).await, StatusCode::OK).await;
    assert_eq!(first["outcome"], "handled");
    let done = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!(done["status"], "complete");
    let second = expect_status(post_webhook(&app, body, &header).await, StatusCode::OK).await;
    assert_eq!(second["outcome"], "duplicate");
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["version"], done["version"], "acted on once");

    // A failure event arriving late, after success, cannot move the order back: Stripe is asked again.
    let (body, header) = signed(&app, "evt_late_failure", "payment_intent.payment_failed", object, 0);
    expect_status(post_webhook(&app, body, &header).await, StatusCode::OK).await;
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["status"], "complete");
    let completed_events = {
        use diesel::sql_types::BigInt;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        let mut conn = app.pool.get().await.expect("conn");
        diesel::sql_query("SELECT count(*) AS count FROM outbox_events WHERE kind = 'order.completed'")
            .get_result::<Count>(&mut conn)
            .await
            .expect("count")
            .count
    };
    assert_eq!(completed_events, 1);

    let (body, header) = signed(&app, "evt_other", "customer.created", json!({"id": "cus_1"}), 0);
    assert_eq!(expect_status(post_webhook(&app, body, &header).await, StatusCode::OK).await["outcome"], "ignored");
}

#[tokio::test]
async fn a_charge_our_server_never_recorded_is_settled_by_the_buyers_next_look() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    charge_behind_our_back(&app, &purchase).await;
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["status"], "awaiting_payment");
    let response = app
        .authed(&purchase.buyer, Method::POST, "/api/payments/confirm")
        .json(&json!({"orderId": purchase.order_id()}))
        .send()
        .await
        .expect("send");
    let settled = expect_status(response, StatusCode::OK).await;
    assert_eq!(
        (settled["status"].as_str(), settled["order"]["status"].as_str()),
        (Some("succeeded"), Some("complete"))
    );
}

#[tokio::test]
async fn a_charge_our_server_never_recorded_is_settled_by_reconciliation() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    charge_behind_our_back(&app, &purchase).await;
    let payments = app.state.payments.as_ref().expect("payments");
    let after = std::time::Duration::from_secs(120);
    let early = reconcile(payments, &app.pool, app.clock_now(), after).await.expect("reconcile");
    assert_eq!(early.checked, 0, "fresh payments are left to the buyer and the webhook");
    app.advance(TimeDelta::minutes(3));
    let report = reconcile(payments, &app.pool, app.clock_now(), after).await.expect("reconcile");
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["status"], "complete");
    assert_eq!(reconcile(payments, &app.pool, app.clock_now(), after).await.expect("again").checked, 0);
}

#[tokio::test]
async fn localstripes_own_signed_webhook_completes_the_order() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    charge_behind_our_back(&app, &purchase).await;
    // localstripe sends its webhook on its own schedule (about a second later); this waits for that
    // delivery, bounded, since nothing in this process can make it come sooner.
    for _ in 0..300 {
        if order(&app, &purchase.buyer, purchase.order_id()).await["status"] == "complete" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("localstripe's payment_intent.succeeded webhook never completed the order");
}

#[tokio::test]
async fn a_payment_after_the_hold_lapsed_is_honoured_while_the_listing_is_free() {
    let app = TestApp::spawn_with_faulty_stripe_behind(LATE, TimeDelta::minutes(30)).await;
    let (purchase, intent) = hold_ended_while_stripe_was_down(&app).await;
    stripe_is_back(&app).await;
    let honoured = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!(honoured["status"], "complete", "{honoured}");
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "sold");
    assert_eq!(
        app.stripe().get(&format!("/refunds?payment_intent={intent}")).await["data"].as_array().map(Vec::len),
        Some(0)
    );
}

#[tokio::test]
async fn a_payment_after_the_hold_lapsed_is_refunded_when_the_listing_was_resold() {
    let app = TestApp::spawn_with_faulty_stripe_behind(LATE, TimeDelta::minutes(30)).await;
    let (purchase, intent) = hold_ended_while_stripe_was_down(&app).await;
    let rival = app.register("rival@example.com").await;
    let rivals = expect_status(app.reserve(&rival, &purchase.ticket["id"]).await, StatusCode::CREATED).await;

    stripe_is_back(&app).await;
    let refunded = order(&app, &purchase.buyer, purchase.order_id()).await;
    assert_eq!(refunded["status"], "refunded", "{refunded}");
    assert_eq!(refunded["refundReason"], "paid_after_hold_lapsed");
    let refunds = app.stripe().get(&format!("/refunds?payment_intent={intent}")).await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(refunds["data"][0]["amount"], 4_725);
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "held", "the rival's hold is untouched");
    assert_eq!(order(&app, &rival, rivals["id"].as_str().expect("id")).await["status"], "created");
    assert_eq!(app.dispatcher().drain().await.expect("drain again").attempted(), 0);
}

#[tokio::test]
async fn a_late_payment_buys_the_listing_only_as_it_was_reserved() {
    for change in ["price", "currency", "delete"] {
        let app = TestApp::spawn_with_faulty_stripe_behind(LATE, TimeDelta::minutes(30)).await;
        let (purchase, intent) = hold_ended_while_stripe_was_down(&app).await;
        let path = format!("/api/tickets/{}", purchase.ticket["id"].as_str().expect("id"));
        let listing = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
        let (price, currency) = match change {
            "price" => (3_000, "CAD"),
            _ => (4_500, "USD"),
        };
        let edit = match change {
            "delete" => app.authed(&purchase.seller, Method::DELETE, &format!("{path}?version={}", listing["version"])),
            _ => app.authed(&purchase.seller, Method::PUT, &path).json(&crate::support::with(
                crate::support::listing("Jazz night", price),
                json!({"currency": currency, "version": listing["version"]}),
            )),
        };
        let status = edit.send().await.expect("send").status();
        assert!(status.is_success(), "{change}: {status}");

        stripe_is_back(&app).await;
        let refunded = order(&app, &purchase.buyer, purchase.order_id()).await;
        assert_eq!(
            (refunded["status"].as_str(), refunded["refundReason"].as_str()),
            (Some("refunded"), Some("paid_after_hold_lapsed")),
            "{change}: never completed at the old terms: {refunded}"
        );
        let refunds = app.stripe().get(&format!("/refunds?payment_intent={intent}")).await;
        assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1), "{change}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_refund_happens_once_however_often_it_is_asked() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let started = expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    expect_status(pay(&app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    let path = format!("/api/orders/{}/refund", purchase.order_id());

    let partial = app.authed(&purchase.buyer, Method::POST, &path).json(&json!({"amount": 100})).send().await;
    expect_error(partial.expect("send"), StatusCode::UNPROCESSABLE_ENTITY, "partial_refund_not_supported").await;
    let stranger = app.register("stranger@example.com").await;
    let response = app.authed(&stranger, Method::POST, &path).json(&json!({})).send().await.expect("send");
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let ask = || app.authed(&purchase.buyer, Method::POST, &path).json(&json!({})).send();
    let (first, second) = tokio::join!(ask(), ask());
    let statuses = [first.expect("send").status(), second.expect("send").status()];
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT), "{statuses:?}");
    let again = expect_status(ask().await.expect("send"), StatusCode::OK).await;
    assert_eq!(
        (again["status"].as_str(), again["refundReason"].as_str()),
        (Some("refunded"), Some("requested_by_buyer"))
    );

    let intent = started["paymentIntentId"].as_str().expect("intent");
    let refunds = app.stripe().get(&format!("/refunds?payment_intent={intent}")).await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(1), "refunded once: {refunds}");
    assert_eq!(refunds["data"][0]["amount"], 4_725);
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "available", "the listing is back on the market");
}

#[tokio::test]
async fn only_completed_orders_can_be_refunded() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let path = format!("/api/orders/{}/refund", purchase.order_id());
    let response = app.authed(&purchase.buyer, Method::POST, &path).json(&json!({})).send().await.expect("send");
    expect_error(response, StatusCode::CONFLICT, "refund_not_allowed").await;
}

#[tokio::test]
async fn with_stripe_unreachable_payment_fails_clearly_and_the_order_stays_payable() {
    let mut app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let port = app.stripe().port;
    app.stripe_mut().stop();
    expect_error(
        start_payment(&app, &purchase.buyer, purchase.order_id()).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_provider_unavailable",
    )
    .await;
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["status"], "created");

    app.stripe = Some(LocalStripe::start_on(port).await);
    expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    let paid = expect_status(pay(&app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    assert_eq!(paid["order"]["status"], "complete");
}

#[tokio::test]
async fn without_stripe_payments_answer_503_and_config_says_so() {
    let app = TestApp::spawn().await;
    let config =
        expect_status(app.request(Method::GET, "/api/config").send().await.expect("send"), StatusCode::OK).await;
    assert!(config.get("stripePublishableKey").is_none());
    let buyer = app.register("buyer@example.com").await;
    let response = start_payment(&app, &buyer, &uuid::Uuid::new_v4().to_string()).await;
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "payments_unavailable").await;
}

#[tokio::test]
async fn the_client_configuration_names_stripe_js_currency_tax_and_hold() {
    let app = TestApp::spawn_with_stripe(&[("TAX_RATE_PERCENT", "13"), ("HOLD_DURATION", "10m")]).await;
    let config =
        expect_status(app.request(Method::GET, "/api/config").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(config["stripePublishableKey"], crate::support::stripe::PUBLISHABLE_KEY);
    assert!(config["stripeJsUrl"].as_str().is_some_and(|url| url.ends_with("/js.stripe.com/v3/")));
    assert_eq!((config["currency"].as_str(), config["taxRatePercent"].as_str()), (Some("CAD"), Some("13")));
    assert_eq!(config["holdSeconds"], 600);
}
