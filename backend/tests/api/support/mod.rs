//! The test harness: a real server on a loopback port, over a database of its own, with a clock that
//! moves only when the test says so.

pub mod checkout;
pub mod database;
pub mod fault_proxy;
pub mod listening;
pub mod live;
pub mod postgres;
pub mod process;
pub mod seed;
pub mod smtp;
pub mod stripe;

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use poem::listener::TcpAcceptor;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use ticket_exchange::app;
use ticket_exchange::clock::ManualClock;
use ticket_exchange::config::Config;
use ticket_exchange::db::{self, DbPool};
use ticket_exchange::state::AppState;
use tokio::sync::oneshot;
use uuid::Uuid;

/// The backend crate's directory, as cargo gives it to the running test. (Not `env!`: a target
/// directory shared between checkouts may run a test binary built in another checkout.)
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map(Into::into).expect("cargo sets CARGO_MANIFEST_DIR for tests")
}

pub struct TestApp {
    pub base_url: String,
    pub clock: Arc<ManualClock>,
    pub pool: DbPool,
    pub database_url: String,
    pub state: Arc<AppState>,
    pub stripe: Option<stripe::LocalStripe>,
    /// Between the server and localstripe, when started with [`TestApp::spawn_with_faulty_stripe`].
    pub stripe_proxy: Option<fault_proxy::FaultProxy>,
    /// Between localstripe's webhooks and the server, likewise.
    pub webhook_proxy: Option<fault_proxy::FaultProxy>,
    client: reqwest::Client,
    /// Where emails go when the test names no SMTP server or directory; removed with the app.
    mail_dir: std::path::PathBuf,
    _shutdown: oneshot::Sender<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub user_id: Uuid,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts a server whose configuration has `vars` set on top of the defaults.
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        Self::start(vars, None, Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).single().expect("time")).await
    }

    /// A server paying through its own localstripe, whose signed webhooks reach the server. The clock
    /// starts at the real time, as localstripe signs with it.
    pub async fn spawn_with_stripe(vars: &[(&str, &str)]) -> Self {
        Self::spawn_stripe(vars, false, TimeDelta::zero()).await
    }

    /// Like [`Self::spawn_with_stripe`], with a [`fault_proxy::FaultProxy`] between the server and
    /// localstripe and another between localstripe's webhooks and the server.
    pub async fn spawn_with_faulty_stripe(vars: &[(&str, &str)]) -> Self {
        Self::spawn_stripe(vars, true, TimeDelta::zero()).await
    }

    /// Like [`Self::spawn_with_faulty_stripe`], with the server's clock `behind` localstripe's (the
    /// real time): a payment made now at localstripe happened `behind` after the server's "now". The
    /// server refuses localstripe's own webhooks then (their signatures look like the future).
    pub async fn spawn_with_faulty_stripe_behind(vars: &[(&str, &str)], behind: TimeDelta) -> Self {
        Self::spawn_stripe(vars, true, behind).await
    }

    async fn spawn_stripe(vars: &[(&str, &str)], faults: bool, behind: TimeDelta) -> Self {
        let stripe = stripe::LocalStripe::start().await;
        let stripe_proxy = if faults { Some(fault_proxy::FaultProxy::start(&stripe.url).await) } else { None };
        let api_base = stripe_proxy.as_ref().map_or_else(|| stripe.url.clone(), |proxy| proxy.url.clone());
        let mut app = Self::start(vars, Some((stripe, api_base)), Utc::now() - behind).await;
        let mut webhook = app.url("/api/webhooks/stripe");
        if faults {
            let proxy = fault_proxy::FaultProxy::start(&app.base_url).await;
            webhook = format!("{}/api/webhooks/stripe", proxy.url);
            app.webhook_proxy = Some(proxy);
        }
        app.stripe_proxy = stripe_proxy;
        app.stripe().register_webhook(&webhook).await;
        app
    }

    /// The proxy between the server and localstripe.
    pub fn stripe_faults(&self) -> &fault_proxy::FaultProxy {
        self.stripe_proxy.as_ref().expect("started with spawn_with_faulty_stripe")
    }

    /// The proxy between localstripe's webhooks and the server.
    pub fn webhook_faults(&self) -> &fault_proxy::FaultProxy {
        self.webhook_proxy.as_ref().expect("started with spawn_with_faulty_stripe")
    }

    pub fn stripe(&self) -> &stripe::LocalStripe {
        self.stripe.as_ref().expect("started with spawn_with_stripe")
    }

    pub fn stripe_mut(&mut self) -> &mut stripe::LocalStripe {
        self.stripe.as_mut().expect("started with spawn_with_stripe")
    }

    async fn start(
        vars: &[(&str, &str)],
        stripe: Option<(stripe::LocalStripe, String)>,
        start: chrono::DateTime<Utc>,
    ) -> Self {
        let stripe_vars: Vec<(&str, String)> = match &stripe {
            Some((local, api_base)) => vec![
                ("STRIPE_SECRET_KEY", stripe::SECRET_KEY.to_owned()),
                ("STRIPE_PUBLISHABLE_KEY", stripe::PUBLISHABLE_KEY.to_owned()),
                ("STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET.to_owned()),
                ("STRIPE_API_BASE", api_base.clone()),
                ("STRIPE_JS_URL", format!("{}/js.stripe.com/v3/", local.url)),
            ],
            None => vec![],
        };
        let mail_dir = std::env::temp_dir().join(format!("ticket-exchange-eml-{}", uuid::Uuid::new_v4().simple()));
        let database_url = database::fresh_database().await;
        let config = Config::from_lookup(|name| {
            if name == "DATABASE_URL" {
                return Some(database_url.clone());
            }
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
                .or_else(|| stripe_vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone()))
                .or_else(|| (name == "MAIL_DIR").then(|| mail_dir.display().to_string()))
                .or_else(|| (name == "DATABASE_POOL_SIZE").then(|| "8".to_owned()))
        })
        .expect("test configuration");
        let pool = db::connect(&config.database().expect("connector"), config.database_pool_size).expect("pool");
        let clock = Arc::new(ManualClock::new(start));
        let state = AppState::new(pool.clone(), clock.clone(), config).expect("state");
        let served = state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(app::run(acceptor, served, async move {
            let _ = stop.await;
        }));
        let client = reqwest::Client::builder().build().expect("client");
        let stripe = stripe.map(|(local, _)| local);
        Self {
            base_url,
            clock,
            pool,
            database_url,
            state,
            stripe,
            stripe_proxy: None,
            webhook_proxy: None,
            client,
            mail_dir,
            _shutdown: shutdown,
        }
    }

    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use ticket_exchange::clock::Clock;
        self.clock.now()
    }

    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request with no session.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request carrying `session`'s bearer token.
    pub fn authed(&self, session: &Session, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(&session.token)
    }

    pub async fn register(&self, email: &str) -> Session {
        let response = self
            .request(Method::POST, "/api/users/register")
            .json(&json!({"email": email, "password": "correct horse battery", "termsAccepted": true}))
            .send()
            .await
            .expect("register");
        let body = expect_status(response, StatusCode::CREATED).await;
        Session {
            token: body["token"].as_str().expect("token").to_owned(),
            user_id: body["user"]["id"].as_str().and_then(|id| id.parse().ok()).expect("user id"),
        }
    }

    /// Posts a Stripe event about `object` to the webhook, signed as Stripe signs (at the server's
    /// "now"); returns the receipt.
    pub async fn post_stripe_event(&self, id: &str, kind: &str, object: Value) -> Value {
        let body = serde_json::to_vec(&json!({
            "id": id, "object": "event", "type": kind, "created": self.clock_now().timestamp(),
            "data": {"object": object}
        }))
        .expect("json");
        let header = stripe_gateway::webhook::sign(&body, stripe::WEBHOOK_SECRET, self.clock_now().timestamp());
        let response = self
            .request(Method::POST, "/api/webhooks/stripe")
            .header("content-type", "application/json")
            .header("stripe-signature", header)
            .body(body)
            .send()
            .await
            .expect("send");
        expect_status(response, StatusCode::OK).await
    }

    /// The outbox dispatcher exactly as the server builds it.
    pub fn dispatcher(&self) -> ticket_exchange::outbox::Dispatcher {
        app::dispatcher(&self.state)
    }

    /// Reserves a ticket as `session`; returns the raw response.
    pub async fn reserve(&self, session: &Session, ticket_id: &Value) -> Response {
        self.authed(session, Method::POST, "/api/orders")
            .json(&json!({"ticketId": ticket_id}))
            .send()
            .await
            .expect("reserve")
    }

    /// Lists a ticket as `session`, attaches its file (so it is for sale), and returns its JSON.
    pub async fn create_ticket(&self, session: &Session, title: &str, price: i64) -> Value {
        self.create_listing(session, &listing(title, price)).await
    }

    /// Lists `body` as `session`, attaches its file (so it is for sale), and returns its JSON.
    pub async fn create_listing(&self, session: &Session, body: &Value) -> Value {
        let response =
            self.authed(session, Method::POST, "/api/tickets").json(body).send().await.expect("create ticket");
        let created = expect_status(response, StatusCode::CREATED).await;
        self.attach_file(session, &created, TICKET_PDF).await
    }

    /// Attaches `content` as the ticket file of `ticket`; returns the listing's JSON.
    pub async fn attach_file(&self, session: &Session, ticket: &Value, content: &[u8]) -> Value {
        let id = ticket["id"].as_str().expect("ticket id");
        let response = self
            .authed(session, Method::PUT, &format!("/api/tickets/{id}/file"))
            .header("content-type", "application/pdf")
            .body(content.to_vec())
            .send()
            .await
            .expect("attach ticket file");
        expect_status(response, StatusCode::OK).await
    }
}

/// Attaches the ticket file to `ticket` through the server at `base_url`, so it is for sale; returns
/// the listing's JSON.
pub async fn publish(client: &reqwest::Client, base_url: &str, seller: &Session, ticket: &Value) -> Value {
    let id = ticket["id"].as_str().expect("ticket id");
    let response = client
        .put(format!("{base_url}/api/tickets/{id}/file"))
        .bearer_auth(&seller.token)
        .header("content-type", "application/octet-stream")
        .body(TICKET_PDF.to_vec())
        .send()
        .await
        .expect("attach ticket file");
    expect_status(response, StatusCode::OK).await
}

/// A small, whole PDF: a ticket file.
pub const TICKET_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// When test events start: 90 days from now (every test clock starts before now).
pub fn event_start() -> String {
    (Utc::now() + TimeDelta::days(90)).to_rfc3339()
}

/// The body of a valid listing of event `name` at `price` (also its face value).
pub fn listing(name: impl Into<Value>, price: impl Into<Value>) -> Value {
    let price = price.into();
    json!({
        "eventName": name.into(),
        "venue": "Massey Hall",
        "city": "Toronto",
        "startsAt": event_start(),
        "timeZone": "America/Toronto",
        "faceValue": match price.as_i64() {
            Some(minor @ 1..=100_000_000) => json!(minor),
            _ => json!(100_000_000),
        },
        "price": price,
    })
}

/// `body` with `fields` set (or replaced).
pub fn with(mut body: Value, fields: Value) -> Value {
    if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
        body.extend(fields.iter().map(|(key, value)| (key.clone(), value.clone())));
    }
    body
}

/// `body` without its price.
pub fn without_price(mut body: Value) -> Value {
    if let Some(body) = body.as_object_mut() {
        body.remove("price");
    }
    body
}

/// Asserts the status and returns the JSON body (`null` when empty).
pub async fn expect_status(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") }
}

/// Asserts an error response: status, documented body shape, and the code of its first error.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    let body = expect_status(response, status).await;
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("error body without `errors`: {body}"));
    assert!(!errors.is_empty(), "empty errors: {body}");
    for error in errors {
        assert!(error["code"].is_string() && error["message"].is_string(), "malformed error: {error}");
    }
    assert_eq!(errors[0]["code"], code, "unexpected error code in {body}");
    body
}

/// The `field`s named by an error body.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
