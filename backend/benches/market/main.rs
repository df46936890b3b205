//! The market benchmark: `cargo xtask bench` runs it on a private PostgreSQL (fsync on) with a release
//! server. Every figure is printed beside its reference, measured in the same run on the same
//! database and machine:
//!
//! 1. Browsing 100,000 listings through HTTP (the first page and page 1,000, by keyset) beside
//!    pgbench running the server's own SELECT: as the server runs by default (pages kept while
//!    nothing can have changed them, `listings::market_pages`), and through a second server that
//!    writes every page anew from the database.
//! 2. Reservations through HTTP (every request a new buyer and listing, 8 and 32 connections, wrk)
//!    beside pgbench running one `UPDATE` by random primary key on a table of as many rows, and
//!    beside pgbench calling the server's own reservation, the SQL function `reserve_tickets`, one
//!    reservation a call (the server sends as many as arrive together), and beside pgbench writing
//!    only the two rows a reservation must (the hold and the order), the most the schema's rules
//!    allow one transaction at a time.
//! 3. 500 simultaneous buyers of one listing: winners and p99.
//! 4. 1,000 subscribers of the live stream while reservations run: how many changes each is sent and
//!    the delay from a change to its delivery, p50 and p99, beside the sequencer's interval (the
//!    longest a committed change waits for its place in the log).
//! 5. The server's peak resident memory through 1 to 3, and through all of it (the larger of
//!    `VmHWM` and its resident set sampled every 5 ms).
//! 6. Sweeping 100,000 lapsed holds with the production sweep, beside one bulk UPDATE of the rows.
//! 7. An on-sale: the first page browsed by 32 clients while 8 reserve (run before 6, on the same
//!    server as 1 to 4).
//!
//! Figures are written to `.data/bench/market.txt`. Nothing here asserts on time.

mod live;
mod load;
mod seed;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use diesel::sql_types::{Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use load::{Request, Throughput};
use seed::execute;
use ticket_exchange::listings::cursor::PageCursor;

const LISTINGS: usize = 100_000;
const SECONDS: u32 = 4;
const CLIENTS: [usize; 2] = [8, 32];
const BROWSE_CLIENTS: usize = 32;
/// Pairs each reservation run has to itself: room for 5,000 reservations a second for `SECONDS`.
/// Past them, wrk starts again from its first (then refused) request.
const PER_RUN: usize = 20_000;
const CROWD: usize = 500;
const SUBSCRIBERS: usize = 1_000;
const LIVE_CLIENTS: usize = 8;
/// Reservations a second in the steady part of the live stream's run.
const LIVE_PACE: u32 = 50;
/// The pairs left between the crowd's and the last listing (the crowd's listing).
const LIVE_PAIRS: usize = 19_000;
/// Where the on-sale's pairs start within the live stream's: past the most its runs take.
const ON_SALE_AFTER: usize = 10_000;
const LAPSED_HOLDS: i64 = 100_000;
const PAGE: usize = 20;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run this through `cargo xtask bench`"))
}

struct Server {
    child: Child,
    base_url: String,
    rss: RssSampler,
}

/// Reads a process's resident set every few milliseconds and keeps the largest. Linux's `VmHWM`
/// alone can read low: it is the larger of a high-water mark updated only on some paths and the
/// current size, and memory handed back with `madvise` (as mimalloc does) can leave the mark behind.
struct RssSampler {
    largest_kib: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

/// A field of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let largest_kib = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (largest, stopped) = (largest_kib.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS:") {
                    largest.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Self { largest_kib, stop }
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Server {
    /// A release server on `database_url`, with `vars` set beside the benchmark's own.
    async fn start(database_url: &str, vars: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = Command::new(env!("CARGO_BIN_EXE_ticket-exchange"))
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("BACKGROUND_JOBS", "false")
            // One load generator on loopback is one client address; measure the server, not the limit.
            .env("RATE_LIMIT_PER_MINUTE", "0")
            .env("RUST_LOG", "error")
            // As the image runs it (deploy/Dockerfile): mimalloc commits memory as it is used.
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .expect("start server");
        let rss = RssSampler::start(child.id());
        let server = Self { child, base_url: format!("http://127.0.0.1:{port}"), rss };
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

    /// The server's peak resident set so far: the larger of `VmHWM` and the largest sampled.
    fn peak_rss_kib(&self) -> u64 {
        let high_water = status_kib(self.child.id(), "VmHWM:").unwrap_or(0);
        high_water.max(self.rss.largest_kib.load(Ordering::Relaxed))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's reservation (`orders::reservation`) as pgbench runs it, one reservation a call (a
/// batch of one, as a quiet server sends them): each transaction the next pair's buyer and listing,
/// the default hold, hold limit and tax.
const RESERVE_SQL: &str = "SELECT nextval('bench_seq') AS n \\gset
SELECT r.refusal, (r.reserved).* FROM bench_pairs p, reserve_tickets(ARRAY[sha256(convert_to(p.token, 'UTF8'))], \
ARRAY[p.ticket], ARRAY[gen_random_uuid()], ARRAY[jsonb_build_object('type', 'order.created')], \
now() - interval '7 days', now(), now() + interval '15 minutes', 3, 5000, 'order.created', '{}') AS r WHERE p.n = :n;
";

/// The two rows every reservation writes, alone, as one statement: the listing's hold and the order,
/// each with its table's constraints, indexes and triggers, and nothing else (no session, no hold
/// count, no event): the most reservations the schema allows one transaction at a time, whatever
/// the code around them.
const TWO_WRITES_SQL: &str = "SELECT nextval('bench_seq') AS n \\gset
WITH held AS (UPDATE tickets t SET status = 'held', held_until = now() + interval '15 minutes', \
hold_order_id = gen_random_uuid(), version = t.version + 1, updated_at = now() \
FROM bench_pairs p WHERE p.n = :n AND t.id = p.ticket RETURNING t.*, p.buyer) \
INSERT INTO orders (id, buyer_id, ticket_id, ticket_title, price, tax, total, currency, status, expires_at, \
version, created_at, updated_at, event_starts_at) \
SELECT hold_order_id, buyer, id, event_name, price, price / 20, price + price / 20, currency, 'created', \
held_until, 1, now(), now(), event_starts_at FROM held;
";

/// Ends the holds `reserve_tickets` made on pairs `first..first + count` (their orders cancelled as
/// lapsed, their listings available again), so the same pairs can be reserved again.
fn release_sql(first: usize, count: usize) -> String {
    format!(
        "WITH freed AS (
             UPDATE orders SET status = 'cancelled', cancel_reason = 'expired', version = version + 1
             WHERE status = 'created'
               AND ticket_id IN (SELECT ticket FROM bench_pairs WHERE n >= {first} AND n < {first} + {count})
             RETURNING ticket_id)
         UPDATE tickets SET status = 'available', held_until = NULL, hold_order_id = NULL, version = version + 1
         WHERE id IN (SELECT ticket_id FROM freed)"
    )
}

/// Makes pair `first` the next a pgbench script takes (`nextval('bench_seq')`).
async fn start_pairs_at(conn: &mut AsyncPgConnection, first: usize) {
    execute(conn, "DROP SEQUENCE IF EXISTS bench_seq").await;
    execute(conn, &format!("CREATE SEQUENCE bench_seq START {first}")).await;
}

#[derive(diesel::QueryableByName)]
struct LastTaken {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_value: i64,
}

/// Stops the benchmark if a pgbench run starting at pair `first` took pairs past its `PER_RUN`, the
/// next run's (or the crowd's and the live stream's): its figures would then be of other rows.
async fn within_pairs(conn: &mut AsyncPgConnection, first: usize) {
    let taken: LastTaken =
        diesel_async::RunQueryDsl::get_result(diesel::sql_query("SELECT last_value FROM bench_seq"), conn)
            .await
            .expect("bench_seq");
    let end = i64::try_from(first + PER_RUN).unwrap_or(i64::MAX);
    assert!(
        taken.last_value < end,
        "a pgbench run took pairs up to {}, past its own (to {end}): raise PER_RUN",
        taken.last_value
    );
}

/// The reservation of a pair's listing by its buyer.
fn reservation(pair: seed::Pair) -> Request {
    Request {
        method: "POST",
        path: "/api/orders".into(),
        token: Some(pair.token),
        body: Some(format!("{{\"ticketId\":\"{}\"}}", pair.ticket)),
    }
}

/// What the live stream's subscribers were sent, and how soon.
fn followed(load: &str, heard: Vec<live::Heard>) -> String {
    let counts: Vec<usize> = heard.iter().map(|heard| heard.events).collect();
    let mut delays: Vec<Duration> = heard.into_iter().flat_map(|heard| heard.delays).collect();
    format!(
        "{SUBSCRIBERS} subscribers of the live stream {load}: each sent {} to {} changes, {} deliveries, \
         change to delivery p50 {:.1} ms, p99 {:.1} ms | the sequencer's interval (the longest a change \
         waits for its place): {:.0} ms",
        counts.iter().min().copied().unwrap_or(0),
        counts.iter().max().copied().unwrap_or(0),
        delays.len(),
        ms(load::percentile(&mut delays, 0.5)),
        ms(load::percentile(&mut delays, 0.99)),
        ms(ticket_exchange::config::LiveSettings::default().sequence_interval),
    )
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn figures(run: &Throughput) -> String {
    format!("{:.0}/s, p50 {:.2} ms, p99 {:.2} ms", run.per_second, ms(run.p50), ms(run.p99))
}

/// The server's market query for one page (`listings::store::list_available`), as pgbench runs it.
fn browse_sql(after: bool) -> String {
    let keyset = if after { "AND (event_starts_at, id) > (:after_at, :after_id)" } else { "" };
    format!(
        "SELECT id, owner_id, event_name, venue, city, event_starts_at, event_time_zone, section, seat_row, seat, \
         face_value, price, currency, status, held_until, hold_order_id, file_key, file_content_type, file_bytes, \
         version, created_at, updated_at, deleted_at FROM tickets WHERE deleted_at IS NULL AND status <> 'sold' \
         AND file_key IS NOT NULL AND (status = 'available' OR (status = 'held' AND held_until <= now())) \
         AND event_starts_at > now() {keyset} ORDER BY event_starts_at, id LIMIT {};\n",
        PAGE + 1
    )
}

#[derive(diesel::QueryableByName)]
struct Listed {
    #[diesel(sql_type = Timestamptz)]
    event_starts_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    id: String,
}

/// Where page `page` (counting from 1) of the market starts.
async fn cursor_before_page(conn: &mut AsyncPgConnection, page: usize) -> PageCursor {
    use diesel_async::RunQueryDsl;
    let listed: Listed = diesel::sql_query(format!(
        "SELECT event_starts_at, id::text AS id FROM tickets ORDER BY event_starts_at, id OFFSET {} LIMIT 1",
        (page - 1) * PAGE - 1
    ))
    .get_result(conn)
    .await
    .expect("cursor");
    PageCursor::after_start(listed.event_starts_at, listed.id.parse().expect("uuid"))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let postgres = Command::new(env("PGBENCH"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().replace("pgbench ", "PostgreSQL "))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {postgres}; server, database and load generators share them")
}

#[tokio::main]
async fn main() {
    let admin_url = env("BENCH_DATABASE_URL");
    let mut report = String::new();
    let mut say = |line: String| {
        println!("{line}");
        let _ = writeln!(report, "{line}");
    };
    say(format!("market benchmark, {}", Utc::now().format("%Y-%m-%d %H:%M UTC")));
    say(format!("machine: {}", machine()));

    let url = seed::fresh_database(&admin_url, "bench_market").await;
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    seed::market(&mut conn, LISTINGS).await;
    let server = Server::start(&url, &[]).await;
    // The seed's 100,000 listings are 100,000 changes for the live market's sequencer to give their
    // places: measure once it has, not while it works through them.
    seed::until_sequenced(&mut conn).await;
    let mut peaks = vec![("started", server.peak_rss_kib())];

    // 1. Browsing, first page and page 1,000: pages kept (the server's default), and beside them a
    // second server that writes every page anew from the database.
    let unkept = Server::start(&url, &[("MARKET_PAGE_MAX_AGE", "0s")]).await;
    let deep = cursor_before_page(&mut conn, 1_000).await;
    for (name, path, vars) in [
        ("page 1", "/api/tickets".to_owned(), vec![]),
        (
            "page 1,000",
            format!("/api/tickets?after={}", deep.encode()),
            vec![
                ("after_at", deep.start().expect("a start").format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
                ("after_id", deep.id.to_string()),
            ],
        ),
    ] {
        let request = [Request { method: "GET", path, token: None, body: None }];
        let http = load::wrk(&server.base_url, &request, BROWSE_CLIENTS, SECONDS);
        let from_database = load::wrk(&unkept.base_url, &request, BROWSE_CLIENTS, SECONDS);
        let sql = load::pgbench(&url, &browse_sql(!vars.is_empty()), BROWSE_CLIENTS, SECONDS, &vars);
        say(format!(
            "browse {LISTINGS} listings, {name}, {BROWSE_CLIENTS} clients: HTTP {} ({} failed) | pgbench, same SELECT: {} \
             | ratio {:.2} | HTTP with every page from the database (MARKET_PAGE_MAX_AGE=0s): {} ({} failed) \
             | ratio {:.2}",
            figures(&http),
            http.failed,
            figures(&sql),
            http.per_second / sql.per_second.max(1.0),
            figures(&from_database),
            from_database.failed,
            from_database.per_second / sql.per_second.max(1.0)
        ));
    }
    drop(unkept);

    peaks.push(("browsing", server.peak_rss_kib()));

    // 2. Reservations, each a new buyer and listing: HTTP, then the same SQL function via pgbench.
    for (run, clients) in CLIENTS.into_iter().enumerate() {
        let requests: Vec<Request> =
            seed::pairs(&mut conn, 1 + 2 * run * PER_RUN, PER_RUN).await.into_iter().map(reservation).collect();
        let update = load::pgbench(
            &url,
            &format!("\\set n random(1, {LISTINGS})\nUPDATE bench_rows SET touched = touched + 1 WHERE id = :n;\n"),
            clients,
            SECONDS,
            &[],
        );
        let http = load::wrk(&server.base_url, &requests, clients, SECONDS);
        let first_for_sql = 1 + (2 * run + 1) * PER_RUN;
        start_pairs_at(&mut conn, first_for_sql).await;
        let function = load::pgbench(&url, RESERVE_SQL, clients, SECONDS, &[]);
        within_pairs(&mut conn, first_for_sql).await;
        execute(&mut conn, &release_sql(first_for_sql, PER_RUN)).await;
        execute(&mut conn, "VACUUM ANALYZE orders").await;
        execute(&mut conn, "VACUUM ANALYZE tickets").await;
        start_pairs_at(&mut conn, first_for_sql).await;
        let two_writes = load::pgbench(&url, TWO_WRITES_SQL, clients, SECONDS, &[]);
        within_pairs(&mut conn, first_for_sql).await;
        say(format!(
            "reserve, {clients} clients: HTTP {} ({} refused) | pgbench, one UPDATE by primary key: {} | ratio {:.2} \
             | pgbench, the same reserve_tickets one reservation a call: {} | HTTP / that {:.2} \
             | pgbench, its two writes alone (hold and order): {} | that / one UPDATE {:.2}",
            figures(&http),
            http.failed,
            figures(&update),
            http.per_second / update.per_second.max(1.0),
            figures(&function),
            http.per_second / function.per_second.max(1.0),
            figures(&two_writes),
            two_writes.per_second / update.per_second.max(1.0)
        ));
    }

    peaks.push(("reservations", server.peak_rss_kib()));
    // The holds made and ended above are changes too: let the sequencer place them all before the
    // crowd and the live stream's subscribers, who should hear only their own run's changes.
    seed::until_sequenced(&mut conn).await;

    // 3. A crowd on one listing.
    let crowd = seed::pairs(&mut conn, 1 + 2 * CLIENTS.len() * PER_RUN, CROWD).await;
    let wanted = seed::pairs(&mut conn, LISTINGS, 1).await.remove(0).ticket;
    let requests: Vec<Request> = crowd
        .into_iter()
        .map(|pair| Request {
            method: "POST",
            path: "/api/orders".into(),
            token: Some(pair.token),
            body: Some(format!("{{\"ticketId\":\"{wanted}\"}}")),
        })
        .collect();
    let mut outcome = load::crowd(&server.base_url, &requests).await;
    let winners = outcome.statuses.iter().filter(|s| **s == 201).count();
    let refused = outcome.statuses.iter().filter(|s| **s == 409).count();
    say(format!(
        "{CROWD} simultaneous buyers of one listing: {winners} winner(s), {refused} refused with 409, \
         p99 {:.2} ms (target 100 ms), all answered in {:.2} ms",
        ms(load::percentile(&mut outcome.latencies, 0.99)),
        ms(outcome.elapsed)
    ));
    // 5. Peak memory through 1 to 3, the market's own limit (and where it was reached); again after 4.
    peaks.push(("the crowd", server.peak_rss_kib()));
    let mib = |kib: u64| kib as f64 / 1024.0;
    let stages: Vec<String> = peaks.iter().map(|(stage, kib)| format!("{stage} {:.1}", mib(*kib))).collect();
    say(format!(
        "server peak memory (VmHWM, or the largest VmRSS sampled every 5 ms) through browsing, reservations and the crowd: {:.1} MiB (target 64 MiB); \
         the peak so far after each step, MiB: {}",
        mib(server.peak_rss_kib()),
        stages.join(", ")
    ));
    // 4. Subscribers of the live stream while reservations run. The crowd's winner is a change too:
    // placed before they subscribe, so they hear only their own run's.
    seed::until_sequenced(&mut conn).await;
    let requests: Vec<Request> = seed::pairs(&mut conn, 1 + 2 * CLIENTS.len() * PER_RUN + CROWD, LIVE_PAIRS)
        .await
        .into_iter()
        .map(reservation)
        .collect();
    let mut paced_requests = requests;
    let flat_out = paced_requests.split_off(usize::try_from(LIVE_PACE * SECONDS).unwrap_or(0));
    // At a steady pace the server keeps up with: the delay a subscriber sees.
    let subscribers = live::Subscribers::open(&server.base_url, SUBSCRIBERS, Duration::from_secs(3)).await;
    let http = load::paced(&server.base_url, &paced_requests, LIVE_PACE, SECONDS).await;
    let load = format!("at a steady {LIVE_PACE} reservations/s ({})", figures(&http));
    say(followed(&load, subscribers.heard().await));
    // As fast as 8 clients can reserve: more changes than the machine can send to everyone at once,
    // so the delay is mostly the subscribers' queue.
    let subscribers = live::Subscribers::open(&server.base_url, SUBSCRIBERS, Duration::from_secs(3)).await;
    let base_url = server.base_url.clone();
    let http =
        tokio::task::spawn_blocking(move || load::wrk(&base_url, &flat_out, LIVE_CLIENTS, SECONDS)).await.expect("wrk");
    let load = format!("while {LIVE_CLIENTS} clients reserve as fast as they can ({})", figures(&http));
    say(followed(&load, subscribers.heard().await));
    peaks.push(("the subscribers", server.peak_rss_kib()));

    // 7. An on-sale: the first page browsed while reservations run, every reservation a change that
    // ends the kept pages once the relay has read it.
    let reservations: Vec<Request> =
        seed::pairs(&mut conn, 1 + 2 * CLIENTS.len() * PER_RUN + CROWD + ON_SALE_AFTER, LIVE_PAIRS - ON_SALE_AFTER)
            .await
            .into_iter()
            .map(reservation)
            .collect();
    let (browse_url, reserve_url) = (server.base_url.clone(), server.base_url.clone());
    let browsing = tokio::task::spawn_blocking(move || {
        let page = [Request { method: "GET", path: "/api/tickets".into(), token: None, body: None }];
        load::wrk(&browse_url, &page, BROWSE_CLIENTS, SECONDS)
    });
    let reserving = tokio::task::spawn_blocking(move || load::wrk(&reserve_url, &reservations, LIVE_CLIENTS, SECONDS));
    let (browsing, reserving) = (browsing.await.expect("wrk"), reserving.await.expect("wrk"));
    say(format!(
        "an on-sale, {BROWSE_CLIENTS} clients browsing page 1 while {LIVE_CLIENTS} reserve: browse {} ({} failed) \
         | reserve {} ({} refused)",
        figures(&browsing),
        browsing.failed,
        figures(&reserving),
        reserving.failed
    ));

    peaks.push(("the on-sale", server.peak_rss_kib()));
    let stages: Vec<String> = peaks.iter().map(|(stage, kib)| format!("{stage} {:.1}", mib(*kib))).collect();
    say(format!(
        "server peak memory (VmHWM, or the largest VmRSS sampled) through all of the above, the 1,000 subscribers too: {:.1} MiB; \
         the peak so far after each step, MiB: {}",
        mib(server.peak_rss_kib()),
        stages.join(", ")
    ));
    drop(server);

    // 6. Sweeping 100,000 lapsed holds.
    let url = seed::fresh_database(&admin_url, "bench_sweep").await;
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    let hold = |table: &str| {
        format!(
            "TRUNCATE orders, outbox_deliveries, outbox_events CASCADE; DELETE FROM {table};
             INSERT INTO users (id, email, password_hash, created_at)
               VALUES ('00000000-0000-0000-0000-000000000001', 'seller@bench', 'x', now()),
                      ('00000000-0000-0000-0000-000000000002', 'buyer@bench', 'x', now())
               ON CONFLICT DO NOTHING;
             INSERT INTO tickets (id, owner_id, event_name, venue, city, face_value, price, currency, status, held_until, hold_order_id, created_at, updated_at)
               SELECT t, '00000000-0000-0000-0000-000000000001', 'Seat', 'Hall', 'Toronto', 1000, 1000, 'CAD', 'held', now() - interval '1 minute', o, now(), now()
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
    std::fs::write(out.join("market.txt"), report).expect("write results");
    println!("written to .data/bench/market.txt");
}
