//! A client of `GET /api/tickets/stream`: reads its server-sent events one at a time.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;

/// How long a test waits for an event before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

type Events = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send>>;

/// One open stream.
pub struct Follower {
    events: Events,
    /// The position a stream opened afresh said it starts after (its `start` event).
    pub start: Option<i64>,
}

/// One event as sent.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// The SSE id: the change's position.
    pub id: i64,
    /// The SSE event type.
    pub kind: String,
    pub data: Value,
}

impl LiveEvent {
    /// The listing's id, version and status, for comparing sequences.
    pub fn listing(&self) -> (String, String, i64, String) {
        let listing = &self.data["listing"];
        (
            self.kind.clone(),
            listing["id"].as_str().unwrap_or_default().to_owned(),
            listing["version"].as_i64().unwrap_or_default(),
            listing["status"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

impl Follower {
    /// Opens the stream of the server at `base_url`, resuming after `last_event_id` if given. The
    /// server subscribed this stream before it answered, so every change committed after this returns
    /// is sent.
    pub async fn open(base_url: &str, last_event_id: Option<i64>) -> Self {
        let mut request = reqwest::Client::new().get(format!("{base_url}/api/tickets/stream"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("open the stream");
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("text/event-stream"), "content type {content_type}");
        let events = response.bytes_stream().eventsource().map(|event| event.map_err(|err| err.to_string()));
        let mut follower = Self { events: Box::pin(events), start: None };
        if last_event_id.is_none() {
            let start = follower.next().await;
            assert_eq!(start.kind, "start", "a stream opened afresh first says where it starts: {start:?}");
            assert!(start.data.get("listing").is_none(), "{start:?}");
            follower.start = Some(start.id);
        }
        follower
    }

    /// The next event; fails the test if none comes within ten seconds.
    pub async fn next(&mut self) -> LiveEvent {
        let event = tokio::time::timeout(PATIENCE, self.events.next())
            .await
            .expect("an event within ten seconds")
            .expect("the stream still open")
            .expect("a well-formed event");
        let data: Value = serde_json::from_str(&event.data).expect("JSON data");
        let id: i64 = event.id.parse().expect("numeric id");
        assert_eq!(data["position"].as_i64(), Some(id), "the id is the position: {data}");
        assert_eq!(data["kind"].as_str(), Some(event.event.as_str()), "the type is the kind: {data}");
        LiveEvent { id, kind: event.event, data }
    }

    /// The next `count` events.
    pub async fn take(&mut self, count: usize) -> Vec<LiveEvent> {
        let mut events = Vec::with_capacity(count);
        for _ in 0..count {
            events.push(self.next().await);
        }
        events
    }

    /// Whether the stream ends (the server closed it) within ten seconds, skipping events.
    pub async fn ends(mut self) -> bool {
        tokio::time::timeout(PATIENCE, async {
            while let Some(event) = self.events.next().await {
                if event.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }
}
