//! Three server processes on one database behind a round-robin client, as in production: whole
//! purchases race across them, and their background work (event delivery, expiry sweeps) runs at
//! the same time from several places. Nothing is sold twice, handled twice or emailed twice.

use diesel_async::RunQueryDsl;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use ticket_exchange::db::{self, Connector};
use ticket_exchange::orders::sweep::sweep_lapsed_holds;

use crate::support::checkout::{GOOD_CARD, billing};
use crate::support::database::count;
use crate::support::process::ServerProcess;
use crate::support::smtp::SmtpServer;
use crate::support::{Session, TestApp, seed, stripe};

const LISTINGS: usize = 9;

/// Round-robin over the replicas, one request at a time.
struct Replicas {
    servers: Vec<ServerProcess>,
    client: reqwest::Client,
}

impl Replicas {
    async fn start(app: &TestApp, smtp: &SmtpServer) -> Self {
        let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
        let env = [
            ("STRIPE_SECRET_KEY", stripe::SECRET_KEY),
            ("STRIPE_PUBLISHABLE_KEY", stripe::PUBLISHABLE_KEY),
            ("STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET),
            ("STRIPE_API_BASE", app.stripe().url.as_str()),
            ("SMTP_URL", smtp_url.as_str()),
            // Background work is driven by the test below, from several places at once.
            ("BACKGROUND_JOBS", "false"),
        ];
        let servers = join_all((0..3).map(|_| ServerProcess::start(&app.database_url, &env))).await;
        Self { servers, client: reqwest::Client::new() }
    }

    fn url(&self, turn: usize, path: &str) -> String {
        format!("{}{path}", self.servers[turn % self.servers.len()].base_url)
    }

    async fn post(&self, turn: usize, session: &Session, path: &str, body: Value) -> reqwest::Response {
        self.client.post(self.url(turn, path)).bearer_auth(&session.token).json(&body).send().await.expect("send")
    }
}

/// The deliveries by consumer, status and attempts, for failure messages.
async fn deliveries(app: &TestApp) -> String {
    #[derive(diesel::QueryableByName)]
    struct Summary {
        #[diesel(sql_type = diesel::sql_types::Text)]
        summary: String,
    }
    let mut conn = app.pool.get().await.expect("conn");
    diesel::sql_query(
        "SELECT COALESCE(string_agg(line, '; '), '') AS summary FROM (SELECT format('%s %s %s x%s', e.kind, \
         d.consumer, d.status, d.attempts) AS line FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id \
         ORDER BY d.event_id) lines",
    )
    .get_result::<Summary>(&mut conn)
    .await
    .expect("deliveries")
    .summary
}

async fn list_for_sale(replicas: &Replicas, seller: &Session) -> Vec<Value> {
    let created = join_all((0..LISTINGS).map(|n| {
        replicas.post(n, seller, "/api/tickets", crate::support::listing(format!("Concert {n}"), 5_000 + n as i64))
    }))
    .await;
    join_all(created.into_iter().enumerate().map(|(n, response)| async move {
        assert_eq!(response.status(), StatusCode::CREATED);
        let created = response.json::<Value>().await.expect("ticket");
        crate::support::publish(&replicas.client, &replicas.url(n, ""), seller, &created).await
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_sell_each_listing_once_and_email_each_buyer_once() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_stripe(&[("SMTP_URL", &format!("smtp://127.0.0.1:{}", smtp.port))]).await;
    let replicas = Replicas::start(&app, &smtp).await;
    let people = seed::buyers(&app.database_url, 1 + 2 * LISTINGS, chrono::Utc::now()).await;
    let (seller, buyers) = people.split_first().expect("people");
    let tickets = list_for_sale(&replicas, seller).await;

    // For every listing two buyers race through different replicas; the winner starts paying through
    // one replica and confirms through another.
    let purchases = tickets.iter().enumerate().map(|(n, ticket)| {
        let (replicas, app) = (&replicas, &app);
        let contenders = [&buyers[2 * n], &buyers[2 * n + 1]];
        async move {
            let reservations =
                join_all(contenders.iter().enumerate().map(|(side, buyer)| {
                    replicas.post(n + side, buyer, "/api/orders", json!({"ticketId": ticket["id"]}))
                }))
                .await;
            let statuses: Vec<StatusCode> = reservations.iter().map(reqwest::Response::status).collect();
            let winner = statuses.iter().position(|status| *status == StatusCode::CREATED).expect("one winner");
            assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 1, "{statuses:?}");
            let order: Value = reservations.into_iter().nth(winner).expect("winner").json().await.expect("order");
            let started =
                replicas.post(n + 1, contenders[winner], "/api/payments", json!({"orderId": order["id"]})).await;
            assert_eq!(started.status(), StatusCode::OK);
            let token = app.stripe().card_token(GOOD_CARD).await;
            let paid = replicas
                .post(
                    n + 2,
                    contenders[winner],
                    "/api/payments/confirm",
                    json!({"orderId": order["id"], "cardToken": token, "billing": billing()}),
                )
                .await;
            let status = paid.status();
            let paid: Value = paid.json().await.expect("paid");
            assert_eq!(status, StatusCode::OK, "{paid}");
            assert_eq!(paid["order"]["status"], "complete", "{paid}");
            contenders[winner].user_id
        }
    });
    let winners = join_all(purchases).await;

    assert_eq!(
        count(&app.database_url, "SELECT count(*) AS count FROM tickets WHERE status = 'sold'").await,
        LISTINGS as i64
    );
    assert_eq!(
        count(&app.database_url, "SELECT count(DISTINCT ticket_id) AS count FROM orders WHERE status = 'complete'")
            .await,
        LISTINGS as i64
    );
    assert_eq!(
        count(&app.database_url, "SELECT count(*) AS count FROM orders WHERE status = 'complete'").await,
        LISTINGS as i64
    );

    // Three dispatchers deliver the events at once, as three replicas' jobs would. (The replicas ran
    // on the real clock; this process's clock catches up with them first, and goes past the holds'
    // ends, when the check of each paid-for hold falls due.)
    app.advance(chrono::TimeDelta::minutes(16));
    let reports = join_all((0..3).map(|_| async { app.dispatcher().drain().await.expect("drain") })).await;
    assert!(reports.iter().all(|report| report.retried == 0 && report.parked == 0), "{reports:?}");
    assert_eq!(
        count(
            &app.database_url,
            "SELECT count(*) AS count FROM outbox_deliveries \
             WHERE (status <> 'delivered' OR attempts <> 1) AND consumer <> 'payouts.transfer'"
        )
        .await,
        0,
        "every event was handled once by each of its consumers: {}",
        deliveries(&app).await
    );
    // Each sale's payout falls due only at its event's start, months away.
    assert_eq!(
        count(
            &app.database_url,
            "SELECT count(*) AS count FROM outbox_deliveries \
             WHERE consumer = 'payouts.transfer' AND status = 'pending' AND attempts = 0"
        )
        .await,
        LISTINGS as i64
    );
    assert_eq!(app.dispatcher().drain().await.expect("drain").attempted(), 0);

    let (emails, to_seller): (Vec<_>, Vec<_>) =
        smtp.received().into_iter().partition(|email| email.subject.starts_with("Order #"));
    assert_eq!(emails.len(), LISTINGS, "one confirmation per purchase: {emails:?}");
    assert_eq!(to_seller.len(), LISTINGS, "and one note to the seller per sale");
    let mut recipients: Vec<&str> = emails.iter().map(|email| email.to.as_str()).collect();
    recipients.sort_unstable();
    recipients.dedup();
    assert_eq!(recipients.len(), winners.len(), "each buyer got exactly one email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_sweeps_from_three_replicas_never_collide() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with_stripe(&[("SMTP_URL", &format!("smtp://127.0.0.1:{}", smtp.port))]).await;
    let replicas = Replicas::start(&app, &smtp).await;
    let people = seed::buyers(&app.database_url, 1 + LISTINGS, chrono::Utc::now()).await;
    let (seller, buyers) = people.split_first().expect("people");
    let tickets = list_for_sale(&replicas, seller).await;
    let reservations = join_all(
        tickets
            .iter()
            .zip(buyers)
            .enumerate()
            .map(|(n, (ticket, buyer))| replicas.post(n, buyer, "/api/orders", json!({"ticketId": ticket["id"]}))),
    )
    .await;
    assert!(reservations.iter().all(|response| response.status() == StatusCode::CREATED));

    // Every hold has lapsed; three replicas' sweeps run at once, each on its own pool, in small batches.
    let lapsed = chrono::Utc::now() + chrono::TimeDelta::minutes(16);
    let pools: Vec<_> = (0..3)
        .map(|_| db::connect(&Connector::new(&app.database_url, None).expect("connector"), 2).expect("pool"))
        .collect();
    let released: Vec<usize> =
        join_all(pools.iter().map(|pool| async move { sweep_lapsed_holds(pool, lapsed, 2).await.expect("sweep") }))
            .await;
    assert_eq!(released.iter().sum::<usize>(), LISTINGS, "each hold released exactly once: {released:?}");
    assert_eq!(
        count(
            &app.database_url,
            "SELECT count(*) AS count FROM orders WHERE status = 'cancelled' AND cancel_reason = 'expired'"
        )
        .await,
        LISTINGS as i64
    );
    assert_eq!(
        count(&app.database_url, "SELECT count(*) AS count FROM outbox_events WHERE kind = 'order.expired'").await,
        LISTINGS as i64,
        "one expiry event per order"
    );
    assert_eq!(
        count(&app.database_url, "SELECT count(*) AS count FROM tickets WHERE status = 'available'").await,
        LISTINGS as i64
    );
    assert_eq!(count(&app.database_url, "SELECT count(*) AS count FROM orders WHERE status <> 'cancelled'").await, 0);
}
