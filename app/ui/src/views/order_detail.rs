use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::{TicketDownload, status_class, status_label};
use crate::format;
use crate::routes::Route;
use crate::session::{self, SESSION};
use crate::views::SignedIn;

/// An order: the confirmation page once it is complete.
#[component]
pub fn OrderDetail(id: String) -> Element {
    rsx! {
        SignedIn { OrderLoader { id } }
    }
}

#[component]
fn OrderLoader(id: String) -> Element {
    let order = use_resource(move || {
        let id = id.clone();
        async move {
            let id: uuid::Uuid =
                id.parse().map_err(|_| Problem { message: "No such order.".into(), ..Problem::default() })?;
            session::note(session::client().get_order().id(id).send().await.map_err(Problem::from))
                .map(|o| o.into_inner())
        }
    });
    match &*order.read() {
        None => rsx! { p { class: "loading", "Loading…" } },
        Some(Err(problem)) => rsx! { section { class: "panel", p { class: "form-error", "{problem.message}" } } },
        Some(Ok(order)) => rsx! { Confirmation { order: order.clone() } },
    }
}

#[component]
pub fn Confirmation(order: types::OrderView) -> Element {
    let email = SESSION.read().user.as_ref().map(|user| user.email.clone()).unwrap_or_default();
    let status = status_label(&order.status).to_ascii_uppercase();
    let status_class = status_class(&order.status);
    let date = format::date(&order.completed_at.unwrap_or(order.created_at));
    let money = |minor: i64| format::money(minor, &order.currency);
    rsx! {
        section { class: "panel narrow confirmation",
            h1 { "Order #{order.id} - " span { class: "{status_class}", "{status}" } }
            p { class: "muted", "{date}" }
            if order.status == types::OrderStatus::Complete {
                p { "Confirmation email sent to {email}" }
            }
            if order.ticket_downloadable {
                TicketDownload { order_id: order.id.to_string() }
            }
            if order.status == types::OrderStatus::Refunded {
                p { "Refunded in full. A refund notice was sent to {email}" }
            }
            div { class: "summary",
                h2 { "Summary" }
                dl {
                    dt { "1 {order.ticket_title} Ticket" } dd { "{money(order.price)}" }
                    dt { "Tax" } dd { "{money(order.tax)}" }
                    dt { class: "total", "Total" } dd { class: "total", "{money(order.total)}" }
                }
            }
            if let Some(billing) = &order.billing {
                div { class: "summary",
                    h2 { "Billing details" }
                    p { "{billing.name}" }
                    p { "{billing.line1}" }
                    p { "{billing.city} {billing.postal_code}" }
                    p { "{billing.country}" }
                }
            }
            Link { class: "button primary", to: Route::Orders {}, "View Orders" }
        }
    }
}
