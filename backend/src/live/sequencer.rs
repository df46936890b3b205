//! The sequencer: every process runs one, and one at a time (an advisory lock) gives committed
//! changes their places in the log and announces them.

use super::log;
use crate::config::LiveSettings;
use crate::db::{self, DbError, DbPool};

/// Changes given places in one transaction.
const BATCH: i32 = 5_000;

/// Runs every `settings.sequence_interval` until `closed` resolves.
pub async fn run(pool: DbPool, settings: LiveSettings, closed: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(settings.sequence_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(closed);
    let mut failing = false;
    loop {
        tokio::select! {
            () = &mut closed => return,
            _ = tick.tick() => {}
        }
        match sequence(&pool, settings.history).await {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("live sequencer reaches the database again");
            }
            Ok(_) => {}
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(error = %err, "live sequencer cannot reach the database");
            }
            Err(_) => {}
        }
    }
}

/// Gives places to the committed changes waiting for one, keeping the last `history`; the last
/// position given, if this call gave any (none also when another process is at it).
pub async fn sequence(pool: &DbPool, history: i64) -> Result<Option<i64>, DbError> {
    let mut conn = db::conn(pool).await?;
    Ok(log::sequence(&mut conn, BATCH, history).await?)
}
