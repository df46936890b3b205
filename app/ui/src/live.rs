//! The live market: the UI follows `GET /api/tickets/stream` from start to finish and keeps the
//! newest state of every listing it hears of, so pages show a listing held, released or sold as it
//! happens without fetching again.
//!
//! The browser's `EventSource` reconnects by itself (sending the last event's id, so nothing is
//! missed) when the connection drops, as when the server restarts; one it gives up on is opened
//! anew after a growing, jittered pause (so a fleet of pages does not come back at one instant).
//!
//! What a page fetched while the stream was not open may have missed a change, so pages wait a
//! moment for the stream before they fetch ([`followed`]); a fetch made without it, or data on
//! screen while a given-up stream was away, is fetched again once a stream opens.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use dioxus::prelude::*;
use uuid::Uuid;

use crate::api::types;
use crate::search::Search;

/// What the stream has said so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// The newest state heard of each listing, with when it was heard (see `heard`).
    listings: HashMap<Uuid, (types::TicketView, u64)>,
    /// Changes heard since the page loaded.
    heard: u64,
    /// Bumped when pages must fetch their listings again: the stream was too far behind, or
    /// reopened after the browser gave up on it.
    pub refetches: u32,
    /// The position of the last event heard (a stream's `start` included): pages are fetched as of
    /// at least it, so none is older than what the stream goes on from.
    position: Option<i64>,
}

impl Live {
    /// `fetched`, or the newer state the stream has told of since.
    pub fn newest(&self, fetched: &types::TicketView) -> types::TicketView {
        match self.listings.get(&fetched.id) {
            Some((heard, _)) if heard.version > fetched.version => heard.clone(),
            _ => fetched.clone(),
        }
    }

    /// How many changes have been heard: pass it back to [`Live::for_sale_since`].
    pub fn heard(&self) -> u64 {
        self.heard
    }

    /// Listings `search` finds that came on the market after change number `since`, other than
    /// `shown`, and (when the first page ends at `until`, more following it) that a first page
    /// fetched now would show.
    pub fn for_sale_since(
        &self,
        since: u64,
        shown: &[Uuid],
        search: &Search,
        until: Option<&types::TicketView>,
    ) -> usize {
        self.listings
            .values()
            .filter(|(listing, heard)| {
                *heard > since
                    && search.finds(listing)
                    && !shown.contains(&listing.id)
                    && until.is_none_or(|last| search.sorts_by(listing, last))
            })
            .count()
    }

    /// What a page must have seen to be shown beside the stream: pass it as the market's `since`.
    pub fn position(&self) -> Option<i64> {
        self.position
    }

    /// Takes one event in.
    pub fn hear(&mut self, event: types::ListingEvent) {
        self.position = Some(event.position);
        if event.kind == types::ListingEventKind::Start {
            return;
        }
        self.heard += 1;
        match event.listing {
            Some(listing) if event.kind != types::ListingEventKind::Refetch => {
                let newer = self.listings.get(&listing.id).is_none_or(|(known, _)| known.version < listing.version);
                if newer {
                    self.listings.insert(listing.id, (listing, self.heard));
                }
            }
            _ => self.refetches += 1,
        }
    }
}

pub static LIVE: GlobalSignal<Live> = Signal::global(Live::default);

/// The SSE event types the server sends.
#[cfg(target_arch = "wasm32")]
const KINDS: [&str; 8] = ["start", "listed", "changed", "held", "released", "sold", "deleted", "refetch"];

/// What the page's `EventSource` reports (only in a browser or webview).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
enum Heard {
    /// An event's data.
    Event(String),
    /// A stream opened: everything from now on is heard.
    Opened,
    /// The browser is reconnecting, or gave up on the stream (`gave_up`), which is opened anew later.
    Lost { gave_up: bool },
}

/// Where the stream stands, outside any signal: pages read it only when they fetch.
#[derive(Default)]
struct Following {
    /// A stream is open now, and where it goes on from is known (see `heard_here`).
    open: Cell<bool>,
    /// The connection is open.
    connected: Cell<bool>,
    /// This stream has sent an event: a stream opened afresh first sends `start`, and once one has
    /// been heard the browser reconnects with its id, carrying on from it. Until then, a page
    /// fetched would not know what it must have seen.
    heard_here: Cell<bool>,
    /// Something on screen may have missed changes (fetched while no stream was open, or shown
    /// while a given-up stream was away): fetch again once one opens.
    stale: Cell<bool>,
    /// Fetches waiting for a stream to open.
    waiting: RefCell<Vec<futures_channel::oneshot::Sender<()>>>,
    /// Streams given up on in a row (the pause before the next grows with it).
    given_up: Cell<u32>,
    /// A stream was given up on and the next is not open yet: pages need not wait for it.
    reopening: Cell<bool>,
}

thread_local! {
    static FOLLOWING: Following = Following::default();
}

/// How long a page waits for the stream before it fetches without it.
#[cfg(target_arch = "wasm32")]
const PATIENCE_MS: u32 = 1_500;

/// Resolves once the stream is open (or after a moment without it): call it before fetching
/// listings, so nothing changed between the fetch and the stream goes unheard.
pub async fn followed() {
    let (open, reopening) = FOLLOWING.with(|following| (following.open.get(), following.reopening.get()));
    if open {
        return;
    }
    if reopening {
        FOLLOWING.with(|following| following.stale.set(true));
        return;
    }
    #[cfg(target_arch = "wasm32")]
    {
        let (opened, wait) = futures_channel::oneshot::channel();
        FOLLOWING.with(|following| following.waiting.borrow_mut().push(opened));
        let patience = gloo_timers::future::TimeoutFuture::new(PATIENCE_MS);
        futures_util::future::select(wait, patience).await;
    }
    FOLLOWING.with(|following| {
        if !following.open.get() {
            following.stale.set(true);
        }
    });
}

/// Takes in what the stream reports about itself (an event once [`Live::hear`] has heard it);
/// whether pages must fetch again.
fn note(heard: &Heard) -> bool {
    FOLLOWING.with(|following| match heard {
        Heard::Opened => {
            following.connected.set(true);
            // A stream is back: pages wait for it (a moment at most) rather than fetch without it.
            following.reopening.set(false);
            // Reconnected with the last id: it carries on from where it was.
            following.heard_here.get() && following.follow()
        }
        Heard::Event(_) => {
            let first = !following.heard_here.replace(true);
            first && following.connected.get() && following.follow()
        }
        Heard::Lost { gave_up } => {
            following.connected.set(false);
            following.open.set(false);
            if *gave_up {
                following.stale.set(true);
                following.reopening.set(true);
                following.heard_here.set(false);
            }
            false
        }
    })
}

impl Following {
    /// The stream is open and where it goes on from is known: pages waiting may fetch. Whether
    /// what is on screen must be fetched again.
    fn follow(&self) -> bool {
        self.open.set(true);
        self.reopening.set(false);
        self.given_up.set(0);
        for waiting in self.waiting.borrow_mut().drain(..) {
            let _ = waiting.send(());
        }
        self.stale.replace(false)
    }
}

/// The pause before opening a stream anew after `given_up` in a row: 1 s, doubling to 30 s, each
/// between half and all of that (`random` in 0..1).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn pause_ms(given_up: u32, random: f64) -> u32 {
    let full = 1_000_u32.saturating_mul(1 << given_up.saturating_sub(1).min(5)).min(30_000);
    let share = 0.5 + random.clamp(0.0, 1.0) / 2.0;
    (f64::from(full) * share) as u32
}

/// Follows the stream for as long as the app runs (call it once, at the root).
pub fn use_live_market() {
    let follower = use_coroutine(|mut heard: UnboundedReceiver<Heard>| async move {
        use futures_util::StreamExt;
        while let Some(heard) = heard.next().await {
            // Heard before it is noted: a page let fetch by it fetches as of its position. From
            // bytes, as reqwest's `json` reads answers: each type's parser is compiled once.
            if let Heard::Event(data) = &heard
                && let Ok(event) = serde_json::from_slice::<types::ListingEvent>(data.as_bytes())
            {
                LIVE.write().hear(event);
            }
            if note(&heard) {
                LIVE.write().refetches += 1;
            }
        }
    });
    use_hook(move || open(follower.tx()));
}

#[cfg(not(target_arch = "wasm32"))]
fn open(_heard: futures_channel::mpsc::UnboundedSender<Heard>) {}

#[cfg(target_arch = "wasm32")]
fn open(heard: futures_channel::mpsc::UnboundedSender<Heard>) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let (base, _) = crate::platform::api_base();
    let Ok(source) = web_sys::EventSource::new(&format!("{base}/api/tickets/stream")) else {
        return;
    };
    let events = heard.clone();
    let on_event = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |message: web_sys::MessageEvent| {
        if let Some(data) = message.data().as_string() {
            let _ = events.unbounded_send(Heard::Event(data));
        }
    });
    for kind in KINDS {
        let _ = source.add_event_listener_with_callback(kind, on_event.as_ref().unchecked_ref());
    }
    on_event.forget();
    let opened = heard.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || {
        let _ = opened.unbounded_send(Heard::Opened);
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let watched = source.clone();
    let on_error = Closure::<dyn FnMut()>::new(move || {
        // CONNECTING: the browser is reconnecting by itself, with the last event's id. CLOSED: it
        // gave up (an answer other than the stream); start over a little later.
        let gave_up = watched.ready_state() == web_sys::EventSource::CLOSED;
        let _ = heard.unbounded_send(Heard::Lost { gave_up });
        if gave_up {
            let given_up = FOLLOWING.with(|following| {
                let given_up = following.given_up.get().saturating_add(1);
                following.given_up.set(given_up);
                given_up
            });
            let heard = heard.clone();
            wasm_bindgen_futures::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(pause_ms(given_up, js_sys::Math::random())).await;
                open(heard);
            });
        }
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(id: Uuid, version: i32, for_sale: bool) -> types::TicketView {
        serde_json::from_value(serde_json::json!({
            "id": id, "eventName": "Jazz", "venue": "Hall", "city": "Toronto", "faceValue": 100, "price": 100,
            "currency": "CAD", "status": if for_sale { "available" } else { "held" }, "forSale": for_sale,
            "hasTicketFile": true, "ownerId": Uuid::nil(), "version": version,
            "createdAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-12-01T00:00:00Z"
        }))
        .expect("a listing")
    }

    fn event(kind: types::ListingEventKind, listing: Option<types::TicketView>) -> types::ListingEvent {
        types::ListingEvent { kind, position: 1, listing }
    }

    #[test]
    fn the_newest_version_wins_whatever_order_it_comes_in() {
        let id = Uuid::from_u128(7);
        let mut live = Live::default();
        live.hear(event(types::ListingEventKind::Held, Some(listing(id, 3, false))));
        live.hear(event(types::ListingEventKind::Changed, Some(listing(id, 2, true))));
        assert!(!live.newest(&listing(id, 2, true)).for_sale, "version 3 over the fetched 2");
        assert!(live.newest(&listing(id, 4, true)).for_sale, "a fetch newer than anything heard stands");
        let unknown = Uuid::from_u128(8);
        assert_eq!(live.newest(&listing(unknown, 1, true)).version, 1);
    }

    #[test]
    fn listings_come_on_the_market_after_a_point_are_counted_unless_shown() {
        let (shown, fresh) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut live = Live::default();
        live.hear(event(types::ListingEventKind::Listed, Some(listing(shown, 1, true))));
        let since = live.heard();
        live.hear(event(types::ListingEventKind::Released, Some(listing(fresh, 5, true))));
        live.hear(event(types::ListingEventKind::Changed, Some(listing(shown, 2, true))));
        let all = Search::default();
        assert_eq!(live.for_sale_since(since, &[shown], &all, None), 1);
        assert_eq!(live.for_sale_since(live.heard(), &[shown], &all, None), 0);
        let elsewhere = Search { q: "opera".into(), ..Search::default() };
        assert_eq!(live.for_sale_since(since, &[shown], &elsewhere, None), 0, "only what the search finds");
    }

    #[test]
    fn a_new_listing_past_the_end_of_a_first_page_that_goes_on_is_not_offered() {
        let mut live = Live::default();
        let priced = |id: u128, price: i64| {
            let mut listing = listing(Uuid::from_u128(id), 1, true);
            listing.price = price;
            listing
        };
        live.hear(event(types::ListingEventKind::Listed, Some(priced(1, 500))));
        live.hear(event(types::ListingEventKind::Listed, Some(priced(2, 5_000))));
        let by_price = Search { by_price: true, ..Search::default() };
        let last = priced(9, 1_000);
        assert_eq!(live.for_sale_since(0, &[], &by_price, Some(&last)), 1, "only the one that would be on it");
        assert_eq!(live.for_sale_since(0, &[], &by_price, None), 2, "the whole market is on screen");
    }

    #[test]
    fn a_fresh_stream_is_followed_from_its_first_event_a_resumed_one_from_its_reopening() {
        let followed = || FOLLOWING.with(|following| following.open.get());
        let event = || Heard::Event(String::new());
        assert!(!note(&Heard::Opened), "connected; nothing stale yet");
        assert!(!followed(), "not followed until it has said where it starts");
        assert!(!note(&event()), "its start: followed, and nothing was stale");
        assert!(followed());
        assert!(!note(&Heard::Lost { gave_up: false }), "the browser reconnects with the last id");
        assert!(!followed());
        assert!(!note(&Heard::Opened), "and misses nothing");
        assert!(followed(), "it carries on from the last id at once");
        note(&Heard::Lost { gave_up: true });
        assert!(!note(&Heard::Opened), "a stream opened afresh: not followed yet");
        assert!(!followed());
        assert!(note(&event()), "given up on: what is on screen may have missed changes");
        assert!(!note(&event()), "once");
    }

    #[test]
    fn a_stream_given_up_on_is_reopened_after_a_growing_jittered_pause() {
        assert_eq!((pause_ms(1, 0.0), pause_ms(1, 1.0)), (500, 1_000));
        assert_eq!(pause_ms(2, 1.0), 2_000);
        assert_eq!(pause_ms(4, 1.0), 8_000);
        assert_eq!(pause_ms(40, 1.0), 30_000, "at most thirty seconds");
        assert!((15_000..=30_000).contains(&pause_ms(40, 0.3)));
    }

    #[test]
    fn a_refetch_asks_pages_to_fetch_again() {
        let mut live = Live::default();
        live.hear(event(types::ListingEventKind::Refetch, None));
        assert_eq!(live.refetches, 1);
    }

    #[test]
    fn pages_are_fetched_as_of_the_last_position_heard_from_the_streams_start_on() {
        let mut live = Live::default();
        assert_eq!(live.position(), None, "no stream yet: the server's own position");
        live.hear(types::ListingEvent { kind: types::ListingEventKind::Start, position: 41, listing: None });
        assert_eq!((live.position(), live.heard(), live.refetches), (Some(41), 0, 0), "a start is no change");
        let id = Uuid::from_u128(7);
        live.hear(types::ListingEvent {
            kind: types::ListingEventKind::Held,
            position: 42,
            listing: Some(listing(id, 2, false)),
        });
        assert_eq!((live.position(), live.heard()), (Some(42), 1));
    }
}
