//! The expiry sweep: ends every lapsed hold, in batches, safely from any number of replicas at once.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;

use super::holds;
use crate::db::{self, DbError, DbPool};

/// Ends every hold that lapsed by `now`; returns how many. Idempotent: a second sweep at the same
/// moment finds nothing to do, and concurrent sweeps split the work (`SKIP LOCKED`).
pub async fn sweep_lapsed_holds(pool: &DbPool, now: DateTime<Utc>, batch: i64) -> Result<usize, DbError> {
    let mut conn = db::conn(pool).await?;
    let mut total = 0;
    loop {
        let ended = conn.transaction(async |conn| holds::expire_batch(conn, now, batch).await).await?;
        total += ended;
        if i64::try_from(ended).unwrap_or(i64::MAX) < batch {
            return Ok(total);
        }
    }
}
