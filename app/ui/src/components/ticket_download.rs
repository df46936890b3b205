use dioxus::prelude::*;

use crate::platform;

/// The buyer's way to the ticket file of a paid order. In a browser it is a download link (the
/// session cookie goes with it); the apps carry their session as a bearer token, which a link cannot
/// send, so there the ticket is the one attached to the confirmation email.
#[component]
pub fn TicketDownload(order_id: String) -> Element {
    let (base, bearer) = platform::api_base();
    rsx! {
        if bearer {
            p { class: "muted", "Your ticket is attached to your confirmation email." }
        } else {
            a {
                class: "button",
                href: "{base}/api/orders/{order_id}/ticket",
                download: "ticket-{order_id}",
                "Download ticket"
            }
        }
    }
}
