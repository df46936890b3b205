//! `GET /api/payouts` (the seller's connected account and money) and `POST /api/payouts/onboarding`.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::PayoutsError;
use super::accounts::SellerAccountRow;
use super::ledger::{self, PayoutRow, PayoutStatus};
use crate::db;
use crate::http::ApiTags;
use crate::http::auth::SessionAuth;
use crate::http::error::ApiError;
use crate::state::AppState;

/// Where the seller's connected account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum AccountStatus {
    /// No account yet: "Get paid" starts onboarding.
    NotStarted,
    /// Onboarding begun but not finished.
    Onboarding,
    /// Stripe needs more from the seller before money can move (see `requirementsDue`).
    Restricted,
    /// Shares are transferred to the account when they fall due.
    Enabled,
}

/// The seller's connected account.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct AccountView {
    status: AccountStatus,
    /// Stripe pays the account's balance out to the seller's bank.
    payouts_enabled: bool,
    /// What Stripe still needs from the seller.
    requirements_due: Vec<String>,
}

impl AccountView {
    fn new(row: Option<SellerAccountRow>) -> Self {
        let Some(row) = row.filter(|row| row.stripe_account_id.is_some()) else {
            return Self { status: AccountStatus::NotStarted, payouts_enabled: false, requirements_due: vec![] };
        };
        let status = if row.can_receive() {
            AccountStatus::Enabled
        } else if row.details_submitted {
            AccountStatus::Restricted
        } else {
            AccountStatus::Onboarding
        };
        Self { status, payouts_enabled: row.payouts_enabled, requirements_due: row.requirements_due }
    }
}

/// The seller's money in one currency, in minor units.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct CurrencyTotals {
    currency: String,
    /// Shares of sales not transferred yet: waiting for the event to start, or for the account.
    pending: i64,
    /// Shares transferred to the account (refunded sales' reversed transfers excluded).
    paid: i64,
}

/// Your connected account and where your money stands.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct PayoutsView {
    account: AccountView,
    totals: Vec<CurrencyTotals>,
    /// The platform's fee, a percentage of each ticket's price.
    platform_fee_percent: String,
}

/// Where to send the seller to onboard.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct OnboardingLink {
    /// Stripe's hosted onboarding, good for one visit and a few minutes.
    url: String,
}

/// A sale's share as its seller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ShareStatus {
    /// Transferred when the event starts and refunds close.
    Pending,
    /// Due, waiting for the seller's account to be ready.
    AwaitingAccount,
    Paid,
    /// Refunded before it was transferred.
    Cancelled,
    /// Refunded after the transfer, which was taken back.
    Reversed,
}

/// How a sale's price splits, and where the seller's share stands, in minor units.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ShareView {
    pub platform_fee: i64,
    pub seller_share: i64,
    pub status: ShareStatus,
    /// When the share is (or was) due.
    pub due_at: chrono::DateTime<chrono::Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub transferred_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The share is due and a transfer failed; it is retried.
    pub delayed: bool,
}

impl From<PayoutRow> for ShareView {
    fn from(row: PayoutRow) -> Self {
        let status = match row.status() {
            PayoutStatus::Pending => ShareStatus::Pending,
            PayoutStatus::AwaitingAccount => ShareStatus::AwaitingAccount,
            PayoutStatus::Paid => ShareStatus::Paid,
            PayoutStatus::Cancelled => ShareStatus::Cancelled,
            PayoutStatus::Reversed => ShareStatus::Reversed,
        };
        Self {
            delayed: status == ShareStatus::Pending && row.last_error.is_some(),
            platform_fee: row.platform_fee,
            seller_share: row.seller_share,
            status,
            due_at: row.due_at,
            transferred_at: row.transferred_at,
        }
    }
}

pub struct PayoutsApi;

#[OpenApi(tag = "ApiTags::Sales")]
impl PayoutsApi {
    /// Your connected account (whether payouts are enabled) and your pending and paid shares.
    #[oai(path = "/payouts", method = "get", operation_id = "get_payouts")]
    async fn get(&self, state: Data<&Arc<AppState>>, auth: SessionAuth) -> Result<Json<PayoutsView>, ApiError> {
        let who = auth.user(&state).await?;
        let account =
            super::onboarding::current(state.payments.as_deref(), &state.pool, who.user_id, state.now()).await?;
        let totals = {
            let mut conn = db::conn(&state.pool).await.map_err(PayoutsError::from)?;
            ledger::totals_for_seller(&mut conn, who.user_id).await.map_err(PayoutsError::from)?
        };
        Ok(Json(PayoutsView {
            account: AccountView::new(account),
            totals: totals
                .into_iter()
                .map(|total| CurrencyTotals { currency: total.currency, pending: total.pending, paid: total.paid })
                .collect(),
            platform_fee_percent: state.config.payouts.platform_fee.percent(),
        }))
    }

    /// Start or continue setting up payouts: opens your Stripe connected account (once) and returns
    /// a link to Stripe's onboarding, which brings you back to your sales page.
    #[oai(path = "/payouts/onboarding", method = "post", operation_id = "start_payout_onboarding")]
    async fn onboarding(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
    ) -> Result<Json<OnboardingLink>, ApiError> {
        let who = auth.user(&state).await?;
        let payments = state.payments.as_deref().ok_or(PayoutsError::NotConfigured)?;
        let url = super::onboarding::onboarding_link(
            payments,
            &state.pool,
            who.user_id,
            &state.config.public_url,
            state.now(),
        )
        .await?;
        Ok(Json(OnboardingLink { url }))
    }
}
