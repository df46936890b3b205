//! The `sessions` table: opaque tokens with an idle timeout and an absolute lifetime, revocable.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use diesel::sql_types::{Bytea, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::token::{SessionToken, digest};
use crate::config::SessionPolicy;
use crate::db::prepared::{Prepared, Statement};
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

/// A presented token as the database checks it: its digest, the time of the request and the idle
/// cutoff (a session last used at or before it has ended).
#[derive(Debug, Clone)]
pub struct SessionCheck {
    pub token_hash: Vec<u8>,
    pub now: DateTime<Utc>,
    pub idle_cutoff: DateTime<Utc>,
}

impl SessionCheck {
    pub fn new(token: &str, now: DateTime<Utc>, policy: SessionPolicy) -> Self {
        Self { token_hash: digest(token), now, idle_cutoff: now - delta(policy.idle_timeout) }
    }
}

/// `authenticate_session` for one presented token.
struct LiveSessionLookup(SessionCheck);

impl Statement for LiveSessionLookup {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT user_id, session_id FROM authenticate_session(");
        out.push_bind_param::<Bytea, _>(&self.0.token_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.0.now)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.0.idle_cutoff)?;
        out.push_sql(")");
        Ok(())
    }
}

#[derive(QueryableByName)]
struct LiveSession {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    user_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    session_id: Uuid,
}

/// Resolves a presented token to its user, or `None` when the token is unknown, revoked, past its
/// absolute expiry or idle for too long. The use is recorded at most once a minute, or once per half
/// idle timeout if that is shorter (the SQL function `authenticate_session`; reservations call its two
/// halves, `find_session` and `touch_session`, and record no use when refused at their first look),
/// so the idle timeout counts from a use at most that long before the last.
pub async fn authenticate(conn: &mut AsyncPgConnection, check: SessionCheck) -> QueryResult<Option<Authenticated>> {
    Prepared(LiveSessionLookup(check))
        .get_result::<LiveSession>(conn)
        .await
        .optional()
        .map(|found| found.map(|live| Authenticated { user_id: live.user_id, session_id: live.session_id }))
}

/// Ends a session; later requests with its token are refused.
pub async fn revoke(conn: &mut AsyncPgConnection, session_id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}
