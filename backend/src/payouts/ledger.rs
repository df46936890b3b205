//! The payouts ledger: one row per completed order saying how its total splits (price and tax; the
//! price into the platform's fee and the seller's share) and where the seller's share stands. The
//! database refuses a row whose parts do not add up to the order's total (`payouts_parts_add_up` and
//! the foreign key on the order's amounts).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::PayoutTerms;
use crate::db::schema::payouts;
use crate::orders::OrderRow;
use crate::outbox::{self, Event};

/// Where a seller's share stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutStatus {
    /// Waiting for the buyer's refund window to close (`due_at`).
    Pending,
    /// Due, but the seller's connected account cannot take transfers yet.
    AwaitingAccount,
    /// Transferred to the seller's account.
    Paid,
    /// The sale was refunded before any transfer.
    Cancelled,
    /// The sale was refunded after the transfer, which was reversed.
    Reversed,
}

impl PayoutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingAccount => "awaiting_account",
            Self::Paid => "paid",
            Self::Cancelled => "cancelled",
            Self::Reversed => "reversed",
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "awaiting_account" => Self::AwaitingAccount,
            "paid" => Self::Paid,
            "cancelled" => Self::Cancelled,
            "reversed" => Self::Reversed,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payouts)]
pub struct PayoutRow {
    pub order_id: Uuid,
    pub seller_id: Uuid,
    pub currency: String,
    pub total: i64,
    pub price: i64,
    pub tax: i64,
    pub fee_milli_percent: i32,
    pub platform_fee: i64,
    pub seller_share: i64,
    pub status: String,
    pub due_at: DateTime<Utc>,
    pub transfer_attempts: i32,
    pub attempt_started_at: Option<DateTime<Utc>>,
    pub transfer_id: Option<String>,
    pub transferred_at: Option<DateTime<Utc>>,
    pub reversal_id: Option<String>,
    pub reversed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl PayoutRow {
    pub fn status(&self) -> PayoutStatus {
        PayoutStatus::parse(&self.status)
    }
}

/// Records the sale of `order` by `seller_id`, completed now, inside the caller's transaction (the
/// one that completes the order), with the `payout.due` event that falls due when the refund window
/// closes. A second call for the same order changes nothing.
pub async fn record_sale(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    seller_id: Uuid,
    terms: &PayoutTerms,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let split = terms.split(order.price);
    let due_at = terms.due_at(order.event_starts_at, now);
    let inserted = diesel::insert_into(payouts::table)
        .values((
            payouts::order_id.eq(order.id),
            payouts::seller_id.eq(seller_id),
            payouts::currency.eq(&order.currency),
            payouts::total.eq(order.total),
            payouts::price.eq(order.price),
            payouts::tax.eq(order.tax),
            payouts::fee_milli_percent.eq(i32::try_from(terms.platform_fee.milli_percent()).unwrap_or(i32::MAX)),
            payouts::platform_fee.eq(split.platform_fee),
            payouts::seller_share.eq(split.seller_share),
            payouts::due_at.eq(due_at),
            payouts::created_at.eq(now),
            payouts::updated_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        outbox::record_due(conn, &Event::PayoutDue { order_id: order.id, seller_id }, now, due_at).await?;
    }
    Ok(())
}

/// The seller whose share the order's row is (never changes, so read without a lock).
pub async fn seller_of(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<Option<Uuid>> {
    payouts::table.find(order_id).select(payouts::seller_id).first(conn).await.optional()
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<Option<PayoutRow>> {
    payouts::table.find(order_id).select(PayoutRow::as_select()).for_update().first(conn).await.optional()
}

/// The ledger rows of these orders.
pub async fn for_orders(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<PayoutRow>> {
    payouts::table.filter(payouts::order_id.eq_any(order_ids)).select(PayoutRow::as_select()).load(conn).await
}

/// How much of a seller's money stands where, per currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerTotals {
    pub currency: String,
    /// Shares not transferred yet (waiting for the refund window or for the seller's account).
    pub pending: i64,
    /// Shares transferred and not reversed.
    pub paid: i64,
}

pub async fn totals_for_seller(conn: &mut AsyncPgConnection, seller_id: Uuid) -> QueryResult<Vec<SellerTotals>> {
    // PostgreSQL sums bigints as numeric; a seller's shares fit a bigint.
    let share_sum = diesel::dsl::sql::<diesel::sql_types::BigInt>("SUM(seller_share)::bigint");
    let grouped: Vec<(String, String, i64)> = payouts::table
        .filter(payouts::seller_id.eq(seller_id))
        .filter(payouts::status.eq_any(["pending", "awaiting_account", "paid"]))
        .group_by((payouts::currency, payouts::status))
        .select((payouts::currency, payouts::status, share_sum))
        .load(conn)
        .await?;
    let mut totals: Vec<SellerTotals> = Vec::new();
    for (currency, status, amount) in grouped {
        let index = match totals.iter().position(|total| total.currency == currency) {
            Some(index) => index,
            None => {
                totals.push(SellerTotals { currency: currency.clone(), pending: 0, paid: 0 });
                totals.len() - 1
            }
        };
        match PayoutStatus::parse(&status) {
            PayoutStatus::Paid => totals[index].paid += amount,
            _ => totals[index].pending += amount,
        }
    }
    totals.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(totals)
}
