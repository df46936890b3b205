//! One file per page.

mod account;
mod checkout;
mod landing;
mod order_detail;
mod orders;
mod payouts;
mod sales;
mod ticket_detail;
mod ticket_form;

use dioxus::prelude::*;

pub use account::{Login, Register};
pub use checkout::Checkout;
pub use landing::Landing;
pub use order_detail::OrderDetail;
pub use orders::Orders;
pub use sales::Sales;
pub use ticket_detail::TicketDetail;
pub use ticket_form::{CreateTicket, EditTicket};

use crate::api::{Problem, types};
use crate::components::Header;
use crate::routes::Route;
use crate::search::Search;
use crate::session::{self, SESSION};

/// The frame of every page: the header, then the page.
#[component]
pub fn Shell() -> Element {
    use_future(|| async { session::refresh().await });
    crate::live::use_live_market();
    // The market has the original's backdrop of circles; the other pages its plain blue.
    let backdrop = matches!(use_route::<Route>(), Route::Landing { .. });
    rsx! {
        div { class: if backdrop { "app backdrop" } else { "app" },
            Header {}
            main { class: "page", Outlet::<Route> {} }
        }
    }
}

/// Shows `children` to signed-in users; sends everyone else to the login page, and back afterwards.
#[component]
pub fn SignedIn(children: Element) -> Element {
    let route = use_route::<Route>();
    use_effect(move || {
        let session = SESSION.read();
        if session.loaded && session.user.is_none() {
            navigator().replace(Route::Login { next: route.to_string() });
        }
    });
    let session = SESSION.read();
    if !session.loaded || session.user.is_none() {
        return rsx! { p { class: "loading", "Loading…" } };
    }
    children
}

#[component]
pub fn NotFound(segments: Vec<String>) -> Element {
    let path = segments.join("/");
    rsx! {
        section { class: "panel",
            h1 { "Page not found" }
            p { "There is nothing at /{path}." }
            Link { class: "button", to: Route::Landing { search: Search::default() }, "Back to tickets" }
        }
    }
}

/// One listing by the id in a path.
async fn fetch_ticket(id: &str) -> Result<types::TicketView, Problem> {
    let id: uuid::Uuid = id.parse().map_err(|_| Problem { message: "No such ticket.".into(), ..Problem::default() })?;
    session::note(session::client().get_ticket().id(id).send().await.map_err(Problem::from)).map(|t| t.into_inner())
}
