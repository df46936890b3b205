//! Listings: tickets put up for sale (the event, the seat, the face value and the price), their owners'
//! edits, and the market's view of what is for sale.

pub mod api;
pub mod cursor;
pub mod domain;
pub mod event;
pub mod market_pages;
pub mod store;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use domain::{Currency, EventName, Price, PriceCap, TicketStatus};
use event::{EventStart, Place, Seat};
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

impl ListingsError {
    /// Whether the change was refused before anything was written: every error but the database's,
    /// which may have come after the commit.
    pub fn changed_nothing(&self) -> bool {
        !matches!(self, Self::Db(_))
    }
}

impl From<diesel::result::Error> for ListingsError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

/// The owner-editable fields of a listing, as sent.
#[derive(Debug, Clone, Copy)]
pub struct DraftInput<'a> {
    pub event_name: &'a str,
    pub venue: &'a str,
    pub city: &'a str,
    pub starts_at: &'a str,
    pub time_zone: &'a str,
    pub section: Option<&'a str>,
    pub row: Option<&'a str>,
    pub seat: Option<&'a str>,
    pub face_value: i64,
    pub price: i64,
    pub currency: Option<&'a str>,
}

/// The owner-editable fields of a listing, validated.
#[derive(Debug, Clone)]
pub struct TicketDraft {
    pub event_name: EventName,
    pub place: Place,
    pub start: EventStart,
    pub seat: Seat,
    pub face_value: Price,
    pub price: Price,
    pub currency: Currency,
}

impl TicketDraft {
    /// Checks every field, reporting all that break a rule: the event starts after `now`, and the
    /// price is chargeable and within `cap` of the face value.
    pub fn parse(input: DraftInput<'_>, cap: PriceCap, now: DateTime<Utc>) -> Result<Self, Invalid> {
        let mut errors = Collector::default();
        let event_name = errors.take(EventName::parse(input.event_name));
        let venue = errors.take(Place::parse_venue(input.venue));
        let city = errors.take(Place::parse_city(input.city));
        let start = errors
            .take(EventStart::parse_zone(input.time_zone))
            .and_then(|zone| errors.take(EventStart::parse(input.starts_at, zone, now)));
        let section = errors.take(Seat::parse_label("section", input.section));
        let row = errors.take(Seat::parse_label("row", input.row));
        let seat = errors.take(Seat::parse_label("seat", input.seat));
        let face_value = errors.take(Price::parse_face_value(input.face_value));
        let price = errors.take(Price::parse(input.price));
        let currency = match input.currency {
            Some(code) => errors.take(Currency::parse(code)),
            None => Some(Currency::default_currency()),
        };
        if let (Some(price), Some(currency)) = (price, &currency) {
            errors.take(domain::chargeable(price, currency));
            if let Some(face_value) = face_value {
                errors.take(cap.check(price, face_value, currency));
            }
        }
        errors.finish()?;
        match (event_name, venue, city, start, section, row, seat, face_value, price, currency) {
            (
                Some(event_name),
                Some(venue),
                Some(city),
                Some(start),
                Some(section),
                Some(row),
                Some(seat),
                Some(face_value),
                Some(price),
                Some(currency),
            ) => Ok(Self {
                event_name,
                place: Place { venue, city },
                start,
                seat: Seat { section, row, seat },
                face_value,
                price,
                currency,
            }),
            _ => Err(Invalid(vec![])),
        }
    }

    fn fields(&self) -> store::ListingFields<'_> {
        store::ListingFields {
            event_name: self.event_name.as_str(),
            venue: &self.place.venue,
            city: &self.place.city,
            event_starts_at: Some(self.start.at),
            event_time_zone: Some(self.start.zone.name()),
            event_local_date: Some(self.start.local_date()),
            section: self.seat.section.as_deref(),
            seat_row: self.seat.row.as_deref(),
            seat: self.seat.seat.as_deref(),
            face_value: self.face_value.minor_units(),
            price: self.price.minor_units(),
            currency: self.currency.code(),
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
    let ticket = conn
        .transaction(async |conn| {
            let ticket = store::insert(conn, Uuid::new_v4(), owner_id, &draft.fields(), now).await?;
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
pub(crate) async fn lock_editable(
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
        // Those waiting waited for the listing as it was.
        crate::waitlist::store::clear(conn, id).await?;
        let ticket = store::update_fields(conn, id, &draft.fields(), now).await?;
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
        crate::waitlist::store::clear(conn, id).await?;
        let ticket = store::mark_deleted(conn, id, now).await?;
        outbox::record(conn, &Event::TicketDeleted { ticket_id: id, version: ticket.version }, now).await?;
        Ok(())
    })
    .await
}
