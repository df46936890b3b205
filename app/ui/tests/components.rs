//! The UI's components rendered to HTML without a browser.

use dioxus::prelude::*;
use ticket_exchange_ui::api::types;
use ticket_exchange_ui::components::{OrderCard, TicketCard};

fn ticket(title: &str, price: i64) -> types::TicketView {
    serde_json::from_value(serde_json::json!({
        "id": "3f0c8a5e-1111-4222-8333-944455556666",
        "eventName": title,
        "venue": "Massey Hall",
        "city": "Toronto",
        "startsAt": "2027-03-14T23:30:00Z",
        "timeZone": "America/Toronto",
        "startsAtLocal": "2027-03-14T19:30:00-04:00",
        "faceValue": price,
        "price": price,
        "forSale": true,
        "hasTicketFile": true,
        "currency": "CAD",
        "status": "available",
        "ownerId": "00000000-0000-0000-0000-000000000001",
        "version": 1,
        "createdAt": "2026-11-23T12:00:00Z",
        "updatedAt": "2026-11-23T12:00:00Z"
    }))
    .expect("a valid TicketView")
}

fn order(status: &str, refund_pending: bool) -> types::OrderView {
    serde_json::from_value(serde_json::json!({
        "id": "9a0c8a5e-1111-4222-8333-944455556666",
        "ticketId": "3f0c8a5e-1111-4222-8333-944455556666",
        "ticketTitle": "Jazz night",
        "price": 4500, "tax": 225, "total": 4725, "currency": "CAD",
        "status": status,
        "expiresAt": "2026-11-23T12:15:00Z",
        "version": 3,
        "refundPending": refund_pending,
        "ticketDownloadable": status == "complete" && !refund_pending,
        "createdAt": "2026-11-23T12:00:00Z",
        "updatedAt": "2026-11-23T12:00:00Z"
    }))
    .expect("a valid OrderView")
}

/// Renders `child` inside a router, as the app does.
fn render(child: fn() -> Element) -> String {
    #[derive(Clone, Debug, PartialEq, Routable)]
    enum Frame {
        #[route("/")]
        Host {},
    }
    #[component]
    fn Host() -> Element {
        let child = use_context::<fn() -> Element>();
        child()
    }
    let mut dom = VirtualDom::new(|| rsx! { Router::<Frame> {} }).with_root_context(child);
    dom.rebuild_in_place();
    dioxus_ssr::render(&dom)
}

#[test]
fn a_listing_shows_its_event_and_price_and_its_owner_gets_edit_and_delete() {
    let html = render(|| rsx! { TicketCard { ticket: ticket("Jazz night", 4_500), mine: true, on_delete: |_| {} } });
    assert!(html.contains("Jazz night") && html.contains("$45.00 CAD"), "{html}");
    assert!(html.contains("March 14, 2027 · 19:30") && html.contains("Massey Hall · Toronto"), "{html}");
    assert!(html.contains("Edit") && html.contains("Delete"), "{html}");

    let html = render(|| rsx! { TicketCard { ticket: ticket("Jazz night", 4_500), mine: false, on_delete: |_| {} } });
    assert!(!html.contains("Edit") && !html.contains("Delete"), "others see no owner actions: {html}");
}

#[test]
fn listing_titles_are_escaped() {
    let html = render(|| rsx! { TicketCard { ticket: ticket("<b>bold</b>", 100), mine: false, on_delete: |_| {} } });
    assert!(!html.contains("<b>bold</b>"), "{html}");
}

#[test]
fn completed_orders_offer_a_refund_and_others_do_not() {
    let html = render(|| rsx! { OrderCard { order: order("complete", false), busy: false, on_refund: |_| {} } });
    assert!(html.contains("Complete") && html.contains("status complete") && html.contains("Refund"), "{html}");
    assert!(html.contains("$47.25 CAD") && html.contains("Order #9a0c8a5e"), "{html}");
    // Outside a browser (the apps), the ticket is the one attached to the confirmation email.
    assert!(html.contains("attached to your confirmation email"), "{html}");

    let html = render(|| rsx! { OrderCard { order: order("complete", true), busy: false, on_refund: |_| {} } });
    assert!(html.contains("Refund in progress") && !html.contains(">Refund<"), "{html}");
    assert!(!html.contains("confirmation email"), "no ticket while it is being refunded: {html}");

    let html = render(|| rsx! { OrderCard { order: order("cancelled", false), busy: false, on_refund: |_| {} } });
    assert!(html.contains("status cancelled") && !html.contains("Refund"), "{html}");

    let html =
        render(|| rsx! { OrderCard { order: order("awaiting_payment", false), busy: false, on_refund: |_| {} } });
    assert!(html.contains("Awaiting payment") && html.contains("Pay"), "{html}");
}
