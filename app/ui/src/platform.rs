//! What differs between a browser and the desktop/mobile webview: where the API is, how the session
//! is carried, and the wait between the checkout countdown's ticks (the clock is `Timestamp::now`).
//!
//! In a browser the UI is served by the backend: the API is the same origin and the session is the
//! HttpOnly cookie, which no page script can read (the UI never holds the token at all). In the Tauri
//! shell the page comes from the app bundle: the shell injects `window.__TICKET_EXCHANGE_API__` (the
//! server's URL) and the session is a bearer token kept in the webview's local storage, which belongs
//! to the app's own origin, so it survives restarts.

const TOKEN_KEY: &str = "ticket-exchange.session";

/// The API's base URL, and whether the session travels as a bearer token.
pub fn api_base() -> (String, bool) {
    #[cfg(target_arch = "wasm32")]
    {
        match injected("__TICKET_EXCHANGE_API__") {
            Some(base) => (base.trim_end_matches('/').to_owned(), true),
            None => (web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default(), false),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        ("http://127.0.0.1:8080".to_owned(), true)
    }
}

/// A string the shell set on `window` before the page loaded.
#[cfg(target_arch = "wasm32")]
fn injected(name: &str) -> Option<String> {
    js_sys::Reflect::get(&web_sys::window()?.into(), &name.into()).ok()?.as_string()
}

/// Whether Stripe.js at `js_url`, which is not Stripe's own, may be fetched and run in this page (a
/// stand-in such as localstripe). In a browser the server that names it also serves the page and its
/// policy; in the apps only the stand-in the shell was configured with
/// (`window.__TICKET_EXCHANGE_STRIPE_STAND_IN__`, an origin) is run.
pub fn trusts_stand_in(js_url: &str) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        if !uses_bearer_token() {
            return true;
        }
        let stand_in = injected("__TICKET_EXCHANGE_STRIPE_STAND_IN__");
        // The shell's origin is lower case; so are scheme and host wherever a URL is compared.
        let js_url = js_url.to_ascii_lowercase();
        stand_in.is_some_and(|origin| js_url.strip_prefix(origin.as_str()).is_some_and(|rest| rest.starts_with('/')))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = js_url;
        false
    }
}

/// Whether the session travels as a bearer token (the apps) rather than the cookie (browsers).
pub fn uses_bearer_token() -> bool {
    api_base().1
}

/// The apps' stored token. In a browser there is none: a token an earlier version kept is removed.
pub fn load_token() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        let storage = web_sys::window()?.local_storage().ok()??;
        if !uses_bearer_token() {
            let _ = storage.remove_item(TOKEN_KEY);
            return None;
        }
        storage.get_item(TOKEN_KEY).ok()?
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = TOKEN_KEY;
        None
    }
}

pub fn store_token(token: Option<&str>) {
    #[cfg(target_arch = "wasm32")]
    if uses_bearer_token()
        && let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten())
    {
        let _ = match token {
            Some(token) => storage.set_item(TOKEN_KEY, token),
            None => storage.remove_item(TOKEN_KEY),
        };
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = token;
}

/// Waits about `ms` milliseconds (for the checkout countdown).
pub async fn tick(ms: u32) {
    #[cfg(target_arch = "wasm32")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(target_arch = "wasm32"))]
    let _ = ms;
}
