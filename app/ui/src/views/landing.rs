use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::{FormError, TicketCard};
use crate::session::{self, SESSION};

/// Every available listing; owners can edit and delete their own.
#[component]
pub fn Landing() -> Element {
    let mut error = use_signal(|| None::<String>);
    let mut tickets = use_resource(move || async move {
        session::note(session::client().list_tickets().limit(100).send().await.map_err(Problem::from))
            .map(|page| page.into_inner().items)
    });
    let me = SESSION.read().user.as_ref().map(|user| user.id);
    let delete = move |ticket: types::TicketView| async move {
        let result = session::client().delete_ticket().id(ticket.id).version(ticket.version).send().await;
        match session::note(result.map_err(Problem::from)) {
            Ok(_) => {
                error.set(None);
                tickets.restart();
            }
            Err(problem) => error.set(Some(problem.message)),
        }
    };
    rsx! {
        h1 { "Tickets for sale" }
        FormError { message: error() }
        match &*tickets.read() {
            None => rsx! { p { class: "loading", "Loading tickets…" } },
            Some(Err(problem)) => rsx! { p { class: "form-error", "{problem.message}" } },
            Some(Ok(items)) if items.is_empty() => rsx! { p { class: "muted", "No tickets are for sale right now." } },
            Some(Ok(items)) => rsx! {
                div { class: "grid",
                    for ticket in items.clone() {
                        TicketCard {
                            key: "{ticket.id}",
                            mine: me == Some(ticket.owner_id),
                            ticket,
                            on_delete: move |ticket| { spawn(delete(ticket)); },
                        }
                    }
                }
            },
        }
    }
}
