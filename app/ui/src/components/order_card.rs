use dioxus::prelude::*;

use super::TicketDownload;
use crate::api::types;
use crate::format;
use crate::routes::Route;

/// The word shown for an order's status.
pub fn status_label(status: &types::OrderStatus) -> &'static str {
    match status {
        types::OrderStatus::Created => "Reserved",
        types::OrderStatus::AwaitingPayment => "Awaiting payment",
        types::OrderStatus::Complete => "Complete",
        types::OrderStatus::Cancelled => "Cancelled",
        types::OrderStatus::Refunded => "Refunded",
    }
}

/// The classes that colour an order's status.
pub fn status_class(status: &types::OrderStatus) -> &'static str {
    match status {
        types::OrderStatus::Created | types::OrderStatus::AwaitingPayment => "status pending",
        types::OrderStatus::Complete => "status complete",
        types::OrderStatus::Cancelled => "status cancelled",
        types::OrderStatus::Refunded => "status refunded",
    }
}

/// One order in the history: title, price, id, coloured status; refund on completed orders.
#[component]
pub fn OrderCard(order: types::OrderView, busy: bool, on_refund: EventHandler<types::OrderView>) -> Element {
    let total = format::money(order.total, &order.currency);
    let id = order.id.to_string();
    let label = status_label(&order.status);
    let class = status_class(&order.status);
    let payable = matches!(order.status, types::OrderStatus::Created | types::OrderStatus::AwaitingPayment);
    // Refunds close when the event starts.
    let started = order.event_starts_at.is_some_and(|start| start <= crate::timestamp::Timestamp::now());
    let refundable = order.status == types::OrderStatus::Complete && !order.refund_pending && !started;
    rsx! {
        article { class: "card order-card", "data-order": "{id}",
            h2 { "{order.ticket_title}" }
            p { class: "price", "{total}" }
            p { class: "muted", "Order #{id}" }
            p { class: "{class}", "{label}" }
            if order.refund_pending {
                p { class: "muted", "Refund in progress" }
            }
            if order.dispute == Some(types::DisputeStatus::Open) {
                p { class: "muted", "Payment disputed by the card holder's bank" }
            }
            div { class: "card-actions",
                if payable {
                    Link { class: "button", to: Route::Checkout { id: id.clone() }, "Pay" }
                }
                if order.status == types::OrderStatus::Complete {
                    Link { class: "button secondary", to: Route::OrderDetail { id: id.clone() }, "Details" }
                }
                if order.ticket_downloadable {
                    TicketDownload { order_id: id.clone() }
                }
                if refundable {
                    button {
                        class: "button danger",
                        disabled: busy,
                        onclick: move |_| on_refund.call(order.clone()),
                        if busy { "Refunding…" } else { "Refund" }
                    }
                }
            }
        }
    }
}
