//! The market's pages as last written, answered again while nothing can have changed them.
//!
//! A page is kept with what was known of the market when its query began: the live log's position
//! this process had reached (`live::Hub::position`) and how many listings its sellers had changed
//! through this process. It answers a request that knows no more (and whose client's stream, its
//! `since`, is no further on) for at most `MARKET_PAGE_MAX_AGE`:
//! - a seller's change through this process (listing, editing, deleting, attaching the file) ends
//!   every page kept before it was answered, so the seller sees it on the next page they load here
//!   (a change refused, having changed nothing, ends none);
//! - any other change (a reservation, a payment, a job's, another process's) ends them once the
//!   relay has read it from the log, within the sequencer's interval (100 ms by default): a crowd
//!   reserving through this process leaves its pages kept between those readings;
//! - the age bounds what no change records: a hold lapsing or an event starting at its time, and a
//!   relay that has lost its connection.
//!
//! However many ask for a page that is not kept, one of them runs its query and the rest wait for
//! its answer; if that query fails each of them runs its own at once, and if it is given up they ask
//! again. Nothing here decides what may be sold: a reservation always asks the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use tokio::sync::watch;

use super::ListFilter;

/// What was known of the market when a page's query began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    /// The live log's position this process had reached.
    position: i64,
    /// Sellers' changes answered by this process.
    edits: u64,
}

impl Known {
    /// Whether a query begun knowing `self` began after everything `other` knew of. Both counts only
    /// grow, so such a query saw every change `other` had seen.
    fn covers(self, other: Known) -> bool {
        self.position >= other.position && self.edits >= other.edits
    }
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
    fn weight(&self, filter: &ListFilter, page: &Page) -> u64 {
        // The filter's text, and the entry's own fields and the cache's bookkeeping beside them.
        let text = filter.text.as_ref().map_or(0, String::len) + filter.city.as_ref().map_or(0, String::len);
        u64::try_from(page.body.len() + text).unwrap_or(u64::MAX).saturating_add(256)
    }
}

/// How long pages are kept and how many bytes of them.
#[derive(Debug, Clone, Copy)]
pub struct PageCacheSettings {
    /// `MARKET_PAGE_MAX_AGE`: the oldest a page answered again may be (default `1s`, at most
    /// [`PageCacheSettings::LONGEST_AGE`]; `0s` turns the cache off).
    pub max_age: std::time::Duration,
    /// `MARKET_PAGE_CACHE_BYTES`: the pages kept, in bytes of JSON (default 4 MiB; `0` turns the
    /// cache off).
    pub bytes: u64,
}

impl PageCacheSettings {
    /// The longest `max_age` allowed: what no change records (a hold lapsing, an event starting)
    /// shows at most this late.
    pub const LONGEST_AGE: std::time::Duration = std::time::Duration::from_secs(60);
}

impl Default for PageCacheSettings {
    fn default() -> Self {
        Self { max_age: std::time::Duration::from_secs(1), bytes: 4 * 1024 * 1024 }
    }
}

/// This process's kept pages of the market.
pub struct MarketPages {
    /// `None` when turned off.
    kept: Option<Kept>,
    max_age: TimeDelta,
    edits: AtomicU64,
}

struct Kept {
    pages: Cache<ListFilter, Page, PageBytes>,
    /// The queries running now, one a page: whoever asks for a page one of them will answer waits
    /// for it instead of querying too.
    writing: Mutex<HashMap<ListFilter, Arc<Writing>>>,
}

/// A page's query, running.
struct Writing {
    /// What the page will be kept as.
    known: Known,
    /// What it will have seen: its client's `since` too (that client had heard it before asking).
    needed: Known,
    written_at: DateTime<Utc>,
    /// How it went, for those waiting. Dropped while `Running` when the query is given up.
    outcome: watch::Sender<Outcome>,
}

#[derive(Clone)]
enum Outcome {
    Running,
    Written(Bytes),
    /// Those waiting run their own query at once, rather than one after another each failing.
    Failed,
}

/// The query of a page others may be waiting for: when it ends, however it ends, they are told.
struct Leading<'a> {
    kept: &'a Kept,
    filter: &'a ListFilter,
    writing: Arc<Writing>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut writing = self.kept.writing.lock().unwrap_or_else(PoisonError::into_inner);
        // A newer query of the same page may have taken its place: that one stays.
        if writing.get(self.filter).is_some_and(|running| Arc::ptr_eq(running, &self.writing)) {
            writing.remove(self.filter);
        }
    }
}

/// What a request does about a page not kept.
enum Turn<'a> {
    /// Waits for the running query's answer.
    Wait(watch::Receiver<Outcome>),
    /// Runs the query, and others wait for it.
    Lead(Leading<'a>),
    /// Runs the query alone: it needs a page further on than the running one, which still serves
    /// everyone else.
    Alone,
}

/// A seller's change being made. Dropped, however the change ended (made, given up halfway,
/// failed without knowing), pages kept before are not answered again; [`Editing::settle`] spares
/// them when the change was refused and so changed nothing.
pub struct Editing<'a> {
    edits: &'a AtomicU64,
    changed: bool,
}

impl Editing<'_> {
    /// The change's `result`, as it was; `refused` says which errors changed nothing.
    pub fn settle<T, E>(mut self, result: Result<T, E>, refused: impl FnOnce(&E) -> bool) -> Result<T, E> {
        self.changed = !result.as_ref().is_err_and(refused);
        result
    }
}

impl Drop for Editing<'_> {
    fn drop(&mut self) {
        if self.changed {
            self.edits.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// A typical page of 20 listings, for sizing the cache's table.
const TYPICAL_PAGE_BYTES: u64 = 16 * 1024;

impl MarketPages {
    pub fn new(settings: PageCacheSettings) -> Self {
        let max_age = TimeDelta::from_std(settings.max_age).unwrap_or(TimeDelta::MAX);
        let kept = (!max_age.is_zero() && settings.bytes > 0).then(|| {
            let items = usize::try_from((settings.bytes / TYPICAL_PAGE_BYTES).max(1)).unwrap_or(usize::MAX);
            Kept { pages: Cache::with_weighter(items, settings.bytes, PageBytes), writing: Mutex::default() }
        });
        Self { kept, max_age, edits: AtomicU64::new(0) }
    }

    /// Call before a seller's change to a listing and hold until it is answered (see [`Editing`]).
    pub fn editing(&self) -> Editing<'_> {
        Editing { edits: &self.edits, changed: true }
    }

    /// The page for `filter`: a kept one, if its query began after everything known now
    /// (`position`, the live log's, is `None` until the relay has found the log: then nothing is
    /// kept) and after the live log's `since` (the client's stream had reached it, perhaps on
    /// another process), and no longer than the age ago; or the answer of such a query running
    /// now; or else written by `write`, and kept.
    pub async fn page<E>(
        &self,
        filter: &ListFilter,
        position: Option<i64>,
        since: Option<i64>,
        now: DateTime<Utc>,
        write: impl Future<Output = Result<Bytes, E>>,
    ) -> Result<Bytes, E> {
        let (Some(kept), Some(position)) = (&self.kept, position) else {
            return write.await;
        };
        // Read before the query begins: a change after this point ends the page written now.
        let known = Known { position, edits: self.edits.load(Ordering::Acquire) };
        // What the page must have seen. A `since` past this process's position only raises the bar:
        // the page written for it is kept as of `known`, so what a client says never labels a page
        // others are answered, nor takes the place of a query they wait for.
        let needed = Known { position: since.map_or(position, |since| since.max(position)), ..known };
        // A page written later than `now` (by a request that read the clock after this one) is
        // younger still.
        let answers = |page: Known, written_at: DateTime<Utc>| page.covers(needed) && now - written_at <= self.max_age;
        let kept_page = || kept.pages.get(filter).filter(|page| answers(page.known, page.written_at));
        if let Some(page) = kept_page() {
            return Ok(page.body);
        }
        let leading = loop {
            let turn = {
                let mut writing = kept.writing.lock().unwrap_or_else(PoisonError::into_inner);
                // Again, in turn with the query that may have just kept it.
                if let Some(page) = kept_page() {
                    return Ok(page.body);
                }
                match writing.get(filter) {
                    Some(running) if answers(running.needed, running.written_at) => {
                        Turn::Wait(running.outcome.subscribe())
                    }
                    // Young enough and knowing all this process knows: it stays the one the rest
                    // wait for. One older than the age is replaced.
                    Some(running) if running.known.covers(known) && now - running.written_at <= self.max_age => {
                        Turn::Alone
                    }
                    _ => {
                        let outcome = watch::channel(Outcome::Running).0;
                        let writing_now = Arc::new(Writing { known, needed, written_at: now, outcome });
                        writing.insert(filter.clone(), writing_now.clone());
                        Turn::Lead(Leading { kept, filter, writing: writing_now })
                    }
                }
            };
            match turn {
                Turn::Lead(leading) => break Some(leading),
                Turn::Alone => break None,
                Turn::Wait(mut answer) => {
                    let outcome =
                        answer.wait_for(|outcome| !matches!(outcome, Outcome::Running)).await.as_deref().cloned().ok();
                    match outcome {
                        Some(Outcome::Written(body)) => return Ok(body),
                        // It failed: this request runs its own, and keeps nothing.
                        Some(Outcome::Failed) => return write.await,
                        // It was given up (its client went away): ask again.
                        Some(Outcome::Running) | None => {}
                    }
                }
            }
        };
        let body = match write.await {
            Ok(body) => body,
            Err(err) => {
                if let Some(leading) = &leading {
                    leading.writing.outcome.send_replace(Outcome::Failed);
                }
                return Err(err);
            }
        };
        // Unless the page kept meanwhile is newer: a request that read what it knows just before a
        // change may finish after one that read it just after. Of two as new, the one whose clock
        // read later stays, or on a tie the one finished last (it may have been written for a client
        // further on). Two finishing at once may leave the older: it stays true, only less useful.
        let newer_kept = kept
            .pages
            .get(filter)
            .is_some_and(|page| page.known.covers(known) && (page.known != known || page.written_at > now));
        if !newer_kept {
            // Exactly its length: the written buffer's spare capacity is not kept with it.
            let page = Page { body: Bytes::copy_from_slice(&body), known, written_at: now };
            kept.pages.insert(filter.clone(), page);
        }
        if let Some(leading) = &leading {
            leading.writing.outcome.send_replace(Outcome::Written(body.clone()));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use tokio::sync::{Barrier, oneshot};
    use tokio::task::yield_now;

    use super::*;

    fn pages() -> MarketPages {
        MarketPages::new(PageCacheSettings::default())
    }

    fn filter() -> ListFilter {
        ListFilter {
            text: None,
            city: None,
            min_price: None,
            max_price: None,
            from: None,
            to: None,
            order: crate::listings::cursor::MarketOrder::default(),
            limit: 20,
            after: None,
        }
    }

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::milliseconds(millis)
    }

    /// A query that waits until `released`, then counts itself and answers `body`.
    async fn held(released: oneshot::Receiver<()>, queries: &AtomicUsize, body: &'static str) -> Result<Bytes, ()> {
        released.await.expect("released");
        counted(queries, body).await
    }

    /// A query that counts itself and answers `body`.
    async fn counted(queries: &AtomicUsize, body: &'static str) -> Result<Bytes, ()> {
        queries.fetch_add(1, Ordering::SeqCst);
        Ok(Bytes::from_static(body.as_bytes()))
    }

    #[tokio::test]
    async fn many_asking_for_a_page_not_kept_share_one_query() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let (release, released) = oneshot::channel::<()>();
        let first = pages.page(&filter, Some(1), None, at(0), held(released, &queries, "page"));
        // Polled in order: the first query has begun before the others ask.
        let (first, second, third, ()) = tokio::join!(
            first,
            pages.page(&filter, Some(1), None, at(0), counted(&queries, "another")),
            pages.page(&filter, Some(1), None, at(1), counted(&queries, "another")),
            async { release.send(()).expect("release") },
        );
        assert_eq!([first, second, third], [Ok(Bytes::from_static(b"page")), Ok("page".into()), Ok("page".into())]);
        assert_eq!(queries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn when_the_query_others_wait_for_fails_they_run_theirs_at_once_and_keep_nothing() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let (release, released) = oneshot::channel::<()>();
        // Opens only when both waiters' queries run at once.
        let both = Barrier::new(2);
        let failing = pages.page(&filter, Some(1), None, at(0), async {
            released.await.expect("released");
            Err::<Bytes, ()>(())
        });
        let waiting = || async {
            both.wait().await;
            counted(&queries, "page").await
        };
        let all = async {
            tokio::join!(
                failing,
                pages.page(&filter, Some(1), None, at(0), waiting()),
                pages.page(&filter, Some(1), None, at(0), waiting()),
                async { release.send(()).expect("release") },
            )
        };
        // Everything here wakes within this task: if the waiters ran in turn, the first would wait
        // at the barrier for good, and a hundred turns of the runtime later nothing would have moved.
        let stuck = async {
            for _ in 0..100 {
                yield_now().await;
            }
        };
        let (failed, second, third, ()) = tokio::select! {
            biased;
            all = all => all,
            () = stuck => panic!("the waiters ran one after another"),
        };
        assert_eq!(failed, Err(()));
        assert_eq!((second, third), (Ok("page".into()), Ok("page".into())));
        // Theirs were not kept: the next to ask queries.
        assert_eq!(pages.page(&filter, Some(1), None, at(0), counted(&queries, "next")).await, Ok("next".into()));
        assert_eq!(queries.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn when_the_query_others_wait_for_is_given_up_one_of_them_queries_for_the_rest() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let mut given_up =
            Box::pin(pages.page(&filter, Some(1), None, at(0), std::future::pending::<Result<Bytes, ()>>()));
        // Polled once: its query has begun.
        tokio::select! {
            biased;
            _ = &mut given_up => unreachable!("it never ends"),
            () = std::future::ready(()) => {}
        }
        let (second, third, ()) = tokio::join!(
            pages.page(&filter, Some(1), None, at(0), counted(&queries, "page")),
            pages.page(&filter, Some(1), None, at(0), counted(&queries, "page")),
            async move { drop(given_up) },
        );
        assert_eq!((second, third), (Ok("page".into()), Ok("page".into())));
        assert_eq!(queries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_client_further_on_runs_its_own_query_beside_the_one_the_rest_wait_for() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let ((release, released), (release_further, further_released)) = (oneshot::channel(), oneshot::channel());
        let running = pages.page(&filter, Some(5), None, at(0), held(released, &queries, "at 5"));
        let further = pages.page(&filter, Some(5), Some(9), at(0), held(further_released, &queries, "for 9"));
        // Asks while both run: it waits for the query that was first, which kept its place.
        let later = pages.page(&filter, Some(5), None, at(0), counted(&queries, "another"));
        let (running, further, later, ()) = tokio::join!(running, further, later, async {
            release.send(()).expect("release");
            release_further.send(()).expect("release");
        });
        assert_eq!((running, further, later), (Ok("at 5".into()), Ok("for 9".into()), Ok("at 5".into())));
        assert_eq!(queries.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_query_running_longer_than_the_age_is_replaced_as_the_one_waited_for() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let ((release, released), (release_newer, newer_released)) = (oneshot::channel(), oneshot::channel());
        let slow = pages.page(&filter, Some(1), None, at(0), held(released, &queries, "slow"));
        let newer = pages.page(&filter, Some(1), None, at(1_001), held(newer_released, &queries, "newer"));
        let waiting = pages.page(&filter, Some(1), None, at(1_001), counted(&queries, "another"));
        let (slow, newer, waiting, ()) = tokio::join!(slow, newer, waiting, async {
            release_newer.send(()).expect("release");
            release.send(()).expect("release");
        });
        assert_eq!((slow, newer, waiting), (Ok("slow".into()), Ok("newer".into()), Ok("newer".into())));
        assert_eq!(queries.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn clients_further_on_by_the_same_position_share_a_query() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let (release, released) = oneshot::channel();
        let first = pages.page(&filter, Some(5), Some(9), at(0), held(released, &queries, "for 9"));
        let second = pages.page(&filter, Some(5), Some(9), at(0), counted(&queries, "another"));
        let (first, second, ()) = tokio::join!(first, second, async { release.send(()).expect("release") });
        assert_eq!((first, second), (Ok("for 9".into()), Ok("for 9".into())));
        assert_eq!(queries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_sellers_change_refused_leaves_the_pages_kept() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let page = |body| pages.page(&filter, Some(1), None, at(0), counted(&queries, body));
        assert_eq!(page("first").await, Ok("first".into()));
        assert_eq!(pages.editing().settle(Err::<(), _>("not yours"), |_| true), Err("not yours"));
        assert_eq!(page("again").await, Ok("first".into()), "refused: nothing changed");
        assert_eq!(pages.editing().settle(Err::<(), _>("connection lost"), |_| false), Err("connection lost"));
        assert_eq!(page("after").await, Ok("after".into()), "it may have been made");
        assert_eq!(pages.editing().settle(Ok::<_, ()>(()), |_| true), Ok(()));
        assert_eq!(page("made").await, Ok("made".into()));
    }

    #[tokio::test]
    async fn a_page_answers_whoever_knew_no_more_than_its_query_for_up_to_its_age() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let page =
            |position, millis, body| pages.page(&filter, Some(position), None, at(millis), counted(&queries, body));
        assert_eq!(page(5, 0, "at 5").await, Ok("at 5".into()));
        assert_eq!(page(4, 0, "at 4").await, Ok("at 5".into()), "a request that knew less");
        assert_eq!(page(5, 1_000, "later").await, Ok("at 5".into()), "a second old");
        assert_eq!(page(5, 1_001, "later").await, Ok("later".into()), "older than a second");
        assert_eq!(page(6, 1_001, "at 6").await, Ok("at 6".into()), "a change read since");
        drop(pages.editing());
        assert_eq!(page(6, 1_001, "edited").await, Ok("edited".into()), "a seller's change here since");
        assert_eq!(queries.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_query_that_began_knowing_less_does_not_replace_a_newer_page() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let (release, released) = oneshot::channel::<()>();
        let older = pages.page(&filter, Some(5), None, at(0), held(released, &queries, "at 5"));
        let newer = async {
            // It knows more than the query running, so runs its own rather than wait.
            let newer = pages.page(&filter, Some(6), None, at(0), counted(&queries, "at 6")).await;
            release.send(()).expect("release");
            newer
        };
        assert_eq!(tokio::join!(older, newer), (Ok("at 5".into()), Ok("at 6".into())));
        assert_eq!(pages.page(&filter, Some(6), None, at(0), counted(&queries, "again")).await, Ok("at 6".into()));
    }

    #[tokio::test]
    async fn a_client_whose_stream_is_further_on_gets_a_page_written_for_it_that_others_may_share() {
        let (pages, queries, filter) = (pages(), AtomicUsize::new(0), filter());
        let page = |since, body| pages.page(&filter, Some(5), since, at(0), counted(&queries, body));
        assert_eq!(page(None, "at 5").await, Ok("at 5".into()));
        assert_eq!(page(Some(5), "again").await, Ok("at 5".into()), "this process had reached it");
        assert_eq!(page(Some(7), "for 7").await, Ok("for 7".into()), "a stream on another process is further on");
        assert_eq!(page(None, "again").await, Ok("for 7".into()), "written after everything this process knows");
        assert_eq!(page(Some(6), "for 6").await, Ok("for 6".into()), "kept as of this process's position");
        assert_eq!(queries.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn nothing_is_kept_before_the_log_is_found_or_when_turned_off() {
        let (queries, filter) = (AtomicUsize::new(0), filter());
        let off = MarketPages::new(PageCacheSettings { max_age: Duration::ZERO, ..PageCacheSettings::default() });
        for (pages, position) in [(pages(), None), (off, Some(1))] {
            for _ in 0..2 {
                assert_eq!(
                    pages.page(&filter, position, None, at(0), counted(&queries, "page")).await,
                    Ok("page".into())
                );
            }
        }
        assert_eq!(queries.load(Ordering::SeqCst), 4);
    }
}
