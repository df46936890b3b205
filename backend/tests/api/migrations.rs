use crate::support::database::{count, empty_database};

fn plain(url: &str) -> ticket_exchange::db::Connector {
    ticket_exchange::db::Connector::new(url, None).expect("connector")
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
