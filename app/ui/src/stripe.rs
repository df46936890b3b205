//! Stripe.js, loaded from the URL the server's configuration names, driven from Rust through
//! `document::eval`. Card details stay inside Stripe's element; the UI only ever sees a token.

use dioxus::prelude::*;
use serde_json::{Value, json};

/// One checkout's conversation with Stripe.js: the card element is mounted once; the "Buy now" button
/// (by id) is watched from the page itself, and each press asks Rust to pay.
const CHECKOUT: &str = r#"
const cfg = await dioxus.recv();
try {
  if (!window.Stripe) {
    if (cfg.url.startsWith('https://js.stripe.com/')) {
      await new Promise((resolve, reject) => {
        const script = document.createElement('script');
        script.src = cfg.url;
        script.onload = resolve;
        script.onerror = () => reject(new Error('The payment form could not be loaded.'));
        document.head.appendChild(script);
      });
    } else if (!cfg.trusted) {
      throw new Error('The payment form comes from a server this app does not trust.');
    } else {
      // A Stripe-compatible stand-in (localstripe): its script declares a global `class Element`,
      // which would shadow the DOM's Element for every script on the page, the UI's own included.
      // Run it in a scope of its own; it still installs window.Stripe.
      const response = await fetch(cfg.url);
      if (!response.ok) throw new Error('The payment form could not be loaded.');
      const source = (await response.text()).split('document.currentScript.src').join('scriptSource');
      new Function('scriptSource', source)(cfg.url);
    }
  }
  const stripe = window.Stripe(cfg.key);
  const card = stripe.elements().create('card', {});
  card.mount(document.getElementById(cfg.element));
  document.getElementById(cfg.button).addEventListener('click', () => dioxus.send({ pay: true }));
  dioxus.send({ ready: true });
  while (true) {
    const request = await dioxus.recv();
    try {
      if (request.token) {
        const result = await stripe.createToken(card, { name: request.token.name });
        dioxus.send(result.error ? { error: result.error.message || 'Check your card details.' } : { token: result.token.id });
      } else if (request.authenticate) {
        const result = await stripe.confirmCardPayment(request.authenticate.secret);
        dioxus.send(result.error ? { error: result.error.message || 'Authentication failed.' } : { ok: true });
      }
    } catch (e) {
      dioxus.send({ error: String((e && e.message) || e) });
    }
  }
} catch (e) {
  dioxus.send({ error: String((e && e.message) || e) });
}
"#;

/// Stripe.js on a checkout page.
pub struct CardForm {
    eval: document::Eval,
}

/// What the page said.
pub enum CardEvent {
    Ready,
    Pay,
    Failed(String),
}

impl CardForm {
    /// Loads Stripe.js, mounts the card element into `element` and watches `button`.
    pub fn start(js_url: &str, publishable_key: &str, element: &str, button: &str) -> Result<Self, String> {
        let eval = document::eval(CHECKOUT);
        let trusted = crate::platform::trusts_stand_in(js_url);
        eval.send(
            json!({"url": js_url, "key": publishable_key, "element": element, "button": button, "trusted": trusted}),
        )
        .map_err(|err| err.to_string())?;
        Ok(Self { eval })
    }

    /// The next thing that happened on the page.
    pub async fn next(&mut self) -> CardEvent {
        match self.eval.recv::<Value>().await {
            Ok(message) if message.get("ready").is_some() => CardEvent::Ready,
            Ok(message) if message.get("pay").is_some() => CardEvent::Pay,
            Ok(message) => CardEvent::Failed(
                message.get("error").and_then(Value::as_str).unwrap_or("Unexpected answer.").to_owned(),
            ),
            Err(err) => CardEvent::Failed(err.to_string()),
        }
    }

    async fn ask(&mut self, request: Value) -> Result<Value, String> {
        self.eval.send(request).map_err(|err| err.to_string())?;
        loop {
            let answer: Value = self.eval.recv().await.map_err(|err| err.to_string())?;
            if answer.get("pay").is_some() {
                continue; // a second press while paying
            }
            return match answer.get("error").and_then(Value::as_str) {
                Some(error) => Err(error.to_owned()),
                None => Ok(answer),
            };
        }
    }

    /// Turns the card element's contents into a token (`tok_...`).
    pub async fn token(&mut self, cardholder: &str) -> Result<String, String> {
        let answer = self.ask(json!({"token": {"name": cardholder}})).await?;
        answer
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "No token was returned.".to_owned())
    }

    /// Runs 3-D Secure for a PaymentIntent that asks for it.
    pub async fn authenticate(&mut self, client_secret: &str) -> Result<(), String> {
        self.ask(json!({"authenticate": {"secret": client_secret}})).await.map(drop)
    }
}
