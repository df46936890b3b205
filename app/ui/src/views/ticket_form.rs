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

/// Venues' time zones the form offers; the API takes any IANA name.
const TIME_ZONES: &[&str] = &[
    "America/St_Johns",
    "America/Halifax",
    "America/Toronto",
    "America/New_York",
    "America/Winnipeg",
    "America/Chicago",
    "America/Edmonton",
    "America/Denver",
    "America/Vancouver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Australia/Sydney",
    "UTC",
];

/// What the seller typed.
#[derive(Debug, Clone, PartialEq, Default)]
struct FormValues {
    event_name: String,
    venue: String,
    city: String,
    starts_at: String,
    time_zone: String,
    section: String,
    row: String,
    seat: String,
    face_value: String,
    price: String,
}

/// A blank optional field as absent, anything else as the API's bounded type.
fn optional<T: TryFrom<String>>(field: &str, label: &str, value: &str) -> Result<Option<T>, Problem> {
    let value = value.trim();
    if value.is_empty() { Ok(None) } else { Problem::bounded(field, label, value.to_owned()).map(Some) }
}

impl FormValues {
    fn of(existing: Option<&types::TicketView>) -> Self {
        let Some(ticket) = existing else {
            return Self { time_zone: "America/Toronto".into(), ..Self::default() };
        };
        Self {
            event_name: ticket.event_name.clone(),
            venue: ticket.venue.clone(),
            city: ticket.city.clone(),
            starts_at: format::datetime_input(ticket.starts_at_local.as_deref()),
            time_zone: ticket.time_zone.clone().unwrap_or_else(|| "America/Toronto".into()),
            section: ticket.section.clone().unwrap_or_default(),
            row: ticket.row.clone().unwrap_or_default(),
            seat: ticket.seat.clone().unwrap_or_default(),
            face_value: format::price_input(ticket.face_value),
            price: format::price_input(ticket.price),
        }
    }

    /// What the form can tell before asking the server: (field, message) for each problem.
    fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut note = |field: &str, message: &str| problems.push((field.to_owned(), message.to_owned()));
        for (field, label, value) in [
            ("eventName", "Event name", &self.event_name),
            ("venue", "Venue", &self.venue),
            ("city", "City", &self.city),
        ] {
            if value.trim().is_empty() {
                note(field, &format!("{label} is required."));
            }
        }
        if self.event_name.trim().chars().count() > 120 {
            note("eventName", "Event name must be at most 120 characters.");
        }
        if self.starts_at.trim().is_empty() {
            note("startsAt", "Give the date and time the event starts.");
        }
        for (field, label, value) in [("faceValue", "Face value", &self.face_value), ("price", "Price", &self.price)] {
            match format::parse_price(value) {
                None => note(field, &format!("Enter {} such as 45.00.", label.to_ascii_lowercase())),
                Some(0) => note(field, &format!("{label} must be greater than zero.")),
                Some(_) => {}
            }
        }
        // The cap over face value is the server's to name (`PRICE_CAP_PERCENT`).
        problems
    }

    fn request(&self, currency: Option<String>, version: Option<i32>) -> Result<types::ListingRequest, Problem> {
        let face_value = format::parse_price(&self.face_value)
            .and_then(|minor| u64::try_from(minor).ok())
            .and_then(std::num::NonZeroU64::new)
            .ok_or_else(|| Problem { message: "Face value must be greater than zero.".into(), ..Problem::default() })?;
        Ok(types::ListingRequest {
            event_name: Problem::bounded("eventName", "Event name", self.event_name.trim().to_owned())?,
            venue: Problem::bounded("venue", "Venue", self.venue.trim().to_owned())?,
            city: Problem::bounded("city", "City", self.city.trim().to_owned())?,
            starts_at: Problem::bounded("startsAt", "Start", self.starts_at.trim().to_owned())?,
            time_zone: Problem::bounded("timeZone", "Time zone", self.time_zone.clone())?,
            section: optional("section", "Section", &self.section)?,
            row: optional("row", "Row", &self.row)?,
            seat: optional("seat", "Seat", &self.seat)?,
            face_value,
            price: format::parse_price(&self.price).unwrap_or_default(),
            currency: currency.map(|code| Problem::bounded("currency", "Currency", code)).transpose()?,
            version,
        })
    }
}

/// A ticket file the seller picked: its name and content.
#[derive(Debug, Clone, PartialEq)]
struct PickedFile {
    name: String,
    content: Vec<u8>,
}

/// Why saving stopped, and the listing as saved if it was (its file is what failed).
struct SaveFailure {
    saved: Option<types::TicketView>,
    problem: Problem,
}

impl From<Problem> for SaveFailure {
    fn from(problem: Problem) -> Self {
        Self { saved: None, problem }
    }
}

/// Saves the listing, then attaches the picked file to it.
async fn save(
    editing: Option<types::TicketView>,
    values: FormValues,
    file: Option<PickedFile>,
) -> Result<types::TicketView, SaveFailure> {
    let client = session::client();
    let ticket = match &editing {
        None => {
            let body = values.request(None, None)?;
            client.create_ticket().body(body).send().await.map(|r| r.into_inner()).map_err(Problem::from)
        }
        Some(ticket) => {
            let body = values.request(Some(ticket.currency.clone()), Some(ticket.version))?;
            client.update_ticket().id(ticket.id).body(body).send().await.map(|r| r.into_inner()).map_err(Problem::from)
        }
    };
    let ticket = session::note(ticket)?;
    match file {
        None => Ok(ticket),
        Some(file) => session::note(
            client
                .put_ticket_file()
                .id(ticket.id)
                .body(file.content)
                .send()
                .await
                .map(|r| r.into_inner())
                .map_err(Problem::from),
        )
        .map_err(|problem| SaveFailure {
            // The listing is saved; only its file is not.
            problem: Problem { fields: vec![("file".into(), problem.message.clone())], ..problem },
            saved: Some(ticket),
        }),
    }
}

#[component]
fn TicketForm(existing: Option<types::TicketView>) -> Element {
    let editing = existing.clone();
    let mut values = use_signal(|| FormValues::of(existing.as_ref()));
    let mut file = use_signal(|| None::<PickedFile>);
    let mut problems = use_signal(Vec::<(String, String)>::new);
    let mut form_error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let mut saved = use_signal(|| None::<types::TicketView>);
    let has_file = existing.as_ref().is_some_and(|ticket| ticket.has_ticket_file);

    let submit = move |event: FormEvent| {
        event.prevent_default();
        let editing = saved().or_else(|| editing.clone());
        async move {
            let found = values().problems();
            problems.set(found.clone());
            if !found.is_empty() {
                return;
            }
            busy.set(true);
            let result = save(editing, values(), file()).await;
            busy.set(false);
            match result {
                Ok(ticket) => {
                    navigator().push(Route::TicketDetail { id: ticket.id.to_string() });
                }
                Err(SaveFailure { saved: listing, problem }) => {
                    // Saved without its file: the next try changes that listing, not a new one.
                    if listing.is_some() {
                        saved.set(listing);
                    }
                    if problem.fields.is_empty() {
                        form_error.set(Some(problem.message.clone()));
                    } else {
                        form_error.set(None);
                    }
                    problems.set(problem.fields);
                }
            }
        }
    };
    let error =
        move |field: &str| problems().iter().find(|(name, _)| name == field).map(|(_, message)| message.clone());
    let heading = if existing.is_some() { "Edit ticket" } else { "Create a ticket" };
    let current_zone = values().time_zone;
    let file_note = match (file(), has_file) {
        (Some(picked), _) => format!("Will attach {}.", picked.name),
        (None, true) => "A ticket file is attached; choose another to replace it.".to_owned(),
        (None, false) => {
            "PDF, PNG or JPEG, at most 2 MB. The listing is for sale once its ticket is attached.".to_owned()
        }
    };
    rsx! {
        section { class: "panel narrow",
            h1 { "{heading}" }
            if existing.is_none() {
                p { class: "muted form-note",
                    "You can sell before you set up payouts: your share of a sale waits for you on "
                    Link { to: Route::Sales {}, "My sales" }
                    " and is sent once the event starts."
                }
            }
            form { novalidate: true, onsubmit: submit,
                Field {
                    label: "Event",
                    name: "eventName",
                    value: values().event_name,
                    error: error("eventName"),
                    oninput: move |value| values.write().event_name = value,
                }
                Field {
                    label: "Venue",
                    name: "venue",
                    value: values().venue,
                    error: error("venue"),
                    oninput: move |value| values.write().venue = value,
                }
                Field {
                    label: "City",
                    name: "city",
                    value: values().city,
                    error: error("city"),
                    oninput: move |value| values.write().city = value,
                }
                Field {
                    label: "Starts (at the venue)",
                    name: "startsAt",
                    kind: "datetime-local",
                    value: values().starts_at,
                    error: error("startsAt"),
                    oninput: move |value| values.write().starts_at = value,
                }
                div { class: "field",
                    label { r#for: "field-timeZone", "Venue's time zone" }
                    select {
                        id: "field-timeZone",
                        name: "timeZone",
                        onchange: move |event| values.write().time_zone = event.value(),
                        // A listing's own zone, when the form does not offer it, stays its choice.
                        if !TIME_ZONES.contains(&current_zone.as_str()) {
                            option { value: "{current_zone}", selected: true, "{current_zone}" }
                        }
                        for zone in TIME_ZONES {
                            option { value: "{zone}", selected: *zone == current_zone, "{zone}" }
                        }
                    }
                    if let Some(message) = error("timeZone") {
                        p { class: "field-error", "data-field": "timeZone", "{message}" }
                    }
                }
                div { class: "field-row",
                    Field {
                        label: "Section (optional)",
                        name: "section",
                        value: values().section,
                        error: error("section"),
                        oninput: move |value| values.write().section = value,
                    }
                    Field {
                        label: "Row (optional)",
                        name: "row",
                        value: values().row,
                        error: error("row"),
                        oninput: move |value| values.write().row = value,
                    }
                    Field {
                        label: "Seat (optional)",
                        name: "seat",
                        value: values().seat,
                        error: error("seat"),
                        oninput: move |value| values.write().seat = value,
                    }
                }
                Field {
                    label: "Face value (what you paid)",
                    name: "faceValue",
                    value: values().face_value,
                    placeholder: "0.00",
                    error: error("faceValue"),
                    oninput: move |value| values.write().face_value = value,
                    onblur: move |_| {
                        let typed = values().face_value;
                        if let Some(minor) = format::parse_price(&typed) {
                            values.write().face_value = format::price_input(minor);
                        }
                    },
                }
                Field {
                    label: "Price (CAD)",
                    name: "price",
                    value: values().price,
                    placeholder: "0.00",
                    error: error("price"),
                    oninput: move |value| values.write().price = value,
                    onblur: move |_| {
                        let typed = values().price;
                        if let Some(minor) = format::parse_price(&typed) {
                            values.write().price = format::price_input(minor);
                        }
                    },
                }
                div { class: "field",
                    label { r#for: "field-file", "Ticket file" }
                    input {
                        id: "field-file",
                        name: "file",
                        r#type: "file",
                        accept: "application/pdf,image/png,image/jpeg,.pdf,.png,.jpg,.jpeg",
                        onchange: move |event| async move {
                            let picked = event.files().into_iter().next();
                            match picked {
                                None => file.set(None),
                                Some(picked) => match picked.read_bytes().await {
                                    Ok(content) => file.set(Some(PickedFile { name: picked.name(), content: content.to_vec() })),
                                    Err(_) => problems.write().push(("file".into(), "That file could not be read.".into())),
                                },
                            }
                        },
                    }
                    p { class: "muted", "{file_note}" }
                    if let Some(message) = error("file") {
                        p { class: "field-error", "data-field": "file", "{message}" }
                    }
                }
                FormError { message: form_error() }
                button { class: "button", r#type: "submit", disabled: busy(), if busy() { "Saving…" } else { "Submit" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FormValues;

    fn filled() -> FormValues {
        FormValues {
            event_name: "Jazz night".into(),
            venue: "Massey Hall".into(),
            city: "Toronto".into(),
            starts_at: "2027-03-14T19:30".into(),
            time_zone: "America/Toronto".into(),
            face_value: "45".into(),
            price: "45.00".into(),
            ..FormValues::default()
        }
    }

    #[test]
    fn the_form_explains_what_is_wrong_before_asking_the_server() {
        let fields = |values: FormValues| values.problems().into_iter().map(|(field, _)| field).collect::<Vec<_>>();
        assert!(fields(filled()).is_empty());
        assert_eq!(fields(FormValues { event_name: " ".into(), ..filled() }), ["eventName"]);
        assert_eq!(fields(FormValues { price: "abc".into(), ..filled() }), ["price"]);
        assert_eq!(fields(FormValues { price: "0".into(), ..filled() }), ["price"]);
        assert_eq!(fields(FormValues { starts_at: String::new(), ..filled() }), ["startsAt"]);
    }
}
