//! Faults under load: PostgreSQL crashing and coming back, and a server killed with SIGKILL. The API
//! answers 503 (never 500) while the database is away and recovers by itself; no acknowledged order is
//! lost and none is made twice.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::database::count;
use crate::support::postgres::PrivateCluster;
use crate::support::process::ServerProcess;
use crate::support::{Session, seed};

async fn tickets(client: &reqwest::Client, base_url: &str, seller: &Session, how_many: usize) -> Vec<Value> {
    let mut tickets = Vec::with_capacity(how_many);
    for n in 0..how_many {
        let response = client
            .post(format!("{base_url}/api/tickets"))
            .bearer_auth(&seller.token)
            .json(&crate::support::listing(format!("Show {n}"), 2_500))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("ticket");
        tickets.push(crate::support::publish(client, base_url, seller, &created).await);
    }
    tickets
}

async fn reserve(client: &reqwest::Client, base_url: &str, buyer: &Session, ticket: &Value) -> reqwest::Result<Value> {
    let response = client
        .post(format!("{base_url}/api/orders"))
        .bearer_auth(&buyer.token)
        .json(&json!({"ticketId": ticket["id"]}))
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    Ok(json!({"status": status, "body": body}))
}

/// A cluster of the test's own with an empty database `app`, and that database's URL.
async fn cluster_with_database() -> (PrivateCluster, String) {
    let cluster = PrivateCluster::start();
    let mut admin = AsyncPgConnection::establish(&cluster.url("postgres")).await.expect("connect");
    diesel::sql_query("CREATE DATABASE app").execute(&mut admin).await.expect("create database");
    let url = cluster.url("app");
    (cluster, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_restarts_the_api_answers_503_then_recovers_and_loses_nothing() {
    const BUYERS: usize = 24;
    let (cluster, url) = cluster_with_database().await;
    let mut server = ServerProcess::start(&url, &[("BACKGROUND_JOBS", "false")]).await;
    let client = reqwest::Client::new();
    let people = seed::buyers(&url, 1 + BUYERS, chrono::Utc::now()).await;
    let (seller, buyers) = people.split_first().expect("people");
    let tickets = tickets(&client, &server.base_url, seller, BUYERS).await;

    // A third of the buyers reserve; then the database crashes and the next third try.
    let mut outcomes = Vec::new();
    for (buyer, ticket) in buyers.iter().zip(&tickets).take(BUYERS / 3) {
        outcomes.push(reserve(&client, &server.base_url, buyer, ticket).await.expect("answer"));
    }
    cluster.crash();
    for (buyer, ticket) in buyers.iter().zip(&tickets).skip(BUYERS / 3).take(BUYERS / 3) {
        let outcome =
            reserve(&client, &server.base_url, buyer, ticket).await.expect("an answer, not a dropped request");
        assert_eq!(outcome["status"], 503, "{outcome}");
        assert_eq!(outcome["body"]["errors"][0]["code"], "service_unavailable", "{outcome}");
        assert!(!outcome["body"].to_string().contains("connection"), "5xx bodies leak nothing: {outcome}");
    }
    let ready = client.get(format!("{}/api/readyz", server.base_url)).send().await.expect("send");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    // The database comes back; the same server process recovers by itself.
    cluster.resume();
    server.wait_until_ready().await;
    for (buyer, ticket) in buyers.iter().zip(&tickets).skip(BUYERS / 3) {
        outcomes.push(reserve(&client, &server.base_url, buyer, ticket).await.expect("answer"));
    }
    assert!(outcomes.iter().all(|outcome| outcome["status"] == 201), "{outcomes:?}");

    assert_eq!(count(&url, "SELECT count(*) AS count FROM orders").await, BUYERS as i64, "no order lost or doubled");
    assert_eq!(count(&url, "SELECT count(*) AS count FROM tickets WHERE status = 'held'").await, BUYERS as i64);
    assert_eq!(
        count(&url, "SELECT count(*) AS count FROM outbox_events WHERE kind = 'order.created'").await,
        BUYERS as i64,
        "one event per order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_load_loses_no_acknowledged_order() {
    const BUYERS: usize = 40;
    let (_cluster, url) = cluster_with_database().await;
    let mut doomed = ServerProcess::start(&url, &[("BACKGROUND_JOBS", "false")]).await;
    let client = reqwest::Client::new();
    let people = seed::buyers(&url, 1 + BUYERS, chrono::Utc::now()).await;
    let (seller, buyers) = people.split_first().expect("people");
    let tickets = tickets(&client, &doomed.base_url, seller, BUYERS).await;

    // Every buyer reserves at once; as soon as the first has its answer, the server is killed.
    let base_url = doomed.base_url.clone();
    let mut pending: FuturesUnordered<_> = buyers
        .iter()
        .zip(&tickets)
        .enumerate()
        .map(|(n, (buyer, ticket))| {
            let (client, base_url) = (&client, &base_url);
            async move { (n, reserve(client, base_url, buyer, ticket).await) }
        })
        .collect();
    let mut acknowledged = Vec::new();
    let mut unanswered = Vec::new();
    while let Some((n, outcome)) = pending.next().await {
        match outcome {
            Ok(outcome) => {
                assert_eq!(outcome["status"], 201, "{outcome}");
                acknowledged.push(n);
            }
            Err(_) => unanswered.push(n),
        }
        if acknowledged.len() == 1 {
            doomed.kill();
        }
    }
    assert!(!unanswered.is_empty(), "the server died with requests in flight");

    // Every acknowledged order survived the crash, each holding its ticket.
    let restarted = ServerProcess::start(&url, &[("BACKGROUND_JOBS", "false")]).await;
    for n in &acknowledged {
        let sql = format!(
            "SELECT count(*) AS count FROM orders o JOIN tickets t ON t.hold_order_id = o.id \
             WHERE o.ticket_id = '{}' AND o.buyer_id = '{}' AND o.status = 'created'",
            tickets[*n]["id"].as_str().expect("id"),
            buyers[*n].user_id
        );
        assert_eq!(count(&url, &sql).await, 1);
    }

    // Buyers who never heard back try again on the restarted server: a request that had committed
    // before the crash is found held by its own order, anything else is made now. Never twice.
    for n in unanswered {
        let outcome = reserve(&client, &restarted.base_url, &buyers[n], &tickets[n]).await.expect("answer");
        assert!(outcome["status"] == 201 || outcome["status"] == 409, "{outcome}");
    }
    let live = "SELECT count(*) AS count FROM orders WHERE status = 'created'";
    assert_eq!(count(&url, live).await, BUYERS as i64, "every buyer holds their ticket once");
    assert_eq!(count(&url, "SELECT count(DISTINCT ticket_id) AS count FROM orders").await, BUYERS as i64);
    assert_eq!(count(&url, "SELECT count(*) AS count FROM orders").await, BUYERS as i64, "no order made twice");
}
