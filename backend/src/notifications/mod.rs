//! Notifications: emails about committed facts, sent by an outbox consumer after the change that
//! caused them committed, exactly once per event and recipient.

pub mod emails;
mod ledger;
pub mod mailer;

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub use emails::{EmailKind, OrderEmail, OrderFacts};
pub use mailer::{MailError, Mailer};

use uuid::Uuid;

use crate::clock::Clock;
use crate::db::schema::users;
use crate::db::{self, DbPool};
use crate::listings::store as tickets;
use crate::orders::store;
use crate::outbox::{ConsumerError, Delivery, Event};
use crate::payments::Billing;
use crate::ticket_files::{self, FileStore};

/// What the email consumers need besides the event.
pub struct Notifier {
    pub mailer: Mailer,
    pub pool: DbPool,
    pub clock: Arc<dyn Clock>,
    /// Where ticket files are kept: the confirmation email carries the ticket.
    pub files: Arc<dyn FileStore>,
    pub public_url: String,
    pub hold_minutes: u64,
    /// How long an email being sent is left to its worker (`EMAIL_CLAIM_TIMEOUT`).
    pub claim_timeout: chrono::TimeDelta,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Consumer of `order.completed` and `order.refunded`: emails the buyer (the confirmation with the
/// ticket file attached).
pub async fn send_order_email(notifier: Arc<Notifier>, delivery: Delivery) -> Result<(), ConsumerError> {
    let (order_id, kind) = match delivery.event {
        Event::OrderCompleted { order_id, .. } => (order_id, EmailKind::OrderConfirmation),
        Event::WaitlistOffered { order_id, .. } => (order_id, EmailKind::WaitlistOffer),
        Event::OrderRefunded { order_id, late_payment: true, .. } => (order_id, EmailKind::LatePaymentRefunded),
        Event::OrderRefunded { order_id, .. } => (order_id, EmailKind::OrderRefunded),
        _ => return Ok(()),
    };
    deliver(&notifier, delivery.event_id, order_id, kind).await
}

/// Consumer of `order.completed`: tells the seller their ticket sold.
pub async fn send_seller_email(notifier: Arc<Notifier>, delivery: Delivery) -> Result<(), ConsumerError> {
    let Event::OrderCompleted { order_id, .. } = delivery.event else {
        return Ok(());
    };
    deliver(&notifier, delivery.event_id, order_id, EmailKind::TicketSold).await
}

/// Sends email `kind` about `order_id` for event `event_id`, once: the send-once ledger is claimed
/// before the mail server is asked, and marked after it accepted.
async fn deliver(notifier: &Notifier, event_id: i64, order_id: Uuid, kind: EmailKind) -> Result<(), ConsumerError> {
    let now = notifier.clock.now();
    let conn = || async { db::conn(&notifier.pool).await.map_err(ConsumerError::new) };
    let mut held = conn().await?;
    let Some(order) = store::find(&mut held, order_id).await.map_err(ConsumerError::new)? else {
        return Ok(());
    };
    let ticket = tickets::find_any(&mut held, order.ticket_id).await.map_err(ConsumerError::new)?;
    let addressee = match (kind, &ticket) {
        // A sale refunded before the seller's email went out is no news to send.
        (EmailKind::TicketSold, _) if order.status != "complete" => return Ok(()),
        // An offer that ended before its email went out (paid, let go, lapsed) is no news either.
        (EmailKind::WaitlistOffer, _)
            if !crate::orders::store::HOLDING.contains(&order.status.as_str()) || order.expires_at <= now =>
        {
            return Ok(());
        }
        (EmailKind::TicketSold, Some(ticket)) => ticket.owner_id,
        (EmailKind::TicketSold, None) => return Ok(()),
        _ => order.buyer_id,
    };
    let recipient: String =
        users::table.find(addressee).select(users::email).first(&mut held).await.map_err(ConsumerError::new)?;
    let seller_share = match kind {
        EmailKind::TicketSold => crate::payouts::ledger::for_orders(&mut held, &[order_id])
            .await
            .map_err(ConsumerError::new)?
            .iter()
            .map(|share| share.seller_share)
            .next(),
        _ => None,
    };
    let at = match kind {
        EmailKind::WaitlistOffer => Some(order.created_at),
        EmailKind::OrderConfirmation | EmailKind::TicketSold => order.completed_at,
        _ => order.refunded_at,
    }
    .unwrap_or(now);
    let dedup_key = format!("{event_id}.{}.{}", kind.as_str(), order_id.simple());
    match ledger::claim(&mut held, event_id, &recipient, kind.as_str(), &dedup_key, now, notifier.claim_timeout)
        .await
        .map_err(ConsumerError::new)?
    {
        ledger::Claim::AlreadySent => return Ok(()),
        ledger::Claim::Busy => return Err(ConsumerError::busy("another worker is sending this email")),
        ledger::Claim::Claimed => {}
    }
    // No connection is held while the file store or the mail server answers.
    drop(held);
    let sent = async {
        // The ticket goes only to the buyer of a paid order that is not being refunded.
        let attachment = match kind {
            EmailKind::OrderConfirmation if ticket_files::withheld(&order).is_none() => {
                match ticket_files::of_sold_ticket(notifier.files.as_ref(), &order, ticket.as_ref()).await {
                    Ok(file) => file,
                    // Gone for good: the confirmation goes without it (the buyer's orders page still
                    // offers the download once an operator restores it), rather than never.
                    Err(ticket_files::TicketFilesError::FileMissing { key }) => {
                        tracing::error!(%order_id, key, "ticket file missing; confirmation sent without it");
                        None
                    }
                    Err(err) => return Err(ConsumerError::new(err)),
                }
            }
            _ => None,
        };
        let email = OrderEmail::new(OrderFacts {
            kind,
            recipient: &recipient,
            order_id,
            at,
            title: &order.ticket_title,
            price: order.price,
            tax: order.tax,
            total: order.total,
            currency: &order.currency,
            billing: order.billing.as_ref().and_then(Billing::from_json),
            public_url: &notifier.public_url,
            hold_minutes: notifier.hold_minutes,
            deadline: (kind == EmailKind::WaitlistOffer).then_some(order.expires_at),
            attachment: attachment.as_ref().map(|file| file.file_name.as_str()),
            seller_share,
        });
        let message = email.message(notifier.mailer.from(), &dedup_key, attachment).map_err(ConsumerError::new)?;
        let sent = notifier.mailer.send(message).await;
        notifier.metrics.record_email(sent.is_ok());
        sent.map_err(ConsumerError::new)
    }
    .await;
    match sent {
        Ok(written) => {
            ledger::mark_sent(&mut *conn().await?, event_id, &recipient, notifier.clock.now())
                .await
                .map_err(ConsumerError::new)?;
            match written {
                Some(path) => tracing::info!(%order_id, kind = kind.as_str(), path = %path.display(), "email written"),
                None => tracing::info!(%order_id, kind = kind.as_str(), "email sent"),
            }
            Ok(())
        }
        Err(err) => {
            ledger::release(&mut *conn().await?, event_id, &recipient, now).await.map_err(ConsumerError::new)?;
            Err(err)
        }
    }
}
