//! Waitlists: the line for a held listing, and the hand-over of a hold that ends without a sale to
//! the first in line, driven by the injected clock and the sweep.

use chrono::TimeDelta;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ticket_exchange::orders::sweep::sweep_lapsed_holds;

use crate::support::database::count;
use crate::support::smtp::SmtpServer;
use crate::support::{Session, TestApp, expect_error, expect_status, listing, with};

fn path(ticket: &Value) -> String {
    format!("/api/tickets/{}/waitlist", ticket["id"].as_str().expect("id"))
}

async fn join(app: &TestApp, who: &Session, ticket: &Value) -> reqwest::Response {
    app.authed(who, Method::POST, &path(ticket)).send().await.expect("join")
}

async fn standing(app: &TestApp, who: &Session, ticket: &Value) -> Value {
    expect_status(app.authed(who, Method::GET, &path(ticket)).send().await.expect("standing"), StatusCode::OK).await
}

/// `who`'s orders, newest first.
async fn orders(app: &TestApp, who: &Session) -> Vec<Value> {
    let page =
        expect_status(app.authed(who, Method::GET, "/api/orders").send().await.expect("orders"), StatusCode::OK).await;
    page["items"].as_array().cloned().unwrap_or_default()
}

async fn sweep(app: &TestApp) {
    sweep_lapsed_holds(&app.pool, app.clock_now(), 500).await.expect("sweep");
}

async fn live_orders(app: &TestApp, ticket: &Value) -> i64 {
    let id = ticket["id"].as_str().expect("id");
    count(
        &app.database_url,
        &format!("SELECT count(*) AS count FROM orders WHERE ticket_id = '{id}' AND status IN ('created', 'awaiting_payment')"),
    )
    .await
}

#[tokio::test]
async fn a_hold_that_lapses_goes_to_the_first_in_line_then_the_next_then_the_market() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app =
        TestApp::spawn_with(&[("SMTP_URL", url.as_str()), ("MAIL_FROM", "Ticket Exchange <tickets@example.com>")])
            .await;
    let seller = app.register("seller@example.com").await;
    let holder = app.register("holder@example.com").await;
    let (first, second) = (app.register("first@example.com").await, app.register("second@example.com").await);
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    expect_status(app.reserve(&holder, &ticket["id"]).await, StatusCode::CREATED).await;

    assert_eq!(
        expect_status(join(&app, &first, &ticket).await, StatusCode::CREATED).await,
        json!({"place": 1, "waiting": 1})
    );
    assert_eq!(
        expect_status(join(&app, &second, &ticket).await, StatusCode::CREATED).await,
        json!({"place": 2, "waiting": 2})
    );
    // Joining again keeps the place.
    assert_eq!(
        expect_status(join(&app, &first, &ticket).await, StatusCode::CREATED).await,
        json!({"place": 1, "waiting": 2})
    );
    assert_eq!(standing(&app, &seller, &ticket).await, json!({"waiting": 2}));

    // The holder does not pay: the first in line holds it, for the usual fifteen minutes.
    app.advance(TimeDelta::minutes(16));
    sweep(&app).await;
    let offered = orders(&app, &first).await;
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0]["status"], "created");
    assert_eq!(offered[0]["price"], 4_500);
    let expires: chrono::DateTime<chrono::Utc> =
        offered[0]["expiresAt"].as_str().and_then(|t| t.parse().ok()).expect("expiry");
    assert_eq!(expires, app.clock_now() + TimeDelta::minutes(15));
    assert_eq!(crate::support::checkout::ticket_status(&app, &ticket).await, "held", "never back on the market");
    assert_eq!(standing(&app, &second, &ticket).await, json!({"place": 1, "waiting": 1}));
    assert_eq!(live_orders(&app, &ticket).await, 1);

    app.dispatcher().drain().await.expect("drain");
    let mail = smtp.received_by("first@example.com");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].subject, "Your turn: Jazz night is held for you");
    let deadline = expires.format("%B %-d, %Y at %H:%M UTC").to_string();
    assert!(mail[0].text.contains(&deadline), "the deadline {deadline} in {}", mail[0].text);
    assert!(mail[0].text.contains(&format!("/orders/{}/checkout", offered[0]["id"].as_str().expect("id"))));

    // Nor does the first: the second gets it.
    app.advance(TimeDelta::minutes(16));
    sweep(&app).await;
    assert_eq!(orders(&app, &second).await[0]["status"], "created");
    assert_eq!(orders(&app, &first).await[0]["status"], "cancelled");
    app.dispatcher().drain().await.expect("drain");
    app.dispatcher().drain().await.expect("drain again");
    assert_eq!(smtp.received_by("first@example.com").len(), 1, "one email per offer");
    assert_eq!(smtp.received_by("second@example.com").len(), 1);
    assert!(smtp.received_by("holder@example.com").is_empty());

    // The second lets it go and nobody waits: it is on the market again.
    let order_id = orders(&app, &second).await[0]["id"].as_str().expect("id").to_owned();
    let cancel =
        app.authed(&second, Method::POST, &format!("/api/orders/{order_id}/cancel")).send().await.expect("cancel");
    expect_status(cancel, StatusCode::OK).await;
    assert_eq!(crate::support::checkout::ticket_status(&app, &ticket).await, "available");
    assert_eq!(standing(&app, &first, &ticket).await, json!({"waiting": 0}));
}

#[tokio::test]
async fn the_first_in_line_reserving_a_lapsed_hold_before_the_sweep_is_given_the_hold_handed_over() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let (holder, first, second) = (
        app.register("holder@example.com").await,
        app.register("first@example.com").await,
        app.register("second@example.com").await,
    );
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    expect_status(app.reserve(&holder, &ticket["id"]).await, StatusCode::CREATED).await;
    expect_status(join(&app, &first, &ticket).await, StatusCode::CREATED).await;
    expect_status(join(&app, &second, &ticket).await, StatusCode::CREATED).await;
    app.advance(TimeDelta::minutes(16));

    // No sweep yet: the first in line clicks Buy on the lapsed hold and is answered with the hold the
    // line handed them, not told the ticket is taken.
    let reserved = expect_status(app.reserve(&first, &ticket["id"]).await, StatusCode::CREATED).await;
    let theirs = orders(&app, &first).await;
    assert_eq!(theirs.len(), 1, "one order, not two");
    assert_eq!(reserved["id"], theirs[0]["id"]);
    assert_eq!(reserved["status"], "created");
    assert_eq!(live_orders(&app, &ticket).await, 1);
    assert_eq!(standing(&app, &second, &ticket).await, json!({"place": 1, "waiting": 1}));

    // The second in line asking now is told it is held.
    expect_error(app.reserve(&second, &ticket["id"]).await, StatusCode::CONFLICT, "ticket_unavailable").await;
}

#[tokio::test]
async fn a_waiter_at_the_hold_limit_is_passed_over_and_keeps_their_place() {
    let app = TestApp::spawn_with(&[("MAX_LIVE_HOLDS", "1")]).await;
    let seller = app.register("seller@example.com").await;
    let (holder, busy, next) = (
        app.register("holder@example.com").await,
        app.register("busy@example.com").await,
        app.register("next@example.com").await,
    );
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    expect_status(app.reserve(&holder, &ticket["id"]).await, StatusCode::CREATED).await;
    expect_status(join(&app, &busy, &ticket).await, StatusCode::CREATED).await;
    expect_status(join(&app, &next, &ticket).await, StatusCode::CREATED).await;
    app.advance(TimeDelta::minutes(10));
    let other = app.create_ticket(&seller, "Opera", 3_000).await;
    expect_status(app.reserve(&busy, &other["id"]).await, StatusCode::CREATED).await;

    app.advance(TimeDelta::minutes(6));
    sweep(&app).await;
    assert_eq!(orders(&app, &next).await.len(), 1, "the next in line holds it");
    assert_eq!(standing(&app, &busy, &ticket).await, json!({"place": 1, "waiting": 1}));
}

#[tokio::test]
async fn the_line_has_rules() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let holder = app.register("holder@example.com").await;
    let other = app.register("other@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    expect_error(join(&app, &other, &ticket).await, StatusCode::CONFLICT, "ticket_not_held").await;
    expect_status(app.reserve(&holder, &ticket["id"]).await, StatusCode::CREATED).await;
    expect_error(join(&app, &seller, &ticket).await, StatusCode::CONFLICT, "own_ticket").await;
    expect_error(join(&app, &holder, &ticket).await, StatusCode::CONFLICT, "ticket_held_by_you").await;
    let anonymous = app.request(Method::POST, &path(&ticket)).send().await.expect("send");
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let unknown = json!({"id": "00000000-0000-0000-0000-000000000000"});
    expect_error(join(&app, &other, &unknown).await, StatusCode::NOT_FOUND, "not_found").await;
    let leave = app.authed(&other, Method::DELETE, &path(&ticket)).send().await.expect("leave");
    expect_error(leave, StatusCode::NOT_FOUND, "not_in_line").await;

    expect_status(join(&app, &other, &ticket).await, StatusCode::CREATED).await;
    let leave = app.authed(&other, Method::DELETE, &path(&ticket)).send().await.expect("leave");
    expect_status(leave, StatusCode::NO_CONTENT).await;
    assert_eq!(standing(&app, &other, &ticket).await, json!({"waiting": 0}));
}

#[tokio::test]
async fn the_seller_editing_a_listing_empties_its_line() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let (holder, waiter) = (app.register("holder@example.com").await, app.register("waiter@example.com").await);
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    expect_status(app.reserve(&holder, &ticket["id"]).await, StatusCode::CREATED).await;
    expect_status(join(&app, &waiter, &ticket).await, StatusCode::CREATED).await;
    // The hold has lapsed, unswept; the seller changes the price before the sweep comes by.
    app.advance(TimeDelta::minutes(16));
    let id = ticket["id"].as_str().expect("id");
    let current = expect_status(
        app.request(Method::GET, &format!("/api/tickets/{id}")).send().await.expect("get"),
        StatusCode::OK,
    )
    .await;
    let body = with(listing("Jazz night", 5_000), json!({"version": current["version"]}));
    let edited =
        app.authed(&seller, Method::PUT, &format!("/api/tickets/{id}")).json(&body).send().await.expect("edit");
    expect_status(edited, StatusCode::OK).await;
    assert_eq!(standing(&app, &waiter, &ticket).await, json!({"waiting": 0}));
    sweep(&app).await;
    assert!(orders(&app, &waiter).await.is_empty(), "no offer of a listing that changed");
    assert_eq!(crate::support::checkout::ticket_status(&app, &ticket).await, "available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lapsed_hold_raced_by_buyers_sweeps_and_a_waiter_is_held_by_one_order_at_most() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let holder = app.register("holder@example.com").await;
    let waiter = app.register("waiter@example.com").await;
    let emails: Vec<String> = (0..6).map(|n| format!("buyer{n}@example.com")).collect();
    let buyers = join_all(emails.iter().map(|email| app.register(email))).await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    expect_status(app.reserve(&holder, &ticket["id"]).await, StatusCode::CREATED).await;
    expect_status(join(&app, &waiter, &ticket).await, StatusCode::CREATED).await;
    app.advance(TimeDelta::minutes(16));

    let reservations = join_all(buyers.iter().map(|buyer| app.reserve(buyer, &ticket["id"])));
    let sweeps = join_all((0..3).map(|_| sweep(&app)));
    let (answers, ()) = tokio::join!(reservations, async {
        sweeps.await;
    });
    let won: Vec<StatusCode> =
        answers.iter().map(reqwest::Response::status).filter(|s| *s == StatusCode::CREATED).collect();
    assert_eq!(live_orders(&app, &ticket).await, 1, "exactly one live order");
    // The waiter came first wherever the lapsed hold was met: no buyer reserved it.
    assert!(won.is_empty(), "{} buyers reserved a ticket someone waited for", won.len());
    assert_eq!(orders(&app, &waiter).await.len(), 1);
}

#[tokio::test]
async fn a_refunded_sale_goes_to_the_line_once_its_seller_attaches_the_reissued_ticket() {
    use crate::support::checkout::{GOOD_CARD, pay, reserved, start_payment, ticket_status};
    let app = TestApp::spawn_with_stripe(&[]).await;
    let purchase = reserved(&app, 4_500).await;
    let waiter = app.register("waiter@example.com").await;
    expect_status(join(&app, &waiter, &purchase.ticket).await, StatusCode::CREATED).await;
    expect_status(start_payment(&app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    expect_status(pay(&app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    // Sold: the line waits on, in case of a refund.
    assert_eq!(standing(&app, &waiter, &purchase.ticket).await, json!({"place": 1, "waiting": 1}));

    let refund = format!("/api/orders/{}/refund", purchase.order_id());
    let refunded = app.authed(&purchase.buyer, Method::POST, &refund).json(&json!({})).send().await.expect("refund");
    expect_status(refunded, StatusCode::OK).await;
    // Back without its file (the refunded buyer has it): not for sale, and the line still waits.
    assert!(orders(&app, &waiter).await.is_empty());
    assert_eq!(standing(&app, &waiter, &purchase.ticket).await, json!({"place": 1, "waiting": 1}));

    let reissued = app.attach_file(&purchase.seller, &purchase.ticket, crate::support::TICKET_PDF).await;
    assert_eq!(reissued["status"], "held", "handed to the line as the file is attached: {reissued}");
    assert_eq!(ticket_status(&app, &purchase.ticket).await, "held");
    let offered = orders(&app, &waiter).await;
    assert_eq!((offered.len(), offered[0]["status"].as_str()), (1, Some("created")));
    assert_eq!(live_orders(&app, &purchase.ticket).await, 1);
}
