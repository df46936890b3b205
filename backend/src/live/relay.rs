//! The relay: one connection per process that LISTENs for the sequencer's word, reads what is new in
//! the log and hands it to the hub. A lost connection is opened again, and the log read from where
//! the hub stopped, so a change committed through any replica reaches this one's streams. When no word
//! comes for a while the relay checks its connection and reads the log anyway, so a connection that
//! died silently, or a word lost with one, delays a change by seconds, never forever.

use std::sync::Arc;
use std::time::Duration;

use diesel_async::RunQueryDsl;
use futures_util::{FutureExt, StreamExt};

use super::hub::Hub;
use super::log;
use crate::db::{self, Connector, DbError, DbPool};

/// Changes read from the log at a time.
const PAGE: i64 = 1_000;
/// The wait before listening again after the connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// How long the relay waits for a word before it checks its connection and reads the log anyway.
const QUIET: Duration = Duration::from_secs(5);
/// How long that check may take before the connection is given up for dead.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs until the hub closes.
pub async fn run(hub: Arc<Hub>, connector: Connector, pool: DbPool) {
    let closed = hub.closed();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            () = &mut closed => return,
            ended = listen(&hub, &connector, &pool) => {
                if let Err(err) = ended {
                    tracing::warn!(error = %err, "live relay lost the database; listening again shortly");
                }
            }
        }
        tokio::select! {
            () = &mut closed => return,
            () = tokio::time::sleep(RECONNECT_AFTER) => {}
        }
    }
}

/// Why the relay stopped listening.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("could not connect: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("the listening connection closed")]
    Closed,
    #[error("the listening connection stopped answering")]
    Unresponsive,
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Listens on a connection of its own until it fails.
async fn listen(hub: &Hub, connector: &Connector, pool: &DbPool) -> Result<(), RelayError> {
    let mut conn = connector.connect().await?;
    diesel::sql_query(format!("LISTEN {}", log::CHANNEL)).execute(&mut conn).await?;
    // Listening: whatever the sequencer announces from now on is heard. Before that, read the log.
    catch_up(hub, pool).await?;
    loop {
        let heard = {
            // The connection keeps what arrives meanwhile: a new stream of it loses nothing.
            let mut heard = std::pin::pin!(conn.notifications_stream());
            match tokio::time::timeout(QUIET, heard.next()).await {
                Ok(Some(Ok(_))) => {
                    // One reading answers every word already here.
                    loop {
                        match heard.next().now_or_never() {
                            Some(Some(Ok(_))) => {}
                            Some(Some(Err(err))) => return Err(err.into()),
                            Some(None) => return Err(RelayError::Closed),
                            None => break,
                        }
                    }
                    true
                }
                Ok(Some(Err(err))) => return Err(err.into()),
                Ok(None) => return Err(RelayError::Closed),
                Err(_) => false,
            }
        };
        if !heard {
            // A quiet market, or a connection that died without a word (a half-open TCP connection
            // says nothing): ask it something, and read the log anyway.
            tokio::time::timeout(PROBE_TIMEOUT, diesel::sql_query("SELECT 1").execute(&mut conn))
                .await
                .map_err(|_| RelayError::Unresponsive)??;
        }
        catch_up(hub, pool).await?;
    }
}

/// Tells the hub where the log ends, if it does not know yet: the hub hands over what comes after.
pub async fn locate(hub: &Hub, pool: &DbPool) -> Result<(), DbError> {
    if hub.position().is_none() {
        let mut conn = db::conn(pool).await?;
        hub.start_at(log::kept(&mut conn).await?.map_or(0, |(_, last)| last));
    }
    Ok(())
}

/// Hands the hub everything in the log after its position.
pub async fn catch_up(hub: &Hub, pool: &DbPool) -> Result<(), DbError> {
    locate(hub, pool).await?;
    let mut conn = db::conn(pool).await?;
    loop {
        let after = hub.position().unwrap_or_default();
        let page = log::after(&mut conn, after, PAGE).await?;
        let full = i64::try_from(page.len()).unwrap_or(i64::MAX) == PAGE;
        for change in page {
            hub.publish(change);
        }
        if !full {
            return Ok(());
        }
    }
}
