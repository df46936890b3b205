//! `/api/tickets`: browse, create, edit and delete listings.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde::Serialize;
use uuid::Uuid;

use super::cursor::{MarketOrder, PageCursor};
use super::domain::TicketStatus;
use super::{DraftInput, ListFilter, ListingsError, TicketDraft, TicketRow};
use crate::http::ApiTags;
use crate::http::auth::SessionAuth;
use crate::http::error::ApiError;
use crate::http::integer::Integer;
use crate::http::serde_json_body::{SerdeJson, rfc3339};
use crate::http::text::Text;
use crate::state::AppState;

/// Where a listing is in its life.
#[derive(Debug, Clone, Copy, Enum, Serialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub(crate) enum TicketStatusView {
    Available,
    Held,
    Sold,
}

impl From<TicketStatus> for TicketStatusView {
    fn from(status: TicketStatus) -> Self {
        match status {
            TicketStatus::Available => Self::Available,
            TicketStatus::Held => Self::Held,
            TicketStatus::Sold => Self::Sold,
        }
    }
}

/// A listing: the event, the seat, the face value and the price.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
// Written by serde in the market's pages (`SerdeJson`), by poem-openapi elsewhere: the attributes of
// each say the same, which the test below checks.
pub(crate) struct TicketView {
    id: Uuid,
    /// The event's name.
    event_name: String,
    /// Empty only for listings made before events were recorded.
    venue: String,
    city: String,
    /// When the event starts; absent only for listings made before events were recorded (shown as
    /// "date to be announced"; not for sale until given).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339::option")]
    starts_at: Option<DateTime<Utc>>,
    /// The venue's time zone (IANA name).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    /// The start as the venue's clocks show it, RFC 3339 with the venue's offset
    /// (`2027-03-14T19:30:00-04:00`): what to show people.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_at_local: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    section: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    seat: Option<String>,
    /// What the seller paid, in minor units of `currency`.
    face_value: i64,
    /// Price in minor units of `currency` (cents).
    price: i64,
    /// ISO 4217 code.
    currency: String,
    status: TicketStatusView,
    /// Whether it can be reserved now: available, with its ticket file, before the event starts.
    for_sale: bool,
    /// Whether the seller has attached the ticket file (a listing without one is not for sale).
    has_ticket_file: bool,
    owner_id: Uuid,
    /// Increases with every change; send it back when updating.
    version: i32,
    #[serde(serialize_with = "rfc3339::one")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339::one")]
    updated_at: DateTime<Utc>,
}

impl TicketView {
    pub(crate) fn new(row: TicketRow, now: DateTime<Utc>) -> Self {
        let start = row.start();
        Self {
            status: row.status_at(now).into(),
            for_sale: row.for_sale_at(now),
            has_ticket_file: row.file_key.is_some(),
            starts_at: start.map(|start| start.at),
            time_zone: start.map(|start| start.zone.name().to_owned()),
            starts_at_local: start.map(|start| start.local_rfc3339()),
            id: row.id,
            event_name: row.event_name,
            venue: row.venue,
            city: row.city,
            section: row.section,
            row: row.seat_row,
            seat: row.seat,
            face_value: row.face_value,
            price: row.price,
            currency: row.currency,
            owner_id: row.owner_id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// One page of listings for sale.
#[derive(Debug, Object, Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
struct TicketPage {
    items: Vec<TicketView>,
    limit: i64,
    /// Pass as `after` (with the same `sort`) for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The order of the market.
#[derive(Debug, Clone, Copy, Enum, Default)]
#[oai(rename_all = "lowercase")]
enum MarketSort {
    /// Soonest event first.
    #[default]
    Start,
    /// Cheapest first.
    Price,
}

/// A listing as its owner sends it: the event, the seat, the face value and the price. Owner and
/// status are set by the server.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct ListingRequest {
    /// The event's name: 1 to 120 characters after trimming.
    event_name: Text<120>,
    /// 1 to 120 characters.
    venue: Text<120>,
    /// 1 to 80 characters.
    city: Text<80>,
    /// When the event starts, as the venue's clocks show it (`2027-03-14T19:30`), or an RFC 3339 time
    /// with its offset. In the future, at most five years ahead.
    starts_at: Text<40>,
    /// The venue's time zone, an IANA name (`America/Toronto`).
    time_zone: Text<64>,
    /// Up to 40 characters each; blank or absent when the ticket has none.
    section: Option<Text<40>>,
    row: Option<Text<40>>,
    seat: Option<Text<40>>,
    /// What the seller paid, in minor units of `currency`, above zero.
    face_value: Integer<1, 100_000_000>,
    /// Price in minor units (cents), at least Stripe's minimum charge for the currency (50; 30 for
    /// GBP), at most 100000000, and not above the face value by more than the server's cap
    /// (`PRICE_CAP_PERCENT`, default 0: at most the face value).
    price: Integer<30, 100_000_000>,
    /// ISO 4217 code: CAD (default), USD, EUR or GBP; the face value's currency too.
    currency: Option<Text<3>>,
    /// Updates only, and required there: the version the change is based on (a stale version gets
    /// 409). A new listing's version is set by the server.
    version: Option<i32>,
}

impl ListingRequest {
    fn draft(&self, state: &AppState, now: DateTime<Utc>) -> Result<TicketDraft, ApiError> {
        let input = DraftInput {
            event_name: self.event_name.as_str(),
            venue: self.venue.as_str(),
            city: self.city.as_str(),
            starts_at: self.starts_at.as_str(),
            time_zone: self.time_zone.as_str(),
            section: self.section.as_ref().map(Text::as_str),
            row: self.row.as_ref().map(Text::as_str),
            seat: self.seat.as_ref().map(Text::as_str),
            face_value: self.face_value.0,
            price: self.price.0,
            currency: self.currency.as_ref().map(Text::as_str),
        };
        Ok(TicketDraft::parse(input, state.config.price_cap, now)?)
    }
}

#[derive(ApiResponse)]
enum CreatedTicket {
    /// Listed.
    #[oai(status = 201)]
    Created(Json<TicketView>),
}

#[derive(ApiResponse)]
enum DeletedTicket {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

fn invalid(field: &'static str, code: &'static str, message: &str) -> ApiError {
    crate::validation::Invalid::from(crate::validation::FieldError::new(field, code, message)).into()
}

pub struct ListingsApi;

#[OpenApi(tag = "ApiTags::Tickets", prefix_path = "/tickets")]
impl ListingsApi {
    /// Listings for sale (available, with their ticket file, before their event starts), soonest
    /// event first or cheapest first. Anyone may browse.
    #[oai(path = "/", method = "get", operation_id = "list_tickets")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Only events whose name, venue or city contains this text (case-insensitive).
        #[oai(validator(max_length = 100))]
        q: Query<Option<String>>,
        /// Only events in this city (case-insensitive).
        #[oai(validator(max_length = 80))]
        city: Query<Option<String>>,
        /// Lowest price, in minor units.
        #[oai(name = "minPrice", validator(minimum(value = "0")))]
        min_price: Query<Option<i64>>,
        /// Highest price, in minor units.
        #[oai(name = "maxPrice", validator(minimum(value = "0")))]
        max_price: Query<Option<i64>>,
        /// Only events starting on or after this day, at their venue.
        from: Query<Option<NaiveDate>>,
        /// Only events starting on or before this day, at their venue.
        to: Query<Option<NaiveDate>>,
        /// `start` (soonest first, the default) or `price` (cheapest first).
        sort: Query<Option<MarketSort>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(default = "crate::http::default_page_size", validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<i64>,
        /// The previous page's `nextCursor`: the page after it. Absent: the first page.
        #[oai(validator(max_length = 200))]
        after: Query<Option<String>>,
        /// The `position` of the last event your live stream (`GET /api/tickets/stream`) sent, its
        /// `start` included: the page will have seen every change up to it. A page is otherwise one
        /// the server may have kept from a moment ago.
        #[oai(validator(minimum(value = "0")))]
        since: Query<Option<i64>>,
    ) -> Result<SerdeJson<TicketPage>, ApiError> {
        let text = |name: &str, value: Option<String>| match value {
            Some(text) if crate::http::text::has_nul(&text) => {
                Err(ApiError::bad_request("invalid_parameter", name, crate::http::text::NUL_MESSAGE))
            }
            value => Ok(value.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())),
        };
        // A day PostgreSQL's timestamps might not reach (or chrono's arithmetic overflow at) never
        // reaches the query.
        for (name, day) in [("from", from.0), ("to", to.0)] {
            if day.is_some_and(|day| !(1970..=9999).contains(&day.year())) {
                return Err(ApiError::bad_request("invalid_parameter", name, "Dates must be between 1970 and 9999."));
            }
        }
        let order = match sort.0.unwrap_or_default() {
            MarketSort::Start => MarketOrder::Start,
            MarketSort::Price => MarketOrder::Price,
        };
        let after = match after.0.as_deref() {
            None => None,
            Some(raw) => Some(PageCursor::decode(raw, order).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_parameter",
                    "after",
                    "This is not a cursor from a previous page in this order.",
                )
            })?),
        };
        let filter = ListFilter {
            text: text("q", q.0)?,
            city: text("city", city.0)?,
            min_price: min_price.0,
            max_price: max_price.0,
            from: from.0,
            to: to.0,
            order,
            limit: limit.0,
            after,
        };
        let now = state.now();
        let written = async {
            let (rows, next) = super::list_available(&state.pool, &filter, now).await?;
            let items = rows.into_iter().map(|row| TicketView::new(row, now)).collect();
            let page = TicketPage { items, limit: filter.limit, next_cursor: next.map(|cursor| cursor.encode()) };
            SerdeJson::write(&page).map(SerdeJson::into_body).map_err(|err| {
                tracing::error!(error = %err, "a market page could not be written as JSON");
                ApiError::internal()
            })
        };
        let body = state.market_pages.page(&filter, state.live.position(), since.0, now, written).await?;
        Ok(SerdeJson::written(body))
    }

    /// One listing, in whatever state it is.
    #[oai(path = "/:id", method = "get", operation_id = "get_ticket")]
    async fn get(&self, state: Data<&Arc<AppState>>, id: Path<Uuid>) -> Result<Json<TicketView>, ApiError> {
        let row = super::get(&state.pool, id.0).await?;
        Ok(Json(TicketView::new(row, state.now())))
    }

    /// List a ticket. It is for sale once its ticket file is attached (`PUT /api/tickets/{id}/file`).
    #[oai(path = "/", method = "post", operation_id = "create_ticket")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        body: Json<ListingRequest>,
    ) -> Result<CreatedTicket, ApiError> {
        let who = auth.user(&state).await?;
        if body.version.is_some() {
            return Err(invalid("version", "set_by_server", "A new listing's version is set by the server."));
        }
        let now = state.now();
        let draft = body.draft(&state, now)?;
        let editing = state.market_pages.editing();
        let row = editing
            .settle(super::create(&state.pool, who.user_id, &draft, now).await, ListingsError::changed_nothing)?;
        Ok(CreatedTicket::Created(Json(TicketView::new(row, now))))
    }

    /// Change your own available listing.
    #[oai(path = "/:id", method = "put", operation_id = "update_ticket")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
        body: Json<ListingRequest>,
    ) -> Result<Json<TicketView>, ApiError> {
        let who = auth.user(&state).await?;
        let version = body.version.ok_or_else(|| {
            invalid("version", "required", "Send the version you last saw, so a newer change is not lost.")
        })?;
        let now = state.now();
        let draft = body.draft(&state, now)?;
        let editing = state.market_pages.editing();
        let updated = super::update(&state.pool, who.user_id, id.0, &draft, version, now).await;
        let row = editing.settle(updated, ListingsError::changed_nothing)?;
        Ok(Json(TicketView::new(row, now)))
    }

    /// Delete your own available listing.
    #[oai(path = "/:id", method = "delete", operation_id = "delete_ticket")]
    async fn delete(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
        /// The version the client last saw; when given, a stale version gets 409.
        version: Query<Option<i32>>,
    ) -> Result<DeletedTicket, ApiError> {
        let who = auth.user(&state).await?;
        let editing = state.market_pages.editing();
        let deleted = super::delete(&state.pool, who.user_id, id.0, version.0, state.now()).await;
        editing.settle(deleted, ListingsError::changed_nothing)?;
        Ok(DeletedTicket::NoContent)
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;

    fn view(every_field: bool) -> TicketView {
        let at = |text: &str| text.parse::<DateTime<Utc>>().expect("a time");
        let some = |text: &str| every_field.then(|| text.to_owned());
        TicketView {
            id: Uuid::from_u128(1),
            event_name: "Jazz \"night\" \u{e9}t\u{e9} \\ \n".into(),
            venue: "Hall".into(),
            city: "Montr\u{e9}al".into(),
            starts_at: every_field.then(|| at("2027-03-14T23:30:00.123456Z")),
            time_zone: some("America/Toronto"),
            starts_at_local: some("2027-03-14T19:30:00.123456-04:00"),
            section: some("A"),
            row: some("12"),
            seat: some("7"),
            face_value: 4_500,
            price: i64::MAX,
            currency: "CAD".into(),
            status: if every_field { TicketStatusView::Held } else { TicketStatusView::Available },
            for_sale: every_field,
            has_ticket_file: !every_field,
            owner_id: Uuid::from_u128(u128::MAX),
            version: i32::MIN,
            created_at: at("2026-11-23T18:05:00Z"),
            updated_at: at("2026-11-23T18:05:00.5Z"),
        }
    }

    #[test]
    fn a_market_page_written_by_serde_is_the_json_poem_openapi_would_write() {
        for next_cursor in [None, Some("cy4x".to_owned())] {
            let mut items = vec![view(true), view(false), view(false)];
            items[2].status = TicketStatusView::Sold;
            let page = TicketPage { items, limit: 20, next_cursor };
            let by_serde: serde_json::Value = serde_json::to_value(&page).expect("serde writes it");
            assert_eq!(Some(by_serde), page.to_json());
        }
    }
}
