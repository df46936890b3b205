//! The market's kept pages: answered again only while no seller's change here, no change in the
//! live log and no more than their age can have changed them.

use chrono::TimeDelta;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use ticket_exchange::live::{relay, sequencer};

use crate::support::database::count;
use crate::support::{Session, TestApp, expect_status};

/// Gives every committed change its place in the live log (the background sequencer may hold its
/// turn for a moment) and hands them to this process's hub: from here, the hub's position moves only
/// with a new change.
async fn changes_relayed(app: &TestApp) {
    while count(&app.database_url, "SELECT count(*) AS count FROM listing_changes WHERE position IS NULL").await > 0 {
        sequencer::sequence(&app.pool, 10_000).await.expect("sequence");
        tokio::task::yield_now().await;
    }
    relay::catch_up(&app.state.live, &app.pool).await.expect("catch up");
}

/// Sets the listing's price in the database with its triggers off: a change nothing records, which
/// only a page written anew can show.
async fn unrecorded_price(app: &TestApp, ticket: &Value, price: i64) {
    let mut conn = AsyncPgConnection::establish(&app.database_url).await.expect("connect");
    diesel::sql_query("SET session_replication_role = replica").execute(&mut conn).await.expect("replica role");
    let id = ticket["id"].as_str().expect("id");
    diesel::sql_query(format!("UPDATE tickets SET price = {price} WHERE id = '{id}'"))
        .execute(&mut conn)
        .await
        .expect("update");
}

/// A server whose sequencer ran once at start and then not within the test, so changes reach the
/// log's positions (and this process's relay) only when the test places them; a seller's listing on
/// its market at 4,000, on a page now kept.
async fn a_market_of_one() -> (TestApp, Session, Value) {
    let app = TestApp::spawn_with(&[("LIVE_SEQUENCE_INTERVAL", "1h")]).await;
    let seller = app.register("seller@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_000).await;
    changes_relayed(&app).await;
    assert_eq!(market_price(&app).await, 4_000);
    (app, seller, ticket)
}

async fn market(app: &TestApp) -> Vec<Value> {
    let page =
        expect_status(app.request(Method::GET, "/api/tickets").send().await.expect("send"), StatusCode::OK).await;
    page["items"].as_array().cloned().expect("items")
}

async fn market_price(app: &TestApp) -> i64 {
    let items = market(app).await;
    assert_eq!(items.len(), 1, "{items:?}");
    items[0]["price"].as_i64().expect("price")
}

#[tokio::test]
async fn a_kept_page_ends_with_a_sellers_change_here_a_change_in_the_log_or_its_age() {
    let (app, seller, ticket) = a_market_of_one().await;
    let buyer = app.register("buyer@example.com").await;

    unrecorded_price(&app, &ticket, 4_100).await;
    assert_eq!(market_price(&app).await, 4_000, "the page is kept");
    app.advance(TimeDelta::milliseconds(1_001));
    assert_eq!(market_price(&app).await, 4_100, "a page older than a second is written anew");

    unrecorded_price(&app, &ticket, 4_200).await;
    assert_eq!(market_price(&app).await, 4_100, "kept again");
    // The seller lists another ticket (a draft, not on the market): its change waits unplaced in
    // the log, so only the seller's change through this process can end the page.
    let draft = app.authed(&seller, Method::POST, "/api/tickets").json(&crate::support::listing("Draft", 1_000));
    expect_status(draft.send().await.expect("send"), StatusCode::CREATED).await;
    assert_eq!(market_price(&app).await, 4_200, "a seller's change through this process ends kept pages");

    unrecorded_price(&app, &ticket, 4_300).await;
    assert_eq!(market_price(&app).await, 4_200, "kept again");
    expect_status(app.reserve(&buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    assert_eq!(market_price(&app).await, 4_200, "a reservation ends kept pages through the log, not at once");
    changes_relayed(&app).await;
    assert_eq!(market(&app).await, Vec::<Value>::new(), "once the relay has read it, the held listing is gone");
}

#[tokio::test]
async fn with_no_age_allowed_every_page_is_written_anew() {
    let app = TestApp::spawn_with(&[("MARKET_PAGE_MAX_AGE", "0s")]).await;
    let seller = app.register("seller@example.com").await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_000).await;
    changes_relayed(&app).await;
    assert_eq!(market_price(&app).await, 4_000);
    unrecorded_price(&app, &ticket, 4_100).await;
    assert_eq!(market_price(&app).await, 4_100);
}

#[tokio::test]
async fn a_sellers_file_edit_and_delete_each_show_on_the_next_page_at_once() {
    // The log's positions move only when the test places them, so each page below can have ended
    // only through the seller's change here.
    let (app, seller, ticket) = a_market_of_one().await;

    // A draft is not on the market; attaching its file puts it there.
    let draft = app.authed(&seller, Method::POST, "/api/tickets").json(&crate::support::listing("Late show", 3_000));
    let draft = expect_status(draft.send().await.expect("send"), StatusCode::CREATED).await;
    assert_eq!(market(&app).await.len(), 1, "a draft is not on the market");
    app.attach_file(&seller, &draft, crate::support::TICKET_PDF).await;
    assert_eq!(market(&app).await.len(), 2, "the attached file put it on the market");

    // A change refused (not the seller's listing) changed nothing: the page stays kept.
    let stranger = app.register("stranger@example.com").await;
    let refused =
        app.authed(&stranger, Method::DELETE, &format!("/api/tickets/{}", ticket["id"].as_str().expect("id")));
    expect_status(refused.send().await.expect("send"), StatusCode::NOT_FOUND).await;
    unrecorded_price(&app, &ticket, 4_100).await;
    assert_eq!(market(&app).await.len(), 2);
    assert!(
        market(&app).await.iter().any(|item| item["price"].as_i64() == Some(4_000)),
        "still the page kept before the refusal"
    );

    let id = ticket["id"].as_str().expect("id");
    let mut edit = crate::support::listing("Jazz night", 4_500);
    edit["version"] = ticket["version"].clone();
    let edited = app.authed(&seller, Method::PUT, &format!("/api/tickets/{id}")).json(&edit);
    expect_status(edited.send().await.expect("send"), StatusCode::OK).await;
    let prices: Vec<i64> = market(&app).await.iter().filter_map(|item| item["price"].as_i64()).collect();
    assert!(prices.contains(&4_500) && !prices.contains(&4_000), "the edit shows: {prices:?}");

    let deleted = app.authed(&seller, Method::DELETE, &format!("/api/tickets/{}", draft["id"].as_str().expect("id")));
    expect_status(deleted.send().await.expect("send"), StatusCode::NO_CONTENT).await;
    assert_eq!(market_price(&app).await, 4_500, "the deleted listing is gone");
}

#[tokio::test]
async fn a_page_asked_for_as_of_a_position_this_process_has_not_reached_is_written_anew() {
    // A client's stream may be followed through another process, further on in the log than this
    // one's relay: its page must still have seen everything its stream goes on from.
    let (app, _, ticket) = a_market_of_one().await;
    let position = crate::support::live::Follower::open(&app.base_url, None).await.start.expect("start");

    unrecorded_price(&app, &ticket, 4_100).await;
    let app = &app;
    let as_of = |since: i64| async move {
        let path = format!("/api/tickets?since={since}");
        let page = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
        page["items"][0]["price"].as_i64().expect("price")
    };
    assert_eq!(as_of(position).await, 4_000, "this process has reached it: kept");
    assert_eq!(as_of(position + 1).await, 4_100, "further on: written anew");
    unrecorded_price(app, &ticket, 4_200).await;
    assert_eq!(market_price(app).await, 4_100, "and kept for those who know no more");
    assert_eq!(as_of(position + 1).await, 4_200, "but never labelled with what a client said");
}
