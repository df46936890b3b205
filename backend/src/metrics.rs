//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! Two kinds: what this process did since it started (HTTP requests and latency by route, expiry
//! sweeps, emails sent and failed, live streams open now), counted as it happens; and the state of the marketplace, which
//! every replica shares, read from the database when scraped (live holds, orders and payments by
//! status, outbox lag and parked deliveries). Scrapes reach pods directly; the endpoint refuses
//! requests that came through a proxy (`X-Forwarded-For`), so an Ingress never exposes it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Request, Response, handler};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::{self, DbError};
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// Why metrics could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot encode metrics")]
    Encode(#[from] std::fmt::Error),
}

/// Every metric of one process. Each `AppState` has its own, so tests never share counts.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    sweeps: Family<OutcomeLabels, Counter>,
    holds_released: Counter,
    emails: Family<OutcomeLabels, Counter>,
    live_holds: Gauge,
    orders: Family<StatusLabels, Gauge>,
    payments: Family<StatusLabels, Gauge>,
    outbox_pending: Gauge,
    outbox_lag_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    outbox_parked: Gauge,
    database_up: Gauge,
    live_streams: Gauge,
    /// One scrape at a time: a refresh clears and refills the per-status series.
    scraping: tokio::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ticket_exchange");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        registry.register("http_request_duration_seconds", "Time to answer a request, by route", latency.clone());
        let sweeps = Family::<OutcomeLabels, Counter>::default();
        registry.register("expiry_sweeps", "Expiry sweeps run by this process, by outcome", sweeps.clone());
        let holds_released = Counter::default();
        registry.register("holds_released", "Lapsed holds this process released", holds_released.clone());
        let emails = Family::<OutcomeLabels, Counter>::default();
        registry.register("emails", "Emails this process sent or failed to send", emails.clone());
        let live_holds = Gauge::default();
        registry.register("live_holds", "Listings held for a buyer right now", live_holds.clone());
        let orders = Family::<StatusLabels, Gauge>::default();
        registry.register("orders", "Orders by status", orders.clone());
        let payments = Family::<StatusLabels, Gauge>::default();
        registry.register("payments", "Orders' PaymentIntents by Stripe status", payments.clone());
        let outbox_pending = Gauge::default();
        registry.register("outbox_pending_deliveries", "Event deliveries not yet made", outbox_pending.clone());
        let outbox_lag_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "outbox_lag_seconds",
            "How long the most overdue event delivery has been due (0 when none is due; deliveries due later, \
             such as payouts waiting for their event, do not count)",
            outbox_lag_seconds.clone(),
        );
        let outbox_parked = Gauge::default();
        registry.register("outbox_parked_deliveries", "Event deliveries that gave up retrying", outbox_parked.clone());
        let database_up = Gauge::default();
        registry.register(
            "database_up",
            "1 when the last scrape could read the database (the state figures are current), else 0",
            database_up.clone(),
        );
        let live_streams = Gauge::default();
        registry.register(
            "live_streams",
            "Streams of the live market (GET /api/tickets/stream) open on this process",
            live_streams.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            sweeps,
            holds_released,
            emails,
            live_holds,
            orders,
            payments,
            outbox_pending,
            outbox_lag_seconds,
            outbox_parked,
            database_up,
            live_streams,
            scraping: tokio::sync::Mutex::new(()),
        }
    }
}

impl Metrics {
    pub fn record_request(&self, route: RouteLabels, status: u16, seconds: f64) {
        self.latency.get_or_create(&route).observe(seconds);
        self.requests.get_or_create(&RequestLabels { method: route.method, route: route.route, status }).inc();
    }

    /// One run of the expiry sweep: how many holds it released, or that it failed.
    pub fn record_sweep(&self, released: Option<usize>) {
        let outcome = if released.is_some() { "ok" } else { "failed" };
        self.sweeps.get_or_create(&OutcomeLabels { outcome }).inc();
        self.holds_released.inc_by(released.unwrap_or(0) as u64);
    }

    pub fn record_email(&self, sent: bool) {
        self.emails.get_or_create(&OutcomeLabels { outcome: if sent { "sent" } else { "failed" } }).inc();
    }

    /// Reads the shared state from the database and renders everything. With the database away the
    /// process's own figures are still rendered, with `database_up` 0 and the state figures as last
    /// read.
    pub async fn render(&self, state: &AppState) -> Result<String, MetricsError> {
        let _one_at_a_time = self.scraping.lock().await;
        let up = match self.refresh(state).await {
            Ok(()) => 1,
            Err(err) => {
                tracing::warn!(error = %err, "metrics: cannot read the database");
                0
            }
        };
        self.database_up.set(up);
        self.live_streams.set(i64::try_from(state.live.open()).unwrap_or(i64::MAX));
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }

    async fn refresh(&self, state: &AppState) -> Result<(), DbError> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        #[derive(QueryableByName)]
        struct ByStatus {
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        #[derive(QueryableByName)]
        struct Lag {
            #[diesel(sql_type = BigInt)]
            pending: i64,
            #[diesel(sql_type = BigInt)]
            parked: i64,
            #[diesel(sql_type = Double)]
            lag: f64,
        }
        let now: DateTime<Utc> = state.now();
        let mut conn = db::conn(&state.pool).await?;
        let held: Count = diesel::sql_query(
            "SELECT count(*) AS count FROM tickets WHERE hold_order_id IS NOT NULL AND held_until > $1",
        )
        .bind::<Timestamptz, _>(now)
        .get_result(&mut conn)
        .await?;
        self.live_holds.set(held.count);
        let orders: Vec<ByStatus> =
            diesel::sql_query("SELECT status, count(*) AS count FROM orders GROUP BY status").load(&mut conn).await?;
        self.orders.clear();
        for row in orders {
            self.orders.get_or_create(&StatusLabels { status: row.status }).set(row.count);
        }
        let payments: Vec<ByStatus> = diesel::sql_query(
            "SELECT intent_status AS status, count(*) AS count FROM orders \
             WHERE intent_status IS NOT NULL GROUP BY intent_status",
        )
        .load(&mut conn)
        .await?;
        self.payments.clear();
        for row in payments {
            self.payments.get_or_create(&StatusLabels { status: row.status }).set(row.count);
        }
        let lag: Lag = diesel::sql_query(
            "SELECT count(*) FILTER (WHERE d.status = 'pending') AS pending, \
                    count(*) FILTER (WHERE d.status = 'parked') AS parked, \
                    COALESCE(EXTRACT(EPOCH FROM $1 - min(d.next_attempt_at) \
                        FILTER (WHERE d.status = 'pending' AND d.next_attempt_at <= $1)), 0)::float8 AS lag \
             FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id \
             WHERE d.status <> 'delivered'",
        )
        .bind::<Timestamptz, _>(now)
        .get_result(&mut conn)
        .await?;
        self.outbox_pending.set(lag.pending);
        self.outbox_parked.set(lag.parked);
        self.outbox_lag_seconds.set(lag.lag.max(0.0));
        Ok(())
    }
}

/// `GET /metrics`, for scrapers inside the cluster.
#[handler]
pub async fn endpoint(req: &Request, state: Data<&Arc<AppState>>) -> poem::Result<Response> {
    if req.headers().contains_key("x-forwarded-for") {
        return Err(poem::error::NotFoundError.into());
    }
    match state.metrics.render(&state).await {
        Ok(text) => Ok(text.with_content_type("text/plain; version=0.0.4; charset=utf-8").into_response()),
        Err(err) => {
            tracing::error!(error = %err, "metrics: cannot render");
            Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}
