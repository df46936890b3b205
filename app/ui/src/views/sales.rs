use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::place;
use crate::format;
use crate::routes::Route;
use crate::session;
use crate::views::SignedIn;
use crate::views::payouts::{PayoutsPanel, share_line};

/// The words for where a listing stands, and its class.
fn state_label(state: &types::SaleState) -> (&'static str, &'static str) {
    match state {
        types::SaleState::ForSale => ("For sale", "status pending"),
        types::SaleState::Held => ("Held by a buyer", "status pending"),
        types::SaleState::Sold => ("Sold", "status complete"),
        types::SaleState::NeedsTicketFile => ("Add your ticket to publish", "status cancelled"),
        types::SaleState::NeedsEventStart => ("Add the event's date to publish", "status cancelled"),
        types::SaleState::Ended => ("Event started, not sold", "status cancelled"),
    }
}

/// My sales: every listing of the seller, where it stands, and what each sold for.
#[component]
pub fn Sales() -> Element {
    rsx! {
        SignedIn { SalesList {} }
    }
}

#[component]
fn SalesList() -> Element {
    let sales = use_resource(move || async move {
        session::note(session::client().list_sales().send().await.map_err(Problem::from)).map(|page| page.into_inner())
    });
    rsx! {
        h1 { "My sales" }
        PayoutsPanel {}
        match &*sales.read() {
            None => rsx! { p { class: "loading", "Loading…" } },
            Some(Err(problem)) => rsx! { p { class: "form-error", "{problem.message}" } },
            Some(Ok(page)) if page.items.is_empty() => rsx! {
                p { class: "muted", "You have not listed any tickets yet." }
                Link { class: "button", to: Route::CreateTicket {}, "List a ticket" }
            },
            Some(Ok(page)) => {
                let summary = &page.summary;
                rsx! {
                    p { class: "summary-line",
                        "{summary.for_sale} for sale · {summary.held} held · {summary.sold} sold · "
                        "{summary.not_published} not published · {summary.ended} ended"
                    }
                    div { class: "grid",
                        for item in page.items.clone() {
                            SaleCard { key: "{item.listing.id}", item }
                        }
                    }
                    if !page.refunded.is_empty() {
                        section { class: "refunded-sales", "aria-labelledby": "refunded-heading",
                            h2 { id: "refunded-heading", "Refunded sales" }
                            ul {
                                for sale in page.refunded.clone() {
                                    li { key: "{sale.order_id}", "data-order": "{sale.order_id}",
                                        strong { "{sale.event_name}" }
                                        " · sold for {format::money(sale.price, &sale.currency)}"
                                        if let Some(at) = &sale.refunded_at { ", refunded on {format::date(at)}" }
                                        p { class: "share", "{share_line(&sale.share, &sale.currency)}" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn SaleCard(item: types::SellerListingView) -> Element {
    let ticket = &item.listing;
    let (label, class) = state_label(&item.state);
    let when = format::event_when(ticket.starts_at_local.as_deref());
    let place = place(ticket);
    let price = format::money(ticket.price, &ticket.currency);
    let id = ticket.id.to_string();
    let editable = !matches!(item.state, types::SaleState::Sold | types::SaleState::Held);
    rsx! {
        article { class: "card sale-card", "data-ticket": "{id}",
            Link { class: "card-link", to: Route::TicketDetail { id: id.clone() },
                h3 { "{ticket.event_name}" }
                p { class: "when", "{when}" }
                p { class: "muted", "{place}" }
            }
            p { class: "{class}", "{label}" }
            if let Some(sale) = &item.sale {
                p { class: "price", "Sold for {format::money(sale.price, &sale.currency)}" }
                if let Some(at) = &sale.sold_at {
                    p { class: "muted", "on {format::date(at)}" }
                }
                if let Some(share) = &sale.share {
                    p { class: "share", "data-share": "{share.status}", "{share_line(share, &sale.currency)}" }
                }
            } else {
                p { class: "price", "Listed at {price}" }
            }
            if editable {
                div { class: "card-actions",
                    Link { class: "button secondary", to: Route::EditTicket { id: id.clone() }, "Edit" }
                }
            }
        }
    }
}
