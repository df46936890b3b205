//! The outermost middleware: gives every request an id, logs it once answered, and counts it.
//!
//! The id is the caller's `X-Request-Id` when that is a sane token (a proxy's or a client's), else a
//! new UUID. It is a field of the span every log line inside the request carries, and it is sent
//! back as `X-Request-Id`, so a user's report and the logs meet. Requests are counted and timed by
//! route template (`/api/orders/{id}`), never by raw path, so metrics stay bounded.

use std::sync::Arc;
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

use crate::metrics::{Metrics, RouteLabels};

pub const REQUEST_ID: &str = "x-request-id";

/// Names a request path by the route that serves it.
pub struct RouteTemplates {
    /// The API's paths, split into segments; `{...}` segments match anything.
    api: Vec<Vec<String>>,
}

impl RouteTemplates {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let api = paths.into_iter().map(|path| path.split('/').map(str::to_owned).collect()).collect();
        Self { api }
    }

    /// The template serving `path`: an API path's spec template, `/metrics`, `/api/docs`, `/api/…`
    /// for unknown API paths, and `/…` for the web UI's files and pages.
    pub fn label(&self, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').collect();
        let matches = |template: &&Vec<String>| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(want, got)| want.starts_with('{') || want == got)
        };
        if let Some(template) = self.api.iter().find(matches) {
            return template.join("/");
        }
        match path {
            "/metrics" | "/api/openapi.json" => path.to_owned(),
            _ if path.starts_with("/api/docs") => "/api/docs".to_owned(),
            _ if path.starts_with("/api/") => "/api/…".to_owned(),
            _ => "/…".to_owned(),
        }
    }
}

/// The method as a metrics label: the standard ones by name, anything a client made up as `OTHER`,
/// so invented methods cannot grow the metrics without bound.
fn method_label(method: &poem::http::Method) -> &'static str {
    use poem::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// An incoming request id worth keeping: 1 to 64 characters of letters, digits, `-`, `_`, `.`.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub struct RequestLog {
    pub metrics: Arc<Metrics>,
    pub routes: Arc<RouteTemplates>,
}

impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestLogEndpoint { inner, metrics: self.metrics.clone(), routes: self.routes.clone() }
    }
}

pub struct RequestLogEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    routes: Arc<RouteTemplates>,
}

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .filter(|id| acceptable(id))
            .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
        let method = method_label(req.method()).to_owned();
        let route = self.routes.label(req.uri().path());
        let span = tracing::info_span!("request", request_id = %id, %method, %route);
        let mut response = match self.inner.call(req).instrument(span.clone()).await {
            Ok(output) => output.into_response(),
            Err(err) => err.into_response(),
        };
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        let status = response.status().as_u16();
        let seconds = started.elapsed().as_secs_f64();
        let quiet = matches!(route.as_str(), "/api/healthz" | "/api/readyz" | "/metrics");
        span.in_scope(|| {
            let elapsed_ms = seconds * 1000.0;
            if status >= 500 {
                tracing::warn!(status, elapsed_ms, "answered");
            } else if quiet {
                tracing::debug!(status, elapsed_ms, "answered");
            } else {
                tracing::info!(status, elapsed_ms, "answered");
            }
        });
        self.metrics.record_request(RouteLabels { method, route }, status, seconds);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::{RouteTemplates, acceptable};

    #[test]
    fn paths_are_named_by_their_route() {
        let routes = RouteTemplates::new(["/api/orders", "/api/orders/{id}", "/api/orders/{id}/refund"]);
        assert_eq!(routes.label("/api/orders"), "/api/orders");
        assert_eq!(routes.label("/api/orders/8c1d0e6e-8d7f-4c59-9a55-5d27f1a4f2a0"), "/api/orders/{id}");
        assert_eq!(routes.label("/api/orders/anything/refund"), "/api/orders/{id}/refund");
        assert_eq!(routes.label("/api/nope/1/2"), "/api/…");
        assert_eq!(routes.label("/orders/123"), "/…");
        assert_eq!(routes.label("/metrics"), "/metrics");
    }

    #[test]
    fn only_sane_incoming_ids_are_kept() {
        assert!(acceptable("abc-123_X.y"));
        assert!(!acceptable(""));
        assert!(!acceptable(&"a".repeat(65)));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\nb"));
    }

    #[test]
    fn invented_methods_share_one_label() {
        let invented = poem::http::Method::from_bytes(b"FOO1").expect("method");
        assert_eq!(super::method_label(&invented), "OTHER");
        assert_eq!(super::method_label(&poem::http::Method::DELETE), "DELETE");
    }
}
