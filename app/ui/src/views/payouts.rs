//! The payouts panel of the sales page: whether the seller can be paid, "Get paid" (Stripe's hosted
//! onboarding), and how much of their money is pending and paid.

use dioxus::prelude::*;

use crate::api::{Problem, types};
use crate::format;
use crate::session;

/// What the seller reads about their payout account.
fn account_line(account: &types::AccountView) -> &'static str {
    match account.status {
        types::AccountStatus::NotStarted => {
            "You can list and sell now. Set up payouts to receive your share of each sale when its event starts."
        }
        types::AccountStatus::Onboarding => {
            "Finish setting up payouts with Stripe: your sales' shares wait until you do."
        }
        types::AccountStatus::Restricted => {
            "Stripe needs more details before it can pay you: your sales' shares wait until then."
        }
        types::AccountStatus::Enabled => "Payouts are enabled: your share of each sale is sent when its event starts.",
    }
}

#[component]
pub fn PayoutsPanel() -> Element {
    let payouts = use_resource(move || async move {
        session::note(session::client().get_payouts().send().await.map_err(Problem::from)).map(|page| page.into_inner())
    });
    let mut busy = use_signal(|| false);
    let mut failure = use_signal(|| None::<String>);
    let start = move |_| async move {
        busy.set(true);
        failure.set(None);
        match session::client().start_payout_onboarding().send().await.map_err(Problem::from) {
            Ok(link) => {
                let url = serde_json::to_string(&link.into_inner().url).unwrap_or_default();
                // Off to Stripe; it sends the seller back to this page.
                document::eval(&format!("window.location.assign({url})"));
            }
            Err(problem) => {
                failure.set(Some(problem.message));
                busy.set(false);
            }
        }
    };
    rsx! {
        section { class: "panel payouts", "aria-labelledby": "payouts-heading",
            h2 { id: "payouts-heading", "Payouts" }
            match &*payouts.read() {
                None => rsx! { p { class: "loading", "Loading…" } },
                Some(Err(problem)) => rsx! { p { class: "form-error", "{problem.message}" } },
                Some(Ok(page)) => {
                    let enabled = page.account.status == types::AccountStatus::Enabled;
                    let label = if page.account.status == types::AccountStatus::NotStarted { "Get paid" } else { "Continue with Stripe" };
                    rsx! {
                        p { class: if enabled { "status complete" } else { "status pending" }, "data-payouts": "{page.account.status}",
                            "{account_line(&page.account)}"
                        }
                        if !page.account.requirements_due.is_empty() {
                            p { class: "muted", "Stripe still needs: {page.account.requirements_due.join(\", \")}" }
                        }
                        p { class: "muted", "The platform keeps {page.platform_fee_percent}% of each ticket's price; tax is not part of your share." }
                        for totals in page.totals.clone() {
                            p { class: "payout-totals", "data-currency": "{totals.currency}",
                                "Pending {format::money(totals.pending, &totals.currency)} · Paid {format::money(totals.paid, &totals.currency)}"
                            }
                        }
                        if !enabled {
                            button { class: "button", r#type: "button", disabled: busy(), onclick: start,
                                if busy() { "Opening Stripe…" } else { "{label}" }
                            }
                        }
                        if let Some(message) = failure() {
                            p { class: "form-error", role: "alert", "{message}" }
                        }
                    }
                }
            }
        }
    }
}

/// How a sale's share stands, in words.
pub fn share_line(share: &types::ShareView, currency: &str) -> String {
    let amount = format::money(share.seller_share, currency);
    let fee = format::money(share.platform_fee, currency);
    let state = match share.status {
        types::ShareStatus::Pending if share.delayed => "delayed, being retried".to_owned(),
        types::ShareStatus::Pending => "sent when the event starts".to_owned(),
        types::ShareStatus::AwaitingAccount => "waiting for your payout account".to_owned(),
        types::ShareStatus::Paid => match &share.transferred_at {
            Some(at) => format!("paid on {}", format::date(at)),
            None => "paid".to_owned(),
        },
        types::ShareStatus::Cancelled => "cancelled: the sale was refunded".to_owned(),
        types::ShareStatus::Reversed => "taken back: the sale was refunded".to_owned(),
    };
    format!("Your share {amount} (fee {fee}): {state}")
}
