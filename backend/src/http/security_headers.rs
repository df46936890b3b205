//! Security headers on every response, and a Content-Security-Policy for the web UI.
//!
//! The policy allows the UI's own files, WebAssembly, and Stripe.js from the origin `GET /api/config`
//! names (Stripe's own hosts in production, localstripe offline). Stripe.js needs its frames and API
//! host; the UI runs Stripe.js glue through `eval`-style calls, hence `'unsafe-eval'`. Inline scripts
//! stay forbidden. The API docs page (Swagger UI, inline scripts) is served without the policy.

use poem::http::HeaderValue;
use poem::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use crate::config::Config;

pub struct SecurityHeaders {
    csp: HeaderValue,
    hsts: bool,
}

impl SecurityHeaders {
    pub fn new(config: &Config) -> Self {
        let csp = content_security_policy(config.stripe.as_ref().map(|stripe| stripe.js_url.as_str()));
        Self {
            csp: HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
            hsts: config.public_url.starts_with("https://"),
        }
    }
}

/// The scheme and host of a URL (`https://js.stripe.com/v3/` → `https://js.stripe.com`).
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    let origin = &url[..scheme.len() + 3 + host_end];
    origin.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b',').then_some(origin)
}

fn content_security_policy(stripe_js_url: Option<&str>) -> String {
    let mut scripts = vec!["'self'", "'wasm-unsafe-eval'", "'unsafe-eval'"];
    let mut frames = vec![];
    let mut connects = vec!["'self'"];
    if let Some(stripe) = stripe_js_url.and_then(origin) {
        scripts.push(stripe);
        frames.push(stripe);
        connects.push(stripe);
        if stripe == "https://js.stripe.com" {
            scripts.push("https://*.js.stripe.com");
            frames.extend(["https://*.js.stripe.com", "https://hooks.stripe.com"]);
            connects.push("https://api.stripe.com");
        }
    }
    let frames = if frames.is_empty() { "'none'".to_owned() } else { frames.join(" ") };
    format!(
        "default-src 'self'; script-src {}; connect-src {}; frame-src {frames}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        scripts.join(" "),
        connects.join(" "),
    )
}

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SecurityHeadersEndpoint { inner, csp: self.csp.clone(), hsts: self.hsts }
    }
}

pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    csp: HeaderValue,
    hsts: bool,
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let docs = req.uri().path().starts_with("/api/docs");
        let mut response = self.inner.call(req).await?.into_response();
        let headers = response.headers_mut();
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
        headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
        headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
        if !docs {
            headers.insert(CONTENT_SECURITY_POLICY, self.csp.clone());
        }
        if self.hsts {
            headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::{content_security_policy, origin};

    #[test]
    fn stripe_js_is_allowed_from_its_origin_only() {
        let csp = content_security_policy(Some("https://js.stripe.com/v3/"));
        assert!(
            csp.contains(
                "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval' https://js.stripe.com https://*.js.stripe.com;"
            ),
            "{csp}"
        );
        assert!(
            csp.contains("frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com;"),
            "{csp}"
        );
        assert!(csp.contains("connect-src 'self' https://js.stripe.com https://api.stripe.com;"), "{csp}");
        assert!(!csp.contains("unsafe-inline' ;") && !csp.contains("script-src 'unsafe-inline'"));
        let offline = content_security_policy(Some("http://127.0.0.1:8420/js.stripe.com/v3/"));
        assert!(offline.contains("script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval' http://127.0.0.1:8420;"));
        assert!(content_security_policy(None).contains("frame-src 'none'"));
    }

    #[test]
    fn origins_never_smuggle_directives() {
        assert_eq!(origin("https://js.stripe.com/v3/"), Some("https://js.stripe.com"));
        assert_eq!(origin("http://127.0.0.1:1"), Some("http://127.0.0.1:1"));
        assert_eq!(origin("https://evil; script-src *"), None);
        assert_eq!(origin("no-scheme"), None);
    }
}
