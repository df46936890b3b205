//! `sent_emails`: the deduplication key for emails. A worker claims (event, recipient) before sending
//! and marks it sent after; a claim left by a worker that died is taken over once it is old.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::sent_emails;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours to send.
    Claimed,
    /// Already sent: nothing to do.
    AlreadySent,
    /// Another worker is sending it right now.
    Busy,
}

pub async fn claim(
    conn: &mut AsyncPgConnection,
    event_id: i64,
    recipient: &str,
    kind: &str,
    message_id: &str,
    now: DateTime<Utc>,
    timeout: TimeDelta,
) -> QueryResult<Claim> {
    let inserted = diesel::insert_into(sent_emails::table)
        .values((
            sent_emails::event_id.eq(event_id),
            sent_emails::recipient.eq(recipient),
            sent_emails::kind.eq(kind),
            sent_emails::status.eq("sending"),
            sent_emails::claimed_at.eq(now),
            sent_emails::message_id.eq(message_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::Claimed);
    }
    let row = sent_emails::table.find((event_id, recipient));
    let (status, claimed_at): (String, DateTime<Utc>) =
        row.select((sent_emails::status, sent_emails::claimed_at)).first(conn).await?;
    if status == "sent" {
        return Ok(Claim::AlreadySent);
    }
    // A claim protects an email being sent for `timeout` before another worker may take it over.
    if claimed_at > now - timeout {
        return Ok(Claim::Busy);
    }
    // The claimant died mid-send: take over, unless someone else just did.
    let taken =
        diesel::update(row.filter(sent_emails::status.eq("sending")).filter(sent_emails::claimed_at.eq(claimed_at)))
            .set(sent_emails::claimed_at.eq(now))
            .execute(conn)
            .await?;
    Ok(if taken == 1 { Claim::Claimed } else { Claim::Busy })
}

pub async fn mark_sent(
    conn: &mut AsyncPgConnection,
    event_id: i64,
    recipient: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(sent_emails::table.find((event_id, recipient)))
        .set((sent_emails::status.eq("sent"), sent_emails::sent_at.eq(Some(now))))
        .execute(conn)
        .await
        .map(drop)
}

/// Gives up our claim (made at `claimed_at`) after a failed send, so a retry can claim it again. A
/// claim another worker took over since is theirs and stays.
pub async fn release(
    conn: &mut AsyncPgConnection,
    event_id: i64,
    recipient: &str,
    claimed_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::delete(
        sent_emails::table
            .find((event_id, recipient))
            .filter(sent_emails::status.eq("sending"))
            .filter(sent_emails::claimed_at.eq(claimed_at)),
    )
    .execute(conn)
    .await
    .map(drop)
}
