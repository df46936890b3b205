//! `GET /api/tickets/stream`: changes to listings as server-sent events.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use poem::web::Data;
use poem::web::sse::Event as SseEvent;
use poem_openapi::param::Header;
use poem_openapi::payload::EventStream;
use poem_openapi::types::ToJSON;
use poem_openapi::{Enum, Object, OpenApi};

use super::LiveError;
use super::follow::{self, Item, Start};
use super::log::ChangeKind;
use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::listings::api::TicketView;
use crate::state::AppState;

/// What happened to a listing.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
enum ListingEventKind {
    /// A new listing.
    Listed,
    /// Edited (event, seat, price), or its ticket file attached.
    Changed,
    /// Reserved by a buyer: off the market until the hold ends.
    Held,
    /// Back on the market: a hold ended without a sale, or a sale was refunded.
    Released,
    Sold,
    Deleted,
    /// The changes since the client's `Last-Event-ID` are no longer kept: fetch the listings
    /// again, then carry on with this stream.
    Refetch,
}

impl From<ChangeKind> for ListingEventKind {
    fn from(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::Listed => Self::Listed,
            ChangeKind::Changed => Self::Changed,
            ChangeKind::Held => Self::Held,
            ChangeKind::Released => Self::Released,
            ChangeKind::Sold => Self::Sold,
            ChangeKind::Deleted => Self::Deleted,
        }
    }
}

/// One change to a listing. Sent as an event whose type is `kind` and whose id is `position`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub(crate) struct ListingEvent {
    kind: ListingEventKind,
    /// The event's place in the market's change log: send the last one seen back as
    /// `Last-Event-ID` to get exactly what came after it.
    position: i64,
    /// The listing right after the change, as the market shows it (absent for `refetch`).
    #[oai(skip_serializing_if_is_none)]
    listing: Option<TicketView>,
}

pub struct LiveApi;

#[OpenApi]
impl LiveApi {
    /// Follow the market: every listing listed, changed, held, released, sold or deleted, as it
    /// happens, as server-sent events (`text/event-stream`), with a keep-alive comment when idle.
    /// Anyone may subscribe. Reconnecting with `Last-Event-ID` resumes exactly after that event (or
    /// sends `refetch` when it is too far behind).
    #[oai(path = "/tickets/stream", method = "get", tag = "ApiTags::Tickets", operation_id = "follow_tickets")]
    async fn follow(
        &self,
        state: Data<&Arc<AppState>>,
        /// The `position` of the last event received.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<EventStream<BoxStream<'static, ListingEvent>>, ApiError> {
        let start = match last_event_id.0.as_deref().map(str::trim) {
            None | Some("") => Start::Now,
            Some(raw) => match raw.parse::<i64>() {
                Ok(position) if position >= 0 => Start::After(position),
                _ => return Err(LiveError::InvalidLastEventId.into()),
            },
        };
        let hub = state.live.clone();
        let slot = hub.join().map_err(LiveError::from)?;
        let changes = follow::follow(hub, slot, state.pool.clone(), start).await.map_err(LiveError::from)?;
        let clock = state.clock.clone();
        let events = changes.map(move |item| event(item, clock.now())).boxed();
        Ok(EventStream::new(events).keep_alive(state.config.live.keep_alive).to_event(|event| {
            // The kind's name as the spec spells it.
            let kind = event.kind.to_json().and_then(|kind| kind.as_str().map(str::to_owned)).unwrap_or_default();
            let id = event.position.to_string();
            SseEvent::message(event.to_json_string()).event_type(kind).id(id)
        }))
    }
}

fn event(item: Item, now: chrono::DateTime<chrono::Utc>) -> ListingEvent {
    match item {
        Item::Change(change) => ListingEvent {
            kind: change.kind.into(),
            position: change.position,
            listing: Some(TicketView::new(change.listing.clone(), now)),
        },
        Item::Refetch { position } => ListingEvent { kind: ListingEventKind::Refetch, position, listing: None },
    }
}
