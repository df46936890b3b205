//! Where ticket files are kept: a small interface ([`FileStore`]) so production can keep them in an
//! object store, and its default, the database ([`DatabaseFileStore`], table `ticket_files`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::future::BoxFuture;

use crate::db::schema::ticket_files;
use crate::db::{self, DbError, DbPool};

#[derive(Debug, thiserror::Error)]
pub enum FileStoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// The store's own failure (an object store's answer, say), described for the log.
    #[error("file store failed: {0}")]
    Backend(String),
}

impl From<diesel::result::Error> for FileStoreError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

/// Keeps files by key. Keys are never reused, so a file once stored under a key never changes.
pub trait FileStore: Send + Sync {
    fn put<'a>(
        &'a self,
        key: &'a str,
        content: &'a [u8],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), FileStoreError>>;

    /// The file, or `None` if nothing is stored under `key`.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, FileStoreError>>;

    /// Forgets the file; nothing happens if there is none.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), FileStoreError>>;
}

/// Files in PostgreSQL, beside everything else: nothing more to run, backed up with the rest.
pub struct DatabaseFileStore {
    pub pool: DbPool,
}

impl FileStore for DatabaseFileStore {
    fn put<'a>(
        &'a self,
        key: &'a str,
        content: &'a [u8],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), FileStoreError>> {
        Box::pin(async move {
            let mut conn = db::conn(&self.pool).await?;
            diesel::insert_into(ticket_files::table)
                .values((
                    ticket_files::key.eq(key),
                    ticket_files::content.eq(content),
                    ticket_files::created_at.eq(now),
                ))
                .execute(&mut conn)
                .await?;
            Ok(())
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, FileStoreError>> {
        Box::pin(async move {
            let mut conn = db::conn(&self.pool).await?;
            Ok(ticket_files::table.find(key).select(ticket_files::content).first(&mut conn).await.optional()?)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), FileStoreError>> {
        Box::pin(async move {
            let mut conn = db::conn(&self.pool).await?;
            diesel::delete(ticket_files::table.find(key)).execute(&mut conn).await?;
            Ok(())
        })
    }
}
