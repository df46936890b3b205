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

/// A listing in the grid: the event, when and where, and the price; under its owner's cards, edit
/// and delete as icon buttons (named for screen readers).
#[component]
pub fn TicketCard(ticket: types::TicketView, mine: bool, on_delete: EventHandler<types::TicketView>) -> Element {
    let price = format::money(ticket.price, &ticket.currency);
    let when = format::event_when(ticket.starts_at_local.as_deref());
    let place = place(&ticket);
    let id = ticket.id.to_string();
    let title = ticket.event_name.clone();
    rsx! {
        div { class: "ticket",
            article { class: "card ticket-card", "data-ticket": "{id}",
                Link { class: "card-link", to: Route::TicketDetail { id: id.clone() },
                    h2 { "{ticket.event_name}" }
                    p { class: "when", "{when}" }
                    p { class: "muted", "{place}" }
                    p { class: "price", "{price}" }
                }
            }
            if mine {
                div { class: "card-actions",
                    Link { class: "icon-button", to: Route::EditTicket { id: id.clone() },
                        Icon { path: PENCIL }
                        span { class: "visually-hidden", "Edit {title}" }
                    }
                    button {
                        class: "icon-button danger",
                        r#type: "button",
                        onclick: move |_| on_delete.call(ticket.clone()),
                        Icon { path: BIN }
                        span { class: "visually-hidden", "Delete {title}" }
                    }
                }
            }
        }
    }
}

/// Material-style 24-unit glyphs.
const PENCIL: &str = "M3 17.25V21h3.75L17.8 9.94l-3.75-3.75L3 17.25zm17.7-10.2a1 1 0 0 0 0-1.42l-2.33-2.33a1 1 0 0 0-1.42 0l-1.83 1.83 3.75 3.75 1.83-1.83z";
const BIN: &str = "M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z";

/// A decorative icon: its button or link carries the words.
#[component]
fn Icon(path: &'static str) -> Element {
    rsx! {
        svg { class: "icon", view_box: "0 0 24 24", width: "18", height: "18", "aria-hidden": "true", "focusable": "false",
            path { d: path, fill: "currentColor" }
        }
    }
}
