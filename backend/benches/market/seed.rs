//! The market the benchmark runs on: one seller's listings and as many buyers, each with a session,
//! paired in `bench_pairs` so pgbench and the HTTP load address the same rows.

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

pub const SELLER: &str = "00000000-0000-0000-0000-000000000001";

pub async fn execute(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).await.unwrap_or_else(|err| panic!("{err}: {sql}"));
}

fn with_database(url: &str, database: &str) -> String {
    format!("{}/{database}", url.rsplit_once('/').map_or(url, |(base, _)| base))
}

/// A new, migrated database; returns its URL.
pub async fn fresh_database(admin_url: &str, name: &str) -> String {
    let mut admin = AsyncPgConnection::establish(admin_url).await.expect("connect");
    execute(&mut admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    execute(&mut admin, &format!("CREATE DATABASE {name}")).await;
    let url = with_database(admin_url, name);
    ticket_exchange::db::run_migrations(&ticket_exchange::db::Connector::new(&url, None).expect("connector"))
        .await
        .expect("migrate");
    url
}

/// `count` listings, buyers with session tokens `bench-<n>`, and `bench_pairs (n, buyer, ticket,
/// token)`; listings are a second apart, newest last. Then `bench_rows`, a table of as many rows keyed
/// by integer, for the one-UPDATE reference.
pub async fn market(conn: &mut AsyncPgConnection, count: usize) {
    execute(conn, "CREATE TABLE bench_pairs (n int PRIMARY KEY, buyer uuid, ticket uuid, token text)").await;
    execute(
        conn,
        &format!(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ('{SELLER}', 'seller@bench', 'x', now())"
        ),
    )
    .await;
    execute(
        conn,
        &format!(
            "INSERT INTO bench_pairs SELECT n, gen_random_uuid(), gen_random_uuid(), 'bench-' || n
             FROM generate_series(1, {count}) AS n"
        ),
    )
    .await;
    for sql in [
        "INSERT INTO users (id, email, password_hash, created_at)
         SELECT buyer, 'buyer' || n || '@bench', 'x', now() FROM bench_pairs",
        "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)
         SELECT gen_random_uuid(), sha256(convert_to(token, 'UTF8')), buyer, now(), now(), now() + interval '1 day'
         FROM bench_pairs",
        "INSERT INTO tickets (id, owner_id, event_name, venue, city, event_starts_at, event_time_zone,
                              event_local_date, face_value, price, currency, file_key, file_content_type, file_bytes,
                              created_at, updated_at)
         SELECT ticket, (SELECT id FROM users WHERE email = 'seller@bench'), 'Show ' || n, 'Hall ' || n % 50,
                'City ' || n % 20, now() + interval '1 day' + n * interval '1 minute', 'America/Toronto',
                ((now() + interval '1 day' + n * interval '1 minute') AT TIME ZONE 'America/Toronto')::date,
                1000 + n % 5000, 1000 + n % 5000, 'CAD', 'bench/ticket.pdf', 'application/pdf', 1000,
                now() - interval '1 day' + n * interval '1 second', now()
         FROM bench_pairs",
    ] {
        execute(conn, sql).await;
    }
    execute(conn, "CREATE TABLE bench_rows (id int PRIMARY KEY, touched bigint NOT NULL DEFAULT 0)").await;
    execute(conn, &format!("INSERT INTO bench_rows (id) SELECT generate_series(1, {count})")).await;
    for table in ["users", "sessions", "tickets", "bench_pairs", "bench_rows"] {
        execute(conn, &format!("VACUUM ANALYZE {table}")).await;
    }
}

#[derive(diesel::QueryableByName)]
pub struct Pair {
    #[diesel(sql_type = Text)]
    pub ticket: String,
    #[diesel(sql_type = Text)]
    pub token: String,
}

/// Pairs `first..first + count`, in order.
pub async fn pairs(conn: &mut AsyncPgConnection, first: usize, count: usize) -> Vec<Pair> {
    diesel::sql_query(format!(
        "SELECT ticket::text AS ticket, token FROM bench_pairs WHERE n >= {first} ORDER BY n LIMIT {count}"
    ))
    .load(conn)
    .await
    .expect("pairs")
}

#[derive(diesel::QueryableByName)]
struct Pending {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// Waits (a bounded while) until the server's sequencer has given every change in the log its place
/// (the seed's, then the reservations').
pub async fn until_sequenced(conn: &mut AsyncPgConnection) {
    for _ in 0..1_200 {
        let pending: Pending =
            diesel::sql_query("SELECT count(*) AS count FROM listing_changes WHERE position IS NULL")
                .get_result(conn)
                .await
                .expect("unsequenced changes");
        if pending.count == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the sequencer did not place the changes made so far within two minutes");
}
