//! A seller's connected account: created once (its key stored first), onboarded through Stripe's
//! hosted pages, and kept current by `account.updated`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stripe_gateway::{AccountSnapshot, GatewayError};
use uuid::Uuid;

use super::PayoutsError;
use super::accounts::{self, SellerAccountRow};
use crate::db::schema::{payouts, users};
use crate::db::{self, DbPool};
use crate::outbox::{self, Event};
use crate::payments::Payments;

/// Where Stripe sends the seller back to: the sales page, which shows where the account stands.
const RETURN_PATH: &str = "/sales";
/// Where Stripe sends a seller whose link expired: the sales page, where "Get paid" makes a new one.
const REFRESH_PATH: &str = "/sales";

/// A link to Stripe's onboarding for the seller's connected account, made first if need be.
pub async fn onboarding_link(
    payments: &Payments,
    pool: &DbPool,
    seller_id: Uuid,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<String, PayoutsError> {
    let (row, email) = {
        let mut conn = db::conn(pool).await?;
        let row = accounts::find_or_start(&mut conn, seller_id, now).await?;
        let email: String = users::table.find(seller_id).select(users::email).first(&mut conn).await?;
        (row, email)
    };
    let account_id = match row.stripe_account_id {
        Some(id) => id,
        None => {
            let user_id = seller_id.to_string();
            let account = match payments.gateway.create_connected_account(&email, &user_id, &row.create_key).await {
                Ok(account) => account,
                // A definite no: Stripe would replay it under this key for a day, so the next try
                // gets a key of its own.
                Err(err @ GatewayError::Rejected { status: 400..=408 | 410..=499, .. }) if !is_key_misuse(&err) => {
                    let mut conn = db::conn(pool).await?;
                    accounts::renew_key(&mut conn, seller_id, &row.create_key, now).await?;
                    return Err(err.into());
                }
                Err(err) => return Err(err.into()),
            };
            let mut conn = db::conn(pool).await?;
            let row = accounts::set_account(&mut conn, seller_id, &account, now).await?;
            row.stripe_account_id.unwrap_or(account.id)
        }
    };
    // A link creates nothing lasting and is good for one visit: each gets a fresh key.
    let key = format!("seller/{seller_id}/account_link/{}", Uuid::new_v4().simple());
    let (refresh, back) = (format!("{public_url}{REFRESH_PATH}"), format!("{public_url}{RETURN_PATH}"));
    Ok(payments.gateway.create_onboarding_link(&account_id, &refresh, &back, &key).await?)
}

/// Stripe refused the key itself (used with other parameters): a new key could open a second account.
fn is_key_misuse(err: &GatewayError) -> bool {
    matches!(err, GatewayError::Rejected { code, message, .. }
        if code.as_deref().is_some_and(|code| code.starts_with("idempotency")) || message.contains("dempotent"))
}

/// The seller's account as we know it. One not yet able to take transfers is asked of Stripe first,
/// so a seller back from onboarding sees it at once, whenever the webhook arrives.
pub async fn current(
    payments: Option<&Payments>,
    pool: &DbPool,
    seller_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<SellerAccountRow>, PayoutsError> {
    let row = {
        let mut conn = db::conn(pool).await?;
        accounts::find(&mut conn, seller_id).await?
    };
    let (Some(payments), Some(known)) = (payments, row.as_ref()) else { return Ok(row) };
    let Some(account_id) = known.stripe_account_id.as_deref().filter(|_| !known.can_receive()) else {
        return Ok(row);
    };
    match payments.gateway.retrieve_account(account_id).await {
        Ok(account) => {
            let mut conn = db::conn(pool).await?;
            let updated = conn.transaction(async |conn| account_changed(conn, &account, now).await).await?;
            Ok(updated.or(row))
        }
        Err(err) => {
            tracing::warn!(%seller_id, error = %err, "could not ask Stripe about a connected account");
            Ok(row)
        }
    }
}

/// Records what Stripe says of a connected account, inside the caller's transaction. When it can
/// take transfers, the seller's shares that were waiting for it fall due now. Returns the seller's
/// row, if the account is one of ours.
pub async fn account_changed(
    conn: &mut AsyncPgConnection,
    account: &AccountSnapshot,
    now: DateTime<Utc>,
) -> QueryResult<Option<SellerAccountRow>> {
    let Some(row) = accounts::apply(conn, account, now).await? else { return Ok(None) };
    if row.can_receive() {
        let waiting: Vec<Uuid> = diesel::update(
            payouts::table.filter(payouts::seller_id.eq(row.user_id)).filter(payouts::status.eq("awaiting_account")),
        )
        .set((payouts::status.eq("pending"), payouts::updated_at.eq(now)))
        .returning(payouts::order_id)
        .get_results(conn)
        .await?;
        let due: Vec<Event> =
            waiting.into_iter().map(|order_id| Event::PayoutDue { order_id, seller_id: row.user_id }).collect();
        outbox::record_all(conn, &due, now).await?;
    }
    Ok(Some(row))
}
