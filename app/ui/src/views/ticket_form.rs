use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::{Field, FormError};
use crate::format;
use crate::routes::Route;
use crate::session;
use crate::views::SignedIn;

/// A new listing.
#[component]
pub fn CreateTicket() -> Element {
    rsx! {
        SignedIn {
            TicketForm { existing: None }
        }
    }
}

/// Editing your own listing.
#[component]
pub fn EditTicket(id: String) -> Element {
    let ticket = use_resource(move || {
        let id = id.clone();
        async move { super::fetch_ticket(&id).await }
    });
    rsx! {
        SignedIn {
            match &*ticket.read() {
                None => rsx! { p { class: "loading", "Loading…" } },
                Some(Err(problem)) => rsx! { p { class: "form-error", "{problem.message}" } },
                Some(Ok(ticket)) => rsx! { TicketForm { existing: Some(ticket.clone()) } },
            }
        }
    }
}

fn validate(title: &str, price: &str) -> (Option<String>, Option<String>) {
    let title_error = if title.trim().is_empty() {
        Some("Title is required.".to_owned())
    } else if title.trim().chars().count() > 120 {
        Some("Title must be at most 120 characters.".to_owned())
    } else {
        None
    };
    let price_error = match format::parse_price(price) {
        None => Some("Enter a price such as 45.00.".to_owned()),
        Some(0) => Some("Price must be greater than zero.".to_owned()),
        Some(_) => None,
    };
    (title_error, price_error)
}

#[component]
fn TicketForm(existing: Option<types::TicketView>) -> Element {
    let editing = existing.clone();
    let mut title = use_signal(|| existing.as_ref().map(|t| t.title.clone()).unwrap_or_default());
    let mut price = use_signal(|| existing.as_ref().map(|t| format::price_input(t.price)).unwrap_or_default());
    let mut title_error = use_signal(|| None::<String>);
    let mut price_error = use_signal(|| None::<String>);
    let mut form_error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let submit = move |event: FormEvent| {
        event.prevent_default();
        let editing = editing.clone();
        async move {
            let (t_err, p_err) = validate(&title(), &price());
            title_error.set(t_err.clone());
            price_error.set(p_err.clone());
            if t_err.is_some() || p_err.is_some() {
                return;
            }
            let minor = format::parse_price(&price()).unwrap_or_default();
            busy.set(true);
            let client = session::client();
            let result = match &editing {
                None => match Problem::bounded("title", "Title", title().trim().to_owned()) {
                    Ok(title) => client
                        .create_ticket()
                        .body(types::CreateTicketRequest { title, price: minor, currency: None })
                        .send()
                        .await
                        .map(|r| r.into_inner())
                        .map_err(Problem::from),
                    Err(problem) => Err(problem),
                },
                Some(ticket) => match (
                    Problem::bounded("title", "Title", title().trim().to_owned()),
                    Problem::bounded("currency", "Currency", ticket.currency.clone()),
                ) {
                    (Ok(title), Ok(currency)) => client
                        .update_ticket()
                        .id(ticket.id)
                        .body(types::UpdateTicketRequest {
                            title,
                            price: minor,
                            currency: Some(currency),
                            version: ticket.version,
                        })
                        .send()
                        .await
                        .map(|r| r.into_inner())
                        .map_err(Problem::from),
                    (Err(problem), _) | (_, Err(problem)) => Err(problem),
                },
            };
            busy.set(false);
            match session::note(result) {
                Ok(ticket) => {
                    navigator().push(Route::TicketDetail { id: ticket.id.to_string() });
                }
                Err(problem) => {
                    title_error.set(problem.field("title"));
                    price_error.set(problem.field("price"));
                    if problem.fields.is_empty() {
                        form_error.set(Some(problem.message));
                    }
                }
            }
        }
    };
    let heading = if existing.is_some() { "Edit ticket" } else { "Create a ticket" };
    rsx! {
        section { class: "panel narrow",
            h1 { "{heading}" }
            form { novalidate: true, onsubmit: submit,
                Field {
                    label: "Title",
                    name: "title",
                    value: title(),
                    error: title_error(),
                    oninput: move |value| title.set(value),
                }
                Field {
                    label: "Price (CAD)",
                    name: "price",
                    value: price(),
                    placeholder: "0.00",
                    error: price_error(),
                    oninput: move |value| price.set(value),
                    onblur: move |_| {
                        if let Some(minor) = format::parse_price(&price()) {
                            price.set(format::price_input(minor));
                        }
                    },
                }
                FormError { message: form_error() }
                button { class: "button", r#type: "submit", disabled: busy(), if busy() { "Saving…" } else { "Submit" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn the_form_explains_what_is_wrong_before_asking_the_server() {
        assert_eq!(validate("", "45").0.as_deref(), Some("Title is required."));
        assert_eq!(validate("Show", "abc").1.as_deref(), Some("Enter a price such as 45.00."));
        assert_eq!(validate("Show", "0").1.as_deref(), Some("Price must be greater than zero."));
        assert_eq!(validate("Show", "45.50"), (None, None));
    }
}
