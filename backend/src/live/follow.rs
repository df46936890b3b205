//! One stream's way through the log: from where its client left off (or from now), then each change
//! as the hub hands it over, reading the log again whenever it fell behind.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use super::hub::{Hub, Slot};
use super::log::{self, Change};
use crate::db::{self, DbError, DbPool};

/// Changes read from the log at a time.
const PAGE: i64 = 500;

/// What a stream sends.
#[derive(Debug, Clone)]
pub enum Item {
    Change(Arc<Change>),
    /// The changes after the client's position are no longer kept: it should fetch the listings
    /// again, then follow from `position`.
    Refetch {
        position: i64,
    },
    /// A stream opened without a position starts after `position`.
    Start {
        position: i64,
    },
}

impl Item {
    /// Its place in the log: the event's id.
    pub fn position(&self) -> i64 {
        match self {
            Self::Change(change) => change.position,
            Self::Refetch { position } | Self::Start { position } => *position,
        }
    }
}

/// Where a stream begins.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// With the changes after this position (the client's `Last-Event-ID`).
    After(i64),
    /// With the next change.
    Now,
}

struct Follower {
    pool: DbPool,
    changes: broadcast::Receiver<Arc<Change>>,
    /// The last position sent.
    cursor: i64,
    /// Read from the log, not sent yet.
    backlog: VecDeque<Item>,
    /// Whether the log may hold changes after `cursor` that the hub will not hand over.
    behind: bool,
    closed: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Its place in the hub, held while it runs.
    slot: Slot,
}

/// The stream of `start`'s changes, ending when the hub closes or the database fails (the client
/// reconnects with its `Last-Event-ID` and misses nothing).
pub async fn follow(
    slot: Slot,
    pool: DbPool,
    start: Start,
) -> Result<impl Stream<Item = Item> + Send + 'static, DbError> {
    // Listen before looking at the log, so nothing published meanwhile is missed.
    let hub = slot.hub().clone();
    let changes = hub.receiver();
    let mut first = None;
    let (cursor, behind) = match start {
        Start::Now => {
            let cursor = match hub.position() {
                Some(position) => position,
                None => kept(&hub, &pool).await?.map_or(0, |(_, last)| last),
            };
            first = Some(Item::Start { position: cursor });
            (cursor, false)
        }
        Start::After(after) => match kept(&hub, &pool).await? {
            Some((first_kept, last)) if after.saturating_add(1) < first_kept || after > last => {
                // The client fetches as of `last` (the market's `since`), and follows from there.
                first = Some(Item::Refetch { position: last });
                (last, false)
            }
            Some(_) => (after, true),
            None if after > 0 => {
                first = Some(Item::Refetch { position: 0 });
                (0, false)
            }
            None => (0, false),
        },
    };
    let closed = Box::pin(hub.closed());
    let follower = Follower { pool, changes, cursor, backlog: VecDeque::new(), behind, closed, slot };
    let rest = futures_util::stream::unfold(follower, |mut follower| async move {
        let item = follower.next().await?;
        Some((item, follower))
    });
    Ok(futures_util::StreamExt::chain(futures_util::stream::iter(first), rest))
}

async fn kept(hub: &Hub, pool: &DbPool) -> Result<Option<(i64, i64)>, DbError> {
    let _turn = hub.log_turn().await;
    let mut conn = db::conn(pool).await?;
    Ok(log::kept(&mut conn).await?)
}

impl Follower {
    async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.backlog.pop_front() {
                self.cursor = item.position();
                return Some(item);
            }
            if self.behind {
                match self.read_log().await {
                    Ok(()) => continue,
                    Err(err) => {
                        tracing::warn!(error = %err, "live stream could not read the change log; closing it");
                        return None;
                    }
                }
            }
            let received = tokio::select! {
                () = &mut self.closed => return None,
                received = self.changes.recv() => received,
            };
            match received {
                Ok(change) if change.position <= self.cursor => {}
                Ok(change) if change.position == self.cursor + 1 => {
                    self.cursor = change.position;
                    return Some(Item::Change(change));
                }
                // A gap (this stream began before the relay knew where it was) or a stream too slow
                // for the hub's buffer: the log has what it missed.
                Ok(_) | Err(RecvError::Lagged(_)) => self.behind = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    async fn read_log(&mut self) -> Result<(), DbError> {
        let page = {
            let _turn = self.slot.hub().log_turn().await;
            let mut conn = db::conn(&self.pool).await?;
            log::after(&mut conn, self.cursor, PAGE).await?
        };
        // Full: there may be more. Anything newer the hub hands over afterwards is queued for this
        // stream meanwhile (or it lags, and reads the log again).
        self.behind = i64::try_from(page.len()).unwrap_or(i64::MAX) == PAGE;
        if let Some(first) = page.first()
            && first.position > self.cursor + 1
        {
            // Forgotten while this client read slowly.
            self.backlog.push_back(Item::Refetch { position: first.position - 1 });
        }
        self.backlog.extend(page.into_iter().map(|change| Item::Change(Arc::new(change))));
        Ok(())
    }
}
