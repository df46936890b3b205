use reqwest::{Method, StatusCode};
use serde_json::json;
use ticket_exchange::demo::{self, Seeded};

use crate::support::{Session, TestApp, expect_status, listing};

async fn market(app: &TestApp) -> Vec<serde_json::Value> {
    let response = app.request(Method::GET, "/api/tickets?limit=100").send().await.expect("send");
    expect_status(response, StatusCode::OK).await["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn the_demo_fills_an_empty_market_whose_sellers_can_sign_in_and_finishes_a_run_that_stopped() {
    let app = TestApp::spawn().await;
    // An earlier run stopped after registering the first seller and listing her first ticket,
    // before its file was attached.
    let first = demo::seller_emails().next().expect("a demo seller");
    let body = json!({"email": first, "password": demo::PASSWORD, "termsAccepted": true});
    let response = app.request(Method::POST, "/api/users/register").json(&body).send().await.expect("send");
    let registered = expect_status(response, StatusCode::CREATED).await;
    let maya = Session {
        token: registered["token"].as_str().expect("token").to_owned(),
        user_id: registered["user"]["id"].as_str().and_then(|id| id.parse().ok()).expect("user id"),
    };
    let response = app
        .authed(&maya, Method::POST, "/api/tickets")
        .json(&listing("Tennis Game", 5_000))
        .send()
        .await
        .expect("send");
    let unfinished = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(unfinished["hasTicketFile"], false);

    let seeded = demo::seed(&app.state).await.expect("seeded");
    let Seeded::Market { sellers, listings } = seeded else { panic!("an empty market is filled: {seeded:?}") };
    assert_eq!(sellers, demo::seller_emails().count() - 1, "the seller who exists is kept");
    assert_eq!(listings, 8, "every demo listing was added or finished");
    let items = market(&app).await;
    assert_eq!(items.len(), listings, "every demo listing is for sale, the unfinished one once");
    assert!(items.iter().any(|t| t["id"] == unfinished["id"]), "the unfinished listing got its file: {items:?}");
    assert!(items.iter().all(|t| t["forSale"] == true && t["hasTicketFile"] == true && t["venue"] != ""), "{items:?}");
    for email in demo::seller_emails() {
        let login = json!({"email": email, "password": demo::PASSWORD});
        let response = app.request(Method::POST, "/api/users/login").json(&login).send().await.expect("send");
        expect_status(response, StatusCode::OK).await;
    }

    // Run again, nothing is doubled.
    assert_eq!(demo::seed(&app.state).await.expect("seeded"), Seeded::Market { sellers: 0, listings: 0 });
    assert_eq!(market(&app).await.len(), listings);
}

#[tokio::test]
async fn a_market_someone_else_uses_and_a_public_site_are_left_alone() {
    let app = TestApp::spawn().await;
    app.register("someone@example.com").await;
    assert_eq!(demo::seed(&app.state).await.expect("checked"), Seeded::InUse);
    assert!(market(&app).await.is_empty());

    let public = TestApp::spawn_with(&[("PUBLIC_URL", "https://tickets.example")]).await;
    assert_eq!(demo::seed(&public.state).await.expect("checked"), Seeded::PublicSite);
    assert!(market(&public).await.is_empty());
}
