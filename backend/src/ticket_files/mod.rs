//! Ticket files: the seller attaches the ticket itself (a PDF, PNG or JPEG of at most 2 MiB) to a
//! listing, which is for sale only once it has one; the file goes only to the buyer of a completed
//! order that is not being refunded, by download and attached to the confirmation email. A sold
//! ticket's file cannot be replaced.

pub mod api;
pub mod content;
pub mod store;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use uuid::Uuid;

pub use content::FileKind;
pub use store::{DatabaseFileStore, FileStore, FileStoreError};

use crate::db::{self, DbError, DbPool};
use crate::listings::{self, ListingsError, TicketRow};
use crate::orders::OrderRow;
use crate::outbox::{self, Event};
use crate::validation::Invalid;

/// The largest ticket file: 2 MiB.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TicketFilesError {
    /// Empty, of another type, damaged, or not what it was sent as.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the ticket file is larger than {MAX_BYTES} bytes")]
    TooLarge,
    /// The listing is not the caller's, or cannot change now.
    #[error(transparent)]
    Listing(#[from] ListingsError),
    #[error("order not found")]
    OrderNotFound,
    /// The order is the caller's, but its ticket is not theirs to have (yet, or any more).
    #[error("the order is {status}; its ticket is not available")]
    NotAvailable { status: &'static str },
    /// The listing names a file the store does not have (an operator's problem, logged).
    #[error("ticket file {key} is missing from the file store")]
    FileMissing { key: String },
    #[error(transparent)]
    Store(#[from] FileStoreError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl TicketFilesError {
    /// Whether the change was refused before anything was written: not when the database or the
    /// file store failed, which may have been after a commit.
    pub fn changed_nothing(&self) -> bool {
        match self {
            Self::Invalid(_) | Self::TooLarge | Self::OrderNotFound | Self::NotAvailable { .. } => true,
            Self::Listing(err) => err.changed_nothing(),
            Self::FileMissing { .. } | Self::Store(_) | Self::Db(_) => false,
        }
    }
}

impl From<diesel::result::Error> for TicketFilesError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

/// Attaches `content` as the ticket file of the caller's listing `ticket_id`, replacing any earlier
/// file while the listing is available (not held, not sold).
///
/// The file is stored under a new key before the listing points at it, and the old file is
/// forgotten only after: a crash in between leaves at worst a file nothing points at, never a
/// listing pointing at nothing.
pub async fn attach(
    pool: &DbPool,
    files: &dyn FileStore,
    owner_id: Uuid,
    ticket_id: Uuid,
    content: &[u8],
    declared: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TicketRow, TicketFilesError> {
    if content.len() > MAX_BYTES {
        return Err(TicketFilesError::TooLarge);
    }
    let kind = content::identify(content, declared).map_err(Invalid::from)?;
    let bytes = i32::try_from(content.len()).map_err(|_| TicketFilesError::TooLarge)?;
    // Refuse at once what the transaction below would refuse, before storing anything.
    let current = listings::get(pool, ticket_id).await?;
    if current.owner_id != owner_id {
        return Err(ListingsError::NotFound.into());
    }
    let key = format!("tickets/{ticket_id}/{}.{}", Uuid::new_v4().simple(), kind.extension());
    files.put(&key, content, now).await?;
    let attached = db::conn(pool)
        .await?
        .transaction(async |conn| {
            let before = listings::lock_editable(conn, owner_id, ticket_id, None, now).await?;
            let ticket = listings::store::set_file(conn, ticket_id, &key, kind.content_type(), bytes, now).await?;
            outbox::record(conn, &Event::TicketUpdated { ticket_id, version: ticket.version }, now).await?;
            // A listing back from a refunded sale with its reissued ticket goes to whoever waits.
            let ticket = match crate::waitlist::offer(conn, ticket_id, now).await? {
                Some(_) => listings::store::find_for_update(conn, ticket_id).await?.unwrap_or(ticket),
                None => ticket,
            };
            Ok::<_, TicketFilesError>((before.file_key, ticket))
        })
        .await;
    match attached {
        Ok((replaced, ticket)) => {
            if let Some(old) = replaced {
                forget(files, &old).await;
            }
            Ok(ticket)
        }
        Err(err) => {
            forget(files, &key).await;
            Err(err)
        }
    }
}

/// Best effort: a file left behind costs storage, nothing else.
async fn forget(files: &dyn FileStore, key: &str) {
    if let Err(err) = files.delete(key).await {
        tracing::warn!(key, error = %err, "could not delete a ticket file nothing points at");
    }
}

/// Why `order`'s buyer may not have its ticket now, if they may not.
pub fn withheld(order: &OrderRow) -> Option<&'static str> {
    match order.status.as_str() {
        "complete" if order.refund_requested_at.is_some() => Some("being refunded"),
        "complete" => None,
        "refunded" => Some("refunded"),
        "cancelled" => Some("cancelled"),
        _ => Some("not paid yet"),
    }
}

/// A ticket file on its way to its buyer.
#[derive(Debug)]
pub struct TicketFile {
    pub kind: FileKind,
    pub content: Vec<u8>,
    /// What to call it when saved: `ticket-<order id>.<extension>`.
    pub file_name: String,
}

/// The ticket file of a paid order, for its buyer. Anyone else's order is not found; the buyer's own
/// order before payment, or once refunded or being refunded, is refused.
pub async fn for_buyer(
    pool: &DbPool,
    files: &dyn FileStore,
    buyer_id: Uuid,
    order_id: Uuid,
) -> Result<TicketFile, TicketFilesError> {
    let (order, ticket) = {
        let mut conn = db::conn(pool).await?;
        let order = crate::orders::store::find(&mut conn, order_id)
            .await?
            .filter(|order| order.buyer_id == buyer_id)
            .ok_or(TicketFilesError::OrderNotFound)?;
        let ticket = listings::store::find_any(&mut conn, order.ticket_id).await?;
        (order, ticket)
    };
    if let Some(status) = withheld(&order) {
        return Err(TicketFilesError::NotAvailable { status });
    }
    of_sold_ticket(files, &order, ticket.as_ref())
        .await?
        .ok_or(TicketFilesError::NotAvailable { status: "without a file" })
}

/// The file of `ticket`, sold to `order` (whose buyer may have it); `None` when it has none (sold
/// before tickets carried files).
pub async fn of_sold_ticket(
    files: &dyn FileStore,
    order: &OrderRow,
    ticket: Option<&TicketRow>,
) -> Result<Option<TicketFile>, TicketFilesError> {
    let Some((key, kind)) = ticket.and_then(|ticket| {
        Some((ticket.file_key.as_deref()?, FileKind::from_content_type(ticket.file_content_type.as_deref()?)?))
    }) else {
        return Ok(None);
    };
    let content = files.get(key).await?.ok_or_else(|| TicketFilesError::FileMissing { key: key.to_owned() })?;
    Ok(Some(TicketFile { kind, content, file_name: format!("ticket-{}.{}", order.id, kind.extension()) }))
}
