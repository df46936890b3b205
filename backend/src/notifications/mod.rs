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

use crate::clock::Clock;
use crate::db::schema::users;
use crate::db::{self, DbPool};
use crate::orders::store;
use crate::outbox::{ConsumerError, Delivery, Event};
use crate::payments::Billing;

/// What the email consumer needs besides the event.
pub struct Notifier {
    pub mailer: Mailer,
    pub pool: DbPool,
    pub clock: Arc<dyn Clock>,
    pub public_url: String,
    pub hold_minutes: u64,
    /// How long an email being sent is left to its worker (`EMAIL_CLAIM_TIMEOUT`).
    pub claim_timeout: chrono::TimeDelta,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Consumer of `order.completed` and `order.refunded`: emails the buyer.
pub async fn send_order_email(notifier: Arc<Notifier>, delivery: Delivery) -> Result<(), ConsumerError> {
    let (order_id, kind) = match delivery.event {
        Event::OrderCompleted { order_id, .. } => (order_id, EmailKind::OrderConfirmation),
        Event::OrderRefunded { order_id, late_payment: true, .. } => (order_id, EmailKind::LatePaymentRefunded),
        Event::OrderRefunded { order_id, .. } => (order_id, EmailKind::OrderRefunded),
        _ => return Ok(()),
    };
    let now = notifier.clock.now();
    let conn = || async { db::conn(&notifier.pool).await.map_err(ConsumerError::new) };
    let mut held = conn().await?;
    let Some(order) = store::find(&mut held, order_id).await.map_err(ConsumerError::new)? else {
        return Ok(());
    };
    let recipient: String =
        users::table.find(order.buyer_id).select(users::email).first(&mut held).await.map_err(ConsumerError::new)?;
    let at = match kind {
        EmailKind::OrderConfirmation => order.completed_at,
        _ => order.refunded_at,
    }
    .unwrap_or(now);
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
    });
    let dedup_key = format!("{}.{}.{}", delivery.event_id, kind.as_str(), order_id.simple());
    let message = email.message(notifier.mailer.from(), &dedup_key).map_err(ConsumerError::new)?;

    match ledger::claim(
        &mut held,
        delivery.event_id,
        &recipient,
        kind.as_str(),
        &dedup_key,
        now,
        notifier.claim_timeout,
    )
    .await
    .map_err(ConsumerError::new)?
    {
        ledger::Claim::AlreadySent => return Ok(()),
        ledger::Claim::Busy => return Err(ConsumerError::busy("another worker is sending this email")),
        ledger::Claim::Claimed => {}
    }
    // No connection is held while the mail server answers.
    drop(held);
    let sent = notifier.mailer.send(message).await;
    notifier.metrics.record_email(sent.is_ok());
    match sent {
        Ok(written) => {
            ledger::mark_sent(&mut *conn().await?, delivery.event_id, &recipient, notifier.clock.now())
                .await
                .map_err(ConsumerError::new)?;
            match written {
                Some(path) => tracing::info!(%order_id, kind = kind.as_str(), path = %path.display(), "email written"),
                None => tracing::info!(%order_id, kind = kind.as_str(), "email sent"),
            }
            Ok(())
        }
        Err(err) => {
            ledger::release(&mut *conn().await?, delivery.event_id, &recipient, now)
                .await
                .map_err(ConsumerError::new)?;
            Err(ConsumerError::new(err))
        }
    }
}
