use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::components::{FormError, OrderCard};
use crate::session;
use crate::views::SignedIn;

/// The signed-in user's orders, newest first.
#[component]
pub fn Orders() -> Element {
    rsx! {
        SignedIn { OrderHistory {} }
    }
}

#[component]
fn OrderHistory() -> Element {
    let mut orders = use_resource(|| async {
        session::note(session::client().list_orders().limit(100).send().await.map_err(Problem::from))
            .map(|p| p.into_inner().items)
    });
    let mut error = use_signal(|| None::<String>);
    let mut refunding = use_signal(|| None::<uuid::Uuid>);
    let refund = move |order: types::OrderView| async move {
        refunding.set(Some(order.id));
        let result = session::client()
            .refund_order()
            .id(order.id)
            .body(types::RefundRequest { amount: None })
            .send()
            .await
            .map_err(Problem::from);
        refunding.set(None);
        match session::note(result) {
            Ok(_) => {
                error.set(None);
                orders.restart();
            }
            Err(problem) => error.set(Some(problem.message)),
        }
    };
    rsx! {
        h1 { "Your orders" }
        FormError { message: error() }
        match &*orders.read() {
            None => rsx! { p { class: "loading", "Loading orders…" } },
            Some(Err(problem)) => rsx! { p { class: "form-error", "{problem.message}" } },
            Some(Ok(items)) if items.is_empty() => rsx! { p { class: "muted", "You have no orders yet." } },
            Some(Ok(items)) => rsx! {
                div { class: "grid orders",
                    for order in items.clone() {
                        OrderCard {
                            key: "{order.id}",
                            busy: refunding() == Some(order.id),
                            order,
                            on_refund: move |order| { spawn(refund(order)); },
                        }
                    }
                }
            },
        }
    }
}
