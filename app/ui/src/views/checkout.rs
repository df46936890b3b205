use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::{Field, FormError};
use crate::routes::Route;
use crate::session::{self, SESSION};
use crate::stripe::{CardEvent, CardForm};
use crate::timestamp::Timestamp;
use crate::views::SignedIn;
use crate::{format, platform};

const CARD_ELEMENT: &str = "card-element";
const BUY_BUTTON: &str = "buy-now";
/// The code of a problem Stripe.js reported about the card itself.
const CARD_PROBLEM: &str = "card_error";

/// Paying for a reserved order within its hold.
#[component]
pub fn Checkout(id: String) -> Element {
    rsx! {
        SignedIn { CheckoutLoader { id } }
    }
}

#[derive(Clone, PartialEq)]
struct Prepared {
    order: types::OrderView,
    config: types::ClientConfig,
    payment: types::PaymentView,
}

async fn prepare(id: &str) -> Result<Prepared, Problem> {
    let id: uuid::Uuid = id.parse().map_err(|_| Problem { message: "No such order.".into(), ..Problem::default() })?;
    let client = session::client();
    let config = session::note(client.client_config().send().await.map_err(Problem::from))?.into_inner();
    let payment = session::note(
        client.start_payment().body(types::StartPaymentRequest { order_id: id }).send().await.map_err(Problem::from),
    )?
    .into_inner();
    Ok(Prepared { order: payment.order.clone(), config, payment })
}

#[component]
fn CheckoutLoader(id: String) -> Element {
    let order_id = id.clone();
    let prepared = use_resource(move || {
        let id = id.clone();
        async move { prepare(&id).await }
    });
    match &*prepared.read() {
        None => rsx! { p { class: "loading", "Preparing checkout…" } },
        Some(Err(problem)) if problem.code == "order_already_paid" => {
            navigator().replace(Route::OrderDetail { id: order_id.clone() });
            rsx! {}
        }
        Some(Err(problem)) if problem.code == "order_expired" => rsx! {
            section { class: "panel narrow",
                h1 { class: "expired", "Order Expired" }
                p { "The hold on this ticket has ended. If it is still available you can reserve it again." }
                Link { class: "button", to: Route::Orders {}, "View Orders" }
            }
        },
        Some(Err(problem)) => rsx! { section { class: "panel", p { class: "form-error", "{problem.message}" } } },
        Some(Ok(prepared)) => rsx! { CheckoutForm { prepared: prepared.clone() } },
    }
}

/// Tokenizes the card and confirms the payment, with 3-D Secure when Stripe asks for it.
async fn pay(
    card: &mut CardForm,
    order_id: uuid::Uuid,
    client_secret: &str,
    billing: types::BillingRequest,
) -> Result<types::PaymentView, Problem> {
    let card_problem = |message: String| Problem { code: CARD_PROBLEM.into(), message, ..Problem::default() };
    let token = card.token(&billing.name).await.map_err(card_problem)?;
    let token = Problem::bounded("cardToken", "Card token", token)?;
    let confirm = |body: types::ConfirmPaymentRequest| async move {
        session::note(session::client().confirm_payment().body(body).send().await.map_err(Problem::from))
            .map(|response| response.into_inner())
    };
    let payment =
        confirm(types::ConfirmPaymentRequest { order_id, card_token: Some(token), billing: Some(billing) }).await?;
    if payment.status != "requires_action" {
        return Ok(payment);
    }
    card.authenticate(client_secret).await.map_err(card_problem)?;
    confirm(types::ConfirmPaymentRequest { order_id, card_token: None, billing: None }).await
}

/// The billing details as the API takes them, or the first field too long for it.
fn billing_request(
    name: String,
    line1: String,
    city: String,
    region: String,
    postal_code: String,
    country: String,
) -> Result<types::BillingRequest, Problem> {
    // Trimmed as the server trims them, so the lengths checked are the ones it checks.
    let trim = |value: String| value.trim().to_owned();
    let region = Some(trim(region)).filter(|value| !value.is_empty());
    Ok(types::BillingRequest {
        name: Problem::bounded("billing.name", "Name", trim(name))?,
        line1: Problem::bounded("billing.line1", "Address", trim(line1))?,
        line2: None,
        city: Problem::bounded("billing.city", "City", trim(city))?,
        region: region.map(|region| Problem::bounded("billing.region", "Province or state", region)).transpose()?,
        postal_code: Problem::bounded("billing.postalCode", "Postal code", trim(postal_code))?,
        country: Problem::bounded("billing.country", "Country", trim(country).to_ascii_uppercase())?,
    })
}

fn seconds_left(expires_at: &Timestamp) -> i64 {
    expires_at.seconds_since(Timestamp::now())
}

#[component]
fn CheckoutForm(prepared: Prepared) -> Element {
    let Prepared { order, config, payment } = prepared;

    let expires_at = order.expires_at;
    let mut expired = use_signal(move || seconds_left(&expires_at) <= 0);

    let mut name = use_signal(String::new);
    let mut line1 = use_signal(String::new);
    let mut city = use_signal(String::new);
    let mut region = use_signal(String::new);
    let mut postal_code = use_signal(String::new);
    let mut country = use_signal(|| "CA".to_owned());
    let mut errors = use_signal(Problem::default);
    let mut card_error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let (js_url, key) =
        (config.stripe_js_url.clone().unwrap_or_default(), config.stripe_publishable_key.clone().unwrap_or_default());
    let order_id = order.id;
    let client_secret = payment.client_secret.clone().unwrap_or_default();
    // Stripe.js runs the card element and watches "Buy now"; each press comes here to pay.
    use_effect(move || {
        let (js_url, key, client_secret) = (js_url.clone(), key.clone(), client_secret.clone());
        spawn(async move {
            let mut card = match CardForm::start(&js_url, &key, CARD_ELEMENT, BUY_BUTTON) {
                Ok(card) => card,
                Err(error) => {
                    card_error.set(Some(error));
                    return;
                }
            };
            loop {
                match card.next().await {
                    CardEvent::Ready => {}
                    CardEvent::Failed(error) => {
                        card_error.set(Some(error));
                        return;
                    }
                    CardEvent::Pay if *busy.peek() || *expired.peek() => {}
                    CardEvent::Pay => {
                        busy.set(true);
                        card_error.set(None);
                        errors.set(Problem::default());
                        let billing = billing_request(
                            name.peek().clone(),
                            line1.peek().clone(),
                            city.peek().clone(),
                            region.peek().clone(),
                            postal_code.peek().clone(),
                            country.peek().clone(),
                        );
                        let outcome = match billing {
                            Ok(billing) => pay(&mut card, order_id, &client_secret, billing).await,
                            Err(problem) => Err(problem),
                        };
                        busy.set(false);
                        match outcome {
                            Ok(payment) if payment.order.status == types::OrderStatus::Complete => {
                                navigator().push(Route::OrderDetail { id: order_id.to_string() });
                                return;
                            }
                            Ok(_) => card_error.set(Some("The payment did not go through. Please try again.".into())),
                            Err(problem)
                                if matches!(problem.code.as_str(), "card_declined" | CARD_PROBLEM)
                                    || problem.field("cardToken").is_some() =>
                            {
                                card_error.set(Some(problem.message));
                            }
                            Err(problem) => errors.set(problem),
                        }
                    }
                }
            }
        });
    });

    let total = format::money(order.total, &order.currency);
    let price = format::money(order.price, &order.currency);
    let tax = format::money(order.tax, &order.currency);
    let email = SESSION.read().user.as_ref().map(|user| user.email.clone()).unwrap_or_default();
    let field_error = move |field: &str| errors.read().field(field);
    // Field errors show beside their fields; anything else shows once, above the button.
    let form_message = {
        let problem = errors.read();
        (problem.fields.is_empty() && !problem.message.is_empty()).then(|| problem.message.clone())
    };
    rsx! {
        section { class: "panel checkout",
            Countdown { expires_at, on_expired: move |_| expired.set(true) }
            h1 { class: "checkout-title", "Purchase {order.ticket_title} - {total}" }
            p { class: "muted", "{price} + {tax} tax" }
            form { novalidate: true, onsubmit: move |event: FormEvent| event.prevent_default(),
                div { class: "checkout-columns",
                    div { class: "billing",
                        h2 { "Billing details" }
                        Field { label: "Full name", name: "billing.name", value: name(), error: field_error("billing.name"), oninput: move |v| name.set(v) }
                        Field { label: "Address", name: "billing.line1", value: line1(), error: field_error("billing.line1"), oninput: move |v| line1.set(v) }
                        Field { label: "City", name: "billing.city", value: city(), error: field_error("billing.city"), oninput: move |v| city.set(v) }
                        div { class: "row",
                            Field { label: "Province", name: "billing.region", value: region(), error: field_error("billing.region"), oninput: move |v| region.set(v) }
                            Field { label: "Postal code", name: "billing.postalCode", value: postal_code(), error: field_error("billing.postalCode"), oninput: move |v| postal_code.set(v) }
                        }
                        Field { label: "Country", name: "billing.country", value: country(), error: field_error("billing.country"), oninput: move |v| country.set(v) }
                    }
                    div { class: "pay",
                        h2 { "Payment" }
                        Field { label: "Email", name: "email", value: email, readonly: true, oninput: move |_| {} }
                        p { id: "card-label", class: "card-label", "Card" }
                        div { id: CARD_ELEMENT, class: "card-element", role: "group", "aria-labelledby": "card-label" }
                        if let Some(error) = card_error() {
                            p { class: "field-error", role: "alert", "data-field": "card", "{error}" }
                        }
                        FormError { message: form_message }
                        button {
                            id: BUY_BUTTON,
                            class: "button primary",
                            r#type: "button",
                            disabled: busy() || expired(),
                            if busy() { "Processing…" } else { "Buy now" }
                        }
                    }
                }
            }
        }
    }
}

/// The hold's live countdown; "Order Expired" at zero. Re-renders only itself every tick.
#[component]
fn Countdown(expires_at: Timestamp, on_expired: EventHandler<()>) -> Element {
    let mut remaining = use_signal(move || seconds_left(&expires_at));
    use_future(move || async move {
        loop {
            platform::tick(250).await;
            let left = seconds_left(&expires_at);
            if left != *remaining.peek() {
                remaining.set(left);
            }
            if left <= 0 {
                on_expired.call(());
                break;
            }
        }
    });
    // The live region is in the page, empty, before it says anything: screen readers announce
    // what changes in a region, not what a region is born with.
    let mut listening = use_signal(|| false);
    use_effect(move || listening.set(true));
    let left = remaining();
    // The clock itself is not read out every second: a polite live region says how long is left
    // when the hold starts and as it passes a few milestones, and when it ends.
    let announcement = if listening() { hold_announcement(left) } else { String::new() };
    rsx! {
        if left <= 0 {
            p { class: "countdown expired", "Order Expired" }
        } else {
            p { class: "countdown", role: "timer", "aria-live": "off", "Time left to pay: {format::countdown(left)}" }
        }
        p { class: "visually-hidden", role: "status", "aria-live": "polite", "{announcement}" }
    }
}

/// What the live region says with `seconds` left: it changes only at the milestones, so it is
/// announced only then.
fn hold_announcement(seconds: i64) -> String {
    const MILESTONES: [(i64, &str); 5] =
        [(30, "30 seconds"), (60, "1 minute"), (120, "2 minutes"), (300, "5 minutes"), (600, "10 minutes")];
    if seconds <= 0 {
        return "Order expired: the hold on this ticket has ended.".into();
    }
    match MILESTONES.iter().find(|(limit, _)| seconds < *limit) {
        Some((_, left)) => format!("Less than {left} left to pay."),
        None => "This ticket is held for you: at least 10 minutes left to pay.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::hold_announcement;

    #[test]
    fn the_hold_is_announced_at_milestones_not_every_second() {
        let said: std::collections::BTreeSet<String> = (0..=900).map(hold_announcement).collect();
        // One sentence above ten minutes, then five milestones, then the end.
        assert_eq!(said.len(), 7, "{said:?}");
        assert_eq!(hold_announcement(299), hold_announcement(120));
        assert_eq!(hold_announcement(600), "This ticket is held for you: at least 10 minutes left to pay.");
        assert_eq!(hold_announcement(45), "Less than 1 minute left to pay.");
        assert_eq!(hold_announcement(0), "Order expired: the hold on this ticket has ended.");
    }
}
