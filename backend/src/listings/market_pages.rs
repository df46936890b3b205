//! The market's pages as last written, answered again while nothing can have changed them.
//!
//! A page is kept with what was known of the market when its query began: the live log's position
//! this process had reached (`live::Hub::position`) and how many listings its sellers had changed
//! through this process. It is answered again only while both are unchanged and for at most
//! `MARKET_PAGE_MAX_AGE`:
//! - a seller's change through this process (listing, editing, deleting, attaching the file) ends
//!   every page kept before it was answered, so the seller sees it on the next page they load here;
//! - any other change (a reservation, a payment, a job's, another process's) ends them once the
//!   relay has read it from the log, within the sequencer's interval (100 ms by default): a crowd
//!   reserving through this process leaves its pages kept between those readings;
//! - the age bounds what no change records: a hold lapsing or an event starting at its time, and a
//!   relay that has lost its connection.
//!
//! However many ask for a page that is not kept, one of them runs its query and the rest wait for
//! its answer. Nothing here decides what may be sold: a reservation always asks the database.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use quick_cache::Weighter;
use quick_cache::sync::{Cache, EntryAction, EntryResult};

use super::ListFilter;

/// What was known of the market when a page's query began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    /// The live log's position this process had reached.
    position: i64,
    /// Sellers' changes answered by this process.
    edits: u64,
}

#[derive(Clone)]
struct Page {
    body: Bytes,
    known: Known,
    written_at: DateTime<Utc>,
}

/// A page's weight is its size: the cache is bounded in bytes.
#[derive(Clone)]
struct PageBytes;

impl Weighter<ListFilter, Page> for PageBytes {
    fn weight(&self, _filter: &ListFilter, page: &Page) -> u64 {
        // The key and the entry's own fields: a few hundred bytes at most beside the page.
        u64::try_from(page.body.len()).unwrap_or(u64::MAX).saturating_add(256)
    }
}

/// How long pages are kept and how many bytes of them.
#[derive(Debug, Clone, Copy)]
pub struct PageCacheSettings {
    /// `MARKET_PAGE_MAX_AGE`: the oldest a page answered again may be (default `1s`; `0s` turns the
    /// cache off).
    pub max_age: std::time::Duration,
    /// `MARKET_PAGE_CACHE_BYTES`: the pages kept, in bytes of JSON (default 4 MiB).
    pub bytes: u64,
}

impl Default for PageCacheSettings {
    fn default() -> Self {
        Self { max_age: std::time::Duration::from_secs(1), bytes: 4 * 1024 * 1024 }
    }
}

/// This process's kept pages of the market.
pub struct MarketPages {
    /// `None` when turned off.
    pages: Option<Cache<ListFilter, Page, PageBytes>>,
    max_age: TimeDelta,
    edits: AtomicU64,
}

/// A typical page of 20 listings, for sizing the cache's table.
const TYPICAL_PAGE_BYTES: u64 = 16 * 1024;

impl MarketPages {
    pub fn new(settings: PageCacheSettings) -> Self {
        let max_age = TimeDelta::from_std(settings.max_age).unwrap_or(TimeDelta::MAX);
        let pages = (!max_age.is_zero() && settings.bytes > 0).then(|| {
            let items = usize::try_from((settings.bytes / TYPICAL_PAGE_BYTES).max(1)).unwrap_or(usize::MAX);
            Cache::with_weighter(items, settings.bytes, PageBytes)
        });
        Self { pages, max_age, edits: AtomicU64::new(0) }
    }

    /// A seller's change to a listing has been answered here: pages kept before it are not answered
    /// again.
    pub fn edited(&self) {
        self.edits.fetch_add(1, Ordering::AcqRel);
    }

    /// The page for `filter`: kept, if what is known of the market is what it was when the kept one
    /// was written (`position`, the live log's, is `None` until the relay has read the log once: then
    /// nothing is kept); otherwise written by `write`, and kept.
    pub async fn page<E>(
        &self,
        filter: &ListFilter,
        position: Option<i64>,
        now: DateTime<Utc>,
        write: impl Future<Output = Result<Bytes, E>>,
    ) -> Result<Bytes, E> {
        let (Some(pages), Some(position)) = (&self.pages, position) else {
            return write.await;
        };
        // Read before the query begins: a change after this point ends the page written now.
        let known = Known { position, edits: self.edits.load(Ordering::Acquire) };
        let current =
            |page: &Page| page.known == known && page.written_at <= now && now - page.written_at <= self.max_age;
        if let Some(page) = pages.get(filter).filter(|page| current(page)) {
            return Ok(page.body);
        }
        let guard = match pages
            .entry_async(filter, |_, page| {
                if current(page) { EntryAction::Retain(page.body.clone()) } else { EntryAction::ReplaceWithGuard }
            })
            .await
        {
            EntryResult::Retained(body) => return Ok(body),
            EntryResult::Replaced(guard, _) | EntryResult::Vacant(guard) => guard,
            // Neither is returned by `entry_async` when the callback never removes.
            EntryResult::Removed(..) | EntryResult::Timeout => return write.await,
        };
        // An error drops the guard: the next to ask writes the page instead.
        let body = write.await?;
        let _ = guard.insert(Page { body: body.clone(), known, written_at: now });
        Ok(body)
    }
}
