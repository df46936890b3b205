//! The live market: every change to a listing, committed through any replica, pushed to whoever
//! follows `GET /api/tickets/stream`.
//!
//! A trigger on `tickets` records each change in the change log (`log.rs`) in the writer's own
//! transaction; the sequencer (`sequencer.rs`, one process at a time) gives committed changes their
//! places and NOTIFYs; each process's relay (`relay.rs`) LISTENs, reads the log and hands the changes
//! to its hub (`hub.rs`), which fans them out to that process's streams (`follow.rs`). A stream that
//! reconnects with `Last-Event-ID` is sent exactly what came after it, from the log.

pub mod api;
pub mod follow;
pub mod hub;
pub mod log;
pub mod relay;
pub mod sequencer;

pub use hub::Hub;

use crate::db::DbError;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("Last-Event-ID is not a position")]
    InvalidLastEventId,
    #[error(transparent)]
    Full(#[from] hub::Full),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The relay and the sequencer of one process, running until its hub closes.
pub struct Workers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Waits for both to stop (after [`Hub::close`]).
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts this process's relay and sequencer. Call it before serving: a stream opened from then on
/// follows from where the log ended (or, with the database down, from where it ends once reached).
pub async fn start(state: &AppState) -> anyhow::Result<Workers> {
    let connector = state.config.database()?;
    if let Err(err) = relay::locate(&state.live, &state.pool).await {
        tracing::warn!(error = %err, "live relay cannot read the change log yet");
    }
    let relay = tokio::spawn(relay::run(state.live.clone(), connector, state.pool.clone()));
    let sequencer = tokio::spawn(sequencer::run(state.pool.clone(), state.config.live, state.live.closed()));
    Ok(Workers { tasks: vec![relay, sequencer] })
}
