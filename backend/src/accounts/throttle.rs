//! Failed sign-in throttling, per account and per client address, over a sliding window.
//!
//! Failures are rows in the database, so every replica sees the same counts.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::config::LoginThrottle;
use crate::db::schema::login_failures;

/// Seconds until the caller may try again, when over either limit.
pub async fn retry_after(
    conn: &mut AsyncPgConnection,
    email_key: &str,
    client_addr: &str,
    now: DateTime<Utc>,
    limits: LoginThrottle,
) -> QueryResult<Option<u64>> {
    let window = TimeDelta::from_std(limits.window).unwrap_or(TimeDelta::MAX);
    let since = now - window;
    let by_account = login_failures::table
        .filter(login_failures::email_lower.eq(email_key))
        .filter(login_failures::failed_at.gt(since));
    let by_address = login_failures::table
        .filter(login_failures::client_addr.eq(client_addr))
        .filter(login_failures::failed_at.gt(since));
    let (account_count, account_oldest) = by_account
        .select((count_star(), min(login_failures::failed_at)))
        .get_result::<(i64, Option<DateTime<Utc>>)>(conn)
        .await?;
    let (address_count, address_oldest) = by_address
        .select((count_star(), min(login_failures::failed_at)))
        .get_result::<(i64, Option<DateTime<Utc>>)>(conn)
        .await?;
    let wait = |count: i64, max: i64, oldest: Option<DateTime<Utc>>| {
        (count >= max).then(|| {
            let free_at = oldest.unwrap_or(now) + window;
            u64::try_from((free_at - now).num_seconds()).unwrap_or(0).max(1)
        })
    };
    Ok(wait(account_count, limits.max_per_account, account_oldest)
        .into_iter()
        .chain(wait(address_count, limits.max_per_address, address_oldest))
        .max())
}

pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    email_key: &str,
    client_addr: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::email_lower.eq(email_key),
            login_failures::client_addr.eq(client_addr),
            login_failures::failed_at.eq(now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// A successful sign-in forgives the account's earlier failures.
pub async fn clear_account(conn: &mut AsyncPgConnection, email_key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::email_lower.eq(email_key)))
        .execute(conn)
        .await
        .map(drop)
}
