//! Waitlists: a signed-in buyer joins the line for a held listing; when the hold ends without a sale
//! (it lapsed, or its buyer let it go), or a refunded sale puts the listing back with a ticket file
//! again, the ticket does not go back on the market while someone waits: [`offer`] gives the first in
//! line who may hold it (not its seller, under the hold limit) a hold of their own at once, in the
//! same transaction, with the hold's usual length, and records `waitlist.offered` (their email). If
//! they do not pay, the next in line gets it the same way; only when nobody in line can take it does
//! it return to the market, and the line is emptied. Editing or deleting a listing empties its line.

pub mod api;
pub mod store;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::config::OrderPolicy;
use crate::db::schema::{orders, tickets};
use crate::db::{self, DbError, DbPool};
use crate::listings::domain::TicketStatus;
use crate::listings::store as listings_store;
use crate::money::TaxRate;
use crate::outbox::{self, Event};

#[derive(Debug, thiserror::Error)]
pub enum WaitlistError {
    #[error("no such listing")]
    NotFound,
    #[error("your own listing")]
    OwnListing,
    #[error("you hold this ticket")]
    YoursAlready,
    #[error("the listing is not held")]
    NotHeld,
    #[error("not in line")]
    NotInLine,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for WaitlistError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

/// Where someone stands in a listing's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// 1 for the first in line; none when not in it.
    pub place: Option<i64>,
    pub waiting: i64,
    /// The caller's order holding the ticket now (handed over from the line, or reserved).
    pub holding: Option<Uuid>,
}

/// Writes the rules of this server's holds where a hand-over in any transaction finds them.
pub async fn publish_rules(pool: &DbPool, policy: &OrderPolicy) -> Result<(), DbError> {
    let rules = store::HoldRules {
        hold_seconds: i64::try_from(policy.hold.as_secs()).unwrap_or(i64::MAX).max(1),
        max_live_holds: policy.max_live_holds,
        tax_milli_percent: policy.tax_rate.milli_percent(),
    };
    let mut conn = db::conn(pool).await?;
    Ok(store::write_rules(&mut conn, rules).await?)
}

/// Tries [`publish_rules`] every second until it succeeds or `stopped` resolves.
pub async fn publish_rules_until_recorded(pool: DbPool, policy: OrderPolicy, stopped: impl Future<Output = ()>) {
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        if publish_rules(&pool, &policy).await.is_ok() {
            tracing::info!("recorded the hold rules for waitlist hand-overs");
            return;
        }
    }
}

/// `user_id` joins the line for the held listing `ticket_id`.
pub async fn join(
    pool: &DbPool,
    user_id: Uuid,
    ticket_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Standing, WaitlistError> {
    let mut conn = db::conn(pool).await?;
    conn.transaction(async |conn| {
        // The ticket's lock orders this with a hand-over, which takes the line under it.
        let ticket = listings_store::find_for_update(conn, ticket_id).await?.ok_or(WaitlistError::NotFound)?;
        if ticket.owner_id == user_id {
            return Err(WaitlistError::OwnListing);
        }
        if ticket.status_at(now) != TicketStatus::Held {
            return Err(WaitlistError::NotHeld);
        }
        let holder: Option<Uuid> = match ticket.hold_order_id {
            Some(order) => orders::table.find(order).select(orders::buyer_id).first(conn).await.optional()?,
            None => None,
        };
        if holder == Some(user_id) {
            return Err(WaitlistError::YoursAlready);
        }
        store::join(conn, ticket_id, user_id, now).await?;
        standing_in(conn, &ticket, user_id, now).await
    })
    .await
}

/// `user_id` leaves the line.
pub async fn leave(pool: &DbPool, user_id: Uuid, ticket_id: Uuid) -> Result<(), WaitlistError> {
    let mut conn = db::conn(pool).await?;
    if store::leave(&mut conn, ticket_id, user_id).await? { Ok(()) } else { Err(WaitlistError::NotInLine) }
}

/// Where `user_id` stands in the line, and how many wait.
pub async fn standing(
    pool: &DbPool,
    user_id: Uuid,
    ticket_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Standing, WaitlistError> {
    let mut conn = db::conn(pool).await?;
    let ticket = listings_store::find_any(&mut conn, ticket_id)
        .await?
        .filter(|ticket| ticket.deleted_at.is_none())
        .ok_or(WaitlistError::NotFound)?;
    standing_in(&mut conn, &ticket, user_id, now).await
}

async fn standing_in(
    conn: &mut AsyncPgConnection,
    ticket: &crate::listings::TicketRow,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Standing, WaitlistError> {
    let line = store::line(conn, ticket.id).await?;
    let place = line.iter().position(|waiting| *waiting == user_id).and_then(|at| i64::try_from(at + 1).ok());
    let holding = match ticket.hold_order_id.filter(|_| ticket.status_at(now) == TicketStatus::Held) {
        Some(order) => orders::table
            .find(order)
            .filter(orders::buyer_id.eq(user_id))
            .select(orders::id)
            .first(conn)
            .await
            .optional()?,
        None => None,
    };
    Ok(Standing { place, waiting: i64::try_from(line.len()).unwrap_or(i64::MAX), holding })
}

/// Offers each of `ticket_ids` that someone waits for (see [`offer`]).
pub async fn offer_each(conn: &mut AsyncPgConnection, ticket_ids: &[Uuid], now: DateTime<Utc>) -> QueryResult<()> {
    if ticket_ids.is_empty() {
        return Ok(());
    }
    for ticket_id in store::awaited(conn, ticket_ids).await? {
        offer(conn, ticket_id, now).await?;
    }
    Ok(())
}

/// Hands the listing `ticket_id`, just back on the market in the caller's transaction (its old hold's
/// order already ended), to the first in its line who may hold it: their order, if one was made.
/// Nothing happens to a listing that is not for sale (no ticket file yet: its line waits for one) or
/// whose line is empty. A waiter who cannot hold it now (at the hold limit, or reserving something
/// else this instant) keeps their place for next time; when nobody can, the line is emptied (kept if a
/// waiter was only busy) and the listing stays on the market for all.
pub async fn offer(conn: &mut AsyncPgConnection, ticket_id: Uuid, now: DateTime<Utc>) -> QueryResult<Option<Uuid>> {
    let Some(ticket) = listings_store::find_for_update(conn, ticket_id).await? else {
        return Ok(None);
    };
    let Some(starts_at) = ticket.event_starts_at else {
        return Ok(None);
    };
    if ticket.status != "available" || ticket.file_key.is_none() {
        return Ok(None);
    }
    let line = store::line(conn, ticket_id).await?;
    if line.is_empty() {
        return Ok(None);
    }
    let Some(rules) = store::rules(conn).await? else {
        // Every server records them when it starts, or as soon as the database answers.
        tracing::error!(%ticket_id, "no hold rules are recorded yet: the listing goes back on the market");
        return Ok(None);
    };
    if starts_at <= now {
        store::clear(conn, ticket_id).await?;
        return Ok(None);
    }
    // A waiter reserving something else at this instant keeps the line: they may take it next time.
    let mut busy = false;
    for waiter in line {
        if waiter == ticket.owner_id {
            store::leave(conn, ticket_id, waiter).await?;
            continue;
        }
        if !store::try_lock_buyer(conn, waiter).await? {
            busy = true;
            continue;
        }
        let live: i64 = orders::table
            .filter(orders::buyer_id.eq(waiter))
            .filter(orders::status.eq_any(crate::orders::store::HOLDING))
            .filter(orders::expires_at.gt(now))
            .count()
            .get_result(conn)
            .await?;
        if live >= rules.max_live_holds {
            continue;
        }
        let order_id = Uuid::new_v4();
        let expires_at = (now + TimeDelta::seconds(rules.hold_seconds)).min(starts_at);
        let held = diesel::update(tickets::table.find(ticket_id).filter(tickets::status.eq("available")))
            .set((
                tickets::status.eq("held"),
                tickets::held_until.eq(Some(expires_at)),
                tickets::hold_order_id.eq(Some(order_id)),
                tickets::version.eq(tickets::version + 1),
                tickets::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        if held != 1 {
            return Ok(None);
        }
        let tax = TaxRate::from_milli_percent(rules.tax_milli_percent).of(ticket.price);
        diesel::insert_into(orders::table)
            .values((
                orders::id.eq(order_id),
                orders::buyer_id.eq(waiter),
                orders::ticket_id.eq(ticket_id),
                orders::ticket_title.eq(&ticket.event_name),
                orders::price.eq(ticket.price),
                orders::tax.eq(tax),
                orders::total.eq(ticket.price + tax),
                orders::currency.eq(&ticket.currency),
                orders::status.eq("created"),
                orders::expires_at.eq(expires_at),
                orders::version.eq(1),
                orders::created_at.eq(now),
                orders::updated_at.eq(now),
                orders::event_starts_at.eq(Some(starts_at)),
            ))
            .execute(conn)
            .await?;
        store::leave(conn, ticket_id, waiter).await?;
        let events = [
            Event::OrderCreated { order_id, ticket_id, buyer_id: waiter, expires_at, version: 1 },
            Event::WaitlistOffered { order_id, ticket_id, buyer_id: waiter, expires_at },
        ];
        outbox::record_all(conn, &events, now).await?;
        return Ok(Some(order_id));
    }
    if !busy {
        store::clear(conn, ticket_id).await?;
    }
    Ok(None)
}
