//! `/api/tickets`: browse, create, edit and delete listings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::cursor::PageCursor;
use super::domain::TicketStatus;
use super::{ListFilter, TicketDraft, TicketRow};
use crate::http::ApiTags;
use crate::http::auth::SessionAuth;
use crate::http::error::ApiError;
use crate::http::integer::Integer;
use crate::http::text::Text;
use crate::state::AppState;

/// Where a listing is in its life.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
enum TicketStatusView {
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

/// A listing.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct TicketView {
    id: Uuid,
    title: String,
    /// Price in minor units of `currency` (cents).
    price: i64,
    /// ISO 4217 code.
    currency: String,
    status: TicketStatusView,
    owner_id: Uuid,
    /// Increases with every change; send it back when updating.
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TicketView {
    fn new(row: TicketRow, now: DateTime<Utc>) -> Self {
        Self {
            status: row.status_at(now).into(),
            id: row.id,
            title: row.title,
            price: row.price,
            currency: row.currency,
            owner_id: row.owner_id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// One page of available listings, newest first.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct TicketPage {
    items: Vec<TicketView>,
    limit: i64,
    /// Pass as `after` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    next_cursor: Option<String>,
}

/// A new listing. Owner, status and version are set by the server.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct CreateTicketRequest {
    /// 1 to 120 characters after trimming.
    title: Text<120>,
    /// Price in minor units (cents), at least Stripe's minimum charge for the currency (50; 30 for
    /// GBP) and at most 100000000.
    price: Integer<30, 100_000_000>,
    /// ISO 4217 code: CAD (default), USD, EUR or GBP.
    currency: Option<Text<3>>,
}

/// New values for a listing, based on the version the client last saw.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct UpdateTicketRequest {
    title: Text<120>,
    price: Integer<30, 100_000_000>,
    currency: Option<Text<3>>,
    /// The version this change is based on; a stale version gets 409.
    version: i32,
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

pub struct ListingsApi;

#[OpenApi(tag = "ApiTags::Tickets", prefix_path = "/tickets")]
impl ListingsApi {
    /// Available listings, newest first. Anyone may browse.
    #[oai(path = "/", method = "get", operation_id = "list_tickets")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        /// Only titles containing this text (case-insensitive).
        #[oai(validator(max_length = 100))]
        q: Query<Option<String>>,
        /// Lowest price, in minor units.
        #[oai(name = "minPrice", validator(minimum(value = "0")))]
        min_price: Query<Option<i64>>,
        /// Highest price, in minor units.
        #[oai(name = "maxPrice", validator(minimum(value = "0")))]
        max_price: Query<Option<i64>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(default = "crate::http::default_page_size", validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<i64>,
        /// The previous page's `nextCursor`: the page after it. Absent: the first page.
        #[oai(validator(max_length = 200))]
        after: Query<Option<String>>,
    ) -> Result<Json<TicketPage>, ApiError> {
        if q.0.as_deref().is_some_and(crate::http::text::has_nul) {
            return Err(ApiError::bad_request("invalid_parameter", "q", crate::http::text::NUL_MESSAGE));
        }
        let after = match after.0.as_deref() {
            None => None,
            Some(raw) => Some(PageCursor::decode(raw).ok_or_else(|| {
                ApiError::bad_request("invalid_parameter", "after", "This is not a cursor from a previous page.")
            })?),
        };
        let filter = ListFilter {
            text: q.0.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty()),
            min_price: min_price.0,
            max_price: max_price.0,
            limit: limit.0,
            after,
        };
        let now = state.now();
        let (rows, next) = super::list_available(&state.pool, &filter, now).await?;
        let items = rows.into_iter().map(|row| TicketView::new(row, now)).collect();
        Ok(Json(TicketPage { items, limit: filter.limit, next_cursor: next.map(|cursor| cursor.encode()) }))
    }

    /// One listing, in whatever state it is.
    #[oai(path = "/:id", method = "get", operation_id = "get_ticket")]
    async fn get(&self, state: Data<&Arc<AppState>>, id: Path<Uuid>) -> Result<Json<TicketView>, ApiError> {
        let row = super::get(&state.pool, id.0).await?;
        Ok(Json(TicketView::new(row, state.now())))
    }

    /// List a ticket for sale.
    #[oai(path = "/", method = "post", operation_id = "create_ticket")]
    async fn create(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        body: Json<CreateTicketRequest>,
    ) -> Result<CreatedTicket, ApiError> {
        let who = auth.user(&state).await?;
        let draft = TicketDraft::parse(body.title.as_str(), body.price.0, body.currency.as_ref().map(Text::as_str))?;
        let now = state.now();
        let row = super::create(&state.pool, who.user_id, &draft, now).await?;
        Ok(CreatedTicket::Created(Json(TicketView::new(row, now))))
    }

    /// Change your own available listing.
    #[oai(path = "/:id", method = "put", operation_id = "update_ticket")]
    async fn update(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
        body: Json<UpdateTicketRequest>,
    ) -> Result<Json<TicketView>, ApiError> {
        let who = auth.user(&state).await?;
        let draft = TicketDraft::parse(body.title.as_str(), body.price.0, body.currency.as_ref().map(Text::as_str))?;
        let now = state.now();
        let row = super::update(&state.pool, who.user_id, id.0, &draft, body.version, now).await?;
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
        super::delete(&state.pool, who.user_id, id.0, version.0, state.now()).await?;
        Ok(DeletedTicket::NoContent)
    }
}
