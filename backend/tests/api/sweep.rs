use chrono::TimeDelta;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use ticket_exchange::accounts::SessionCheck;
use ticket_exchange::orders;
use ticket_exchange::orders::sweep::sweep_lapsed_holds;

use crate::support::{TestApp, seed};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.pool.get().await.expect("conn");
    diesel::sql_query(sql).get_result::<Count>(&mut conn).await.expect("count").count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sweeps_at_once_end_every_lapsed_hold_exactly_once() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    let sellers = seed::buyers(&app.database_url, 1, now).await;
    let buyers = seed::buyers(&app.database_url, 100, now).await;
    for (n, buyer) in buyers.iter().enumerate() {
        for seat in 0..3 {
            let ticket = seed::ticket_for_sale(&app, sellers[0].user_id, &format!("Seat {n}-{seat}"), now).await;
            let session = SessionCheck::new(&buyer.token, now, app.state.config.sessions);
            orders::reserve(&app.state.reservations, &session, ticket.id).await.expect("reserve");
        }
    }
    let later = now + TimeDelta::minutes(15);
    let (a, b) = tokio::join!(sweep_lapsed_holds(&app.pool, later, 25), sweep_lapsed_holds(&app.pool, later, 25));
    let (a, b) = (a.expect("sweep a"), b.expect("sweep b"));
    assert_eq!(a + b, 300, "every hold ended once between the two sweeps ({a} + {b})");
    assert_eq!(count(&app, "SELECT count(*) AS count FROM orders WHERE status = 'cancelled'").await, 300);
    assert_eq!(count(&app, "SELECT count(*) AS count FROM tickets WHERE status = 'available'").await, 300);
    assert_eq!(count(&app, "SELECT count(*) AS count FROM outbox_events WHERE kind = 'order.expired'").await, 300);
    assert_eq!(sweep_lapsed_holds(&app.pool, later, 25).await.expect("again"), 0);
}

#[tokio::test]
async fn holds_that_have_not_lapsed_are_left_alone() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    let people = seed::buyers(&app.database_url, 2, now).await;
    let ticket = seed::ticket_for_sale(&app, people[0].user_id, "Seat", now).await;
    let session = SessionCheck::new(&people[1].token, now, app.state.config.sessions);
    orders::reserve(&app.state.reservations, &session, ticket.id).await.expect("reserve");
    let almost = now + TimeDelta::minutes(15) - TimeDelta::milliseconds(1);
    assert_eq!(sweep_lapsed_holds(&app.pool, almost, 10).await.expect("sweep"), 0);
    assert_eq!(count(&app, "SELECT count(*) AS count FROM tickets WHERE status = 'held'").await, 1);
}
