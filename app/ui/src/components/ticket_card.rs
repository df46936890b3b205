use dioxus::prelude::*;

use crate::api::types;
use crate::format;
use crate::routes::Route;

/// "Massey Hall · Toronto", leaving out what is unknown.
pub fn place(ticket: &types::TicketView) -> String {
    [ticket.venue.as_str(), ticket.city.as_str()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A listing in the grid: the event, when and where, and the price; its owner also gets edit and
/// delete.
#[component]
pub fn TicketCard(ticket: types::TicketView, mine: bool, on_delete: EventHandler<types::TicketView>) -> Element {
    let price = format::money(ticket.price, &ticket.currency);
    let when = format::event_when(ticket.starts_at_local.as_deref());
    let place = place(&ticket);
    let id = ticket.id.to_string();
    rsx! {
        article { class: "card ticket-card", "data-ticket": "{id}",
            Link { class: "card-link", to: Route::TicketDetail { id: id.clone() },
                h3 { "{ticket.event_name}" }
                p { class: "when", "{when}" }
                p { class: "muted", "{place}" }
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
