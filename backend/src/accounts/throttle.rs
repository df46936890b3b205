//! Failed sign-in throttling over a sliding window, per (account, client address) and per client
//! address, so someone hammering an account from elsewhere cannot lock its owner out.
//!
//! Failures are rows in the database, so every replica sees the same counts. An attempt is booked as
//! a failure, after counting, in one transaction under a lock on its address, before the password is
//! checked; a right password then takes the booking back. So simultaneous wrong guesses from one
//! address get at most the limit's worth of password checks, however many arrive at once.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::config::LoginThrottle;
use crate::db::schema::login_failures;

/// The outcome of asking to check a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booking {
    /// Go ahead: the attempt is recorded as a failure (row id) until the password proves right.
    Booked(i64),
    /// Over a limit: no password check.
    Refused { retry_after_secs: u64 },
}

/// Counts the failures of `email_key` from `client_addr`, and of `client_addr` overall, and books this
/// attempt if both are under their limits. Must run inside a transaction.
pub async fn book_attempt(
    conn: &mut AsyncPgConnection,
    email_key: &str,
    client_addr: &str,
    now: DateTime<Utc>,
    limits: LoginThrottle,
) -> QueryResult<Booking> {
    // Attempts from one address queue here for the length of this short transaction.
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('login:' || $1, 0))")
        .bind::<Text, _>(client_addr)
        .execute(conn)
        .await?;
    let window = TimeDelta::from_std(limits.window).unwrap_or(TimeDelta::MAX);
    let since = now - window;
    let (pair_count, pair_oldest) = login_failures::table
        .filter(login_failures::email_lower.eq(email_key))
        .filter(login_failures::client_addr.eq(client_addr))
        .filter(login_failures::failed_at.gt(since))
        .select((count_star(), min(login_failures::failed_at)))
        .get_result::<(i64, Option<DateTime<Utc>>)>(conn)
        .await?;
    let (address_count, address_oldest) = login_failures::table
        .filter(login_failures::client_addr.eq(client_addr))
        .filter(login_failures::failed_at.gt(since))
        .select((count_star(), min(login_failures::failed_at)))
        .get_result::<(i64, Option<DateTime<Utc>>)>(conn)
        .await?;
    let wait = |count: i64, max: i64, oldest: Option<DateTime<Utc>>| {
        (count >= max).then(|| {
            let free_at = oldest.unwrap_or(now) + window;
            u64::try_from((free_at - now).num_seconds()).unwrap_or(0).max(1)
        })
    };
    let refused = wait(pair_count, limits.max_per_account, pair_oldest)
        .into_iter()
        .chain(wait(address_count, limits.max_per_address, address_oldest))
        .max();
    if let Some(retry_after_secs) = refused {
        return Ok(Booking::Refused { retry_after_secs });
    }
    let id = diesel::insert_into(login_failures::table)
        .values((
            login_failures::email_lower.eq(email_key),
            login_failures::client_addr.eq(client_addr),
            login_failures::failed_at.eq(now),
        ))
        .returning(login_failures::id)
        .get_result(conn)
        .await?;
    Ok(Booking::Booked(id))
}

/// The password was right: the booking is taken back, and the account's earlier failures from this
/// address are forgiven.
pub async fn forgive(conn: &mut AsyncPgConnection, booked: i64, email_key: &str, client_addr: &str) -> QueryResult<()> {
    diesel::delete(
        login_failures::table.filter(
            login_failures::id
                .eq(booked)
                .or(login_failures::email_lower.eq(email_key).and(login_failures::client_addr.eq(client_addr))),
        ),
    )
    .execute(conn)
    .await
    .map(drop)
}
