//! The line (`waitlist`) and the hold rules (`hold_rules`) in the database.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{hold_rules, waitlist};

/// The rules of a hold, as the servers apply them.
#[derive(Debug, Clone, Copy, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = hold_rules)]
pub struct HoldRules {
    pub hold_seconds: i64,
    pub max_live_holds: i64,
    pub tax_milli_percent: i64,
}

pub async fn write_rules(conn: &mut AsyncPgConnection, rules: HoldRules) -> QueryResult<()> {
    diesel::insert_into(hold_rules::table)
        .values(&rules)
        .on_conflict(hold_rules::id)
        .do_update()
        .set(&rules)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn rules(conn: &mut AsyncPgConnection) -> QueryResult<Option<HoldRules>> {
    hold_rules::table
        .select((hold_rules::hold_seconds, hold_rules::max_live_holds, hold_rules::tax_milli_percent))
        .first(conn)
        .await
        .optional()
}

/// Puts `user_id` at the end of the line (where they are, if in it already).
pub async fn join(conn: &mut AsyncPgConnection, ticket_id: Uuid, user_id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::insert_into(waitlist::table)
        .values((waitlist::ticket_id.eq(ticket_id), waitlist::user_id.eq(user_id), waitlist::joined_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// Takes `user_id` out of the line; whether they were in it.
pub async fn leave(conn: &mut AsyncPgConnection, ticket_id: Uuid, user_id: Uuid) -> QueryResult<bool> {
    diesel::delete(waitlist::table.find((ticket_id, user_id))).execute(conn).await.map(|deleted| deleted == 1)
}

/// Empties the line.
pub async fn clear(conn: &mut AsyncPgConnection, ticket_id: Uuid) -> QueryResult<usize> {
    diesel::delete(waitlist::table.filter(waitlist::ticket_id.eq(ticket_id))).execute(conn).await
}

/// Those in line, first first.
pub async fn line(conn: &mut AsyncPgConnection, ticket_id: Uuid) -> QueryResult<Vec<Uuid>> {
    waitlist::table
        .filter(waitlist::ticket_id.eq(ticket_id))
        .order(waitlist::line_position)
        .select(waitlist::user_id)
        .load(conn)
        .await
}

/// Of `ticket_ids`, those with someone in line.
pub async fn awaited(conn: &mut AsyncPgConnection, ticket_ids: &[Uuid]) -> QueryResult<Vec<Uuid>> {
    waitlist::table
        .filter(waitlist::ticket_id.eq_any(ticket_ids))
        .select(waitlist::ticket_id)
        .distinct()
        .load(conn)
        .await
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Takes the advisory lock a buyer's reservations queue on (see `reserve_ticket`), if free: a
/// hand-over holds a ticket row already, so waiting here could deadlock with that buyer's own
/// reservation, which takes this lock first and the ticket row after.
pub async fn try_lock_buyer(conn: &mut AsyncPgConnection, buyer: Uuid) -> QueryResult<bool> {
    let locked: Locked =
        diesel::sql_query("SELECT pg_try_advisory_xact_lock(hashtextextended('holds:' || $1, 0)) AS locked")
            .bind::<Text, _>(buyer.to_string())
            .get_result(conn)
            .await?;
    Ok(locked.locked)
}
