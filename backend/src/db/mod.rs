//! PostgreSQL access: the connection pool, embedded migrations and the table definitions.
//!
//! The backend talks to PostgreSQL through `diesel-async` over a `deadpool` pool, so request handlers
//! never block a runtime thread on database I/O.

pub mod constant;
pub mod limit;
mod migrate;
pub mod prepared;
pub mod schema;
mod tls;

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};

pub use migrate::{MigrateError, revert_last_migration, run_migrations};
pub use tls::{Connector, TlsSetupError};

/// The shared pool of database connections.
pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of [`DbPool`].
pub type DbConn = Object<AsyncPgConnection>;

/// A failure to reach or use the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(#[from] PoolError),
    /// The connection broke mid-query: the server restarted, shut down or dropped off the network.
    #[error("database connection lost: {0}")]
    ConnectionLost(diesel::result::Error),
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for DbError {
    fn from(err: diesel::result::Error) -> Self {
        if is_connection_lost(&err) { Self::ConnectionLost(err) } else { Self::Query(err) }
    }
}

/// Whether a query failed because the connection went away rather than because of the query: no
/// reply could be exchanged, or the server is shutting down, starting up or ended the session.
pub fn is_connection_lost(err: &diesel::result::Error) -> bool {
    use diesel::result::DatabaseErrorKind::{ClosedConnection, UnableToSendCommand, Unknown};
    match err {
        diesel::result::Error::DatabaseError(ClosedConnection | UnableToSendCommand, _) => true,
        diesel::result::Error::DatabaseError(Unknown, info) => {
            let message = info.message();
            message.starts_with("terminating connection") || message.starts_with("the database system is")
        }
        diesel::result::Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// Builds the pool. Connections are opened lazily, so this succeeds even while the database is down.
pub fn connect(connector: &Connector, max_size: usize) -> anyhow::Result<DbPool> {
    let mut config = ManagerConfig::default();
    // No test query on every checkout (a round trip per request): a connection whose server went
    // away is known closed without one and is replaced, and one broken mid-transaction is dropped.
    config.recycling_method = RecyclingMethod::Fast;
    let opener = connector.clone();
    config.custom_setup = Box::new(move |_url| opener.connect());
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(connector.url(), config);
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

/// Checks a connection out of the pool.
pub async fn conn(pool: &DbPool) -> Result<DbConn, DbError> {
    Ok(pool.get().await?)
}

/// Whether a query failed because a unique constraint with the given name was violated.
pub fn is_unique_violation(err: &diesel::result::Error, constraint: &str) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(constraint)
    )
}
