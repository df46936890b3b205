//! Transferring a seller's share once it falls due, exactly once whatever fails.
//!
//! Each attempt is claimed on the ledger row first (`attempt_started_at`, counted in
//! `transfer_attempts`), so two workers never make one each; it has a key of its own
//! (`transfer:<n>`), stored before the call. Before an attempt, Stripe's list of the order's
//! transfer group says whether an earlier one went through (its answer lost to a timeout, a dropped
//! connection or a crash), and if one did it is recorded instead. A claim whose attempt got no answer
//! is left to run out ([`CLAIM`], longer than any call can take) before that list is read, so the
//! list cannot miss a transfer still being made. A definite refusal (an account Stripe restricted)
//! ends the attempt at once; the outbox retries and, after its attempts, parks the delivery for an
//! operator, and the ledger row keeps the last error.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stripe_gateway::{GatewayError, TransferRequest, TransferSnapshot};
use uuid::Uuid;

use super::accounts;
use super::ledger::{self, PayoutStatus};
use super::{PayoutsError, Step};
use crate::db::schema::payouts;
use crate::db::{self, DbPool};
use crate::orders::store as orders;
use crate::outbox::{self, Event};
use crate::payments::{Payments, keys};

/// How long an attempt is someone's: longer than the calls it makes can take (each times out after
/// 20 seconds, with at most two retries of a read).
pub const CLAIM: TimeDelta = TimeDelta::minutes(5);

/// What the claim found.
enum Claim {
    Settled(Step),
    /// Transferred, but the sale was refunded and the transfer is not yet taken back.
    TakeBack,
    Attempt {
        attempt: i32,
        destination: String,
        share: i64,
        currency: String,
        intent_id: Option<String>,
    },
}

pub async fn transfer_share(
    payments: &Payments,
    pool: &DbPool,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Step, PayoutsError> {
    let claim = {
        let mut conn = db::conn(pool).await?;
        conn.transaction(async |conn| claim(conn, order_id, now).await).await?
    };
    let (attempt, destination, share, currency, intent_id) = match claim {
        Claim::Settled(step) => return Ok(step),
        Claim::TakeBack => return Box::pin(super::reversal::take_back_share(payments, pool, order_id, now)).await,
        Claim::Attempt { attempt, destination, share, currency, intent_id } => {
            (attempt, destination, share, currency, intent_id)
        }
    };
    let group = stripe_gateway::transfer_group(&order_id.to_string());
    // The funds come from the order's charge: the transfer waits for them and cannot exceed it.
    let charge = match &intent_id {
        Some(intent) => match payments.gateway.retrieve_intent(intent).await {
            Ok(intent) => intent.charge_id,
            Err(err) => return Err(unanswered(pool, order_id, err).await),
        },
        None => None,
    };
    let made = match payments.gateway.transfers_in_group(&group).await {
        Ok(transfers) => transfers.into_iter().find(|transfer| transfer.destination == destination),
        Err(err) => return Err(unanswered(pool, order_id, err).await),
    };
    if let Some(transfer) = made {
        record_paid(payments, pool, order_id, &transfer, now).await?;
        return Ok(Step::Done);
    }
    let key = keys::idempotency_key(pool, order_id, &format!("transfer:{attempt}"), now).await?;
    let request = TransferRequest {
        amount: share,
        currency: &currency,
        destination: &destination,
        transfer_group: &group,
        source_charge: charge.as_deref(),
        order_id: &order_id.to_string(),
    };
    match payments.gateway.create_transfer(request, &key).await {
        Ok(transfer) => {
            record_paid(payments, pool, order_id, &transfer, now).await?;
            Ok(Step::Done)
        }
        Err(err) if !is_definite(&err) => Err(unanswered(pool, order_id, err).await),
        Err(err) => {
            // A definite no: this attempt is over, and the next one may start when the outbox retries.
            let reason = err.to_string();
            let mut conn = db::conn(pool).await?;
            // Only this attempt's claim: one that outlived it must not end a newer one.
            diesel::update(payouts::table.find(order_id).filter(payouts::transfer_attempts.eq(attempt)))
                .set((
                    payouts::attempt_started_at.eq(None::<DateTime<Utc>>),
                    payouts::last_error.eq(Some(&reason)),
                    payouts::updated_at.eq(now),
                ))
                .execute(&mut conn)
                .await?;
            tracing::warn!(%order_id, error = %reason, "Stripe refused the transfer of a seller's share");
            Err(err.into())
        }
    }
}

/// Whether Stripe's answer says for sure that no transfer was made: not a lost answer, a 5xx (which
/// Stripe documents as "may have been processed"), an unreadable one, or a request with the same key
/// still running.
fn is_definite(err: &GatewayError) -> bool {
    match err {
        GatewayError::Unreachable(_) | GatewayError::Protocol(_) => false,
        GatewayError::Rejected { status, .. } => *status < 500 && *status != 409,
        GatewayError::Declined { .. } | GatewayError::Invalid(_) => true,
    }
}

/// An attempt without an answer keeps its claim until [`CLAIM`] runs out; only the error is noted.
async fn unanswered(pool: &DbPool, order_id: Uuid, err: GatewayError) -> PayoutsError {
    let reason = err.to_string();
    if let Ok(mut conn) = db::conn(pool).await {
        let noted = diesel::update(payouts::table.find(order_id))
            .set(payouts::last_error.eq(Some(&reason)))
            .execute(&mut conn)
            .await;
        if let Err(db_err) = noted {
            tracing::warn!(%order_id, error = %db_err, "could not note a transfer's error");
        }
    }
    err.into()
}

/// Decides, under the order's and the ledger row's locks, whether an attempt may start, and claims it.
async fn claim(conn: &mut AsyncPgConnection, order_id: Uuid, now: DateTime<Utc>) -> Result<Claim, PayoutsError> {
    let Some(order) = orders::find_for_update(conn, order_id).await? else {
        return Ok(Claim::Settled(Step::Done));
    };
    let Some(seller_id) = ledger::seller_of(conn, order_id).await? else {
        return Ok(Claim::Settled(Step::Done));
    };
    // Lock order: the order, the seller's account (shared: an `account.updated` commits before this
    // claim reads it, or waits and then finds the share waiting for it), the ledger row.
    let account = accounts::find_for_share(conn, seller_id).await?;
    let Some(payout) = ledger::find_for_update(conn, order_id).await? else {
        return Ok(Claim::Settled(Step::Done));
    };
    match payout.status() {
        // A transfer recorded for a sale refunded meanwhile whose reversal failed: this delivery's
        // retries take it back.
        PayoutStatus::Paid if order.status == "refunded" => return Ok(Claim::TakeBack),
        PayoutStatus::Paid | PayoutStatus::Cancelled | PayoutStatus::Reversed => return Ok(Claim::Settled(Step::Done)),
        PayoutStatus::Pending | PayoutStatus::AwaitingAccount => {}
    }
    if order.status == "refunded" && payout.transfer_attempts == 0 {
        set_status(conn, order_id, PayoutStatus::Cancelled, now).await?;
        return Ok(Claim::Settled(Step::Done));
    }
    if order.status == "refunded" {
        // An earlier attempt may have gone through: the reversal consumer finds out and takes it back.
        return Ok(Claim::Settled(Step::Done));
    }
    if order.refund_requested_at.is_some() {
        return Ok(Claim::Settled(Step::Busy("a refund of this order is in flight")));
    }
    if order.dispute_status.as_deref() == Some("open") {
        // The bank may take the money back: nothing goes to the seller until the dispute is decided.
        return Ok(Claim::Settled(Step::Busy("the buyer's bank disputes this payment")));
    }
    if payout.due_at > now {
        // Early (an operator's retry): due again at its time.
        let event = Event::PayoutDue { order_id, seller_id: payout.seller_id };
        outbox::record_due(conn, &event, now, payout.due_at).await?;
        return Ok(Claim::Settled(Step::Done));
    }
    if payout.attempt_started_at.is_some_and(|started| started + CLAIM > now) {
        return Ok(Claim::Settled(Step::Busy("a transfer attempt is in flight")));
    }
    let Some(destination) = account.filter(|account| account.can_receive()).and_then(|a| a.stripe_account_id) else {
        // Waits for the seller's account: `account.updated` puts it back in line.
        set_status(conn, order_id, PayoutStatus::AwaitingAccount, now).await?;
        return Ok(Claim::Settled(Step::Done));
    };
    let attempt = payout.transfer_attempts + 1;
    diesel::update(payouts::table.find(order_id))
        .set((
            payouts::status.eq(PayoutStatus::Pending.as_str()),
            payouts::transfer_attempts.eq(attempt),
            payouts::attempt_started_at.eq(Some(now)),
            payouts::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(Claim::Attempt {
        attempt,
        destination,
        share: payout.seller_share,
        currency: payout.currency,
        intent_id: order.payment_intent_id,
    })
}

pub(super) async fn set_status(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    status: PayoutStatus,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(payouts::table.find(order_id))
        .set((payouts::status.eq(status.as_str()), payouts::updated_at.eq(now)))
        .execute(conn)
        .await
}

/// Records the transfer that stands for this order's share (its attempt is over). A share cancelled
/// meanwhile (the order was refunded while an attempt outlived its claim) is recorded as paid too,
/// and then taken back like any refunded sale's.
pub(super) async fn record_paid(
    payments: &Payments,
    pool: &DbPool,
    order_id: Uuid,
    transfer: &TransferSnapshot,
    now: DateTime<Utc>,
) -> Result<(), PayoutsError> {
    let recorded = {
        let mut conn = db::conn(pool).await?;
        let paid = || {
            (
                payouts::status.eq(PayoutStatus::Paid.as_str()),
                payouts::transfer_id.eq(Some(&transfer.id)),
                payouts::transferred_at.eq(Some(now)),
                payouts::attempt_started_at.eq(None::<DateTime<Utc>>),
                payouts::last_error.eq(None::<String>),
                payouts::updated_at.eq(now),
            )
        };
        let waiting = [PayoutStatus::Pending.as_str(), PayoutStatus::AwaitingAccount.as_str()];
        let recorded = diesel::update(payouts::table.find(order_id).filter(payouts::status.eq_any(waiting)))
            .set(paid())
            .execute(&mut conn)
            .await?;
        if recorded == 0 {
            let cancelled = PayoutStatus::Cancelled.as_str();
            diesel::update(payouts::table.find(order_id).filter(payouts::status.eq(cancelled)))
                .set(paid())
                .execute(&mut conn)
                .await?
                == 1
        } else {
            false
        }
    };
    if recorded {
        tracing::error!(%order_id, transfer = %transfer.id, "a refunded sale's share was transferred; reversing it");
        Box::pin(super::reversal::take_back_share(payments, pool, order_id, now)).await?;
    }
    Ok(())
}
