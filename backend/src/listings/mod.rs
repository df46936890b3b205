//! Listings: tickets put up for sale, their owners' edits, and the market's view of what is available.

pub mod api;
pub mod cursor;
pub mod domain;
pub mod store;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use domain::{Currency, Price, TicketStatus, Title};
pub use store::{ListFilter, TicketRow};

use crate::db::{self, DbError, DbPool};
use crate::outbox::{self, Event};
use crate::validation::{Collector, Invalid};

#[derive(Debug, thiserror::Error)]
pub enum ListingsError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("ticket not found")]
    NotFound,
    #[error("stale version; current is {current}")]
    StaleVersion { current: i32 },
    #[error("ticket is {status} and cannot be changed")]
    NotEditable { status: &'static str },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ListingsError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

/// The owner-editable fields of a listing, validated.
#[derive(Debug, Clone)]
pub struct TicketDraft {
    pub title: Title,
    pub price: Price,
    pub currency: Currency,
}

impl TicketDraft {
    pub fn parse(title: &str, price: i64, currency: Option<&str>) -> Result<Self, Invalid> {
        let mut errors = Collector::default();
        let title = errors.take(Title::parse(title));
        let price = errors.take(Price::parse(price));
        let currency = match currency {
            Some(code) => errors.take(Currency::parse(code)),
            None => Some(Currency::default_currency()),
        };
        if let (Some(price), Some(currency)) = (price, &currency) {
            errors.take(domain::chargeable(price, currency));
        }
        errors.finish()?;
        match (title, price, currency) {
            (Some(title), Some(price), Some(currency)) => Ok(Self { title, price, currency }),
            _ => Err(Invalid(vec![])),
        }
    }
}

pub async fn create(
    pool: &DbPool,
    owner_id: Uuid,
    draft: &TicketDraft,
    now: DateTime<Utc>,
) -> Result<TicketRow, ListingsError> {
    let mut conn = db::conn(pool).await?;
    let row = store::NewTicketRow {
        id: Uuid::new_v4(),
        owner_id,
        title: draft.title.as_str(),
        price: draft.price.minor_units(),
        currency: draft.currency.code(),
        created_at: now,
        updated_at: now,
    };
    let ticket = conn
        .transaction(async |conn| {
            let ticket = store::insert(conn, &row).await?;
            outbox::record(conn, &Event::TicketCreated { ticket_id: ticket.id, version: ticket.version }, now).await?;
            Ok::<_, ListingsError>(ticket)
        })
        .await?;
    Ok(ticket)
}

pub async fn get(pool: &DbPool, id: Uuid) -> Result<TicketRow, ListingsError> {
    let mut conn = db::conn(pool).await?;
    store::find(&mut conn, id).await?.ok_or(ListingsError::NotFound)
}

/// One page of the market and, when more follows, where the next page starts.
pub async fn list_available(
    pool: &DbPool,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> Result<(Vec<TicketRow>, Option<cursor::PageCursor>), ListingsError> {
    let mut conn = db::conn(pool).await?;
    Ok(store::list_available(&mut conn, filter, now).await?)
}

/// Locks the caller's own listing for a change, checking that it may change and that the caller saw its
/// latest version, and ends a lapsed hold on it. Another user's listing is reported as not found.
async fn lock_editable(
    conn: &mut diesel_async::AsyncPgConnection,
    owner_id: Uuid,
    id: Uuid,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<TicketRow, ListingsError> {
    let ticket =
        store::find_for_update(conn, id).await?.filter(|t| t.owner_id == owner_id).ok_or(ListingsError::NotFound)?;
    match ticket.status_at(now) {
        TicketStatus::Available => {}
        status => return Err(ListingsError::NotEditable { status: status.as_str() }),
    }
    if let Some(expected) = expected_version
        && expected != ticket.version
    {
        return Err(ListingsError::StaleVersion { current: ticket.version });
    }
    // A hold that has lapsed ends before the listing changes, so a late payment for it meets the
    // listing as it is now (and is refunded if that is not as it was reserved).
    crate::orders::holds::expire_if_lapsed(conn, &ticket, now).await?;
    Ok(ticket)
}

pub async fn update(
    pool: &DbPool,
    owner_id: Uuid,
    id: Uuid,
    draft: &TicketDraft,
    expected_version: i32,
    now: DateTime<Utc>,
) -> Result<TicketRow, ListingsError> {
    let mut conn = db::conn(pool).await?;
    conn.transaction(async |conn| {
        lock_editable(conn, owner_id, id, Some(expected_version), now).await?;
        let ticket =
            store::update_fields(conn, id, draft.title.as_str(), draft.price.minor_units(), draft.currency.code(), now)
                .await?;
        outbox::record(conn, &Event::TicketUpdated { ticket_id: id, version: ticket.version }, now).await?;
        Ok(ticket)
    })
    .await
}

pub async fn delete(
    pool: &DbPool,
    owner_id: Uuid,
    id: Uuid,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<(), ListingsError> {
    let mut conn = db::conn(pool).await?;
    conn.transaction(async |conn| {
        lock_editable(conn, owner_id, id, expected_version, now).await?;
        let ticket = store::mark_deleted(conn, id, now).await?;
        outbox::record(conn, &Event::TicketDeleted { ticket_id: id, version: ticket.version }, now).await?;
        Ok(())
    })
    .await
}
