//! Subscribers of the live stream (`GET /api/tickets/stream`) on one server: each counts what it is
//! sent and how long after the change it arrived (the listing's `updatedAt`, the server's time of the
//! change, against this machine's clock, which the server shares).

use std::time::Duration;

use chrono::{DateTime, Utc};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use futures_util::future::join_all;
use tokio::task::JoinHandle;

/// The part of an event a subscriber reads.
#[derive(serde::Deserialize)]
struct Sent {
    listing: Option<Changed>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Changed {
    updated_at: DateTime<Utc>,
}

/// What one subscriber heard.
pub struct Heard {
    pub events: usize,
    pub delays: Vec<Duration>,
}

/// Subscribers, each following the stream until it has been quiet for `quiet`.
pub struct Subscribers {
    tasks: Vec<JoinHandle<Heard>>,
}

impl Subscribers {
    /// Opens `count` streams; returns once every one of them is subscribed (answered 200).
    pub async fn open(base_url: &str, count: usize, quiet: Duration) -> Self {
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
        let url = format!("{base_url}/api/tickets/stream");
        let opened = join_all((0..count).map(|_| client.get(&url).send())).await;
        let tasks = opened
            .into_iter()
            .map(|response| {
                let response = response.expect("subscribe");
                assert!(response.status().is_success(), "subscribe: {}", response.status());
                tokio::spawn(async move {
                    let mut events = response.bytes_stream().eventsource();
                    let mut heard = Heard { events: 0, delays: Vec::new() };
                    // Until the stream has been quiet for a while after the load: the load is over.
                    while let Ok(Some(Ok(event))) = tokio::time::timeout(quiet, events.next()).await {
                        let arrived = Utc::now();
                        // The stream's `start` is not a change.
                        if event.event == "start" {
                            continue;
                        }
                        heard.events += 1;
                        // Only the one field: the subscribers share the machine with the server.
                        if let Ok(Sent { listing: Some(Changed { updated_at }) }) = serde_json::from_str(&event.data) {
                            heard.delays.push((arrived - updated_at).to_std().unwrap_or_default());
                        }
                    }
                    heard
                })
            })
            .collect();
        Self { tasks }
    }

    /// What each heard, once all have gone quiet.
    pub async fn heard(self) -> Vec<Heard> {
        join_all(self.tasks).await.into_iter().map(|heard| heard.expect("subscriber")).collect()
    }
}
