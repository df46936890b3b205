//! The `sessions` table: opaque tokens with an idle timeout and an absolute lifetime, revocable.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::token::{SessionToken, digest};
use crate::config::SessionPolicy;
use crate::db::schema::sessions;

/// Who a valid token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

/// A session just opened: the token goes to the client, never into the database.
#[derive(Debug)]
pub struct NewSession {
    pub token: SessionToken,
    pub expires_at: DateTime<Utc>,
}

fn delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

pub async fn open(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
    policy: SessionPolicy,
) -> QueryResult<NewSession> {
    let token = SessionToken::generate();
    let expires_at = now + delta(policy.max_age);
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(Uuid::new_v4()),
            sessions::token_hash.eq(digest(token.as_str())),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(NewSession { token, expires_at })
}

/// Resolves a presented token to its user and records the use, or `None` when the token is unknown,
/// revoked, past its absolute expiry or idle for too long.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    token: &str,
    now: DateTime<Utc>,
    policy: SessionPolicy,
) -> QueryResult<Option<Authenticated>> {
    diesel::update(
        sessions::table
            .filter(sessions::token_hash.eq(digest(token)))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::last_seen_at.gt(now - delta(policy.idle_timeout))),
    )
    .set(sessions::last_seen_at.eq(now))
    .returning((sessions::user_id, sessions::id))
    .get_result::<(Uuid, Uuid)>(conn)
    .await
    .optional()
    .map(|found| found.map(|(user_id, session_id)| Authenticated { user_id, session_id }))
}

/// Ends a session; later requests with its token are refused.
pub async fn revoke(conn: &mut AsyncPgConnection, session_id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}
