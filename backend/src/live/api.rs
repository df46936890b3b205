//! `GET /api/tickets/stream`: changes to listings as server-sent events.

use std::borrow::Cow;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use poem::web::Data;
use poem::web::sse::Event as SseEvent;
use poem_openapi::param::Header;
use poem_openapi::payload::EventStream;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{Enum, Object, OpenApi};

use super::LiveError;
use super::follow::{self, Item, Start};
use super::log::{ChangeKind, Frame};
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
    /// The first event of a stream opened without `Last-Event-ID`: the changes after `position`
    /// follow.
    Start,
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
    /// The listing right after the change, as the market shows it (absent for `refetch` and
    /// `start`).
    #[oai(skip_serializing_if_is_none)]
    listing: Option<TicketView>,
}

/// A [`ListingEvent`] as sent. A change's is rendered once, by the first of this process's streams
/// to send it, for all of them: a thousand streams cost one rendering, not a thousand.
pub(crate) struct SentEvent {
    position: i64,
    frame: Frame,
}

impl Type for SentEvent {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        ListingEvent::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        ListingEvent::schema_ref()
    }

    fn register(registry: &mut Registry) {
        ListingEvent::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for SentEvent {
    fn to_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.frame.data).ok()
    }
}

pub struct LiveApi;

#[OpenApi]
impl LiveApi {
    /// Follow the market: every listing listed, changed, held, released, sold or deleted, as it
    /// happens, as server-sent events (`text/event-stream`), with a keep-alive comment when idle.
    /// Anyone may subscribe. A stream opened afresh first sends `start`, with the position its
    /// changes follow; reconnecting with `Last-Event-ID` resumes exactly after that event (or sends
    /// `refetch` when it is too far behind). Fetch listings with `since` set to the last `position`
    /// heard, so no page shown is older than the stream.
    #[oai(path = "/tickets/stream", method = "get", tag = "ApiTags::Tickets", operation_id = "follow_tickets")]
    async fn follow(
        &self,
        state: Data<&Arc<AppState>>,
        /// The `position` of the last event received.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<EventStream<BoxStream<'static, SentEvent>>, ApiError> {
        let start = match last_event_id.0.as_deref().map(str::trim) {
            None | Some("") => Start::Now,
            Some(raw) => match raw.parse::<i64>() {
                Ok(position) if position >= 0 => Start::After(position),
                _ => return Err(LiveError::InvalidLastEventId.into()),
            },
        };
        let slot = state.live.join().map_err(LiveError::from)?;
        let changes = follow::follow(slot, state.pool.clone(), start).await.map_err(LiveError::from)?;
        let clock = state.clock.clone();
        let events = changes.map(move |item| sent(item, clock.now())).boxed();
        Ok(EventStream::new(events).keep_alive(state.config.live.keep_alive).to_event(|sent| {
            SseEvent::message(sent.frame.data).event_type(sent.frame.event).id(sent.position.to_string())
        }))
    }
}

fn sent(item: Item, now: chrono::DateTime<chrono::Utc>) -> SentEvent {
    match item {
        Item::Change(change) => {
            let frame = change
                .frame
                .get_or_init(|| {
                    render(ListingEvent {
                        kind: change.kind.into(),
                        position: change.position,
                        listing: Some(TicketView::new(change.listing.clone(), now)),
                    })
                })
                .clone();
            SentEvent { position: change.position, frame }
        }
        Item::Refetch { position } => SentEvent {
            position,
            frame: render(ListingEvent { kind: ListingEventKind::Refetch, position, listing: None }),
        },
        Item::Start { position } => SentEvent {
            position,
            frame: render(ListingEvent { kind: ListingEventKind::Start, position, listing: None }),
        },
    }
}

fn render(event: ListingEvent) -> Frame {
    // The kind's name as the spec spells it.
    let kind = event.kind.to_json().and_then(|kind| kind.as_str().map(str::to_owned)).unwrap_or_default();
    Frame { event: kind, data: event.to_json_string() }
}
