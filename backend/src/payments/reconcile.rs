//! Reconciliation: asks Stripe about payments we have not heard the end of, and settles them by the
//! same rules as everything else. Catches what a lost webhook or a crash left behind.

use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::AsyncConnection;

use super::lapsed::{self, Resolution};
use super::refund::{RefundCaller, refund_order};
use super::{Payments, keys, settle};
use crate::db::{self, DbError, DbPool};
use crate::orders::store;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileReport {
    pub checked: usize,
    pub completed: usize,
    pub refunds_requested: usize,
    pub canceled: usize,
    pub refunds_finished: usize,
    pub failed: usize,
}

/// Checks every unsettled payment untouched for `after`.
pub async fn reconcile(
    payments: &Payments,
    pool: &DbPool,
    now: DateTime<Utc>,
    after: std::time::Duration,
) -> Result<ReconcileReport, DbError> {
    let before = now - TimeDelta::from_std(after).unwrap_or(TimeDelta::MAX);
    let mut report = ReconcileReport::default();
    let (unsettled, refunds) = {
        let mut conn = db::conn(pool).await?;
        (store::unsettled_intents(&mut conn, before, 100).await?, store::stalled_refunds(&mut conn, before, 100).await?)
    };
    for order in unsettled {
        report.checked += 1;
        let Some(intent_id) = order.payment_intent_id.as_deref() else { continue };
        if crate::orders::lapsed(&order, now) {
            // A hold that ended while its payment was in progress: the same question as at its end.
            match lapsed::resolve(payments, pool, order.id, now).await {
                Ok(Resolution::Released) => report.canceled += 1,
                Ok(Resolution::Settled) => report.completed += 1,
                Ok(Resolution::NothingToDo | Resolution::StillProcessing) => put_back(pool, order.id, now).await,
                Err(err) => {
                    tracing::warn!(order_id = %order.id, error = %err, "reconciliation could not resolve a lapsed hold");
                    report.failed += 1;
                    put_back(pool, order.id, now).await;
                }
            }
            continue;
        }
        let intent = match payments.gateway.retrieve_intent(intent_id).await {
            Ok(intent) if order.status == "cancelled" && intent.status.is_cancelable() => {
                let key = keys::attempt_key(pool, order.id, "cancel", now).await?;
                match payments.gateway.cancel_intent(intent_id, &key).await {
                    Ok(canceled) => {
                        report.canceled += 1;
                        canceled
                    }
                    Err(_) => intent,
                }
            }
            Ok(intent) => intent,
            Err(err) => {
                tracing::warn!(order_id = %order.id, error = %err, "reconciliation could not reach Stripe");
                report.failed += 1;
                put_back(pool, order.id, now).await;
                continue;
            }
        };
        let mut conn = db::conn(pool).await?;
        let settled =
            conn.transaction(async |conn| settle::settle(conn, order.id, &intent, &payments.terms, now).await).await?;
        match settled {
            settle::Settlement::Completed | settle::Settlement::CompletedLate => report.completed += 1,
            settle::Settlement::RefundRequested => report.refunds_requested += 1,
            settle::Settlement::Unchanged => put_back(pool, order.id, now).await,
        }
    }
    for order in refunds {
        report.checked += 1;
        match refund_order(payments, pool, order.id, RefundCaller::Resume, now).await {
            Ok(super::refund::RefundOutcome::Refunded(_)) => report.refunds_finished += 1,
            Ok(super::refund::RefundOutcome::Pending(_)) => put_back(pool, order.id, now).await,
            Err(err) => {
                tracing::warn!(order_id = %order.id, error = %err, "reconciliation could not finish a refund");
                report.failed += 1;
                put_back(pool, order.id, now).await;
            }
        }
    }
    Ok(report)
}

/// Sends an order reconciliation looked at and could not finish to the back of its line, so a few
/// that stay unsettled cannot starve the rest. A failure here only delays that.
async fn put_back(pool: &DbPool, order_id: uuid::Uuid, now: DateTime<Utc>) {
    let touched = match db::conn(pool).await {
        Ok(mut conn) => store::touch(&mut conn, order_id, now).await.map_err(DbError::from),
        Err(err) => Err(err),
    };
    if let Err(err) = touched {
        tracing::warn!(%order_id, error = %err, "could not note a reconciliation look");
    }
}
