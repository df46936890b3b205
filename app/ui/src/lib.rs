//! Ticket Exchange's user interface: one Dioxus app for the browser (served by the backend) and for
//! the desktop and mobile apps (inside Tauri's webview).
//!
//! `api` wraps the client generated from `openapi.yaml`; `session` holds who is signed in; `search` is the market's search as
//! the address carries it; `views`
//! has one file per page; `components` take props only.

pub mod api;
pub mod components;
pub mod format;
pub mod live;
mod platform;
pub mod routes;
pub mod search;
pub mod session;
mod stripe;
pub mod timestamp;
mod views;

use dioxus::prelude::*;

pub use routes::Route;

/// The whole app.
#[component]
pub fn App() -> Element {
    rsx! {
        Router::<Route> {}
    }
}
