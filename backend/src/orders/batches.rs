//! Reservations asked for at once go to the database together, as one call of `reserve_tickets`:
//! what a reservation costs the database is mostly its statements' and its transaction's, and a
//! batch pays those once.
//!
//! Nothing waits to fill a batch. A reservation asked for while no batch is in the database goes at
//! once, alone. While one is, a second starts as soon as [`BESIDE_ANOTHER`] reservations wait, up
//! to [`IN_FLIGHT`] at once; fewer wait for a batch to end, and go with the next, with the others
//! that came meanwhile (at most [`LARGEST`]). So a quiet market sends batches of one, and a busy
//! one batches about as large as the requests that arrive while one runs.
//!
//! Each batch runs in a task of its own, so a request that goes away (its client hung up) takes no
//! one else's reservation with it. A batch the database refuses with an error that undid it (a
//! deadlock with another path's locks, say) is sent again one reservation at a time, so each gets
//! its own answer; one that failed otherwise (the pool had no connection, the connection was lost)
//! fails each of its reservations with the same error.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Semaphore, oneshot};

use super::reservation::{self, Ask, Refusal};
use super::{OrderRow, OrdersError};
use crate::config::OrderPolicy;
use crate::db::{self, DbError, DbPool};

/// Batches in the database at once. Measured with the benchmark's reservations on two cores (see
/// the README), three beside one another, each started with at least [`BESIDE_ANOTHER`], made the
/// most reservations a second at 8 and at 32 clients, of one to four and two to eight.
pub const IN_FLIGHT: usize = 3;
/// The fewest reservations a batch starts with while another is in the database: fewer wait for one
/// to end. So a few clients' reservations go together, rather than one by one beside a batch.
pub const BESIDE_ANOTHER: usize = 4;
/// The most reservations one batch takes: its locks are held until all of them are written.
pub const LARGEST: usize = 32;

type Outcome = Result<OrderRow, Refusal>;

struct Waiting {
    ask: Ask,
    answer: oneshot::Sender<Outcome>,
}

/// The reservations waiting for the database, and the batches it is working on.
pub struct ReservationBatches {
    queue: Arc<Queue>,
}

struct Queue {
    pool: DbPool,
    policy: OrderPolicy,
    waiting: Mutex<VecDeque<Waiting>>,
    in_flight: Arc<Semaphore>,
}

impl ReservationBatches {
    pub fn new(pool: DbPool, policy: OrderPolicy) -> Self {
        let queue = Queue {
            pool,
            policy,
            waiting: Mutex::new(VecDeque::new()),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        };
        Self { queue: Arc::new(queue) }
    }

    pub fn pool(&self) -> &DbPool {
        &self.queue.pool
    }

    /// Sends `ask` with the next batch and waits for its answer.
    pub async fn reserve(&self, ask: Ask) -> Outcome {
        let (answer, answered) = oneshot::channel();
        self.queue.lock().push_back(Waiting { ask, answer });
        self.queue.dispatch();
        answered.await.unwrap_or_else(|_| {
            // Only if a batch's task ended without answering (it panicked, or the runtime is
            // shutting down): what it wrote, if anything, is not known here.
            Err(Refusal::Orders(OrdersError::Db(DbError::Query(diesel::result::Error::QueryBuilderError(
                "the reservation's batch ended without an answer".into(),
            )))))
        })
    }
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Waiting>> {
        // Nothing panics while holding it; a poisoned queue is still a whole one.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a batch of what is waiting for each batch that may start. A batch ending dispatches
    /// again after it has given back its place, so a reservation that found every place taken is
    /// taken by the batch after.
    fn dispatch(self: &Arc<Self>) {
        loop {
            let Ok(place) = self.in_flight.clone().try_acquire_owned() else {
                return;
            };
            let batch: Vec<Waiting> = {
                let mut waiting = self.lock();
                // Another batch is in the database: this one waits for it unless enough are waiting.
                let others = IN_FLIGHT - 1 - self.in_flight.available_permits();
                if others > 0 && waiting.len() < BESIDE_ANOTHER {
                    return;
                }
                let size = waiting.len().min(LARGEST);
                waiting.drain(..size).collect()
            };
            if batch.is_empty() {
                return;
            }
            let queue = self.clone();
            tokio::spawn(async move {
                let again = queue.run(batch).await;
                {
                    let mut waiting = queue.lock();
                    for ask in again.into_iter().rev() {
                        waiting.push_front(ask);
                    }
                }
                drop(place);
                queue.dispatch();
            });
        }
    }

    /// Runs one batch and answers it; gives back the reservations to send again (`Refusal::Again`).
    async fn run(&self, batch: Vec<Waiting>) -> Vec<Waiting> {
        let asks: Vec<Ask> = batch.iter().map(|waiting| waiting.ask.clone()).collect();
        let outcomes = match self.attempt(&asks).await {
            Ok(outcomes) => outcomes,
            Err(DbError::Query(_)) if asks.len() > 1 => {
                let mut outcomes = Vec::with_capacity(asks.len());
                for ask in asks {
                    outcomes.push(match self.attempt(std::slice::from_ref(&ask)).await {
                        Ok(mut alone) => alone.pop().unwrap_or(Err(Refusal::Again)),
                        Err(err) => Err(Refusal::Orders(OrdersError::Db(err))),
                    });
                }
                outcomes
            }
            Err(err) => {
                let shared = Arc::new(err);
                batch.into_iter().for_each(|waiting| {
                    drop(waiting.answer.send(Err(Refusal::Orders(OrdersError::BatchFailed(shared.clone())))))
                });
                return Vec::new();
            }
        };
        let mut again = Vec::new();
        for (waiting, outcome) in batch.into_iter().zip(outcomes) {
            match outcome {
                Err(Refusal::Again) => again.push(waiting),
                // The asker may have gone (its client hung up): the reservation stands either way.
                outcome => drop(waiting.answer.send(outcome)),
            }
        }
        again
    }

    async fn attempt(&self, asks: &[Ask]) -> Result<Vec<Outcome>, DbError> {
        let mut conn = db::conn(&self.pool).await?;
        Ok(reservation::attempt(&mut conn, asks, self.policy).await?)
    }
}
