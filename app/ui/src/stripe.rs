//! Stripe.js, loaded from the URL the server's configuration names, driven from Rust through
//! `document::eval`. Card details stay inside Stripe's element; the UI only ever sees a token.

use dioxus::prelude::*;
use serde_json::{Value, json};

const MOUNT: &str = r#"
const cfg = await dioxus.recv();
try {
  if (!window.Stripe) {
    await new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = cfg.url;
      script.onload = resolve;
      script.onerror = () => reject(new Error('The payment form could not be loaded.'));
      document.head.appendChild(script);
    });
  }
  const target = document.getElementById(cfg.element);
  if (!window.__ticketExchangeStripe) {
    window.__ticketExchangeStripe = window.Stripe(cfg.key);
    window.__ticketExchangeElements = window.__ticketExchangeStripe.elements();
  }
  if (window.__ticketExchangeCard) {
    window.__ticketExchangeCard.destroy();
  }
  window.__ticketExchangeCard = window.__ticketExchangeElements.create('card', {});
  window.__ticketExchangeCard.mount(target);
  dioxus.send({ ok: true });
} catch (e) {
  dioxus.send({ error: String((e && e.message) || e) });
}
"#;

const TOKEN: &str = r#"
const cfg = await dioxus.recv();
try {
  const result = await window.__ticketExchangeStripe.createToken(window.__ticketExchangeCard, { name: cfg.name });
  if (result.error) {
    dioxus.send({ error: result.error.message || 'Check your card details.' });
  } else {
    dioxus.send({ token: result.token.id });
  }
} catch (e) {
  dioxus.send({ error: String((e && e.message) || e) });
}
"#;

const AUTHENTICATE: &str = r#"
const cfg = await dioxus.recv();
try {
  const result = await window.__ticketExchangeStripe.confirmCardPayment(cfg.secret);
  dioxus.send(result.error ? { error: result.error.message || 'Authentication failed.' } : { ok: true });
} catch (e) {
  dioxus.send({ error: String((e && e.message) || e) });
}
"#;

async fn run(script: &str, input: Value) -> Result<Value, String> {
    let mut eval = document::eval(script);
    eval.send(input).map_err(|err| err.to_string())?;
    let answer: Value = eval.recv().await.map_err(|err| err.to_string())?;
    match answer.get("error").and_then(Value::as_str) {
        Some(error) => Err(error.to_owned()),
        None => Ok(answer),
    }
}

/// Loads Stripe.js and mounts the card element into the element with id `element`.
pub async fn mount_card(js_url: &str, publishable_key: &str, element: &str) -> Result<(), String> {
    run(MOUNT, json!({"url": js_url, "key": publishable_key, "element": element})).await.map(drop)
}

/// Turns the card element's contents into a token (`tok_...`).
pub async fn card_token(cardholder: &str) -> Result<String, String> {
    let answer = run(TOKEN, json!({"name": cardholder})).await?;
    answer.get("token").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| "No token was returned.".to_owned())
}

/// Runs 3-D Secure for a PaymentIntent that asks for it.
pub async fn authenticate(client_secret: &str) -> Result<(), String> {
    run(AUTHENTICATE, json!({"secret": client_secret})).await.map(drop)
}
