//! Benchmark of holds: `cargo xtask bench` runs it on a private PostgreSQL and a release server.
//!
//! 1. Reserve throughput through HTTP on distinct listings (requests/s, p50, p99), beside the same SQL
//!    transaction run by pgbench directly on the same database, with the ratio.
//! 2. 500 concurrent buyers of one listing: winners and p99.
//! 3. Sweeping 100,000 lapsed holds with the production sweep, beside one bulk UPDATE of the same rows.
//! 4. The server's peak resident memory.
//!
//! Figures are printed and written to `.data/bench/holds.txt`. Nothing here asserts on time.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::join_all;
use tokio::sync::Semaphore;

const HTTP_RESERVATIONS: usize = 4_000;
const PGBENCH_TRANSACTIONS: usize = 4_000;
const CONCURRENCY: usize = 32;
const CROWD: usize = 500;
const LAPSED_HOLDS: i64 = 100_000;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run this through `cargo xtask bench`"))
}

fn with_database(url: &str, database: &str) -> String {
    format!("{}/{database}", url.rsplit_once('/').map_or(url, |(base, _)| base))
}

async fn execute(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).await.unwrap_or_else(|err| panic!("{err}: {sql}"));
}

async fn fresh_database(admin_url: &str, name: &str) -> String {
    let mut admin = AsyncPgConnection::establish(admin_url).await.expect("connect");
    execute(&mut admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    execute(&mut admin, &format!("CREATE DATABASE {name}")).await;
    let url = with_database(admin_url, name);
    ticket_exchange::db::run_migrations(&ticket_exchange::db::Connector::new(&url, None).expect("connector"))
        .await
        .expect("migrate");
    url
}

/// One seller, `pairs` buyers each with a session token `bench-<n>`, and `pairs` listings;
/// `bench_pairs(n, buyer, ticket, token)` ties them together for pgbench.
async fn seed(conn: &mut AsyncPgConnection, pairs: usize, first: usize) {
    let last = first + pairs - 1;
    execute(conn, "CREATE TABLE IF NOT EXISTS bench_pairs (n int PRIMARY KEY, buyer uuid, ticket uuid, token text)")
        .await;
    execute(
        conn,
        "INSERT INTO users (id, email, password_hash, created_at)
                   VALUES ('00000000-0000-0000-0000-000000000001', 'seller@bench', 'x', now())
                   ON CONFLICT DO NOTHING",
    )
    .await;
    execute(
        conn,
        &format!(
            "INSERT INTO bench_pairs SELECT n, gen_random_uuid(), gen_random_uuid(), 'bench-' || n
             FROM generate_series({first}, {last}) AS n"
        ),
    )
    .await;
    execute(
        conn,
        &format!(
            "INSERT INTO users (id, email, password_hash, created_at)
             SELECT buyer, 'buyer' || n || '@bench', 'x', now() FROM bench_pairs WHERE n BETWEEN {first} AND {last}"
        ),
    )
    .await;
    execute(
        conn,
        &format!(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)
             SELECT gen_random_uuid(), sha256(convert_to(token, 'UTF8')), buyer, now(), now(), now() + interval '1 day'
             FROM bench_pairs WHERE n BETWEEN {first} AND {last}"
        ),
    )
    .await;
    execute(
        conn,
        &format!(
            "INSERT INTO tickets (id, owner_id, title, price, currency, created_at, updated_at)
             SELECT ticket, '00000000-0000-0000-0000-000000000001', 'Seat ' || n, 1000 + n, 'CAD', now(), now()
             FROM bench_pairs WHERE n BETWEEN {first} AND {last}"
        ),
    )
    .await;
}

#[derive(diesel::QueryableByName)]
struct Pair {
    #[diesel(sql_type = Text)]
    ticket: String,
    #[diesel(sql_type = Text)]
    token: String,
}

async fn pairs(conn: &mut AsyncPgConnection, first: usize, count: usize) -> Vec<Pair> {
    diesel::sql_query(format!(
        "SELECT ticket::text AS ticket, token FROM bench_pairs WHERE n >= {first} ORDER BY n LIMIT {count}"
    ))
    .load(conn)
    .await
    .expect("pairs")
}

struct Server {
    child: Child,
    base_url: String,
}

impl Server {
    async fn start(database_url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = Command::new(env!("CARGO_BIN_EXE_ticket-exchange"))
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("BACKGROUND_JOBS", "false")
            .env("MAX_LIVE_HOLDS", "1000000")
            // One load generator on loopback is one client address; measure the server, not the limit.
            .env("RATE_LIMIT_PER_MINUTE", "0")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("start server");
        let server = Self { child, base_url: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        for _ in 0..400 {
            if client.get(format!("{}/api/readyz", server.base_url)).send().await.is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not start");
    }

    fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|line| line.starts_with("VmHWM:"))
                    .and_then(|line| line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()))
            })
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn percentile(&mut self, p: f64) -> Duration {
        self.0.sort();
        let index = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0.get(index).copied().unwrap_or_default()
    }
}

/// Sends one reservation per pair, `concurrency` at a time. Returns (elapsed, latencies, statuses).
async fn reserve_all(base_url: &str, pairs: &[Pair], concurrency: usize) -> (Duration, Latencies, Vec<u16>) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let results = join_all(pairs.iter().map(|pair| {
        let client = client.clone();
        let gate = gate.clone();
        let url = format!("{base_url}/api/orders");
        async move {
            let _permit = gate.acquire().await.expect("semaphore");
            let sent = Instant::now();
            let status = client
                .post(url)
                .bearer_auth(&pair.token)
                .json(&serde_json::json!({"ticketId": pair.ticket}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (sent.elapsed(), status)
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let (latencies, statuses) = results.into_iter().unzip();
    (elapsed, Latencies(latencies), statuses)
}

const PGBENCH_SCRIPT: &str = r"
SELECT nextval('bench_seq') AS n \gset
SELECT buyer, ticket, token, gen_random_uuid() AS oid FROM bench_pairs WHERE n = :n \gset
BEGIN;
UPDATE sessions SET last_seen_at = now() WHERE token_hash = sha256(convert_to(:token, 'UTF8')) AND revoked_at IS NULL AND expires_at > now() RETURNING user_id, id;
SELECT id FROM users WHERE id = :buyer FOR UPDATE;
SELECT id, owner_id, title, price, currency, status, held_until, hold_order_id, version FROM tickets WHERE id = :ticket AND deleted_at IS NULL FOR UPDATE;
SELECT count(*) FROM orders WHERE buyer_id = :buyer AND status IN ('created', 'awaiting_payment') AND expires_at > now();
UPDATE tickets SET status = 'held', held_until = now() + interval '15 minutes', hold_order_id = :oid, version = version + 1, updated_at = now() WHERE id = :ticket AND status = 'available' AND deleted_at IS NULL;
INSERT INTO orders (id, buyer_id, ticket_id, ticket_title, price, tax, total, currency, status, expires_at, version, created_at, updated_at) VALUES (:oid, :buyer, :ticket, 'Seat', 1000, 50, 1050, 'CAD', 'created', now() + interval '15 minutes', 1, now(), now()) RETURNING *;
INSERT INTO outbox_events (kind, aggregate_id, payload, created_at) VALUES ('order.created', :oid, '{}', now()) RETURNING id;
COMMIT;
";

/// Runs the reservation transaction with pgbench; returns (tps, p50, p99).
fn pgbench(url: &str, first: usize, transactions: usize) -> (f64, Duration, Duration) {
    let dir = std::env::temp_dir().join(format!("ticket-exchange-pgbench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let script = dir.join("reserve.sql");
    std::fs::write(&script, PGBENCH_SCRIPT).expect("script");
    let per_client = transactions / CONCURRENCY;
    let setup = Command::new(env("PSQL"))
        .arg(url)
        .args(["-qc", &format!("DROP SEQUENCE IF EXISTS bench_seq; CREATE SEQUENCE bench_seq START {first}")])
        .status()
        .expect("psql");
    assert!(setup.success());
    let output = Command::new(env("PGBENCH"))
        .current_dir(&dir)
        .args([
            "-n",
            "-M",
            "extended",
            "-c",
            &CONCURRENCY.to_string(),
            "-j",
            "2",
            "-t",
            &per_client.to_string(),
            "-l",
            "-f",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("pgbench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "pgbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let tps = stdout
        .lines()
        .find(|line| line.starts_with("tps ="))
        .and_then(|line| line.split_whitespace().nth(2))
        .and_then(|tps| tps.parse().ok())
        .unwrap_or(0.0);
    let mut latencies = Latencies(
        std::fs::read_dir(&dir)
            .expect("logs")
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("pgbench_log"))
            .flat_map(|entry| {
                std::fs::read_to_string(entry.path())
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|line| line.split_whitespace().nth(2).and_then(|us| us.parse().ok()))
                    .map(Duration::from_micros)
                    .collect::<Vec<_>>()
            })
            .collect(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    (tps, latencies.percentile(0.5), latencies.percentile(0.99))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

#[tokio::main]
async fn main() {
    let admin_url = env("BENCH_DATABASE_URL");
    let mut report = String::new();
    let mut say = |line: String| {
        println!("{line}");
        let _ = writeln!(report, "{line}");
    };
    say(format!("holds benchmark, {}", Utc::now().format("%Y-%m-%d %H:%M UTC")));

    // 1. Reserve throughput, HTTP vs the same transaction in pgbench.
    let url = fresh_database(&admin_url, "bench_reserve").await;
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    seed(&mut conn, HTTP_RESERVATIONS + PGBENCH_TRANSACTIONS + CROWD, 1).await;
    let server = Server::start(&url).await;
    let http_pairs = pairs(&mut conn, 1, HTTP_RESERVATIONS).await;
    let (elapsed, mut latencies, statuses) = reserve_all(&server.base_url, &http_pairs, CONCURRENCY).await;
    let created = statuses.iter().filter(|s| **s == 201).count();
    let http_rps = HTTP_RESERVATIONS as f64 / elapsed.as_secs_f64();
    say(format!(
        "reserve via HTTP, {HTTP_RESERVATIONS} distinct listings, {CONCURRENCY} clients: {http_rps:.0} req/s, \
         p50 {:.2} ms, p99 {:.2} ms ({created} created)",
        ms(latencies.percentile(0.5)),
        ms(latencies.percentile(0.99)),
    ));
    let (tps, p50, p99) = pgbench(&url, HTTP_RESERVATIONS + 1, PGBENCH_TRANSACTIONS);
    say(format!(
        "same transaction via pgbench, {CONCURRENCY} clients: {tps:.0} tx/s, p50 {:.2} ms, p99 {:.2} ms",
        ms(p50),
        ms(p99)
    ));
    say(format!("HTTP / pgbench throughput ratio: {:.2}", http_rps / tps.max(1.0)));

    // 2. A crowd on one listing.
    let crowd = pairs(&mut conn, HTTP_RESERVATIONS + PGBENCH_TRANSACTIONS + 1, CROWD).await;
    let one_ticket: Vec<Pair> =
        crowd.iter().map(|pair| Pair { ticket: crowd[0].ticket.clone(), token: pair.token.clone() }).collect();
    let (elapsed, mut latencies, statuses) = reserve_all(&server.base_url, &one_ticket, CROWD).await;
    let winners = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    say(format!(
        "{CROWD} concurrent buyers of one listing: {winners} winner(s), {refused} refused with 409, \
         p99 {:.2} ms, all answered in {:.2} ms",
        ms(latencies.percentile(0.99)),
        ms(elapsed)
    ));
    say(format!("server peak memory (VmHWM) after the load: {:.1} MiB", server.peak_rss_kib() as f64 / 1024.0));
    drop(server);

    // 3. Sweeping 100,000 lapsed holds.
    let url = fresh_database(&admin_url, "bench_sweep").await;
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    let hold = |table: &str| {
        format!(
            "TRUNCATE orders, outbox_deliveries, outbox_events CASCADE; DELETE FROM {table};
             INSERT INTO users (id, email, password_hash, created_at)
               VALUES ('00000000-0000-0000-0000-000000000001', 'seller@bench', 'x', now()),
                      ('00000000-0000-0000-0000-000000000002', 'buyer@bench', 'x', now())
               ON CONFLICT DO NOTHING;
             INSERT INTO tickets (id, owner_id, title, price, currency, status, held_until, hold_order_id, created_at, updated_at)
               SELECT t, '00000000-0000-0000-0000-000000000001', 'Seat', 1000, 'CAD', 'held', now() - interval '1 minute', o, now(), now()
               FROM (SELECT gen_random_uuid() AS t, gen_random_uuid() AS o FROM generate_series(1, {LAPSED_HOLDS})) AS ids;
             INSERT INTO orders (id, buyer_id, ticket_id, ticket_title, price, tax, total, currency, status, expires_at, created_at, updated_at)
               SELECT hold_order_id, '00000000-0000-0000-0000-000000000002', id, 'Seat', 1000, 50, 1050, 'CAD', 'created', held_until, now(), now()
               FROM tickets;
             VACUUM ANALYZE tickets; VACUUM ANALYZE orders;"
        )
    };
    for statement in hold("tickets").split_inclusive(';').filter(|s| !s.trim().is_empty()) {
        execute(&mut conn, statement).await;
    }
    let pool = ticket_exchange::db::connect(&ticket_exchange::db::Connector::new(&url, None).expect("connector"), 4)
        .expect("pool");
    let started = Instant::now();
    let ended = ticket_exchange::orders::sweep::sweep_lapsed_holds(&pool, Utc::now() + TimeDelta::seconds(1), 500)
        .await
        .expect("sweep");
    let sweep = started.elapsed();
    say(format!(
        "sweep of {ended} lapsed holds (batches of 500, with events): {:.0} ms ({:.0} holds/s)",
        ms(sweep),
        ended as f64 / sweep.as_secs_f64()
    ));
    for statement in hold("tickets").split_inclusive(';').filter(|s| !s.trim().is_empty()) {
        execute(&mut conn, statement).await;
    }
    let started = Instant::now();
    execute(
        &mut conn,
        "WITH released AS (
             UPDATE tickets SET status = 'available', held_until = NULL, hold_order_id = NULL, version = version + 1
             WHERE status = 'held' AND held_until <= now() RETURNING id)
         UPDATE orders SET status = 'cancelled', cancel_reason = 'expired', version = version + 1
         WHERE ticket_id IN (SELECT id FROM released) AND status IN ('created', 'awaiting_payment')",
    )
    .await;
    let bulk = started.elapsed();
    say(format!("one bulk UPDATE of the same rows (no events): {:.0} ms", ms(bulk)));
    say(format!("sweep / bulk time ratio: {:.2}", sweep.as_secs_f64() / bulk.as_secs_f64()));

    let out = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into())).join("../.data/bench");
    std::fs::create_dir_all(&out).expect("results dir");
    std::fs::write(out.join("holds.txt"), report).expect("write results");
    println!("written to .data/bench/holds.txt");
}
