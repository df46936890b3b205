//! The process's fan-out: changes the relay read from the log, handed to every open stream here.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit, broadcast, watch};

use super::log::Change;

/// Changes kept for streams that fall behind before they must read the log instead.
const BUFFER: usize = 4_096;
/// `position` before the relay has read the log once.
const UNKNOWN: i64 = -1;

/// Every stream of this process listens here.
pub struct Hub {
    sender: broadcast::Sender<Arc<Change>>,
    /// The last position handed out, or [`UNKNOWN`].
    position: AtomicI64,
    open: AtomicUsize,
    max_open: usize,
    /// Turns at reading the log, for streams that must (see [`Hub::log_turn`]).
    log_turns: Semaphore,
    closed: watch::Sender<bool>,
}

/// No room for another stream in this process.
#[derive(Debug, thiserror::Error)]
#[error("{0} streams are open already")]
pub struct Full(pub usize);

impl Hub {
    /// Room for `max_open` streams, of which `log_readers` read the log at a time.
    pub fn new(max_open: usize, log_readers: usize) -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
            position: AtomicI64::new(UNKNOWN),
            open: AtomicUsize::new(0),
            max_open,
            log_turns: Semaphore::new(log_readers.max(1)),
            closed: watch::channel(false).0,
        }
    }

    /// A stream's turn at the log, held while it reads: streams queue here rather than for the
    /// database pool, which the API needs too.
    pub(super) async fn log_turn(&self) -> SemaphorePermit<'_> {
        // Never closed, so always a permit.
        self.log_turns.acquire().await.expect("the hub's log turns are never closed")
    }

    /// The last position handed to streams, once known.
    pub fn position(&self) -> Option<i64> {
        let position = self.position.load(Ordering::Acquire);
        (position != UNKNOWN).then_some(position)
    }

    /// Where the relay starts when it first reads the log.
    pub(super) fn start_at(&self, position: i64) {
        let _ = self.position.compare_exchange(UNKNOWN, position, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Hands `change` to every stream. Changes come in order, each once.
    pub(super) fn publish(&self, change: Change) {
        self.position.store(change.position, Ordering::Release);
        // No receivers is not an error: nobody is watching.
        let _ = self.sender.send(Arc::new(change));
    }

    /// A place for one more stream, until the [`Slot`] is dropped.
    pub fn join(self: &Arc<Self>) -> Result<Slot, Full> {
        let open = self.open.fetch_add(1, Ordering::AcqRel);
        let slot = Slot { hub: self.clone() };
        if open >= self.max_open {
            return Err(Full(self.max_open));
        }
        Ok(slot)
    }

    /// Open streams.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    pub(super) fn receiver(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }

    /// Ends every stream and the relay (the server is stopping).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves once [`Hub::close`] was called.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closed = self.closed.subscribe();
        async move {
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }
}

/// One open stream's place in the hub.
pub struct Slot {
    hub: Arc<Hub>,
}

impl Slot {
    /// The hub this place is in.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.hub.open.fetch_sub(1, Ordering::AcqRel);
    }
}
