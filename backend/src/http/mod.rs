//! The HTTP surface: the OpenAPI service under `/api`, its docs, and the middleware around everything.

pub mod auth;
mod body_limit;
pub mod client_addr;
pub mod error;
pub mod integer;
mod rate_limit;
pub mod raw_json;
pub mod request_log;
mod security_headers;
pub mod serde_json_body;
pub mod text;
mod web_files;

use std::sync::Arc;

use poem::http::Method;
use poem::middleware::{CatchPanic, CookieJarManager, Cors};
use poem::web::Redirect;
use poem::{Endpoint, EndpointExt, Route, handler};
use poem_openapi::{OpenApiService, Tags};

use crate::accounts::api::AccountsApi;
use crate::health::HealthApi;
use crate::listings::api::ListingsApi;
use crate::live::api::LiveApi;
use crate::orders::api::OrdersApi;
use crate::payments::api::PaymentsApi;
use crate::payouts::api::PayoutsApi;
use crate::sales::api::SalesApi;
use crate::state::AppState;
use crate::ticket_files::api::TicketFilesApi;
use crate::waitlist::api::WaitlistApi;

/// Page size of paged lists when the client names none.
pub fn default_page_size() -> i64 {
    20
}

/// Groups of operations in the spec.
#[derive(Tags)]
pub enum ApiTags {
    /// Accounts and sessions.
    Users,
    /// Listings.
    Tickets,
    /// Reservations and purchases.
    Orders,
    /// Payments, refunds and Stripe webhooks.
    Payments,
    /// The seller's listings and sales.
    Sales,
    /// Probes.
    Health,
}

type Apis = (
    HealthApi,
    AccountsApi,
    ListingsApi,
    LiveApi,
    WaitlistApi,
    TicketFilesApi,
    OrdersApi,
    PaymentsApi,
    SalesApi,
    PayoutsApi,
);

/// The API as an OpenAPI service, with paths under `/api`. Needs no database, so the spec can be
/// written anywhere.
pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            HealthApi,
            AccountsApi,
            ListingsApi,
            LiveApi,
            WaitlistApi,
            TicketFilesApi,
            OrdersApi,
            PaymentsApi,
            SalesApi,
            PayoutsApi,
        ),
        "Ticket Exchange",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Resell tickets: list a ticket, reserve one, pay within the hold, get a refund. Errors always \
             have the body {\"errors\":[{\"code\",\"message\",\"field\"?}]}.",
    )
    .url_prefix("/api")
}

/// The API's path templates, as in the spec `api` serves.
fn route_templates(api: &OpenApiService<Apis, ()>) -> request_log::RouteTemplates {
    let spec: serde_json::Value = serde_json::from_str(&api.spec()).unwrap_or_default();
    let paths: Vec<String> = spec["paths"].as_object().map(|paths| paths.keys().cloned().collect()).unwrap_or_default();
    request_log::RouteTemplates::new(paths.iter().map(String::as_str))
}

/// The spec as YAML, exactly as checked in at the repository root.
pub fn spec_yaml() -> String {
    api_service().spec_yaml()
}

#[handler]
fn to_docs() -> Redirect {
    Redirect::see_other("/api/docs")
}

/// Browsers send `Origin` on same-origin module scripts and POSTs too; such requests need no CORS, so
/// the header is dropped before the CORS check, which then only judges other origins (the apps).
async fn forget_same_origin(mut req: poem::Request) -> poem::Result<poem::Request> {
    let host = req.headers().get(poem::http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
    let origin_host = req
        .headers()
        .get(poem::http::header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .and_then(|origin| origin.split_once("://").map(|(_, rest)| rest.to_owned()));
    if let (Some(host), Some(origin_host)) = (host, origin_host)
        && host.eq_ignore_ascii_case(&origin_host)
    {
        req.headers_mut().remove(poem::http::header::ORIGIN);
    }
    Ok(req)
}

/// Every route the server answers, with state and middleware attached.
pub fn routes(state: Arc<AppState>) -> impl Endpoint {
    let api = api_service();
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    let max_body_bytes = state.config.max_body_bytes;
    let security_headers = security_headers::SecurityHeaders::new(&state.config);
    let rate_limit = rate_limit::RateLimit::new(state.config.rate_limit_per_minute, state.config.trust_forwarded_for);
    let request_log =
        request_log::RequestLog { metrics: state.metrics.clone(), routes: Arc::new(route_templates(&api)) };
    let cors = Cors::new()
        .allow_origins(state.config.cors_origins.iter().map(String::as_str))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        // `api-version` is sent by the clients generated from openapi.yaml.
        .allow_headers(["authorization", "content-type", "api-version"])
        .max_age(600);
    let mut routes = Route::new()
        .at("/metrics", crate::metrics::endpoint)
        .at("/api/openapi.json", spec)
        .nest("/api/docs", docs)
        .nest("/api", api);
    routes = match &state.config.web_dir {
        // The web UI, gzipped where it can be, with every unknown path answered by index.html for the
        // UI's own router.
        Some(dir) => routes.nest("/", web_files::WebFiles::new(dir)),
        None => routes.at("/", to_docs),
    };
    routes
        .data(state)
        .with(rate_limit)
        .with(cors)
        .before(forget_same_origin)
        .with(CookieJarManager::new())
        .with(body_limit::BodyLimit { max_bytes: max_body_bytes, file_max_bytes: crate::ticket_files::MAX_BYTES })
        .with(CatchPanic::new())
        .catch_all_error(|err| async move { error::render_poem_error(err) })
        .with(security_headers)
        .with(request_log)
}
