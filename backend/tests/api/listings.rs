use chrono::TimeDelta;
use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, error_fields, expect_error, expect_status};

#[tokio::test]
async fn owners_list_tickets_and_the_server_sets_what_they_do_not_own() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let ticket = app.create_ticket(&ann, "  Taylor Swift - Floor  ", 12_550).await;
    assert_eq!(ticket["eventName"], "Taylor Swift - Floor");
    assert_eq!(ticket["price"], 12_550);
    assert_eq!(ticket["currency"], "CAD");
    assert_eq!(ticket["status"], "available");
    assert_eq!(ticket["version"], 2, "listed, then its file attached");
    assert_eq!((ticket["forSale"].as_bool(), ticket["hasTicketFile"].as_bool()), (Some(true), Some(true)));
    assert_eq!((ticket["venue"].as_str(), ticket["timeZone"].as_str()), (Some("Massey Hall"), Some("America/Toronto")));
    assert_eq!(ticket["ownerId"], ann.user_id.to_string());

    let response =
        app.request(Method::GET, &format!("/api/tickets/{}", ticket["id"].as_str().expect("id"))).send().await;
    assert_eq!(expect_status(response.expect("send"), StatusCode::OK).await, ticket);

    for smuggled in [json!({"ownerId": uuid::Uuid::new_v4()}), json!({"status": "sold"}), json!({"fileKey": "x"})] {
        let body = crate::support::with(crate::support::listing("Concert", 1000), smuggled);
        let response = app.authed(&ann, Method::POST, "/api/tickets").json(&body).send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    }
    let versioned = crate::support::with(crate::support::listing("Concert", 1000), json!({"version": 9}));
    let response = app.authed(&ann, Method::POST, "/api/tickets").json(&versioned).send().await.expect("send");
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "set_by_server").await;
}

#[tokio::test]
async fn bad_listings_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (crate::support::listing("   ", 1000), StatusCode::UNPROCESSABLE_ENTITY, "eventName"),
        (crate::support::listing("x".repeat(121), 1000), StatusCode::UNPROCESSABLE_ENTITY, "eventName"),
        (crate::support::listing("a\r\nb", 1000), StatusCode::UNPROCESSABLE_ENTITY, "eventName"),
        (crate::support::listing("Concert", 0), StatusCode::UNPROCESSABLE_ENTITY, "price"),
        (crate::support::listing("Concert", -100), StatusCode::UNPROCESSABLE_ENTITY, "price"),
        (crate::support::listing("Concert", 100_000_001), StatusCode::UNPROCESSABLE_ENTITY, "price"),
        (
            crate::support::with(crate::support::listing("Concert", 1000), json!({"currency": "XYZ"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency",
        ),
        (crate::support::listing("Concert", 10.5), StatusCode::BAD_REQUEST, ""),
        (crate::support::listing("Concert", "1000"), StatusCode::BAD_REQUEST, ""),
        (crate::support::listing(42, 1000), StatusCode::BAD_REQUEST, ""),
        (crate::support::without_price(crate::support::listing("Concert", 1_000)), StatusCode::BAD_REQUEST, ""),
    ];
    for (body, status, field) in cases {
        let response = app.authed(&ann, Method::POST, "/api/tickets").json(&body).send().await.expect("send");
        let code = if status == StatusCode::BAD_REQUEST { "invalid_body" } else { "" };
        let error = expect_status(response, status).await;
        if status == StatusCode::BAD_REQUEST {
            assert_eq!(error["errors"][0]["code"], code, "{body}");
        } else {
            assert_eq!(error_fields(&error), [field], "{body}");
        }
    }
    let response = app.request(Method::GET, "/api/tickets").send().await.expect("send");
    assert_eq!(expect_status(response, StatusCode::OK).await["items"], serde_json::json!([]));
}

#[tokio::test]
async fn the_market_lists_tickets_soonest_first_with_paging_and_filters() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let now = app.clock_now();
    // Soonest first: Opera, Jazz brunch, Rock, Jazz night.
    for (name, price, days, city) in [
        ("Jazz night", 2_000, 40, "Toronto"),
        ("Rock 100% live", 5_000, 30, "Montréal"),
        ("Jazz brunch", 8_000, 20, "Toronto"),
        ("Opera", 15_000, 10, "Ottawa"),
    ] {
        let starts_at = (now + TimeDelta::days(days)).to_rfc3339();
        let body = crate::support::with(
            crate::support::listing(name, price),
            json!({"startsAt": starts_at, "city": city, "venue": format!("{city} Hall")}),
        );
        app.create_listing(&ann, &body).await;
    }
    // Not for sale, so not on the market: no ticket file yet.
    let unpublished = app.authed(&ann, Method::POST, "/api/tickets").json(&crate::support::listing("Draft", 1_000));
    expect_status(unpublished.send().await.expect("send"), StatusCode::CREATED).await;
    let titles = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["eventName"].as_str().expect("event name").to_owned())
            .collect()
    };
    let get = |query: &str| app.request(Method::GET, &format!("/api/tickets{query}")).send();

    let all = expect_status(get("").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&all), ["Opera", "Jazz brunch", "Rock 100% live", "Jazz night"]);
    assert_eq!(all.get("nextCursor"), None, "one page holds them all");

    // Keyset paging: each page starts after the last one's end, and a listing added meanwhile (sooner
    // than every page) shifts nothing.
    let first = expect_status(get("?limit=3").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&first), ["Opera", "Jazz brunch", "Rock 100% live"]);
    let cursor = first["nextCursor"].as_str().expect("a next page").to_owned();
    let sooner = (now + TimeDelta::days(5)).to_rfc3339();
    app.create_listing(
        &ann,
        &crate::support::with(crate::support::listing("Late addition", 20_000), json!({"startsAt": sooner})),
    )
    .await;
    let second = expect_status(get(&format!("?limit=3&after={cursor}")).await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&second), ["Jazz night"]);
    assert_eq!(second.get("nextCursor"), None, "the last page says so");
    let both =
        expect_status(get(&format!("?limit=1&q=jazz&after={cursor}")).await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&both), ["Jazz night"], "filters apply after the cursor too");
    expect_error(
        get(&format!("?sort=price&after={cursor}")).await.expect("send"),
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;

    // Cheapest first, paged the same way.
    let cheapest = expect_status(get("?sort=price&limit=2").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&cheapest), ["Jazz night", "Rock 100% live"]);
    let next = cheapest["nextCursor"].as_str().expect("a next page");
    let rest = expect_status(get(&format!("?sort=price&after={next}")).await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&rest), ["Jazz brunch", "Opera", "Late addition"]);

    // Text matches the event, the venue or the city; the city filter is the city, in any case.
    let jazz = expect_status(get("?q=JAZZ").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&jazz), ["Jazz brunch", "Jazz night"]);
    let by_venue = expect_status(get("?q=ottawa%20hall").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&by_venue), ["Opera"]);
    let in_city = expect_status(get("?city=montr%C3%A9al").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&in_city), ["Rock 100% live"]);
    let percent = expect_status(get("?q=%25").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&percent), ["Rock 100% live"], "% is matched literally");

    let priced = expect_status(get("?minPrice=3000&maxPrice=10000").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&priced), ["Jazz brunch", "Rock 100% live"]);

    // Dates are days at the venue, both ends included.
    let day = |days: i64| (now + TimeDelta::days(days)).with_timezone(&chrono_tz::America::Toronto).date_naive();
    let window = format!("?from={}&to={}", day(20), day(30));
    let dated = expect_status(get(&window).await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&dated), ["Jazz brunch", "Rock 100% live"]);

    // An event that has started leaves the market.
    app.advance(TimeDelta::days(15));
    let later = expect_status(get("").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&later), ["Jazz brunch", "Rock 100% live", "Jazz night"]);

    // The last: a time PostgreSQL cannot store (year -7537), which must not reach it.
    let ancient = "?after=LTMwMDAwMDAwMDAwMDAwMDAwMC4wMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA";
    for bad in [
        "?limit=0",
        "?limit=101",
        "?limit=ten",
        "?after=nope",
        "?after=MTIzLng",
        "?minPrice=-5",
        "?from=tomorrow",
        "?to=2027-02-30",
        "?from=+200000-01-01",
        "?to=1969-12-31",
        "?sort=cheapest",
        "?since=-1",
        "?since=later",
        ancient,
    ] {
        expect_error(get(bad).await.expect("send"), StatusCode::BAD_REQUEST, "invalid_parameter").await;
    }
}

#[tokio::test]
async fn owners_update_with_the_version_they_saw() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let ticket = app.create_ticket(&ann, "Concert", 1_000).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));

    let response = app
        .authed(&ann, Method::PUT, &path)
        .json(&crate::support::with(
            crate::support::listing("Concert (row 2)", 1_500),
            json!({"currency": "usd", "version": 2}),
        ))
        .send()
        .await
        .expect("send");
    let updated = expect_status(response, StatusCode::OK).await;
    assert_eq!((updated["eventName"].as_str(), updated["price"].as_i64()), (Some("Concert (row 2)"), Some(1_500)));
    assert_eq!((updated["currency"].as_str(), updated["version"].as_i64()), (Some("USD"), Some(3)));

    let stale = app
        .authed(&ann, Method::PUT, &path)
        .json(&crate::support::with(crate::support::listing("Lost update", 100), json!({"version": 2})))
        .send()
        .await
        .expect("send");
    expect_error(stale, StatusCode::CONFLICT, "stale_version").await;
    let current = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(current["eventName"], "Concert (row 2)");

    let invalid = app
        .authed(&ann, Method::PUT, &path)
        .json(&crate::support::with(crate::support::listing("", 100), json!({"version": 3})))
        .send()
        .await
        .expect("send");
    expect_error(invalid, StatusCode::UNPROCESSABLE_ENTITY, "required").await;
    let unversioned = app.authed(&ann, Method::PUT, &path).json(&crate::support::listing("No version", 100));
    let body =
        expect_error(unversioned.send().await.expect("send"), StatusCode::UNPROCESSABLE_ENTITY, "required").await;
    assert_eq!(error_fields(&body), ["version"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_updates_from_one_version_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let ticket = app.create_ticket(&ann, "Concert", 1_000).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let update = |title: &'static str| {
        app.authed(&ann, Method::PUT, &path)
            .json(&crate::support::with(crate::support::listing(title, 2_000), json!({"version": 2})))
            .send()
    };
    let (first, second) = tokio::join!(update("First"), update("Second"));
    let mut statuses = [first.expect("send").status(), second.expect("send").status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let current = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(current["version"], 3);
}

#[tokio::test]
async fn owners_delete_and_deleted_tickets_are_gone() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let ticket = app.create_ticket(&ann, "Concert", 1_000).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));

    let stale = app.authed(&ann, Method::DELETE, &format!("{path}?version=7")).send().await.expect("send");
    expect_error(stale, StatusCode::CONFLICT, "stale_version").await;
    let deleted = app.authed(&ann, Method::DELETE, &format!("{path}?version=2")).send().await.expect("send");
    expect_status(deleted, StatusCode::NO_CONTENT).await;

    expect_error(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::NOT_FOUND, "not_found").await;
    let again = app.authed(&ann, Method::DELETE, &path).send().await.expect("send");
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await;
    let market =
        expect_status(app.request(Method::GET, "/api/tickets").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(market["items"], serde_json::json!([]));
}

#[tokio::test]
async fn nobody_but_the_owner_can_touch_a_listing() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let ticket = app.create_ticket(&ann, "Concert", 1_000).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let update = crate::support::with(crate::support::listing("Mine now", 100), json!({"version": 1}));

    let response = app.authed(&bob, Method::PUT, &path).json(&update).send().await.expect("send");
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.authed(&bob, Method::DELETE, &path).send().await.expect("send");
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let response = app.request(Method::PUT, &path).json(&update).send().await.expect("send");
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.request(Method::DELETE, &path).send().await.expect("send");
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.request(Method::POST, "/api/tickets").json(&crate::support::listing("x", 100)).send().await;
    expect_error(response.expect("send"), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app
        .request(Method::POST, "/api/tickets")
        .bearer_auth("not-a-real-token")
        .json(&crate::support::listing("x", 100))
        .send()
        .await;
    expect_error(response.expect("send"), StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let current = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(current, ticket, "unchanged");
}

#[tokio::test]
async fn sold_listings_stay_readable_but_cannot_be_edited_or_deleted() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let sold = app.create_ticket(&ann, "Sold", 1_000).await;
    let mut conn = app.pool.get().await.expect("conn");
    diesel::sql_query("UPDATE tickets SET status = 'sold' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(
            sold["id"].as_str().and_then(|id| id.parse::<uuid::Uuid>().ok()).expect("id"),
        )
        .execute(&mut conn)
        .await
        .expect("sell");

    let path = format!("/api/tickets/{}", sold["id"].as_str().expect("id"));
    let shown = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(shown["status"], "sold");
    let response = app
        .authed(&ann, Method::PUT, &path)
        .json(&crate::support::with(crate::support::listing("Changed", 500), json!({"version": 1})))
        .send()
        .await;
    expect_error(response.expect("send"), StatusCode::CONFLICT, "ticket_not_editable").await;
    let response = app.authed(&ann, Method::DELETE, &path).send().await.expect("send");
    expect_error(response, StatusCode::CONFLICT, "ticket_not_editable").await;
    let market =
        expect_status(app.request(Method::GET, "/api/tickets").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(market["items"], serde_json::json!([]), "sold listings are off the market");
}

#[tokio::test]
async fn a_listing_whose_hold_lapsed_can_be_deleted_before_the_sweep() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let ticket = app.create_ticket(&ann, "Held", 1_000).await;
    expect_status(app.reserve(&bob, &ticket["id"]).await, StatusCode::CREATED).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    app.advance(TimeDelta::minutes(15));
    let market =
        expect_status(app.request(Method::GET, "/api/tickets").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(market["items"][0]["id"], ticket["id"], "a lapsed hold is back on the market");
    let response = app.authed(&ann, Method::DELETE, &path).send().await.expect("send");
    expect_status(response, StatusCode::NO_CONTENT).await;
    let orders =
        expect_status(app.authed(&bob, Method::GET, "/api/orders").send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(orders["items"][0]["status"], "cancelled");
    assert_eq!(orders["items"][0]["cancelReason"], "expired");
}

#[tokio::test]
async fn an_edit_that_meets_a_lapsed_hold_ends_that_hold_first() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let ticket = app.create_ticket(&ann, "Held", 1_000).await;
    let held = expect_status(app.reserve(&bob, &ticket["id"]).await, StatusCode::CREATED).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    app.advance(TimeDelta::minutes(15));
    let seen = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    let response = app
        .authed(&ann, Method::PUT, &path)
        .json(&crate::support::with(crate::support::listing("Held", 900), json!({"version": seen["version"]})))
        .send()
        .await
        .expect("send");
    let edited = expect_status(response, StatusCode::OK).await;
    assert_eq!(edited["price"], 900);

    let order_id = held["id"].as_str().expect("id");
    let db = &app.database_url;
    let stored = |sql: String| async move { crate::support::database::count(db, &sql).await };
    assert_eq!(
        stored(format!("SELECT count(*) AS count FROM orders WHERE id = '{order_id}' AND status = 'cancelled' AND cancel_reason = 'expired'")).await,
        1,
        "the lapsed hold's order ended as expired, in the database"
    );
    assert_eq!(
        stored(format!(
            "SELECT count(*) AS count FROM tickets WHERE id = '{}' AND status = 'available' AND hold_order_id IS NULL",
            ticket["id"].as_str().expect("id")
        ))
        .await,
        1,
        "the ticket no longer names the old hold"
    );
    assert_eq!(
        stored(format!(
            "SELECT count(*) AS count FROM outbox_events WHERE kind = 'order.expired' AND aggregate_id = '{order_id}'"
        ))
        .await,
        1
    );
}
