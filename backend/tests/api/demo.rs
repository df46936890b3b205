use reqwest::{Method, StatusCode};
use serde_json::json;
use ticket_exchange::demo::{self, Seeded};

use crate::support::{TestApp, expect_status};

#[tokio::test]
async fn the_demo_fills_an_empty_market_once_with_listings_for_sale_whose_sellers_can_sign_in() {
    let app = TestApp::spawn().await;
    let seeded = demo::seed(&app.state).await.expect("seeded");
    let Seeded::Market { sellers, listings } = seeded else { panic!("an empty database is filled: {seeded:?}") };
    assert_eq!(sellers, demo::seller_emails().count());

    let page =
        expect_status(app.request(Method::GET, "/api/tickets?limit=100").send().await.expect("send"), StatusCode::OK)
            .await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), listings, "every demo listing is for sale: {page}");
    assert!(items.iter().all(|t| t["forSale"] == true && t["hasTicketFile"] == true && t["venue"] != ""), "{page}");

    for email in demo::seller_emails() {
        let login = json!({"email": email, "password": demo::PASSWORD});
        let response = app.request(Method::POST, "/api/users/login").json(&login).send().await.expect("send");
        expect_status(response, StatusCode::OK).await;
    }

    // A market someone has used is left alone.
    app.register("someone@example.com").await;
    assert_eq!(demo::seed(&app.state).await.expect("checked"), Seeded::InUse);
    let again =
        expect_status(app.request(Method::GET, "/api/tickets?limit=100").send().await.expect("send"), StatusCode::OK)
            .await;
    assert_eq!(again["items"].as_array().map(Vec::len), Some(listings));
}
