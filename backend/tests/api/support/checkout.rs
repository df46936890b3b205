//! A buyer's way through checkout, for tests of what comes after.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ticket_exchange::orders::sweep::sweep_lapsed_holds;

use super::fault_proxy::Fault;
use super::{Session, TestApp, expect_status};

pub const GOOD_CARD: &str = "4242424242424242";
pub const DECLINED_CARD: &str = "4000000000000002";

pub struct Purchase {
    pub seller: Session,
    pub buyer: Session,
    pub ticket: Value,
    pub order: Value,
}

impl Purchase {
    pub fn order_id(&self) -> &str {
        self.order["id"].as_str().expect("order id")
    }
}

pub async fn reserved(app: &TestApp, price: i64) -> Purchase {
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", price).await;
    let order = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    Purchase { seller, buyer, ticket, order }
}

pub fn billing() -> Value {
    json!({"name": "Ada Lovelace", "line1": "1 Main St", "city": "Toronto", "region": "ON", "postalCode": "M5V 2T6", "country": "CA"})
}

pub async fn start_payment(app: &TestApp, buyer: &Session, order_id: &str) -> reqwest::Response {
    app.authed(buyer, Method::POST, "/api/payments").json(&json!({"orderId": order_id})).send().await.expect("send")
}

pub async fn pay(app: &TestApp, buyer: &Session, order_id: &str, card: &str) -> reqwest::Response {
    let token = app.stripe().card_token(card).await;
    app.authed(buyer, Method::POST, "/api/payments/confirm")
        .json(&json!({"orderId": order_id, "cardToken": token, "billing": billing()}))
        .send()
        .await
        .expect("send")
}

pub async fn order(app: &TestApp, buyer: &Session, order_id: &str) -> Value {
    let response = app.authed(buyer, Method::GET, &format!("/api/orders/{order_id}")).send().await.expect("send");
    expect_status(response, StatusCode::OK).await
}

pub async fn ticket_status(app: &TestApp, ticket: &Value) -> String {
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let body = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    body["status"].as_str().expect("status").to_owned()
}

/// Charges the PaymentIntent at Stripe directly, as the buyer's card would be charged without our
/// server taking part (a late payment, or one whose confirmation our server never recorded).
pub async fn charge_at_stripe(app: &TestApp, intent: &str) {
    // Straight to localstripe, past any fault proxy in front of it.
    let gateway =
        stripe_gateway::StripeGateway::new(super::stripe::SECRET_KEY, Some(&app.stripe().url)).expect("gateway");
    let gateway = &gateway;
    let customer = app.stripe().get("/customers").await["data"][0]["id"].as_str().expect("customer").to_owned();
    let token = app.stripe().card_token(GOOD_CARD).await;
    let card = gateway.attach_card(&customer, &token, &format!("{intent}-card")).await.expect("card");
    gateway.attach_payment_method(intent, &card, &format!("{intent}-attach")).await.expect("attach");
    let charged = gateway.confirm_intent(intent, &format!("{intent}-confirm")).await.expect("confirm");
    assert_eq!(charged.status, stripe_gateway::IntentStatus::Succeeded);
}

/// A hold whose payment started, reserved half an hour before localstripe's "now", that ended (grace
/// included) while Stripe could not be reached; the card is charged only now, after the hold ended.
pub async fn hold_ended_while_stripe_was_down(app: &TestApp) -> (Purchase, String) {
    let purchase = reserved(app, 4_500).await;
    let started = expect_status(start_payment(app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    let intent = started["paymentIntentId"].as_str().expect("intent").to_owned();
    app.stripe_faults().on("/v1/").apply(Fault::Fail(503));
    app.advance(TimeDelta::minutes(15));
    let report = app.dispatcher().drain().await.expect("drain");
    assert_eq!((report.delivered, report.retried), (0, 1), "Stripe could not be asked: {report:?}");
    assert_eq!(ticket_status(app, &purchase.ticket).await, "held", "held while Stripe cannot say");
    app.advance(TimeDelta::minutes(6));
    assert_eq!(sweep_lapsed_holds(&app.pool, app.clock_now(), 100).await.expect("sweep"), 1, "grace is over");
    assert_eq!(ticket_status(app, &purchase.ticket).await, "available");
    charge_at_stripe(app, &intent).await;
    (purchase, intent)
}

/// A short grace, for tests of what happens after it.
pub const LATE: &[(&str, &str)] = &[("PAYMENT_GRACE", "5m")];

/// Lets Stripe answer again and runs every due delivery.
pub async fn stripe_is_back(app: &TestApp) {
    app.stripe_faults().heal();
    app.advance(TimeDelta::minutes(11));
    app.dispatcher().drain().await.expect("drain");
}
