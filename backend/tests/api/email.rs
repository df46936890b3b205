use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::checkout::{
    GOOD_CARD, LATE, hold_ended_while_stripe_was_down, order, pay, reserved, start_payment, stripe_is_back,
};
use crate::support::smtp::SmtpServer;
use crate::support::{TestApp, expect_status};

async fn app_with_smtp(smtp: &SmtpServer, extra: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut vars = vec![("SMTP_URL", url.as_str()), ("MAIL_FROM", "Ticket Exchange <tickets@example.com>")];
    vars.extend_from_slice(extra);
    TestApp::spawn_with_stripe(&vars).await
}

async fn bought(app: &TestApp) -> crate::support::checkout::Purchase {
    let purchase = reserved(app, 4_500).await;
    expect_status(start_payment(app, &purchase.buyer, purchase.order_id()).await, StatusCode::OK).await;
    expect_status(pay(app, &purchase.buyer, purchase.order_id(), GOOD_CARD).await, StatusCode::OK).await;
    purchase
}

#[tokio::test]
async fn the_buyer_gets_a_confirmation_and_then_a_refund_notice() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp, &[]).await;
    let purchase = bought(&app).await;
    assert!(smtp.received().is_empty(), "nothing is sent before the consumer runs");
    app.dispatcher().drain().await.expect("drain");

    let mail = smtp.received_by("buyer@example.com");
    assert_eq!(mail.len(), 1);
    let confirmation = &mail[0];
    assert_eq!(confirmation.from, "tickets@example.com");
    assert_eq!(confirmation.subject, format!("Order #{} confirmed: Jazz night", purchase.order_id()));
    for part in [&confirmation.text, &confirmation.html] {
        for expected in
            ["Thanks, Ada!", "1 Jazz night Ticket", "$45.00 CAD", "$2.25 CAD", "$47.25 CAD", "1 Main St", "M5V 2T6"]
        {
            assert!(part.contains(expected), "missing {expected:?} in {part}");
        }
    }
    assert!(confirmation.html.contains("#003049"));
    // The ticket itself comes with the confirmation.
    let expected_name = format!("ticket-{}.pdf", purchase.order_id());
    assert_eq!(confirmation.attachments.len(), 1, "one attachment");
    let (name, kind, content) = &confirmation.attachments[0];
    assert_eq!((name.as_str(), kind.as_str()), (expected_name.as_str(), "application/pdf"));
    assert_eq!(content.as_slice(), crate::support::TICKET_PDF);
    assert!(confirmation.text.contains("attached"), "{}", confirmation.text);

    // The seller hears that the ticket sold, and for how much; without the ticket or the buyer's address.
    let sold = smtp.received_by("seller@example.com");
    assert_eq!(sold.len(), 1, "one email to the seller");
    assert_eq!(sold[0].subject, "Your ticket sold: Jazz night");
    assert!(sold[0].text.contains("$45.00 CAD") && !sold[0].text.contains("1 Main St"), "{}", sold[0].text);
    assert!(sold[0].attachments.is_empty());

    let path = format!("/api/orders/{}/refund", purchase.order_id());
    let refund = app.authed(&purchase.buyer, Method::POST, &path).json(&json!({})).send().await.expect("send");
    expect_status(refund, StatusCode::OK).await;
    app.dispatcher().drain().await.expect("drain");
    let mail = smtp.received_by("buyer@example.com");
    assert_eq!(mail.len(), 2);
    let notice = &mail[1];
    assert_eq!(notice.subject, format!("Refund for order #{}: Jazz night", purchase.order_id()));
    assert!(
        notice.text.contains("Refund    -$47.25 CAD") && notice.text.contains("Total    $0.00 CAD"),
        "{}",
        notice.text
    );
    assert!(notice.html.contains("Refund") && notice.html.contains("$0.00 CAD"));
}

#[tokio::test]
async fn a_late_payment_that_was_refunded_is_explained() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let vars = [LATE, &[("SMTP_URL", url.as_str())]].concat();
    let app = TestApp::spawn_with_faulty_stripe_behind(&vars, TimeDelta::minutes(30)).await;
    let (purchase, _) = hold_ended_while_stripe_was_down(&app).await;
    let rival = app.register("rival@example.com").await;
    expect_status(app.reserve(&rival, &purchase.ticket["id"]).await, StatusCode::CREATED).await;
    stripe_is_back(&app).await;
    assert_eq!(order(&app, &purchase.buyer, purchase.order_id()).await["status"], "refunded");
    let mail = smtp.received();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, "buyer@example.com");
    assert_eq!(mail[0].subject, format!("Your payment for order #{} was returned", purchase.order_id()));
    assert!(mail[0].text.contains("after your 15-minute hold had ended"), "{}", mail[0].text);
    assert!(mail[0].text.contains("refunded the full amount"));
}

#[tokio::test]
async fn a_redelivered_event_sends_one_email() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp, &[]).await;
    bought(&app).await;
    app.dispatcher().drain().await.expect("drain");
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.pool.get().await.expect("conn");
        diesel::sql_query("UPDATE outbox_deliveries SET status = 'pending', next_attempt_at = '2000-01-01'")
            .execute(&mut conn)
            .await
            .expect("redeliver everything");
    }
    let (first, second) = (app.dispatcher(), app.dispatcher());
    let (a, b) = tokio::join!(first.drain(), second.drain());
    assert!(a.expect("a").delivered + b.expect("b").delivered >= 1);
    assert_eq!(smtp.received_by("buyer@example.com").len(), 1);
    assert_eq!(smtp.received_by("seller@example.com").len(), 1);
}

#[tokio::test]
async fn while_smtp_is_down_emails_wait_and_then_go_out_once() {
    let mut smtp = SmtpServer::start().await;
    let port = smtp.port;
    smtp.stop();
    let app = TestApp::spawn_with_stripe(&[("SMTP_URL", &format!("smtp://127.0.0.1:{port}"))]).await;
    bought(&app).await;
    let report = app.dispatcher().drain().await.expect("drain");
    assert_eq!(report.retried, 2, "the buyer's and the seller's: {report:?}");

    let smtp = SmtpServer::start_on(port).await;
    app.advance(TimeDelta::seconds(2));
    let report = app.dispatcher().drain().await.expect("drain");
    assert_eq!(report.delivered, 2, "{report:?}");
    app.advance(TimeDelta::minutes(30));
    let later = app.dispatcher().drain().await.expect("drain");
    assert_eq!((later.retried, later.parked), (0, 0), "{later:?}");
    assert_eq!(smtp.received_by("buyer@example.com").len(), 1);
    assert_eq!(smtp.received().len(), 2);
}

#[tokio::test]
async fn an_email_that_keeps_failing_is_parked_not_dropped() {
    let mut smtp = SmtpServer::start().await;
    let port = smtp.port;
    smtp.stop();
    let app =
        TestApp::spawn_with_stripe(&[("SMTP_URL", &format!("smtp://127.0.0.1:{port}")), ("OUTBOX_MAX_ATTEMPTS", "3")])
            .await;
    bought(&app).await;
    let mut parked = 0;
    for _ in 0..4 {
        parked += app.dispatcher().drain().await.expect("drain").parked;
        app.advance(TimeDelta::minutes(10));
    }
    assert_eq!(parked, 2, "the buyer's email and the seller's");
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Parked {
        #[diesel(sql_type = diesel::sql_types::Text)]
        last_error: String,
    }
    let mut conn = app.pool.get().await.expect("conn");
    let rows: Vec<Parked> = diesel::sql_query(
        "SELECT last_error FROM outbox_deliveries WHERE consumer = 'notifications.email' AND status = 'parked'",
    )
    .load(&mut conn)
    .await
    .expect("parked");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].last_error.contains("SMTP"), "{}", rows[0].last_error);
}

#[tokio::test]
async fn without_smtp_emails_are_written_as_files() {
    let dir = std::env::temp_dir().join(format!("ticket-exchange-maildir-{}", uuid::Uuid::new_v4().simple()));
    let app = TestApp::spawn_with_stripe(&[("MAIL_DIR", &dir.display().to_string())]).await;
    bought(&app).await;
    app.dispatcher().drain().await.expect("drain");
    let files: Vec<_> = std::fs::read_dir(&dir).expect("mail dir").flatten().collect();
    assert_eq!(files.len(), 2, "the buyer's and the seller's");
    let raws: Vec<String> = files.iter().map(|file| std::fs::read_to_string(file.path()).expect("eml")).collect();
    assert!(
        raws.iter().any(|raw| raw.contains("Subject: Order #") && raw.contains("To: buyer@example.com")),
        "{raws:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_header_injection_attempt_cannot_change_the_headers() {
    use ticket_exchange::notifications::{EmailKind, OrderEmail, OrderFacts};
    use ticket_exchange::payments::Billing;

    let email = OrderEmail::new(OrderFacts {
        kind: EmailKind::OrderConfirmation,
        recipient: "ada@example.com",
        order_id: uuid::Uuid::nil(),
        at: chrono::Utc::now(),
        title: "Show\r\nBcc: thief@example.com\r\nX-Evil: 1",
        price: 100,
        tax: 5,
        total: 105,
        currency: "CAD",
        billing: Some(Billing {
            name: "Ada\r\nBcc: thief@example.com".into(),
            line1: "1 Main".into(),
            line2: None,
            city: "Toronto".into(),
            region: None,
            postal_code: "M5V".into(),
            country: "CA".into(),
        }),
        public_url: "http://localhost",
        seller_share: None,
        hold_minutes: 15,
        deadline: None,
        attachment: None,
    });
    let from = "Ticket Exchange <tickets@example.com>".parse().expect("from");
    let raw = String::from_utf8(email.message(&from, "key", None).expect("message").formatted()).expect("utf8");
    let headers = &raw[..raw.find("\r\n\r\n").expect("header end")];
    let names: Vec<&str> = headers
        .lines()
        .filter(|line| !line.starts_with(' ') && !line.starts_with('\t'))
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .collect();
    assert!(
        !names.iter().any(|name| name.eq_ignore_ascii_case("bcc") || name.eq_ignore_ascii_case("x-evil")),
        "{headers}"
    );
    let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("parse");
    assert_eq!(parsed.to().and_then(|to| to.first()).and_then(|a| a.address()), Some("ada@example.com"));
    assert!(parsed.bcc().is_none());
}
