//! The seller's side of the market: each of a seller's listings with where it stands (for sale, held,
//! sold, or not for sale yet and why) and what each sold for.

pub mod api;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::db::schema::orders;
use crate::db::{self, DbError, DbPool};
use crate::listings::{self, TicketRow};
use crate::payouts::ledger::{self, PayoutRow};

/// The most listings the sales page shows.
pub const MAX_LISTINGS: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum SalesError {
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for SalesError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

/// A completed sale of a listing.
#[derive(Debug, Clone, Queryable)]
pub struct Sale {
    pub order_id: Uuid,
    pub ticket_id: Uuid,
    /// What the buyer paid for the ticket, tax aside, in minor units.
    pub price: i64,
    pub currency: String,
    pub sold_at: Option<DateTime<Utc>>,
}

/// One of the seller's listings and, if it sold, the sale and the seller's share of it.
#[derive(Debug, Clone)]
pub struct SellerListing {
    pub ticket: TicketRow,
    pub sale: Option<Sale>,
    pub share: Option<PayoutRow>,
}

/// A sale that was refunded: its listing went back on the market, its share was cancelled or taken
/// back.
#[derive(Debug, Clone, Queryable)]
pub struct RefundedSale {
    pub order_id: Uuid,
    pub event_name: String,
    pub price: i64,
    pub currency: String,
    pub refunded_at: Option<DateTime<Utc>>,
    pub share: PayoutRow,
}

/// The seller's refunded sales, newest first (up to [`MAX_LISTINGS`]).
pub async fn refunded_for_seller(pool: &DbPool, seller_id: Uuid) -> Result<Vec<RefundedSale>, SalesError> {
    use crate::db::schema::payouts;
    let mut conn = db::conn(pool).await?;
    Ok(orders::table
        .inner_join(payouts::table)
        .filter(payouts::seller_id.eq(seller_id))
        .filter(orders::status.eq("refunded"))
        .order(orders::refunded_at.desc())
        .limit(MAX_LISTINGS)
        .select((
            orders::id,
            orders::ticket_title,
            orders::price,
            orders::currency,
            orders::refunded_at,
            PayoutRow::as_select(),
        ))
        .load(&mut conn)
        .await?)
}

/// The seller's listings (not deleted), newest first, with their sales.
pub async fn for_seller(pool: &DbPool, seller_id: Uuid) -> Result<Vec<SellerListing>, SalesError> {
    let mut conn = db::conn(pool).await?;
    let tickets = listings::store::list_for_owner(&mut conn, seller_id, MAX_LISTINGS).await?;
    let ids: Vec<Uuid> = tickets.iter().map(|ticket| ticket.id).collect();
    // One completed order per ticket at most (`orders_one_live_per_ticket`).
    let sales: Vec<Sale> = orders::table
        .filter(orders::ticket_id.eq_any(&ids))
        .filter(orders::status.eq("complete"))
        .select((orders::id, orders::ticket_id, orders::price, orders::currency, orders::completed_at))
        .load(&mut conn)
        .await?;
    let order_ids: Vec<Uuid> = sales.iter().map(|sale| sale.order_id).collect();
    let mut shares = ledger::for_orders(&mut conn, &order_ids).await?;
    Ok(tickets
        .into_iter()
        .map(|ticket| {
            let sale = sales.iter().find(|sale| sale.ticket_id == ticket.id).cloned();
            let share = sale.as_ref().and_then(|sale| {
                let index = shares.iter().position(|share| share.order_id == sale.order_id)?;
                Some(shares.swap_remove(index))
            });
            SellerListing { ticket, sale, share }
        })
        .collect())
}
