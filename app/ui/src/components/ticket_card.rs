use dioxus::prelude::*;

use crate::api::types;
use crate::format;
use crate::routes::Route;

/// A listing in the grid: title and price; its owner also gets edit and delete.
#[component]
pub fn TicketCard(ticket: types::TicketView, mine: bool, on_delete: EventHandler<types::TicketView>) -> Element {
    let price = format::money(ticket.price, &ticket.currency);
    let id = ticket.id.to_string();
    rsx! {
        article { class: "card ticket-card", "data-ticket": "{id}",
            Link { class: "card-link", to: Route::TicketDetail { id: id.clone() },
                h3 { "{ticket.title}" }
                p { class: "price", "{price}" }
            }
            if mine {
                div { class: "card-actions",
                    Link { class: "button secondary", to: Route::EditTicket { id: id.clone() }, "Edit" }
                    button {
                        class: "button danger",
                        onclick: move |_| on_delete.call(ticket.clone()),
                        "Delete"
                    }
                }
            }
        }
    }
}
