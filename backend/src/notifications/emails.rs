//! The emails themselves: what each says, rendered from `backend/templates/email/` (HTML and plain
//! text), and assembled into a message whose headers no field can alter.

use askama::Template;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentType, MessageId};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::mailer::MailError;
use crate::money::Money;
use crate::payments::Billing;
use crate::ticket_files::TicketFile;

/// Which email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    OrderConfirmation,
    OrderRefunded,
    LatePaymentRefunded,
    /// To the seller: their ticket sold.
    TicketSold,
    /// To the first in a listing's waitlist: the ticket is held for them, to pay for by a deadline.
    WaitlistOffer,
}

impl EmailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderConfirmation => "order_confirmation",
            Self::OrderRefunded => "order_refunded",
            Self::LatePaymentRefunded => "late_payment_refunded",
            Self::TicketSold => "ticket_sold",
            Self::WaitlistOffer => "waitlist_offer",
        }
    }
}

/// The facts an order email shows, formatted.
#[derive(Debug, Clone)]
pub struct OrderEmail {
    pub kind: EmailKind,
    pub recipient: String,
    pub order_ref: String,
    pub date: String,
    pub first_name: String,
    pub title: String,
    pub price: String,
    pub tax: String,
    pub refund: Option<String>,
    pub total: String,
    pub billing: Option<Billing>,
    /// The page the email links to (the buyer's orders, or the seller's sales), and its label.
    pub orders_url: String,
    pub link_label: &'static str,
    pub hold_minutes: u64,
    /// Until when an offered ticket is held, formatted (empty for other emails).
    pub deadline: String,
    /// The attached ticket file's name, when the ticket is attached.
    pub attachment: Option<String>,
    /// The seller's share of the price after the platform's fee (the seller's email).
    pub seller_share: Option<String>,
}

/// The order facts an email is made from.
pub struct OrderFacts<'a> {
    pub kind: EmailKind,
    pub recipient: &'a str,
    pub order_id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub title: &'a str,
    pub price: i64,
    pub tax: i64,
    pub total: i64,
    pub currency: &'a str,
    pub billing: Option<Billing>,
    pub public_url: &'a str,
    pub hold_minutes: u64,
    /// Until when an offered ticket is held (a waitlist offer).
    pub deadline: Option<DateTime<Utc>>,
    /// The name of the ticket file attached, if one is.
    pub attachment: Option<&'a str>,
    /// The seller's share of the price after the platform's fee, in minor units (the seller's email).
    pub seller_share: Option<i64>,
}

impl OrderEmail {
    pub fn new(facts: OrderFacts<'_>) -> Self {
        let money = |minor: i64| Money { minor, currency: facts.currency }.to_string();
        let refunded = matches!(facts.kind, EmailKind::OrderRefunded | EmailKind::LatePaymentRefunded);
        let to_seller = facts.kind == EmailKind::TicketSold;
        let first_name = facts
            .billing
            .as_ref()
            .map(|billing| billing.first_name().to_owned())
            .unwrap_or_else(|| facts.recipient.split('@').next().unwrap_or("there").to_owned());
        Self {
            kind: facts.kind,
            recipient: facts.recipient.to_owned(),
            order_ref: facts.order_id.to_string(),
            date: facts.at.format("%B %-d, %Y").to_string(),
            first_name: if to_seller {
                facts.recipient.split('@').next().unwrap_or("there").to_owned()
            } else {
                first_name
            },
            title: facts.title.to_owned(),
            price: money(facts.price),
            tax: money(facts.tax),
            refund: refunded.then(|| money(-facts.total)),
            total: money(if refunded { 0 } else { facts.total }),
            billing: facts.billing,
            orders_url: match facts.kind {
                EmailKind::TicketSold => format!("{}/sales", facts.public_url),
                EmailKind::WaitlistOffer => format!("{}/orders/{}/checkout", facts.public_url, facts.order_id),
                _ => format!("{}/orders", facts.public_url),
            },
            link_label: match facts.kind {
                EmailKind::TicketSold => "View your sales",
                EmailKind::WaitlistOffer => "Pay for your ticket",
                _ => "View your orders",
            },
            deadline: facts.deadline.map(|at| at.format("%B %-d, %Y at %H:%M UTC").to_string()).unwrap_or_default(),
            hold_minutes: facts.hold_minutes,
            attachment: facts.attachment.map(str::to_owned),
            seller_share: facts.seller_share.map(money),
        }
    }

    pub fn subject(&self) -> String {
        let subject = match self.kind {
            EmailKind::OrderConfirmation => format!("Order #{} confirmed: {}", self.order_ref, self.title),
            EmailKind::OrderRefunded => format!("Refund for order #{}: {}", self.order_ref, self.title),
            EmailKind::LatePaymentRefunded => format!("Your payment for order #{} was returned", self.order_ref),
            EmailKind::TicketSold => format!("Your ticket sold: {}", self.title),
            EmailKind::WaitlistOffer => format!("Your turn: {} is held for you", self.title),
        };
        // Header values never carry line breaks, whatever a title contains.
        subject.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
    }

    fn render(&self) -> Result<(String, String), askama::Error> {
        let email = self;
        Ok(match self.kind {
            EmailKind::OrderConfirmation => {
                (ConfirmationText { email }.render()?, ConfirmationHtml { email }.render()?)
            }
            EmailKind::OrderRefunded => (RefundedText { email }.render()?, RefundedHtml { email }.render()?),
            EmailKind::LatePaymentRefunded => (LateText { email }.render()?, LateHtml { email }.render()?),
            EmailKind::TicketSold => (SoldText { email }.render()?, SoldHtml { email }.render()?),
            EmailKind::WaitlistOffer => (OfferText { email }.render()?, OfferHtml { email }.render()?),
        })
    }

    /// The message, plain text and HTML (and the ticket file, when given), with a Message-ID fixed by
    /// `dedup_key` so a resend is recognisably the same message.
    pub fn message(&self, from: &Mailbox, dedup_key: &str, ticket: Option<TicketFile>) -> Result<Message, MailError> {
        let to: Mailbox = self.recipient.parse().map_err(|err| MailError::Build(format!("recipient: {err}")))?;
        let (text, html) = self.render().map_err(|err| MailError::Build(err.to_string()))?;
        let domain = from.email.domain().to_owned();
        let alternatives = MultiPart::alternative()
            .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
            .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html));
        let body = match ticket {
            None => alternatives,
            Some(ticket) => {
                let content_type = ContentType::parse(ticket.kind.content_type())
                    .map_err(|err| MailError::Build(format!("attachment type: {err}")))?;
                MultiPart::mixed()
                    .multipart(alternatives)
                    .singlepart(Attachment::new(ticket.file_name).body(ticket.content, content_type))
            }
        };
        Message::builder()
            .from(from.clone())
            .to(to)
            .subject(self.subject())
            .header(MessageId::from(format!("<{dedup_key}@{domain}>")))
            .multipart(body)
            .map_err(|err| MailError::Build(err.to_string()))
    }
}

#[derive(Template)]
#[template(path = "email/order_confirmation.txt")]
struct ConfirmationText<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/order_confirmation.html")]
struct ConfirmationHtml<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/order_refunded.txt")]
struct RefundedText<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/order_refunded.html")]
struct RefundedHtml<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/late_payment_refunded.txt")]
struct LateText<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/late_payment_refunded.html")]
struct LateHtml<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/waitlist_offer.txt")]
struct OfferText<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/waitlist_offer.html")]
struct OfferHtml<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/ticket_sold.txt")]
struct SoldText<'a> {
    email: &'a OrderEmail,
}

#[derive(Template)]
#[template(path = "email/ticket_sold.html")]
struct SoldHtml<'a> {
    email: &'a OrderEmail,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: EmailKind, title: &str, name: &str) -> OrderEmail {
        OrderEmail::new(OrderFacts {
            kind,
            recipient: "ada@example.com",
            order_id: uuid::Uuid::nil(),
            at: DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default(),
            title,
            price: 4_500,
            tax: 225,
            total: 4_725,
            currency: "CAD",
            billing: Some(Billing {
                name: name.into(),
                line1: "1 Main St".into(),
                line2: None,
                city: "Toronto".into(),
                region: Some("ON".into()),
                postal_code: "M5V 2T6".into(),
                country: "CA".into(),
            }),
            public_url: "http://localhost:8080",
            hold_minutes: 15,
            attachment: Some("ticket-x.pdf"),
            seller_share: (kind == EmailKind::TicketSold).then_some(4_050),
            deadline: (kind == EmailKind::WaitlistOffer).then(|| {
                DateTime::parse_from_rfc3339("2026-11-23T12:15:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
            }),
        })
    }

    #[test]
    fn a_waitlist_offer_says_until_when_the_ticket_is_held_and_links_to_paying() {
        let email = facts(EmailKind::WaitlistOffer, "Jazz night", "Ada Lovelace");
        assert_eq!(email.subject(), "Your turn: Jazz night is held for you");
        let (text, html) = email.render().expect("renders");
        for part in [&text, &html] {
            for expected in [
                "November 23, 2026 at 12:15 UTC",
                "/orders/00000000-0000-0000-0000-000000000000/checkout",
                "$47.25 CAD",
            ] {
                assert!(part.contains(expected), "missing {expected:?} in {part}");
            }
        }
    }

    #[test]
    fn a_confirmation_shows_the_order_summary_and_billing() {
        let email = facts(EmailKind::OrderConfirmation, "Jazz night", "Ada Lovelace");
        let (text, html) = email.render().expect("renders");
        for part in [&text, &html] {
            for expected in ["Thanks, Ada!", "1 Jazz night Ticket", "$45.00 CAD", "$2.25 CAD", "$47.25 CAD", "M5V 2T6"]
            {
                assert!(part.contains(expected), "missing {expected:?} in {part}");
            }
        }
        assert!(html.contains("#003049") && html.contains("#E0F4FF"), "in the product's colours");
        assert_eq!(email.subject(), format!("Order #{} confirmed: Jazz night", uuid::Uuid::nil()));
    }

    #[test]
    fn a_refund_notice_shows_a_refund_line_and_a_zero_total() {
        let (text, _) = facts(EmailKind::OrderRefunded, "Jazz night", "Ada").render().expect("renders");
        assert!(text.contains("Refund    -$47.25 CAD"), "{text}");
        assert!(text.contains("Total    $0.00 CAD"), "{text}");
    }

    #[test]
    fn a_confirmation_says_the_ticket_is_attached_and_carries_it() {
        let email = facts(EmailKind::OrderConfirmation, "Jazz night", "Ada");
        let (text, html) = email.render().expect("renders");
        assert!(text.contains("attached") && html.contains("attached"), "{text}");
        let from: Mailbox = "Tickets <tickets@example.com>".parse().expect("from");
        let file = TicketFile {
            kind: crate::ticket_files::FileKind::Pdf,
            content: b"%PDF-1.4 %%EOF".to_vec(),
            file_name: "ticket-x.pdf".into(),
        };
        let raw = String::from_utf8(email.message(&from, "k", Some(file)).expect("builds").formatted()).expect("utf-8");
        assert!(raw.contains("multipart/mixed") && raw.contains("application/pdf"), "{raw}");
        assert!(raw.contains("filename=\"ticket-x.pdf\""), "{raw}");
    }

    #[test]
    fn the_seller_hears_what_their_ticket_sold_for() {
        let email = facts(EmailKind::TicketSold, "Jazz night", "Ada");
        let (text, html) = email.render().expect("renders");
        for part in [&text, &html] {
            assert!(part.contains("Jazz night") && part.contains("$45.00 CAD"), "{part}");
            assert!(part.contains("$40.50 CAD") && part.contains("when the event starts"), "{part}");
            assert!(part.contains("/sales"), "{part}");
        }
        assert_eq!(email.subject(), "Your ticket sold: Jazz night");
        assert_eq!(email.first_name, "ada", "addressed by their account, not the buyer's billing name");
    }

    #[test]
    fn html_is_escaped() {
        let (text, html) = facts(EmailKind::OrderConfirmation, "<script>x</script>", "Ada").render().expect("renders");
        assert!(!html.contains("<script>") && html.contains("&#60;script&#62;"), "{html}");
        assert!(text.contains("<script>x</script>"), "plain text is plain");
    }
}
