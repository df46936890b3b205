//! The live market: the UI follows `GET /api/tickets/stream` from start to finish and keeps the
//! newest state of every listing it hears of, so pages show a listing held, released or sold as it
//! happens without fetching again.
//!
//! The browser's `EventSource` reconnects by itself (sending the last event's id, so nothing is
//! missed) when the connection drops, as when the server restarts; one it gives up on is opened
//! anew, and pages fetch again then, since what happened meanwhile is unknown.

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
    /// `shown`.
    pub fn for_sale_since(&self, since: u64, shown: &[Uuid], search: &Search) -> usize {
        self.listings
            .values()
            .filter(|(listing, heard)| *heard > since && search.finds(listing) && !shown.contains(&listing.id))
            .count()
    }

    /// Takes one event in.
    pub fn hear(&mut self, event: types::ListingEvent) {
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
const KINDS: [&str; 7] = ["listed", "changed", "held", "released", "sold", "deleted", "refetch"];

/// What the page's `EventSource` reports (only in a browser or webview).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
enum Heard {
    /// An event's data.
    Event(String),
    /// The browser gave up on the stream, and it was opened anew.
    Reopened,
}

/// Follows the stream for as long as the app runs (call it once, at the root).
pub fn use_live_market() {
    let follower = use_coroutine(|mut heard: UnboundedReceiver<Heard>| async move {
        use futures_util::StreamExt;
        while let Some(heard) = heard.next().await {
            match heard {
                Heard::Event(data) => {
                    if let Ok(event) = serde_json::from_str::<types::ListingEvent>(&data) {
                        LIVE.write().hear(event);
                    }
                }
                Heard::Reopened => LIVE.write().refetches += 1,
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
    let watched = source.clone();
    let on_error = Closure::<dyn FnMut()>::new(move || {
        // CONNECTING: the browser is reconnecting by itself. CLOSED: it gave up (an answer other than
        // the stream); start over a little later, and have pages fetch again.
        if watched.ready_state() == web_sys::EventSource::CLOSED {
            let heard = heard.clone();
            wasm_bindgen_futures::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(3_000).await;
                let _ = heard.unbounded_send(Heard::Reopened);
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
        assert_eq!(live.for_sale_since(since, &[shown], &all), 1);
        assert_eq!(live.for_sale_since(live.heard(), &[shown], &all), 0);
        let elsewhere = Search { q: "opera".into(), ..Search::default() };
        assert_eq!(live.for_sale_since(since, &[shown], &elsewhere), 0, "only what the search finds");
    }

    #[test]
    fn a_refetch_asks_pages_to_fetch_again() {
        let mut live = Live::default();
        live.hear(event(types::ListingEventKind::Refetch, None));
        assert_eq!(live.refetches, 1);
    }
}
