//! Taking a refunded sale's share back: cancelled if it was never transferred, reversed at Stripe if
//! it was. Stripe never reverses more than was transferred, so each attempt may carry a fresh key;
//! before one, the transfer is read back, and a transfer already reversed is recorded as such.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::ledger::{self, PayoutStatus};
use super::transfer::{CLAIM, record_paid, set_status};
use super::{PayoutsError, Step};
use crate::db::schema::payouts;
use crate::db::{self, DbPool};
use crate::orders::store as orders;
use crate::payments::{Payments, keys};

enum Found {
    Settled(Step),
    /// An attempt was made but none is recorded: Stripe's list says whether it went through.
    LookUp {
        seller_share: i64,
    },
    Transferred {
        transfer_id: String,
    },
}

pub async fn take_back_share(
    payments: &Payments,
    pool: &DbPool,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Step, PayoutsError> {
    let found = {
        let mut conn = db::conn(pool).await?;
        conn.transaction(async |conn| inspect(conn, order_id, now).await).await?
    };
    let transfer_id = match found {
        Found::Settled(step) => return Ok(step),
        Found::Transferred { transfer_id } => transfer_id,
        Found::LookUp { seller_share } => {
            let group = stripe_gateway::transfer_group(&order_id.to_string());
            let made = payments.gateway.transfers_in_group(&group).await?;
            match made.into_iter().find(|made| made.amount == seller_share) {
                Some(made) => {
                    record_paid(payments, pool, order_id, &made, now).await?;
                    made.id
                }
                None => {
                    let mut conn = db::conn(pool).await?;
                    set_status(&mut conn, order_id, PayoutStatus::Cancelled, now).await?;
                    return Ok(Step::Done);
                }
            }
        }
    };
    let standing = payments.gateway.retrieve_transfer(&transfer_id).await?;
    let reversal_id = if standing.fully_reversed() {
        <[String]>::first(&standing.reversal_ids).cloned().unwrap_or_else(|| format!("{transfer_id}/reversed"))
    } else {
        let key = keys::attempt_key(pool, order_id, "reverse_transfer", now).await?;
        payments.gateway.reverse_transfer(&transfer_id, &key).await?.id
    };
    let mut conn = db::conn(pool).await?;
    diesel::update(payouts::table.find(order_id).filter(payouts::status.eq(PayoutStatus::Paid.as_str())))
        .set((
            payouts::status.eq(PayoutStatus::Reversed.as_str()),
            payouts::reversal_id.eq(Some(&reversal_id)),
            payouts::reversed_at.eq(Some(now)),
            payouts::updated_at.eq(now),
        ))
        .execute(&mut conn)
        .await?;
    tracing::info!(%order_id, transfer = %transfer_id, reversal = %reversal_id, "reversed a refunded sale's transfer");
    Ok(Step::Done)
}

async fn inspect(conn: &mut AsyncPgConnection, order_id: Uuid, now: DateTime<Utc>) -> Result<Found, PayoutsError> {
    // Lock order: order, then its ledger row (as the transfer takes them).
    if orders::find_for_update(conn, order_id).await?.is_none() {
        return Ok(Found::Settled(Step::Done));
    }
    let Some(payout) = ledger::find_for_update(conn, order_id).await? else {
        // Refunded before it was ever sold (a late payment), or sold before the ledger existed.
        return Ok(Found::Settled(Step::Done));
    };
    Ok(match payout.status() {
        PayoutStatus::Cancelled | PayoutStatus::Reversed => Found::Settled(Step::Done),
        PayoutStatus::Paid => Found::Transferred { transfer_id: payout.transfer_id.unwrap_or_default() },
        PayoutStatus::Pending | PayoutStatus::AwaitingAccount
            if payout.attempt_started_at.is_some_and(|started| started + CLAIM > now) =>
        {
            Found::Settled(Step::Busy("a transfer attempt is in flight"))
        }
        PayoutStatus::Pending | PayoutStatus::AwaitingAccount if payout.transfer_attempts > 0 => {
            Found::LookUp { seller_share: payout.seller_share }
        }
        PayoutStatus::Pending | PayoutStatus::AwaitingAccount => {
            set_status(conn, order_id, PayoutStatus::Cancelled, now).await?;
            Found::Settled(Step::Done)
        }
    })
}
