//! The live market (`GET /api/tickets/stream`): every change to a listing, in commit order, resumable
//! with `Last-Event-ID`, across server processes.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::checkout::{GOOD_CARD, pay, start_payment};
use crate::support::database::count;
use crate::support::live::{Follower, LiveEvent};
use crate::support::process::ServerProcess;
use crate::support::{Session, TICKET_PDF, TestApp, expect_error, expect_status, listing, publish, stripe};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// What a sequence of events says, listing by listing: (kind, listing id, version, status).
fn said(events: &[LiveEvent]) -> Vec<(String, String, i64, String)> {
    events.iter().map(LiveEvent::listing).collect()
}

fn expected(ticket: &str, steps: &[(&str, i64, &str)]) -> Vec<(String, String, i64, String)> {
    steps.iter().map(|(kind, version, status)| ((*kind).into(), ticket.into(), *version, (*status).into())).collect()
}

/// Lists, publishes, reserves, cancels, reserves again and buys one listing, and lists and deletes
/// another; answers the two ids.
async fn market_day(app: &TestApp, seller: &Session, buyer: &Session) -> (String, String) {
    let created = app.authed(seller, Method::POST, "/api/tickets").json(&listing("Jazz night", 4_000)).send().await;
    let ticket = expect_status(created.expect("create"), StatusCode::CREATED).await;
    app.attach_file(seller, &ticket, TICKET_PDF).await;
    let order = expect_status(app.reserve(buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    let cancel = app.authed(buyer, Method::POST, &format!("/api/orders/{}/cancel", id(&order))).send().await;
    expect_status(cancel.expect("cancel"), StatusCode::OK).await;
    let order = expect_status(app.reserve(buyer, &ticket["id"]).await, StatusCode::CREATED).await;
    expect_status(start_payment(app, buyer, &id(&order)).await, StatusCode::OK).await;
    expect_status(pay(app, buyer, &id(&order), GOOD_CARD).await, StatusCode::OK).await;

    let created = app.authed(seller, Method::POST, "/api/tickets").json(&listing("Comedy", 2_500)).send().await;
    let other = expect_status(created.expect("create"), StatusCode::CREATED).await;
    let delete = app.authed(seller, Method::DELETE, &format!("/api/tickets/{}", id(&other))).send().await;
    expect_status(delete.expect("delete"), StatusCode::NO_CONTENT).await;
    (id(&ticket), id(&other))
}

fn the_day(ticket: &str, other: &str) -> Vec<(String, String, i64, String)> {
    let mut day = expected(
        ticket,
        &[
            ("listed", 1, "available"),
            ("changed", 2, "available"),
            ("held", 3, "held"),
            ("released", 4, "available"),
            ("held", 5, "held"),
            ("sold", 6, "sold"),
        ],
    );
    day.extend(expected(other, &[("listed", 1, "available"), ("deleted", 2, "available")]));
    day
}

#[tokio::test]
async fn every_change_is_sent_in_order_and_a_reconnect_gets_exactly_what_it_missed() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;
    let mut follower = Follower::open(&app.base_url, None).await;

    let (ticket, other) = market_day(&app, &seller, &buyer).await;
    let events = follower.take(8).await;
    assert_eq!(said(&events), the_day(&ticket, &other));
    let positions: Vec<i64> = events.iter().map(|event| event.id).collect();
    assert!(positions.windows(2).all(|pair| pair[1] == pair[0] + 1), "consecutive positions: {positions:?}");
    // What a card shows travels with each change.
    let sold = &events[5].data["listing"];
    assert_eq!(
        (sold["eventName"].as_str(), sold["price"].as_i64(), sold["forSale"].as_bool()),
        (Some("Jazz night"), Some(4_000), Some(false))
    );
    assert_eq!(events[1].data["listing"]["hasTicketFile"], true);
    assert!(events[1].data["listing"].get("fileKey").is_none(), "no internals: {}", events[1].data);

    // A client that saw the first three reconnects and gets the other five, then what comes next.
    drop(follower);
    let mut resumed = Follower::open(&app.base_url, Some(events[2].id)).await;
    let missed = resumed.take(5).await;
    assert_eq!(said(&missed), said(&events[3..]));
    let created = app.authed(&seller, Method::POST, "/api/tickets").json(&listing("Opera", 9_000)).send().await;
    let opera = expect_status(created.expect("create"), StatusCode::CREATED).await;
    let next = resumed.next().await;
    assert_eq!((next.kind.as_str(), next.id), ("listed", events[7].id + 1));
    assert_eq!(next.listing().1, id(&opera));

    // Resuming from the latest position sends nothing old.
    let mut current = Follower::open(&app.base_url, Some(next.id)).await;
    let created = app.authed(&seller, Method::POST, "/api/tickets").json(&listing("Ballet", 3_000)).send().await;
    let ballet = expect_status(created.expect("create"), StatusCode::CREATED).await;
    assert_eq!(current.next().await.listing().1, id(&ballet));
}

#[tokio::test]
async fn a_change_whose_announcement_never_comes_is_sent_all_the_same() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let mut follower = Follower::open(&app.base_url, None).await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    let listed = follower.take(2).await;
    assert_eq!(listed[1].listing().1, id(&ticket));

    // A change placed in the log with no NOTIFY, as if the word were lost with a connection: the
    // relay reads the log when it has heard nothing for a while.
    let position = count(
        &app.database_url,
        &format!(
            "WITH placed AS (
                INSERT INTO listing_changes (position, ticket_id, kind, version, listing)
                SELECT (SELECT max(position) + 1 FROM listing_changes), id, 'changed', version, to_jsonb(tickets)
                FROM tickets WHERE id = '{}'
                RETURNING position)
             SELECT position AS count FROM placed",
            id(&ticket)
        ),
    )
    .await;
    let unannounced = follower.next().await;
    assert_eq!((unannounced.id, unannounced.kind.as_str()), (position, "changed"));
    assert_eq!(unannounced.listing().1, id(&ticket));
}

#[tokio::test]
async fn a_hold_handed_to_the_next_in_line_is_one_change_never_back_on_the_market() {
    let app = TestApp::spawn().await;
    let seller = app.register("seller@example.com").await;
    let (holder, waiter) = (app.register("holder@example.com").await, app.register("waiter@example.com").await);
    let mut follower = Follower::open(&app.base_url, None).await;
    let ticket = app.create_ticket(&seller, "Jazz night", 4_500).await;
    expect_status(app.reserve(&holder, &ticket["id"]).await, StatusCode::CREATED).await;
    let join = app.authed(&waiter, Method::POST, &format!("/api/tickets/{}/waitlist", id(&ticket))).send().await;
    expect_status(join.expect("join"), StatusCode::CREATED).await;
    assert_eq!(
        said(&follower.take(3).await),
        expected(&id(&ticket), &[("listed", 1, "available"), ("changed", 2, "available"), ("held", 3, "held")])
    );

    // The hold lapses: the sweep ends it and hands the ticket to the waiter in one transaction, and
    // then a new listing shows what came next.
    app.advance(chrono::TimeDelta::minutes(16));
    ticket_exchange::orders::sweep::sweep_lapsed_holds(&app.pool, app.clock_now(), 500).await.expect("sweep");
    let later = app.create_ticket(&seller, "Opera", 3_000).await;
    let events = follower.take(3).await;
    assert_eq!(
        said(&events),
        vec![
            ("held".into(), id(&ticket), 5, "held".into()),
            ("listed".into(), id(&later), 1, "available".into()),
            ("changed".into(), id(&later), 2, "available".into()),
        ],
        "no `released` between the two holds"
    );
}

#[tokio::test]
async fn a_client_too_far_behind_is_told_to_refetch() {
    let app = TestApp::spawn_with(&[("LIVE_HISTORY", "2")]).await;
    let seller = app.register("seller@example.com").await;
    let mut follower = Follower::open(&app.base_url, None).await;
    // One change at a time, each seen before the next is made: a change is forgotten only once two
    // newer ones have their places, so this stream sees each of them, and then the log keeps two.
    let mut events = Vec::new();
    for n in 0..3 {
        let created =
            app.authed(&seller, Method::POST, "/api/tickets").json(&listing(format!("Show {n}"), 2_000)).send().await;
        let ticket = expect_status(created.expect("create"), StatusCode::CREATED).await;
        events.push(follower.next().await);
        app.attach_file(&seller, &ticket, TICKET_PDF).await;
        events.push(follower.next().await);
    }
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(kinds, ["listed", "changed", "listed", "changed", "listed", "changed"]);

    let mut behind = Follower::open(&app.base_url, Some(events[0].id)).await;
    let refetch = behind.next().await;
    assert_eq!(refetch.kind, "refetch");
    assert!(refetch.data.get("listing").is_none());
    // Then the stream carries on from the newest change.
    app.create_ticket(&seller, "Encore", 2_000).await;
    let next = behind.next().await;
    assert_eq!((next.kind.as_str(), next.data["listing"]["eventName"].as_str()), ("listed", Some("Encore")));
    assert!(next.id > refetch.id);

    // An id this log never gave is a refetch too.
    for never_given in [events[5].id + 1_000, i64::MAX] {
        let mut ahead = Follower::open(&app.base_url, Some(never_given)).await;
        assert_eq!(ahead.next().await.kind, "refetch");
    }
}

#[tokio::test]
async fn a_last_event_id_that_is_not_a_position_is_refused() {
    let app = TestApp::spawn().await;
    for bad in ["abc", "-1", "1.5", "99999999999999999999"] {
        let response = app.request(Method::GET, "/api/tickets/stream").header("Last-Event-ID", bad).send().await;
        let body = expect_error(response.expect("send"), StatusCode::BAD_REQUEST, "invalid_last_event_id").await;
        assert_eq!(body["errors"][0]["field"], "Last-Event-ID");
    }
}

#[tokio::test]
async fn a_process_full_of_streams_answers_503() {
    // A closed connection is noticed when the server next writes to it: a keep-alive, soon.
    let app = TestApp::spawn_with(&[("LIVE_MAX_SUBSCRIBERS", "2"), ("LIVE_KEEP_ALIVE", "50ms")]).await;
    let first = Follower::open(&app.base_url, None).await;
    let _second = Follower::open(&app.base_url, None).await;
    let refused = app.request(Method::GET, "/api/tickets/stream").send().await.expect("send");
    expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    let metrics = app.request(Method::GET, "/metrics").send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.lines().any(|line| line == "ticket_exchange_live_streams 2"), "two open: {metrics}");
    // A stream closed frees its place.
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let response = app.request(Method::GET, "/api/tickets/stream").send().await.expect("send");
        if response.status() == StatusCode::OK {
            break;
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(tokio::time::Instant::now() < deadline, "a place is freed once a stream closed");
    }
}

#[tokio::test]
async fn changes_through_one_process_reach_the_streams_of_another_in_order_across_a_reconnect() {
    let app = TestApp::spawn_with_stripe(&[]).await;
    let env = [
        ("STRIPE_SECRET_KEY", stripe::SECRET_KEY),
        ("STRIPE_PUBLISHABLE_KEY", stripe::PUBLISHABLE_KEY),
        ("STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET),
        ("STRIPE_API_BASE", app.stripe().url.as_str()),
        ("BACKGROUND_JOBS", "false"),
    ];
    let mut servers = join_all((0..2).map(|_| ServerProcess::start(&app.database_url, &env))).await;
    let (watched, writer) = (servers.remove(0), servers.remove(0));
    let client = reqwest::Client::new();
    let post = |path: &str, session: &Session, body: Value| {
        client.post(format!("{}{path}", writer.base_url)).bearer_auth(&session.token).json(&body).send()
    };
    let seller = app.register("seller@example.com").await;
    let buyer = app.register("buyer@example.com").await;

    let mut follower = Follower::open(&watched.base_url, None).await;
    let created = expect_status(
        post("/api/tickets", &seller, listing("Jazz night", 4_000)).await.expect("create"),
        StatusCode::CREATED,
    )
    .await;
    let ticket = id(&created);
    publish(&client, &writer.base_url, &seller, &created).await;
    let body = serde_json::json!({"ticketId": ticket});
    let order =
        expect_status(post("/api/orders", &buyer, body.clone()).await.expect("reserve"), StatusCode::CREATED).await;
    let first = follower.take(3).await;
    assert_eq!(
        said(&first),
        expected(&ticket, &[("listed", 1, "available"), ("changed", 2, "available"), ("held", 3, "held")])
    );

    // The watching client loses its connection; meanwhile the hold is let go and the ticket sold.
    drop(follower);
    let cancel = client
        .post(format!("{}/api/orders/{}/cancel", writer.base_url, id(&order)))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .expect("cancel");
    expect_status(cancel, StatusCode::OK).await;
    let order = expect_status(post("/api/orders", &buyer, body).await.expect("reserve"), StatusCode::CREATED).await;
    let started = post("/api/payments", &buyer, serde_json::json!({"orderId": id(&order)})).await.expect("start");
    expect_status(started, StatusCode::OK).await;
    let token = app.stripe().card_token(GOOD_CARD).await;
    let paid = post(
        "/api/payments/confirm",
        &buyer,
        serde_json::json!({"orderId": id(&order), "cardToken": token, "billing": crate::support::checkout::billing()}),
    )
    .await
    .expect("pay");
    expect_status(paid, StatusCode::OK).await;

    let mut resumed = Follower::open(&watched.base_url, Some(first[2].id)).await;
    assert_eq!(
        said(&resumed.take(3).await),
        expected(&ticket, &[("released", 4, "available"), ("held", 5, "held"), ("sold", 6, "sold")])
    );
}

#[tokio::test]
async fn open_streams_end_when_the_server_stops() {
    let app = TestApp::spawn().await;
    // A grace far longer than the test waits: the streams must not be what the server waits for.
    let server = ServerProcess::start(&app.database_url, &[("SHUTDOWN_GRACE", "120s")]).await;
    let follower = Follower::open(&server.base_url, None).await;
    server.terminate();
    assert!(follower.ends().await, "the stream ends with the server's shutdown, not at its grace");
}

#[tokio::test]
async fn an_idle_stream_sends_keep_alive_comments() {
    use futures_util::StreamExt;
    let app = TestApp::spawn_with(&[("LIVE_KEEP_ALIVE", "100ms")]).await;
    let response = app.request(Method::GET, "/api/tickets/stream").send().await.expect("open");
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    // Nothing changes on this market: after the stream's start, all that comes is the comment that
    // keeps proxies from closing it.
    let mut said = Vec::new();
    while !said.ends_with(b"\n\n:\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), body.next())
            .await
            .expect("a keep-alive within ten seconds")
            .expect("open")
            .expect("bytes");
        said.extend_from_slice(&chunk);
    }
    let said = String::from_utf8(said).expect("text");
    let (start, rest) = said.split_once("\n\n").expect("an event");
    assert!(start.lines().any(|line| line == "event: start"), "{said}");
    assert_eq!(rest, ":\n\n");
}
