//! A fresh database per test, cloned from a template migrated once per test run.

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

const TEMPLATE: &str = "ticket_exchange_template";
const TEMPLATE_LOCK_KEY: i64 = 0x7465_6d70_6c61_7465;

/// The cluster's admin URL, given by `cargo xtask test`.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is not set: run the tests with `cargo xtask test`, which starts PostgreSQL")
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    format!("{base}/{database}")
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url()).await.expect("connect to the test cluster")
}

async fn ensure_template(conn: &mut AsyncPgConnection) {
    diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})")).execute(conn).await.expect("lock");
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = Text)]
        #[allow(dead_code)]
        datname: String,
    }
    let found: Vec<Found> = diesel::sql_query("SELECT datname FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(TEMPLATE)
        .load(conn)
        .await
        .expect("look up template");
    if found.is_empty() {
        diesel::sql_query(format!("CREATE DATABASE {TEMPLATE}")).execute(conn).await.expect("create template");
        ticket_exchange::db::run_migrations(
            &ticket_exchange::db::Connector::new(&with_database(&admin_url(), TEMPLATE), None).expect("connector"),
        )
        .await
        .expect("migrate template");
    }
    diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})")).execute(conn).await.expect("unlock");
}

/// A new, migrated database of its own; returns its URL.
pub async fn fresh_database() -> String {
    let mut conn = admin().await;
    ensure_template(&mut conn).await;
    let name = format!("test_{}", Uuid::new_v4().simple());
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        .execute(&mut conn)
        .await
        .expect("clone the template");
    with_database(&admin_url(), &name)
}

/// A new database with no tables at all; returns its URL.
pub async fn empty_database() -> String {
    let mut conn = admin().await;
    let name = format!("empty_{}", Uuid::new_v4().simple());
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
    with_database(&admin_url(), &name)
}

/// The single number `sql` selects as `count`, read from the database at `database_url`.
pub async fn count(database_url: &str, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let mut conn = AsyncPgConnection::establish(database_url).await.expect("connect");
    diesel::sql_query(sql).get_result::<Count>(&mut conn).await.unwrap_or_else(|err| panic!("{sql}: {err}")).count
}
