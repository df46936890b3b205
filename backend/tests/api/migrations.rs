use crate::support::database::{count, empty_database};

fn plain(url: &str) -> ticket_exchange::db::Connector {
    ticket_exchange::db::Connector::new(url, None).expect("connector")
}

/// Reverts the newest migrations down to and including `version`; answers them in the order they
/// apply again.
async fn revert_through(url: &str, version: &str) -> Vec<String> {
    let mut reverted = Vec::new();
    loop {
        let newest = ticket_exchange::db::revert_last_migration(&plain(url)).await.expect("revert");
        assert!(newest.as_str() >= version, "{version} was never applied");
        let done = newest == version;
        reverted.insert(0, newest);
        if done {
            return reverted;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_at_once_apply_each_migration_once() {
    let url = empty_database().await;
    let runs = futures_util::future::join_all((0..3).map(|_| ticket_exchange::db::run_migrations(&plain(&url)))).await;
    let mut applied: Vec<String> = runs.into_iter().flat_map(|run| run.expect("migrations succeed")).collect();
    applied.sort();
    let unique = {
        let mut unique = applied.clone();
        unique.dedup();
        unique
    };
    assert_eq!(applied, unique, "no migration ran twice");
    assert!(applied.len() >= 2, "all migrations ran: {applied:?}");

    // A restart finds nothing to do and the schema is in place.
    assert!(ticket_exchange::db::run_migrations(&plain(&url)).await.expect("rerun").is_empty());
    assert_eq!(count(&url, "SELECT count(*) AS count FROM tickets").await, 0);
}

#[tokio::test]
async fn listings_made_before_events_were_recorded_are_carried_forward_by_the_written_rule() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    let url = empty_database().await;
    ticket_exchange::db::run_migrations(&plain(&url)).await.expect("migrate");
    let reverted = revert_through(&url, "20261202000008").await;
    {
        let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
        for sql in [
            "INSERT INTO users (id, email, password_hash, created_at)
             VALUES ('00000000-0000-0000-0000-0000000000a1', 'old@example.com', 'x', now())",
            "INSERT INTO tickets (id, owner_id, title, price, currency, created_at, updated_at)
             VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1',
                     'Old concert', 4500, 'CAD', now(), now())",
        ] {
            diesel::sql_query(sql).execute(&mut conn).await.expect("legacy row");
        }
    }
    let applied = ticket_exchange::db::run_migrations(&plain(&url)).await.expect("migrate again");
    assert_eq!(applied, reverted);
    let rule = "SELECT count(*) AS count FROM tickets WHERE event_name = 'Old concert' AND face_value = price \
                AND venue = '' AND city = '' AND event_starts_at IS NULL AND file_key IS NULL";
    assert_eq!(count(&url, rule).await, 1, "title became the event's name, face value the price, start unknown");
}

#[tokio::test]
async fn sales_completed_before_payouts_existed_get_their_ledger_row_and_fall_due() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    let url = empty_database().await;
    ticket_exchange::db::run_migrations(&plain(&url)).await.expect("migrate");
    let reverted = revert_through(&url, "20261202000009").await;
    {
        let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
        for sql in [
            "INSERT INTO users (id, email, password_hash, created_at) VALUES
             ('00000000-0000-0000-0000-0000000000a1', 'seller@example.com', 'x', now()),
             ('00000000-0000-0000-0000-0000000000a2', 'buyer@example.com', 'x', now())",
            "INSERT INTO tickets (id, owner_id, event_name, venue, city, price, face_value, currency, status,
                                  created_at, updated_at)
             VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1',
                     'Old concert', 'Massey Hall', 'Toronto', 4505, 4505, 'CAD', 'sold', now(), now())",
            "INSERT INTO orders (id, buyer_id, ticket_id, ticket_title, price, tax, total, currency, status,
                                 expires_at, created_at, updated_at, completed_at, event_starts_at)
             VALUES ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000a2',
                     '00000000-0000-0000-0000-0000000000b1', 'Old concert', 4505, 225, 4730, 'CAD',
                     'complete', now(), now(), now(), now(), '2027-01-01T00:00:00Z')",
        ] {
            diesel::sql_query(sql).execute(&mut conn).await.expect("a sale from before payouts");
        }
    }
    assert_eq!(ticket_exchange::db::run_migrations(&plain(&url)).await.expect("migrate again"), reverted);
    let row = "SELECT count(*) AS count FROM payouts WHERE order_id = '00000000-0000-0000-0000-0000000000c1' \
               AND seller_id = '00000000-0000-0000-0000-0000000000a1' AND platform_fee = 451 \
               AND seller_share = 4054 AND status = 'pending' AND due_at = '2027-01-01T00:00:00Z'";
    assert_eq!(count(&url, row).await, 1, "recorded at the default 10%, due at the event's start");
    let due = "SELECT count(*) AS count FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id \
               WHERE e.kind = 'payout.due' AND d.consumer = 'payouts.transfer' \
               AND d.next_attempt_at = '2027-01-01T00:00:00Z' \
               AND e.payload->>'orderId' = '00000000-0000-0000-0000-0000000000c1'";
    assert_eq!(count(&url, due).await, 1, "and its transfer falls due then");
}
