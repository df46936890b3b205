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
    assert_eq!(ticket["title"], "Taylor Swift - Floor");
    assert_eq!(ticket["price"], 12_550);
    assert_eq!(ticket["currency"], "CAD");
    assert_eq!(ticket["status"], "available");
    assert_eq!(ticket["version"], 1);
    assert_eq!(ticket["ownerId"], ann.user_id.to_string());

    let response =
        app.request(Method::GET, &format!("/api/tickets/{}", ticket["id"].as_str().expect("id"))).send().await;
    assert_eq!(expect_status(response.expect("send"), StatusCode::OK).await, ticket);

    for smuggled in [json!({"ownerId": uuid::Uuid::new_v4()}), json!({"status": "sold"}), json!({"version": 9})] {
        let mut body = json!({"title": "Concert", "price": 1000});
        body.as_object_mut().expect("object").extend(smuggled.as_object().expect("object").clone());
        let response = app.authed(&ann, Method::POST, "/api/tickets").json(&body).send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
    }
}

#[tokio::test]
async fn bad_listings_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (json!({"title": "   ", "price": 1000}), StatusCode::UNPROCESSABLE_ENTITY, "title"),
        (json!({"title": "x".repeat(121), "price": 1000}), StatusCode::UNPROCESSABLE_ENTITY, "title"),
        (json!({"title": "a\r\nb", "price": 1000}), StatusCode::UNPROCESSABLE_ENTITY, "title"),
        (json!({"title": "Concert", "price": 0}), StatusCode::UNPROCESSABLE_ENTITY, "price"),
        (json!({"title": "Concert", "price": -100}), StatusCode::UNPROCESSABLE_ENTITY, "price"),
        (json!({"title": "Concert", "price": 100_000_001}), StatusCode::UNPROCESSABLE_ENTITY, "price"),
        (json!({"title": "Concert", "price": 1000, "currency": "XYZ"}), StatusCode::UNPROCESSABLE_ENTITY, "currency"),
        (json!({"title": "Concert", "price": 10.5}), StatusCode::BAD_REQUEST, ""),
        (json!({"title": "Concert", "price": "1000"}), StatusCode::BAD_REQUEST, ""),
        (json!({"title": 42, "price": 1000}), StatusCode::BAD_REQUEST, ""),
        (json!({"title": "Concert"}), StatusCode::BAD_REQUEST, ""),
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
async fn the_market_lists_available_tickets_newest_first_with_paging_and_filters() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    for (title, price) in [("Jazz night", 2_000), ("Rock 100% live", 5_000), ("Jazz brunch", 8_000), ("Opera", 15_000)]
    {
        app.create_ticket(&ann, title, price).await;
        app.advance(TimeDelta::seconds(1));
    }
    let titles = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["title"].as_str().expect("title").to_owned())
            .collect()
    };
    let get = |query: &str| app.request(Method::GET, &format!("/api/tickets{query}")).send();

    let all = expect_status(get("").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&all), ["Opera", "Jazz brunch", "Rock 100% live", "Jazz night"]);
    assert_eq!(all.get("nextCursor"), None, "one page holds them all");

    // Keyset paging: each page starts after the last one's end, and a listing added meanwhile (newer
    // than every page) shifts nothing.
    let first = expect_status(get("?limit=3").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&first), ["Opera", "Jazz brunch", "Rock 100% live"]);
    let cursor = first["nextCursor"].as_str().expect("a next page").to_owned();
    app.create_ticket(&ann, "Late addition", 20_000).await;
    let second = expect_status(get(&format!("?limit=3&after={cursor}")).await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&second), ["Jazz night"]);
    assert_eq!(second.get("nextCursor"), None, "the last page says so");
    let both =
        expect_status(get(&format!("?limit=1&q=jazz&after={cursor}")).await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&both), ["Jazz night"], "filters apply after the cursor too");

    let jazz = expect_status(get("?q=JAZZ").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&jazz), ["Jazz brunch", "Jazz night"]);
    let percent = expect_status(get("?q=%25").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&percent), ["Rock 100% live"], "% is matched literally");

    let priced = expect_status(get("?minPrice=3000&maxPrice=10000").await.expect("send"), StatusCode::OK).await;
    assert_eq!(titles(&priced), ["Jazz brunch", "Rock 100% live"]);

    // The last: a time PostgreSQL cannot store (year -7537), which must not reach it.
    let ancient = "?after=LTMwMDAwMDAwMDAwMDAwMDAwMC4wMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA";
    for bad in ["?limit=0", "?limit=101", "?limit=ten", "?after=nope", "?after=MTIzLng", "?minPrice=-5", ancient] {
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
        .json(&json!({"title": "Concert (row 2)", "price": 1_500, "currency": "usd", "version": 1}))
        .send()
        .await
        .expect("send");
    let updated = expect_status(response, StatusCode::OK).await;
    assert_eq!((updated["title"].as_str(), updated["price"].as_i64()), (Some("Concert (row 2)"), Some(1_500)));
    assert_eq!((updated["currency"].as_str(), updated["version"].as_i64()), (Some("USD"), Some(2)));

    let stale = app
        .authed(&ann, Method::PUT, &path)
        .json(&json!({"title": "Lost update", "price": 100, "version": 1}))
        .send()
        .await
        .expect("send");
    expect_error(stale, StatusCode::CONFLICT, "stale_version").await;
    let current = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(current["title"], "Concert (row 2)");

    let invalid = app
        .authed(&ann, Method::PUT, &path)
        .json(&json!({"title": "", "price": 100, "version": 2}))
        .send()
        .await
        .expect("send");
    expect_error(invalid, StatusCode::UNPROCESSABLE_ENTITY, "required").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_updates_from_one_version_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let ticket = app.create_ticket(&ann, "Concert", 1_000).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let update = |title: &'static str| {
        app.authed(&ann, Method::PUT, &path).json(&json!({"title": title, "price": 2_000, "version": 1})).send()
    };
    let (first, second) = tokio::join!(update("First"), update("Second"));
    let mut statuses = [first.expect("send").status(), second.expect("send").status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let current = expect_status(app.request(Method::GET, &path).send().await.expect("send"), StatusCode::OK).await;
    assert_eq!(current["version"], 2);
}

#[tokio::test]
async fn owners_delete_and_deleted_tickets_are_gone() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let ticket = app.create_ticket(&ann, "Concert", 1_000).await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));

    let stale = app.authed(&ann, Method::DELETE, &format!("{path}?version=7")).send().await.expect("send");
    expect_error(stale, StatusCode::CONFLICT, "stale_version").await;
    let deleted = app.authed(&ann, Method::DELETE, &format!("{path}?version=1")).send().await.expect("send");
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
    let update = json!({"title": "Mine now", "price": 100, "version": 1});

    let response = app.authed(&bob, Method::PUT, &path).json(&update).send().await.expect("send");
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.authed(&bob, Method::DELETE, &path).send().await.expect("send");
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let response = app.request(Method::PUT, &path).json(&update).send().await.expect("send");
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.request(Method::DELETE, &path).send().await.expect("send");
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app.request(Method::POST, "/api/tickets").json(&json!({"title": "x", "price": 100})).send().await;
    expect_error(response.expect("send"), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = app
        .request(Method::POST, "/api/tickets")
        .bearer_auth("not-a-real-token")
        .json(&json!({"title": "x", "price": 100}))
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
        .json(&json!({"title": "Changed", "price": 500, "version": 1}))
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
        .json(&json!({"title": "Held", "price": 900, "version": seen["version"]}))
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
