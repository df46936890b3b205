//! Reservations sent to the database together (`orders::batches`, the SQL function
//! `reserve_tickets`): each is answered as it would have been alone.

use diesel_async::RunQueryDsl;
use futures_util::future::join_all;
use ticket_exchange::accounts::SessionCheck;
use ticket_exchange::orders::reservation::{self, Ask, Refusal};
use ticket_exchange::orders::{OrderRow, OrdersError};
use uuid::Uuid;

use crate::support::database::count;
use crate::support::{TestApp, seed};

/// An outcome as the test names it: the ticket reserved, or the refusal.
fn named(outcome: &Result<OrderRow, Refusal>) -> String {
    match outcome {
        Ok(order) => format!("reserved {}", order.ticket_title),
        Err(Refusal::Orders(err)) => format!("{err:?}"),
        Err(refusal) => format!("{refusal:?}"),
    }
}

#[tokio::test]
async fn one_batch_answers_each_reservation_as_it_would_have_been_alone() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    let people = seed::buyers(&app.database_url, 4, now).await;
    let (seller, ann, bob, cat) = (&people[0], &people[1], &people[2], &people[3]);
    let first = seed::ticket_for_sale(&app, seller.user_id, "First", now).await;
    let second = seed::ticket_for_sale(&app, seller.user_id, "Second", now).await;
    let taken = seed::ticket_for_sale(&app, seller.user_id, "Taken", now).await;
    let sessions = app.state.config.sessions;
    let ask = |token: &str, ticket_id| Ask { session: SessionCheck::new(token, now, sessions), ticket_id };
    ticket_exchange::orders::reserve(&app.state.reservations, &ask(&cat.token, taken.id).session, taken.id)
        .await
        .expect("reserve the taken one");

    let batch = [
        ask(&ann.token, first.id),
        ask(&bob.token, first.id),
        ask(&ann.token, second.id),
        ask("no-such-session", second.id),
        ask(&seller.token, second.id),
        ask(&bob.token, taken.id),
        ask(&cat.token, Uuid::new_v4()),
        ask(&cat.token, second.id),
    ];
    let mut conn = app.pool.get().await.expect("conn");
    let outcomes = reservation::attempt(&mut conn, &batch, app.state.config.orders).await.expect("batch");
    let answers: Vec<String> = outcomes.iter().map(named).collect();
    assert_eq!(
        answers,
        [
            "reserved First",
            // The first of a ticket's reservations that would win alone wins.
            "TicketUnavailable",
            // Ann's second in the batch waits for another, so the hold limit counts her first.
            "Again",
            "Unauthenticated",
            "OwnTicket",
            "TicketUnavailable",
            "TicketNotFound",
            // Cat's first reservation was refused, so her second goes on, and Ann's turn on it is later.
            "reserved Second",
        ]
    );
    let holders = [(first.id, ann.user_id), (second.id, cat.user_id), (taken.id, cat.user_id)];
    for (ticket, buyer) in holders {
        let live = format!(
            "SELECT count(*) AS count FROM orders o JOIN tickets t ON t.hold_order_id = o.id
             WHERE o.ticket_id = '{ticket}' AND o.buyer_id = '{buyer}' AND o.status = 'created' AND t.status = 'held'"
        );
        assert_eq!(count(&app.database_url, &live).await, 1, "{ticket} held for {buyer}");
    }
    assert_eq!(count(&app.database_url, "SELECT count(*) AS count FROM orders").await, 3);
    let events = "SELECT count(*) AS count FROM outbox_events WHERE kind = 'order.created'";
    assert_eq!(count(&app.database_url, events).await, 3);

    // Ann's deferred reservation, sent again alone, is refused as it would have been a moment later.
    let again = reservation::attempt(&mut conn, &batch[2..3], app.state.config.orders).await.expect("again");
    assert_eq!(again.iter().map(named).collect::<Vec<_>>(), ["TicketUnavailable"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_the_database_fails_fails_alone_and_its_batch_is_made() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    let people = seed::buyers(&app.database_url, 21, now).await;
    let mut tickets = Vec::new();
    for n in 0..20 {
        tickets.push(seed::ticket_for_sale(&app, people[0].user_id, &format!("Seat {n}"), now).await);
    }
    // A fault inside the database: writing the order for one of the tickets fails, and with it the
    // whole statement of whichever batch it is sent in.
    let poisoned = tickets[10].id;
    let mut conn = app.pool.get().await.expect("conn");
    let fault = [
        format!(
            "CREATE FUNCTION refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.ticket_id = '{poisoned}' THEN RAISE EXCEPTION 'injected fault'; END IF;
                 RETURN NEW;
             END $$"
        ),
        "CREATE TRIGGER refuse_poisoned BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_poisoned()".into(),
    ];
    for sql in fault {
        diesel::sql_query(sql).execute(&mut conn).await.expect("inject the fault");
    }
    drop(conn);

    // Asked for in one go: the first goes at once, alone, the next eight in two batches of four
    // beside it, and the other eleven, the poisoned one among them, wait and go together.
    let (sessions, reservations) = (app.state.config.sessions, &app.state.reservations);
    let outcomes = join_all(people[1..].iter().zip(&tickets).map(|(buyer, ticket)| {
        let session = SessionCheck::new(&buyer.token, now, sessions);
        async move { ticket_exchange::orders::reserve(reservations, &session, ticket.id).await }
    }))
    .await;
    for (ticket, outcome) in tickets.iter().zip(&outcomes) {
        if ticket.id == poisoned {
            assert!(matches!(outcome, Err(OrdersError::Db(_))), "{outcome:?}");
        } else {
            assert!(outcome.as_ref().is_ok_and(|order| order.ticket_id == ticket.id), "{outcome:?}");
        }
    }
    assert_eq!(count(&app.database_url, "SELECT count(*) AS count FROM orders").await, 19);
    let held = format!("SELECT count(*) AS count FROM tickets WHERE status = 'held' AND id <> '{poisoned}'");
    assert_eq!(count(&app.database_url, &held).await, 19);
}
