use dioxus::prelude::*;

use crate::routes::Route;
use crate::session::{self, SESSION, UNREACHABLE};

/// "Ticket-Exchange", then Create, Orders, My sales, Logout when signed in, or Register, Login.
#[component]
pub fn Header() -> Element {
    let signed_in = SESSION.read().user.is_some();
    let loaded = SESSION.read().loaded;
    rsx! {
        header { class: "header",
            Link { class: "brand", to: Route::Landing {}, "Ticket-Exchange" }
            nav {
                if signed_in {
                    Link { to: Route::CreateTicket {}, "Create" }
                    Link { to: Route::Orders {}, "Orders" }
                    Link { to: Route::Sales {}, "My sales" }
                    button {
                        class: "link",
                        onclick: move |_| async move {
                            session::sign_out().await;
                            navigator().push(Route::Landing {});
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
