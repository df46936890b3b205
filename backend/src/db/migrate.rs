//! Embedded migrations, applied at start-up under a PostgreSQL advisory lock so that several replicas
//! starting at once apply each migration exactly once.

use diesel::RunQueryDsl;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::Connector;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Arbitrary constant naming the advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK_KEY: i64 = 0x7469_636b_6574_7300;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("cannot take the migration lock: {0}")]
    Lock(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Run(String),
    #[error("migration task panicked")]
    Panicked,
}

/// Applies every pending migration and returns the versions it applied.
pub fn run_migrations(connector: &Connector) -> impl Future<Output = Result<Vec<String>, MigrateError>> + use<> {
    let connecting = connector.connect();
    async move {
        let connection = connecting.await?;
        tokio::task::spawn_blocking(move || migrate_blocking(AsyncConnectionWrapper::from(connection)))
            .await
            .map_err(|_| MigrateError::Panicked)?
    }
}

/// Reverts the newest applied migration (by its `down.sql`) and returns its version: how a release
/// is rolled back by hand, and how the tests check that a migration carries old rows forward.
pub fn revert_last_migration(connector: &Connector) -> impl Future<Output = Result<String, MigrateError>> + use<> {
    let connecting = connector.connect();
    async move {
        let connection = connecting.await?;
        tokio::task::spawn_blocking(move || {
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(connection);
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(&mut conn)?;
            let reverted = conn
                .revert_last_migration(MIGRATIONS)
                .map(|version| version.to_string())
                .map_err(|err| MigrateError::Run(err.to_string()));
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(&mut conn)?;
            reverted
        })
        .await
        .map_err(|_| MigrateError::Panicked)?
    }
}

fn migrate_blocking(mut conn: AsyncConnectionWrapper<AsyncPgConnection>) -> Result<Vec<String>, MigrateError> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(&mut conn)?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|err| MigrateError::Run(err.to_string()));
    let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(&mut conn);
    let applied = applied?;
    unlocked?;
    Ok(applied)
}
