//! Sellers get paid: onboarding to a connected account, the ledger of each sale's split, the transfer
//! of the seller's share when the event starts, its reversal on a refund, and the faults between
//! (Stripe down, an answer lost, a restricted account, two dispatchers at once). Against localstripe
//! with the project's Connect extension (`xtask/localstripe_connect.py`).

use std::time::Duration;

use chrono::TimeDelta;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ticket_exchange::outbox::{self, Event, parked};

use crate::support::checkout::{GOOD_CARD, Purchase, pay, start_payment};
use crate::support::database::count;
use crate::support::fault_proxy::Fault;
use crate::support::{Session, TestApp, expect_error, expect_status, listing, with};

/// The event starts this long after the sale: then the refund window closes and the share is due.
const STARTS_IN: TimeDelta = TimeDelta::hours(2);

/// Seller's onboarding, as the seller does it: "Get paid", Stripe's form, back to the sales page.
async fn onboard(app: &TestApp, seller: &Session) {
    let link = app.authed(seller, Method::POST, "/api/payouts/onboarding").send().await.expect("send");
    let link = expect_status(link, StatusCode::OK).await;
    let url = link["url"].as_str().expect("onboarding url");
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let form = no_redirects.get(url).send().await.expect("onboarding page");
    assert!(form.text().await.expect("page").contains("Submit details"));
    let submitted = no_redirects.post(url).send().await.expect("submit onboarding");
    assert_eq!(submitted.status(), StatusCode::SEE_OTHER);
    let back = submitted.headers()["location"].to_str().expect("location");
    assert!(back.ends_with("/sales"), "Stripe sends the seller back to the sales page: {back}");
    // Back on the sales page, which asks where the account stands (whenever the webhook comes).
    assert_eq!(payouts(app, seller).await["account"]["status"], "enabled");
}

async fn payouts(app: &TestApp, seller: &Session) -> Value {
    expect_status(app.authed(seller, Method::GET, "/api/payouts").send().await.expect("send"), StatusCode::OK).await
}

/// The sale of the purchase, as its seller's sales page shows it (`null` once it is refunded).
async fn sale(app: &TestApp, purchase: &Purchase) -> Value {
    let sales = app.authed(&purchase.seller, Method::GET, "/api/sales").send().await.expect("send");
    let sales = expect_status(sales, StatusCode::OK).await;
    let items = sales["items"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .filter_map(|item| item.get("sale").cloned())
        .find(|sale| sale["orderId"] == purchase.order_id())
        .unwrap_or(Value::Null)
}

/// A listing of `seller`'s at `price`, starting [`STARTS_IN`] from now, bought by a new buyer.
async fn sold(app: &TestApp, seller: &Session, buyer_email: &str, price: i64) -> (Purchase, String) {
    let buyer = app.register(buyer_email).await;
    let starts = (app.clock_now() + STARTS_IN).to_rfc3339();
    let ticket = app.create_listing(seller, &with(listing("Jazz night", price), json!({"startsAt": starts}))).await;
    let order = expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    let purchase = Purchase { seller: seller.clone(), buyer, ticket, order };
    let started = expect_status(start_payment(app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    let paid = expect_status(pay(app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    assert_eq!(paid["order"]["status"], "complete");
    (purchase, started["paymentIntentId"].as_str().expect("intent").to_owned())
}

/// The transfers Stripe holds for the order.
async fn transfers(app: &TestApp, purchase: &Purchase) -> Vec<Value> {
    let group = format!("order_{}", purchase.order_id());
    app.stripe().get(&format!("/transfers?transfer_group={group}")).await["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn ledger_status(app: &TestApp, purchase: &Purchase) -> String {
    sale(app, purchase).await["share"]["status"].as_str().unwrap_or("none").to_owned()
}

/// Moves past the event's start and runs every due delivery.
async fn event_starts(app: &TestApp) {
    app.advance(STARTS_IN + TimeDelta::minutes(1));
    app.dispatcher().drain().await.expect("drain");
}

async fn refund_at_stripe(app: &TestApp, purchase: &Purchase, intent: &str) {
    app.stripe().refund_directly(intent).await;
    let event = format!("evt_refund_{}", purchase.order_id());
    let charge = json!({"object": "charge", "payment_intent": intent});
    assert_eq!(app.post_stripe_event(&event, "charge.refunded", charge).await["outcome"], "handled");
    app.dispatcher().drain().await.expect("drain");
}

#[tokio::test]
async fn a_sale_splits_its_price_and_the_sellers_share_is_transferred_when_the_event_starts() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    assert_eq!(payouts(&app, &seller).await["account"]["status"], "not_started");
    onboard(&app, &seller).await;
    let account = payouts(&app, &seller).await;
    assert_eq!(account["account"]["status"], "enabled", "{account}");
    assert_eq!(account["account"]["payoutsEnabled"], true);
    assert_eq!(account["platformFeePercent"], "10");

    let (purchase, intent) = sold(&app, &seller, "buyer@example.com", 4_505).await;
    // 10% of 45.05 is 4.505: the fee rounds half up to 4.51, the seller gets the rest; tax stays out.
    let share = sale(&app, &purchase).await["share"].clone();
    assert_eq!((share["platformFee"].as_i64(), share["sellerShare"].as_i64()), (Some(451), Some(4_054)));
    assert_eq!(share["status"], "pending");
    assert_eq!(payouts(&app, &seller).await["totals"], json!([{"currency": "CAD", "pending": 4_054, "paid": 0}]));

    app.dispatcher().drain().await.expect("drain");
    assert!(transfers(&app, &purchase).await.is_empty(), "nothing moves while the buyer may still ask for a refund");

    event_starts(&app).await;
    let made = transfers(&app, &purchase).await;
    assert_eq!(made.len(), 1, "{made:?}");
    let charge = app.stripe().get(&format!("/payment_intents/{intent}")).await["latest_charge"].clone();
    let charge = charge.as_str().map(str::to_owned).or_else(|| charge["id"].as_str().map(str::to_owned));
    assert_eq!(made[0]["amount"], 4_054);
    assert_eq!(made[0]["currency"], "cad");
    assert_eq!(made[0]["source_transaction"].as_str(), charge.as_deref(), "funded by the order's own charge");
    let accounts = app.stripe().get("/accounts").await;
    assert_eq!(made[0]["destination"], accounts["data"][0]["id"]);
    assert_eq!(ledger_status(&app, &purchase).await, "paid");
    assert_eq!(payouts(&app, &seller).await["totals"], json!([{"currency": "CAD", "pending": 0, "paid": 4_054}]));

    // The buyer can no longer refund; asking again transfers nothing more.
    let refund = app.authed(&purchase.buyer, Method::POST, &format!("/api/orders/{}/refund", purchase.order_id()));
    expect_error(refund.json(&json!({})).send().await.expect("send"), StatusCode::CONFLICT, "refund_window_closed")
        .await;
    app.advance(TimeDelta::hours(1));
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(transfers(&app, &purchase).await.len(), 1);
}

#[tokio::test]
async fn a_share_waits_for_the_sellers_account_and_goes_once_stripe_says_it_is_ready() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    let (purchase, _) = sold(&app, &seller, "buyer@example.com", 4_500).await;
    event_starts(&app).await;
    assert_eq!(ledger_status(&app, &purchase).await, "awaiting_account", "no account to pay yet");
    assert!(transfers(&app, &purchase).await.is_empty());

    // The seller starts onboarding but has not finished: still waiting.
    let link = app.authed(&seller, Method::POST, "/api/payouts/onboarding").send().await.expect("send");
    expect_status(link, StatusCode::OK).await;
    let again = app.authed(&seller, Method::POST, "/api/payouts/onboarding").send().await.expect("send");
    expect_status(again, StatusCode::OK).await;
    let accounts = app.stripe().get("/accounts").await["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(accounts.len(), 1, "one connected account per seller, however often they click");
    assert_eq!(payouts(&app, &seller).await["account"]["status"], "onboarding");

    // Stripe's side finishes it (the seller submitted Stripe's form); `account.updated` says so.
    let account_id = accounts[0]["id"].as_str().expect("account id").to_owned();
    let enabled =
        app.stripe().post_form(&format!("/_config/connect/accounts/{account_id}"), &[("state", "enabled")]).await;
    let updated = app.post_stripe_event("evt_account_ready", "account.updated", enabled.clone()).await;
    assert_eq!(updated["outcome"], "handled");
    let repeated = app.post_stripe_event("evt_account_ready", "account.updated", enabled).await;
    assert_eq!(repeated["outcome"], "duplicate");
    app.dispatcher().drain().await.expect("drain");
    let made = transfers(&app, &purchase).await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["amount"], 4_050);
    assert_eq!(ledger_status(&app, &purchase).await, "paid");
}

#[tokio::test]
async fn a_refund_before_the_event_cancels_the_share_and_one_after_the_transfer_reverses_it() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    onboard(&app, &seller).await;
    let (refunded_early, _) = sold(&app, &seller, "early@example.com", 4_500).await;
    let (refunded_late, late_intent) = sold(&app, &seller, "late@example.com", 6_000).await;

    let path = format!("/api/orders/{}/refund", refunded_early.order_id());
    let refund = app.authed(&refunded_early.buyer, Method::POST, &path).json(&json!({})).send().await.expect("send");
    expect_status(refund, StatusCode::OK).await;
    app.dispatcher().drain().await.expect("drain");
    event_starts(&app).await;
    assert!(transfers(&app, &refunded_early).await.is_empty(), "a refunded sale pays nobody");
    assert_eq!(transfers(&app, &refunded_late).await.len(), 1);
    assert_eq!(payouts(&app, &seller).await["totals"], json!([{"currency": "CAD", "pending": 0, "paid": 5_400}]));

    // After the start only Stripe can refund (the dashboard, a lost dispute): the transfer comes back.
    refund_at_stripe(&app, &refunded_late, &late_intent).await;
    let transfer = &transfers(&app, &refunded_late).await[0];
    assert_eq!(transfer["amount_reversed"], 5_400, "{transfer}");
    assert_eq!(transfer["reversed"], true);
    assert_eq!(ledger_status(&app, &refunded_late).await, "none", "its listing is back on the market");
    assert_eq!(payouts(&app, &seller).await["totals"], json!([]));
    // The sales page keeps both as refunded sales, with what became of each share.
    let sales = app.authed(&seller, Method::GET, "/api/sales").send().await.expect("send");
    let refunded = expect_status(sales, StatusCode::OK).await["refunded"].clone();
    let share_of = |purchase: &Purchase| {
        refunded.as_array().expect("refunded").iter().find(|sale| sale["orderId"] == purchase.order_id()).cloned()
    };
    assert_eq!(share_of(&refunded_early).expect("early")["share"]["status"], "cancelled");
    assert_eq!(share_of(&refunded_late).expect("late")["share"]["status"], "reversed");
    assert_eq!(share_of(&refunded_late).expect("late")["share"]["sellerShare"], 5_400);
    let statuses = count(
        &app.database_url,
        "SELECT count(*) AS count FROM payouts WHERE (status = 'cancelled' AND transfer_id IS NULL) \
         OR (status = 'reversed' AND reversal_id IS NOT NULL)",
    )
    .await;
    assert_eq!(statuses, 2, "one cancelled, one reversed");

    // Delivered again (at least once), nothing is reversed twice.
    let event = count(
        &app.database_url,
        &format!(
            "SELECT id AS count FROM outbox_events WHERE kind = 'order.refunded' AND aggregate_id = '{}'",
            refunded_late.order_id()
        ),
    )
    .await;
    force_redelivery(&app, event).await;
    app.dispatcher().drain().await.expect("drain");
    let reversals = app.stripe().get(&format!("/transfers/{}/reversals", transfer["id"].as_str().expect("id"))).await;
    assert_eq!(reversals["data"].as_array().map(Vec::len), Some(1));
}

/// Puts a delivered event's deliveries back in line, as a second delivery of it would be.
async fn force_redelivery(app: &TestApp, event_id: i64) {
    use diesel_async::RunQueryDsl;
    let mut conn = ticket_exchange::db::conn(&app.pool).await.expect("conn");
    diesel::sql_query(format!(
        "UPDATE outbox_deliveries SET status = 'pending', next_attempt_at = now() - interval '1 day' \
         WHERE event_id = {event_id}"
    ))
    .execute(&mut conn)
    .await
    .expect("redeliver");
}

#[tokio::test]
async fn the_ledger_adds_up_for_every_order_and_the_database_refuses_one_that_does_not() {
    let app = TestApp::spawn_with_stripe(&[("PLATFORM_FEE_PERCENT", "12.5"), ("TAX_RATE_PERCENT", "14.975")]).await;
    let seller = app.register("seller@example.com").await;
    for (n, price) in [50, 99, 1_001, 4_505, 12_345].into_iter().enumerate() {
        sold(&app, &seller, &format!("buyer{n}@example.com"), price).await;
    }
    let complete = count(&app.database_url, "SELECT count(*) AS count FROM orders WHERE status = 'complete'").await;
    let wrong = count(
        &app.database_url,
        "SELECT count(*) AS count FROM orders o LEFT JOIN payouts p ON p.order_id = o.id \
         WHERE o.status = 'complete' AND (p.order_id IS NULL OR p.price + p.tax <> o.total \
         OR p.platform_fee + p.seller_share <> p.price OR p.platform_fee <> (p.price * 125 + 500) / 1000)",
    )
    .await;
    assert_eq!((complete, wrong), (5, 0), "every completed order has a ledger row, and its parts add up");

    use diesel_async::RunQueryDsl;
    let mut conn = ticket_exchange::db::conn(&app.pool).await.expect("conn");
    for broken in ["seller_share = seller_share + 1", "tax = tax + 1, total = total + 1", "platform_fee = -1"] {
        let refused = diesel::sql_query(format!("UPDATE payouts SET {broken}")).execute(&mut conn).await;
        assert!(refused.is_err(), "the database refuses `{broken}`");
    }
}

#[tokio::test]
async fn without_stripe_payouts_say_so_and_anonymous_callers_are_refused() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    assert_eq!(payouts(&app, &seller).await["account"]["status"], "not_started");
    let start = app.authed(&seller, Method::POST, "/api/payouts/onboarding").send().await.expect("send");
    expect_error(start, StatusCode::SERVICE_UNAVAILABLE, "payments_unavailable").await;
    for (method, path) in [(Method::GET, "/api/payouts"), (Method::POST, "/api/payouts/onboarding")] {
        let anonymous = app.request(method, path).send().await.expect("send");
        expect_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
}

#[tokio::test]
async fn a_transfer_stripe_cannot_take_is_retried_then_parked_for_an_operator_and_made_once_when_retried() {
    let app = TestApp::spawn_with_faulty_stripe(&[("OUTBOX_MAX_ATTEMPTS", "3")]).await;
    let seller = app.register("seller@example.com").await;
    onboard(&app, &seller).await;
    assert_eq!(payouts(&app, &seller).await["account"]["status"], "enabled");
    let (purchase, _) = sold(&app, &seller, "buyer@example.com", 4_500).await;
    app.stripe_faults().on("/v1/transfers").apply(Fault::Fail(503));
    event_starts(&app).await;
    for _ in 0..4 {
        // Past the attempt's claim and the backoff: each round is one more attempt.
        app.advance(TimeDelta::minutes(11));
        app.dispatcher().drain().await.expect("drain");
    }
    let stuck = parked::list(&app.pool).await.expect("parked");
    let stuck: Vec<_> =
        stuck.iter().filter(|delivery| delivery.consumer == outbox::consumers::TRANSFER_SHARE).collect();
    assert_eq!(stuck.len(), 1, "parked for an operator after its attempts: {stuck:?}");
    assert!(stuck[0].last_error.as_deref().is_some_and(|error| !error.is_empty()), "with the reason: {stuck:?}");
    let share = sale(&app, &purchase).await["share"].clone();
    assert_eq!((share["status"].as_str(), share["delayed"].as_bool()), (Some("pending"), Some(true)));

    app.stripe_faults().heal();
    parked::retry(&app.pool, stuck[0].event_id, None, app.clock_now()).await.expect("operator retry");
    app.advance(TimeDelta::minutes(6));
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(transfers(&app, &purchase).await.len(), 1);
    assert_eq!(ledger_status(&app, &purchase).await, "paid");
    assert_eq!(sale(&app, &purchase).await["share"]["delayed"], false);
}

#[tokio::test]
async fn a_transfer_whose_answer_is_lost_is_found_at_stripe_not_made_again() {
    let app = TestApp::spawn_with_faulty_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    onboard(&app, &seller).await;
    let (purchase, _) = sold(&app, &seller, "buyer@example.com", 4_500).await;
    app.stripe_faults().on("/v1/transfers").method(Method::POST).times(1).apply(Fault::DropAfterForward);
    event_starts(&app).await;
    assert_eq!(transfers(&app, &purchase).await.len(), 1, "Stripe made it; the answer never came back");
    assert_eq!(ledger_status(&app, &purchase).await, "pending", "not known to be paid yet");

    // Retried before the lost attempt's claim runs out: it waits rather than ask again.
    app.advance(TimeDelta::minutes(3));
    app.dispatcher().drain().await.expect("drain");
    let posts = transfer_posts(&app);
    assert_eq!(posts, 1);
    app.advance(TimeDelta::minutes(5));
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(transfers(&app, &purchase).await.len(), 1, "found in the order's transfer group, not made twice");
    assert_eq!(ledger_status(&app, &purchase).await, "paid");
    let posts = transfer_posts(&app);
    assert_eq!(posts, 1);
}

/// Transfers asked for through the proxy (the list's path carries a query).
fn transfer_posts(app: &TestApp) -> usize {
    app.stripe_faults().seen("/v1/transfers").iter().filter(|path| *path == "/v1/transfers").count()
}

#[tokio::test]
async fn a_restricted_account_holds_its_shares_until_stripe_enables_it_again() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    onboard(&app, &seller).await;
    assert_eq!(payouts(&app, &seller).await["account"]["status"], "enabled");
    let (purchase, _) = sold(&app, &seller, "buyer@example.com", 4_500).await;
    // Stripe restricts the account; its `account.updated` has not reached us yet.
    let account_id = app.stripe().get("/accounts").await["data"][0]["id"].as_str().expect("id").to_owned();
    let restricted =
        app.stripe().post_form(&format!("/_config/connect/accounts/{account_id}"), &[("state", "restricted")]).await;
    event_starts(&app).await;
    assert!(transfers(&app, &purchase).await.is_empty(), "Stripe refused: {}", sale(&app, &purchase).await);
    assert_eq!(sale(&app, &purchase).await["share"]["delayed"], true);

    let heard = app.post_stripe_event("evt_restricted", "account.updated", restricted).await;
    assert_eq!(heard["outcome"], "handled");
    let account = payouts(&app, &seller).await["account"].clone();
    assert_eq!(account["status"], "restricted");
    assert_eq!(account["requirementsDue"], json!(["individual.verification.document"]));
    app.advance(TimeDelta::minutes(10));
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(ledger_status(&app, &purchase).await, "awaiting_account");

    let enabled =
        app.stripe().post_form(&format!("/_config/connect/accounts/{account_id}"), &[("state", "enabled")]).await;
    app.post_stripe_event("evt_enabled_again", "account.updated", enabled).await;
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(transfers(&app, &purchase).await.len(), 1);
    assert_eq!(ledger_status(&app, &purchase).await, "paid");
}

#[tokio::test]
async fn dispatchers_racing_over_the_same_share_transfer_it_once() {
    let app = TestApp::spawn_with_faulty_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    onboard(&app, &seller).await;
    let mut sales = Vec::new();
    for n in 0..3 {
        sales.push(sold(&app, &seller, &format!("buyer{n}@example.com"), 4_500 + n).await.0);
    }
    // Each share is due twice over (as after an operator's retry beside the original delivery), and
    // Stripe answers slowly, so the racers overlap.
    {
        let mut conn = ticket_exchange::db::conn(&app.pool).await.expect("conn");
        let due: Vec<Event> = sales
            .iter()
            .map(|sale| Event::PayoutDue {
                order_id: sale.order_id().parse().expect("uuid"),
                seller_id: seller.user_id,
            })
            .collect();
        outbox::record_all(&mut conn, &due, app.clock_now()).await.expect("record");
    }
    app.stripe_faults().on("/v1/transfers").method(Method::POST).apply(Fault::Delay(Duration::from_millis(300)));
    app.advance(STARTS_IN + TimeDelta::minutes(1));
    let racers: Vec<_> = (0..4).map(|_| app.dispatcher()).collect();
    join_all(racers.iter().map(|dispatcher| dispatcher.drain())).await.into_iter().for_each(|report| {
        report.expect("drain");
    });
    app.advance(TimeDelta::minutes(10));
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(transfer_posts(&app), 3, "one transfer asked for per sale: the racers never both tried");
    for sale in &sales {
        assert_eq!(transfers(&app, sale).await.len(), 1, "one transfer per sale");
        assert_eq!(ledger_status(&app, sale).await, "paid");
    }
}

#[tokio::test]
async fn a_disputed_sale_pays_its_seller_only_once_the_bank_decides_for_it() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    onboard(&app, &seller).await;
    let (won, won_intent) = sold(&app, &seller, "won@example.com", 4_500).await;
    let (lost, lost_intent) = sold(&app, &seller, "lost@example.com", 5_000).await;
    for (n, intent) in [&won_intent, &lost_intent].into_iter().enumerate() {
        let dispute =
            json!({"id": format!("dp_{n}"), "object": "dispute", "payment_intent": intent, "status": "needs_response"});
        let opened = app.post_stripe_event(&format!("evt_dispute_{n}"), "charge.dispute.created", dispute).await;
        assert_eq!(opened["outcome"], "handled");
    }
    event_starts(&app).await;
    assert!(transfers(&app, &won).await.is_empty() && transfers(&app, &lost).await.is_empty(), "held while disputed");

    for (n, intent, outcome) in [(0, &won_intent, "won"), (1, &lost_intent, "lost")] {
        let dispute =
            json!({"id": format!("dp_{n}"), "object": "dispute", "payment_intent": intent, "status": outcome});
        let closed = app.post_stripe_event(&format!("evt_dispute_closed_{n}"), "charge.dispute.closed", dispute).await;
        assert_eq!(closed["outcome"], "handled");
    }
    app.advance(TimeDelta::minutes(3));
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(transfers(&app, &won).await.len(), 1, "the sale stands: the seller is paid");
    assert!(transfers(&app, &lost).await.is_empty(), "the bank took the money back: nothing to pay");
    let cancelled = format!(
        "SELECT count(*) AS count FROM payouts WHERE order_id = '{}' AND status = 'cancelled'",
        lost.order_id()
    );
    assert_eq!(count(&app.database_url, &cancelled).await, 1);
}

#[tokio::test]
async fn a_reversal_whose_answer_is_lost_is_recorded_from_the_transfer_not_made_again() {
    let app = TestApp::spawn_with_faulty_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    onboard(&app, &seller).await;
    let (purchase, intent) = sold(&app, &seller, "buyer@example.com", 4_500).await;
    event_starts(&app).await;
    assert_eq!(ledger_status(&app, &purchase).await, "paid");
    app.stripe_faults().on("/reversals").method(Method::POST).times(1).apply(Fault::DropAfterForward);
    refund_at_stripe(&app, &purchase, &intent).await;
    let transfer = transfers(&app, &purchase).await.remove(0);
    assert_eq!(transfer["amount_reversed"], 4_050, "Stripe reversed it; the answer never came back");
    let reversed = format!(
        "SELECT count(*) AS count FROM payouts WHERE order_id = '{}' AND status = 'reversed'",
        purchase.order_id()
    );
    assert_eq!(count(&app.database_url, &reversed).await, 0, "not known yet");

    app.advance(TimeDelta::minutes(1));
    app.dispatcher().drain().await.expect("drain");
    assert_eq!(count(&app.database_url, &reversed).await, 1, "read back from the transfer");
    let reversals = app.stripe().get(&format!("/transfers/{}/reversals", transfer["id"].as_str().expect("id"))).await;
    assert_eq!(reversals["data"].as_array().map(Vec::len), Some(1), "one reversal at Stripe");
}
