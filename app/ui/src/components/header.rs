use dioxus::prelude::*;

use crate::routes::Route;
use crate::search::Search;
use crate::session::{self, SESSION, UNREACHABLE};

/// "Ticket-Exchange", then Create, Orders, My sales, Logout when signed in, or Register, Login.
#[component]
pub fn Header() -> Element {
    let signed_in = SESSION.read().user.is_some();
    let loaded = SESSION.read().loaded;
    rsx! {
        header { class: "header",
            Link { class: "brand", to: Route::Landing { search: Search::default() },
                Logo {}
                span { "Ticket-Exchange" }
            }
            nav { "aria-label": "Main",
                if signed_in {
                    Link { to: Route::CreateTicket {}, "Create" }
                    Link { to: Route::Orders {}, "Orders" }
                    Link { to: Route::Sales {}, "My sales" }
                    button {
                        class: "link",
                        onclick: move |_| async move {
                            session::sign_out().await;
                            navigator().push(Route::Landing { search: Search::default() });
                        },
                        "Logout"
                    }
                } else if loaded {
                    Link { to: Route::Register {}, "Register" }
                    Link { to: Route::Login { next: String::new() }, "Login" }
                }
            }
        }
        if UNREACHABLE() {
            div { class: "banner", role: "alert", "The server cannot be reached. Retrying when you try again." }
        }
    }
}

/// The mark: two rounded corners and two dots, as on the original's landing page.
#[component]
fn Logo() -> Element {
    rsx! {
        svg { class: "logo", view_box: "0 0 48 48", width: "34", height: "34", "aria-hidden": "true", "focusable": "false",
            circle { cx: "35", cy: "13", r: "9", fill: "currentColor" }
            circle { cx: "13", cy: "35", r: "9", fill: "currentColor" }
            path { d: "M6 22V14a8 8 0 0 1 8-8h8", fill: "none", stroke: "currentColor", stroke_width: "5", stroke_linecap: "round" }
            path { d: "M42 26v8a8 8 0 0 1-8 8h-8", fill: "none", stroke: "currentColor", stroke_width: "5", stroke_linecap: "round" }
        }
    }
}
