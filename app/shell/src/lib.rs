//! The desktop and mobile shell: one window showing the web UI, told where the server is.
//!
//! The UI finds the API through `window.__TICKET_EXCHANGE_API__`, injected before the page loads. It
//! is `TICKET_EXCHANGE_API_URL` when set (at build time for mobile, at run time for desktop), else
//! [`DEFAULT_API_URL`].
//!
//! The window's Content-Security-Policy is `tauri.conf.json`'s (the app's own files, Stripe.js and
//! Stripe's hosts) plus, added at start, the origin of that API and, when
//! `TICKET_EXCHANGE_STRIPE_JS_URL` names a Stripe-compatible stand-in's Stripe.js, that origin too.

mod policy;

use tauri::{WebviewUrl, WebviewWindowBuilder};

const DEFAULT_API_URL: &str = "http://127.0.0.1:8080";

/// A setting from the environment at run time, else as it was when the app was built (an empty value
/// counts as unset), trimmed.
fn setting(name: &str, built: Option<&'static str>) -> Option<String> {
    let given = |value: &str| Some(value.trim().to_owned()).filter(|value| !value.is_empty());
    std::env::var(name).ok().as_deref().and_then(given).or_else(|| built.and_then(given))
}

fn api_url() -> String {
    setting("TICKET_EXCHANGE_API_URL", option_env!("TICKET_EXCHANGE_API_URL"))
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned())
}

/// The script that tells the UI where the server is and, when one is configured, which Stripe.js
/// stand-in (an origin) it may run.
fn bootstrap_script(api: &str, stand_in: Option<&str>) -> String {
    let json = |value: &str| serde_json::Value::String(value.to_owned());
    let mut script = format!("window.__TICKET_EXCHANGE_API__ = {};", json(api.trim_end_matches('/')));
    if let Some(origin) = stand_in {
        script.push_str(&format!(" window.__TICKET_EXCHANGE_STRIPE_STAND_IN__ = {};", json(origin)));
    }
    script
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let api = api_url();
    let stripe_js = setting("TICKET_EXCHANGE_STRIPE_JS_URL", option_env!("TICKET_EXCHANGE_STRIPE_JS_URL"));
    let mut context = tauri::generate_context!();
    if let Err(err) = policy::allow_servers(&mut context.config_mut().app.security.csp, &api, stripe_js.as_deref()) {
        eprintln!("Ticket Exchange could not start: {err}");
        std::process::exit(1);
    }
    // Checked by `allow_servers` above: a URL that is not an origin has stopped the app already.
    let stand_in = stripe_js.as_deref().and_then(|url| policy::stand_in_origin(url).ok().flatten());
    let script = bootstrap_script(&api, stand_in.as_deref());
    let result = tauri::Builder::default()
        .setup(move |app| {
            WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                .title("Ticket-Exchange")
                .inner_size(1100.0, 800.0)
                .min_inner_size(360.0, 600.0)
                .initialization_script(&script)
                .build()?;
            Ok(())
        })
        .run(context);
    if let Err(err) = result {
        eprintln!("Ticket Exchange could not start: {err}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::bootstrap_script;

    #[test]
    fn the_api_url_is_injected_as_a_json_string() {
        assert_eq!(
            bootstrap_script("https://tickets.example/", None),
            r#"window.__TICKET_EXCHANGE_API__ = "https://tickets.example";"#
        );
        assert_eq!(bootstrap_script("x\";alert(1)//", None), r#"window.__TICKET_EXCHANGE_API__ = "x\";alert(1)";"#);
        assert_eq!(
            bootstrap_script("http://127.0.0.1:8080", Some("http://127.0.0.1:8420")),
            r#"window.__TICKET_EXCHANGE_API__ = "http://127.0.0.1:8080"; window.__TICKET_EXCHANGE_STRIPE_STAND_IN__ = "http://127.0.0.1:8420";"#
        );
    }
}
