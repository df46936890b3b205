use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::{FormError, place};
use crate::format;
use crate::live::LIVE;
use crate::routes::Route;
use crate::session::{self, SESSION};

/// One listing, with Purchase for everyone but its owner.
#[component]
pub fn TicketDetail(id: String) -> Element {
    let mut ticket = use_resource(move || {
        let id = id.clone();
        async move {
            crate::live::followed().await;
            super::fetch_ticket(&id).await
        }
    });
    // The stream says what was shown may be out of date: fetch again.
    let mut refetched = use_signal(|| LIVE.peek().refetches);
    use_effect(move || {
        let refetches = LIVE.read().refetches;
        if *refetched.peek() != refetches {
            refetched.set(refetches);
            ticket.restart();
        }
    });
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let purchase = move |ticket: types::TicketView| async move {
        if SESSION.read().user.is_none() {
            navigator().push(Route::Login { next: Route::TicketDetail { id: ticket.id.to_string() }.to_string() });
            return;
        }
        busy.set(true);
        let result = session::client()
            .reserve_ticket()
            .body(types::ReserveRequest { ticket_id: ticket.id })
            .send()
            .await
            .map_err(Problem::from);
        busy.set(false);
        match session::note(result) {
            Ok(order) => {
                navigator().push(Route::Checkout { id: order.into_inner().id.to_string() });
            }
            Err(problem) => error.set(Some(problem.message)),
        }
    };
    let me = SESSION.read().user.as_ref().map(|user| user.id);
    rsx! {
        match &*ticket.read() {
            None => rsx! { p { class: "loading", "Loading…" } },
            Some(Err(problem)) => rsx! { section { class: "panel", p { class: "form-error", "{problem.message}" } } },
            Some(Ok(ticket)) => {
                // As the live stream has it now.
                let ticket = LIVE.read().newest(ticket);
                let price = format::money(ticket.price, &ticket.currency);
                let face_value = format::money(ticket.face_value, &ticket.currency);
                let when = format::event_when(ticket.starts_at_local.as_deref());
                let zone = ticket.time_zone.clone().unwrap_or_default();
                let place = place(&ticket);
                let seat: Vec<String> = [("Section", &ticket.section), ("Row", &ticket.row), ("Seat", &ticket.seat)]
                    .into_iter()
                    .filter_map(|(label, value)| value.as_ref().map(|value| format!("{label} {value}")))
                    .collect();
                let seat = seat.join(" · ");
                let mine = me == Some(ticket.owner_id);
                let status = ticket.status;
                rsx! {
                    section { class: "panel narrow",
                        h1 { "{ticket.event_name}" }
                        p { class: "when", "{when}" if !zone.is_empty() { span { class: "muted", " ({zone})" } } }
                        p { "{place}" }
                        if !seat.is_empty() {
                            p { class: "seat", "{seat}" }
                        }
                        p { class: "price large", "Price: {price}" }
                        p { class: "muted", "Face value: {face_value}" }
                        if status == types::TicketStatusView::Held {
                            if mine {
                                p { class: "notice", role: "status",
                                    "A buyer is paying for this ticket right now. If they do not pay in time, it goes to the next in line, or back on the market."
                                }
                            } else {
                                WaitlistPanel { ticket_id: ticket.id, version: ticket.version }
                            }
                        } else if status == types::TicketStatusView::Sold {
                            p { class: "muted", role: "status", "This ticket has been sold." }
                        } else if !ticket.for_sale && !mine {
                            p { class: "muted", "This ticket is not for sale." }
                        }
                        if mine && !ticket.has_ticket_file {
                            p { class: "notice", role: "status", "Add your ticket to publish: this listing is not for sale until its ticket file is attached." }
                        } else if mine && ticket.starts_at.is_none() {
                            p { class: "notice", role: "status", "Give the event's date and time to publish this listing." }
                        }
                        FormError { message: error() }
                        if mine {
                            Link { class: "button secondary", to: Route::EditTicket { id: ticket.id.to_string() }, "Edit" }
                        } else if ticket.for_sale {
                            button {
                                class: "button primary",
                                disabled: busy(),
                                onclick: move |_| purchase(ticket.clone()),
                                if busy() { "Reserving…" } else { "Purchase" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The line for a held listing: join it, see your place, leave it. The first in line gets the
/// ticket's hold (and an email) when the current one ends without a sale.
#[component]
fn WaitlistPanel(ticket_id: uuid::Uuid, version: i32) -> Element {
    let signed_in = SESSION.read().user.is_some();
    let mut error = use_signal(|| None::<String>);
    // Asked again whenever the listing changes (a hold handed over moves the line).
    let mut standing = use_resource(use_reactive!(|ticket_id, version| async move {
        let _ = version;
        SESSION.peek().user.as_ref()?;
        let answer = session::client().get_waitlist().id(ticket_id).send().await.map_err(Problem::from);
        session::note(answer).ok().map(|standing| standing.into_inner())
    }));
    let act = move |join: bool| async move {
        if SESSION.peek().user.is_none() {
            navigator().push(Route::Login { next: Route::TicketDetail { id: ticket_id.to_string() }.to_string() });
            return;
        }
        let client = session::client();
        let result = if join {
            client.join_waitlist().id(ticket_id).send().await.map(drop).map_err(Problem::from)
        } else {
            client.leave_waitlist().id(ticket_id).send().await.map(drop).map_err(Problem::from)
        };
        match session::note(result) {
            Ok(()) => {
                error.set(None);
                standing.restart();
            }
            Err(problem) => error.set(Some(problem.message)),
        }
    };
    let current = standing.read().clone().flatten();
    let place = current.as_ref().and_then(|standing| standing.place);
    let waiting = current.as_ref().map_or(0, |standing| standing.waiting);
    let yours = current.as_ref().and_then(|standing| standing.your_order_id);
    rsx! {
        if yours.is_none() {
            p { class: "notice", role: "status",
                "Someone is buying this ticket right now. If they do not pay in time, it comes back."
            }
        }
        div { class: "waitlist",
            h2 { "Waitlist" }
            match (yours, place) {
                (Some(order), _) => rsx! {
                    p { role: "status", "This ticket is held for you now." }
                    Link { class: "button primary", to: Route::Checkout { id: order.to_string() }, "Pay for it" }
                },
                (None, Some(place)) => rsx! {
                    p { role: "status", "You are number {place} in line. If the ticket comes back, it is held for you and we email you." }
                    button { class: "button secondary", onclick: move |_| act(false), "Leave the waitlist" }
                },
                (None, None) => rsx! {
                    p { role: "status",
                        if waiting == 0 { "Nobody is waiting yet." } else if waiting == 1 { "1 person is waiting." } else { "{waiting} people are waiting." }
                        if !signed_in { if waiting == 0 { " Sign in to be first in line." } else { " Sign in to join them." } }
                    }
                    button { class: "button primary", onclick: move |_| act(true), "Join the waitlist" }
                },
            }
            FormError { message: error() }
        }
    }
}
