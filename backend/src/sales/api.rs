//! `GET /api/sales`: the caller's listings as a seller sees them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use super::SellerListing;
use crate::http::ApiTags;
use crate::http::auth::SessionAuth;
use crate::http::error::ApiError;
use crate::listings::api::TicketView;
use crate::listings::domain::TicketStatus;
use crate::payouts::api::ShareView;
use crate::state::AppState;

/// Where a listing stands, for its seller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum SaleState {
    /// On the market.
    ForSale,
    /// Reserved by a buyer who is paying.
    Held,
    Sold,
    /// Its ticket file is missing: attach it to publish.
    NeedsTicketFile,
    /// Its event's start is unknown (listed before events were recorded): edit it to publish.
    NeedsEventStart,
    /// Its event has started without it selling.
    Ended,
}

/// What a sold listing sold for.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SaleView {
    order_id: Uuid,
    /// What the buyer paid for the ticket, tax aside, in minor units of `currency`.
    price: i64,
    currency: String,
    #[oai(skip_serializing_if_is_none)]
    sold_at: Option<DateTime<Utc>>,
    /// Your share of the price after the platform's fee, and where it stands.
    #[oai(skip_serializing_if_is_none)]
    share: Option<ShareView>,
}

/// One of your listings, and its sale if it sold.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SellerListingView {
    listing: TicketView,
    state: SaleState,
    #[oai(skip_serializing_if_is_none)]
    sale: Option<SaleView>,
}

/// How many of your listings stand where.
#[derive(Debug, Object, Default)]
#[oai(rename_all = "camelCase")]
struct SalesSummary {
    for_sale: u32,
    held: u32,
    sold: u32,
    /// Waiting for their ticket file or their event's start.
    not_published: u32,
    ended: u32,
}

/// A sale of yours that was refunded, and what became of your share.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct RefundedSaleView {
    order_id: Uuid,
    event_name: String,
    /// What the buyer had paid for the ticket, tax aside, in minor units of `currency`.
    price: i64,
    currency: String,
    #[oai(skip_serializing_if_is_none)]
    refunded_at: Option<DateTime<Utc>>,
    /// Cancelled (refunded before it was sent) or reversed (taken back after).
    share: ShareView,
}

/// Your listings, newest first (up to 200), with what each sold for, and your refunded sales.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SalesPage {
    items: Vec<SellerListingView>,
    summary: SalesSummary,
    refunded: Vec<RefundedSaleView>,
}

fn state_of(listing: &SellerListing, now: DateTime<Utc>) -> SaleState {
    let ticket = &listing.ticket;
    match ticket.status_at(now) {
        TicketStatus::Sold => SaleState::Sold,
        TicketStatus::Held => SaleState::Held,
        TicketStatus::Available => match ticket.event_starts_at {
            None => SaleState::NeedsEventStart,
            Some(start) if start <= now => SaleState::Ended,
            Some(_) if ticket.file_key.is_none() => SaleState::NeedsTicketFile,
            Some(_) => SaleState::ForSale,
        },
    }
}

pub struct SalesApi;

#[OpenApi(tag = "ApiTags::Sales")]
impl SalesApi {
    /// Your listings as their seller: where each stands and what each sold for.
    #[oai(path = "/sales", method = "get", operation_id = "list_sales")]
    async fn list(&self, state: Data<&Arc<AppState>>, auth: SessionAuth) -> Result<Json<SalesPage>, ApiError> {
        let who = auth.user(&state).await?;
        let now = state.now();
        let listings = super::for_seller(&state.pool, who.user_id).await?;
        let refunded = super::refunded_for_seller(&state.pool, who.user_id)
            .await?
            .into_iter()
            .map(|sale| RefundedSaleView {
                order_id: sale.order_id,
                event_name: sale.event_name,
                price: sale.price,
                currency: sale.currency,
                refunded_at: sale.refunded_at,
                share: ShareView::from(sale.share),
            })
            .collect();
        let mut summary = SalesSummary::default();
        let items = listings
            .into_iter()
            .map(|listing| {
                let sale_state = state_of(&listing, now);
                match sale_state {
                    SaleState::ForSale => summary.for_sale += 1,
                    SaleState::Held => summary.held += 1,
                    SaleState::Sold => summary.sold += 1,
                    SaleState::NeedsTicketFile | SaleState::NeedsEventStart => summary.not_published += 1,
                    SaleState::Ended => summary.ended += 1,
                }
                SellerListingView {
                    state: sale_state,
                    sale: listing.sale.map(|sale| SaleView {
                        order_id: sale.order_id,
                        price: sale.price,
                        currency: sale.currency,
                        sold_at: sale.sold_at,
                        share: listing.share.map(ShareView::from),
                    }),
                    listing: TicketView::new(listing.ticket, now),
                }
            })
            .collect();
        Ok(Json(SalesPage { items, summary, refunded }))
    }
}
