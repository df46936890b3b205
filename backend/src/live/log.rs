//! The change log (`listing_changes`): what the trigger on `tickets` records, in the order the
//! sequencer gives it (see the migration `listing_changes`).

use std::sync::OnceLock;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::listing_changes;
use crate::listings::TicketRow;

/// The channel the sequencer notifies, with the last position it gave as the payload.
pub const CHANNEL: &str = "listing_changes";

/// What happened to a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Listed,
    Changed,
    Held,
    Released,
    Sold,
    Deleted,
}

impl ChangeKind {
    fn from_db(kind: &str) -> Self {
        match kind {
            "listed" => Self::Listed,
            "held" => Self::Held,
            "released" => Self::Released,
            "sold" => Self::Sold,
            "deleted" => Self::Deleted,
            // `changed`, the only other value the table allows.
            _ => Self::Changed,
        }
    }
}

/// One change, in its place.
#[derive(Debug, Clone)]
pub struct Change {
    pub position: i64,
    pub kind: ChangeKind,
    /// The listing as it was right after the change.
    pub listing: TicketRow,
    /// The change as streams send it: rendered by the first stream of this process to send it
    /// (`api.rs`), and copied by every other.
    pub frame: OnceLock<Frame>,
}

/// A server-sent event's type and data.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event: String,
    pub data: String,
}

#[derive(Queryable)]
struct ChangeRow {
    position: Option<i64>,
    ticket_id: Uuid,
    kind: String,
    listing: serde_json::Value,
}

impl ChangeRow {
    fn into_change(self) -> Option<Change> {
        let listing: TicketRow = match serde_json::from_value(self.listing) {
            Ok(listing) => listing,
            Err(err) => {
                tracing::error!(ticket_id = %self.ticket_id, error = %err, "unreadable listing in the change log");
                return None;
            }
        };
        Some(Change {
            position: self.position?,
            kind: ChangeKind::from_db(&self.kind),
            listing,
            frame: OnceLock::new(),
        })
    }
}

/// Up to `limit` changes after `position`, in order.
pub async fn after(conn: &mut AsyncPgConnection, position: i64, limit: i64) -> QueryResult<Vec<Change>> {
    let rows: Vec<ChangeRow> = listing_changes::table
        .filter(listing_changes::position.gt(position))
        .order(listing_changes::position)
        .limit(limit)
        .select((
            listing_changes::position,
            listing_changes::ticket_id,
            listing_changes::kind,
            listing_changes::listing,
        ))
        .load(conn)
        .await?;
    Ok(rows.into_iter().filter_map(ChangeRow::into_change).collect())
}

/// The first and last positions still kept (none when nothing is).
pub async fn kept(conn: &mut AsyncPgConnection) -> QueryResult<Option<(i64, i64)>> {
    use diesel::dsl::{max, min};
    let (first, last): (Option<i64>, Option<i64>) = listing_changes::table
        .select((min(listing_changes::position), max(listing_changes::position)))
        .first(conn)
        .await?;
    Ok(first.zip(last))
}

#[derive(QueryableByName)]
struct Sequenced {
    #[diesel(sql_type = Nullable<BigInt>)]
    last: Option<i64>,
}

/// Gives their places to up to `batch` committed changes and forgets all but the last `keep`, if no
/// other sequencer is at it; the last position given, if any.
pub async fn sequence(conn: &mut AsyncPgConnection, batch: i32, keep: i64) -> QueryResult<Option<i64>> {
    let sequenced: Sequenced = diesel::sql_query("SELECT sequence_listing_changes($1, $2) AS last")
        .bind::<Integer, _>(batch)
        .bind::<BigInt, _>(keep)
        .get_result(conn)
        .await?;
    Ok(sequenced.last)
}
