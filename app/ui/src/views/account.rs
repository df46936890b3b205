use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::{Field, FormError};
use crate::routes::Route;
use crate::search::Search;
use crate::session;

fn go_next(next: &str) {
    match next.parse::<Route>() {
        Ok(route) if !next.is_empty() => {
            navigator().replace(route);
        }
        _ => {
            navigator().replace(Route::Landing { search: Search::default() });
        }
    }
}

/// Checks that can be made before asking the server.
pub fn registration_errors(email: &str, password: &str, confirm: &str, terms: bool) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    if !email.contains('@') {
        errors.push(("email", "Enter a valid email address.".to_owned()));
    }
    if password.chars().count() < 8 {
        errors.push(("password", "Password must be at least 8 characters.".to_owned()));
    }
    if password != confirm {
        errors.push(("passwordConfirmation", "Passwords do not match.".to_owned()));
    }
    if !terms {
        errors.push(("termsAccepted", "You must accept the terms and conditions.".to_owned()));
    }
    errors
}

#[component]
pub fn Register() -> Element {
    let mut email = use_signal(String::new);
    let mut password = use_signal(String::new);
    let mut confirm = use_signal(String::new);
    let mut terms = use_signal(|| false);
    let mut problem = use_signal(Problem::default);
    let mut busy = use_signal(|| false);
    let submit = move |event: FormEvent| {
        event.prevent_default();
        async move {
            let local = registration_errors(&email(), &password(), &confirm(), terms());
            if !local.is_empty() {
                problem.set(Problem {
                    fields: local.into_iter().map(|(field, message)| (field.to_owned(), message)).collect(),
                    ..Problem::default()
                });
                return;
            }
            busy.set(true);
            let body = Problem::bounded("email", "Email", email().trim().to_owned()).and_then(|email| {
                let password = Problem::bounded("password", "Password", password())?;
                Ok(types::RegisterRequest {
                    email,
                    password,
                    terms_accepted: terms(),
                    session: Some(session::delivery()),
                })
            });
            let result = match body {
                Ok(body) => session::note(session::client().register().body(body).send().await.map_err(Problem::from)),
                Err(problem) => Err(problem),
            };
            busy.set(false);
            match result {
                Ok(view) => {
                    session::signed_in(view.into_inner());
                    navigator().replace(Route::Landing { search: Search::default() });
                }
                Err(error) => problem.set(error),
            }
        }
    };
    let field = move |name: &str| problem.read().field(name);
    let general = problem.read().fields.is_empty().then(|| problem.read().message.clone()).filter(|m| !m.is_empty());
    rsx! {
        section { class: "panel narrow",
            h1 { "Register" }
            form { novalidate: true, onsubmit: submit,
                Field { label: "Email", name: "email", kind: "email", value: email(), error: field("email"), oninput: move |v| email.set(v) }
                Field { label: "Password", name: "password", kind: "password", value: password(), error: field("password"), oninput: move |v| password.set(v) }
                Field {
                    label: "Confirm password",
                    name: "passwordConfirmation",
                    kind: "password",
                    value: confirm(),
                    error: field("passwordConfirmation"),
                    oninput: move |v| confirm.set(v),
                }
                div { class: "field checkbox",
                    label {
                        input {
                            r#type: "checkbox",
                            name: "termsAccepted",
                            checked: terms(),
                            onchange: move |event| terms.set(event.checked()),
                        }
                        " I accept the terms and conditions"
                    }
                    if let Some(error) = field("termsAccepted") {
                        p { class: "field-error", "data-field": "termsAccepted", "{error}" }
                    }
                }
                FormError { message: general }
                button { class: "button", r#type: "submit", disabled: busy(), if busy() { "Registering…" } else { "Register" } }
            }
        }
    }
}

#[component]
pub fn Login(next: String) -> Element {
    let mut email = use_signal(String::new);
    let mut password = use_signal(String::new);
    let mut problem = use_signal(Problem::default);
    let mut busy = use_signal(|| false);
    let submit = move |event: FormEvent| {
        event.prevent_default();
        let next = next.clone();
        async move {
            busy.set(true);
            let body = Problem::bounded("email", "Email", email().trim().to_owned()).and_then(|email| {
                let password = Problem::bounded("password", "Password", password())?;
                Ok(types::LoginRequest { email, password, session: Some(session::delivery()) })
            });
            let result = match body {
                Ok(body) => session::note(session::client().login().body(body).send().await.map_err(Problem::from)),
                Err(problem) => Err(problem),
            };
            busy.set(false);
            match result {
                Ok(view) => {
                    session::signed_in(view.into_inner());
                    go_next(&next);
                }
                Err(error) => problem.set(error),
            }
        }
    };
    let field = move |name: &str| problem.read().field(name);
    let general = problem.read().fields.is_empty().then(|| problem.read().message.clone()).filter(|m| !m.is_empty());
    rsx! {
        section { class: "panel narrow",
            h1 { "Login" }
            form { novalidate: true, onsubmit: submit,
                Field { label: "Email", name: "email", kind: "email", value: email(), error: field("email"), oninput: move |v| email.set(v) }
                Field { label: "Password", name: "password", kind: "password", value: password(), error: field("password"), oninput: move |v| password.set(v) }
                FormError { message: general }
                button { class: "button", r#type: "submit", disabled: busy(), if busy() { "Signing in…" } else { "Login" } }
            }
            p { class: "muted form-foot", "New here? " Link { to: Route::Register {}, "Register" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::registration_errors;

    #[test]
    fn registration_checks_confirmation_and_terms_before_the_server() {
        let fields: Vec<_> =
            registration_errors("ada", "short", "other", false).into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["email", "password", "passwordConfirmation", "termsAccepted"]);
        assert!(registration_errors("ada@example.com", "long enough", "long enough", true).is_empty());
    }
}
