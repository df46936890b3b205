//! A per-client request rate limit on the API, so one address cannot crowd out everyone else.
//!
//! Each process allows `RATE_LIMIT_PER_MINUTE` requests a minute per client address (GCRA through
//! governor, bursts up to the same number); the Ingress limits in front of all replicas too. Probes,
//! metrics, the client configuration and Stripe's webhooks are not limited. Over the limit: 429 with `Retry-After`, in the
//! documented error body.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::client_addr::client_addr;
use super::error::render_poem_error;

/// How often (in requests) addresses that have been quiet long enough are forgotten.
const FORGET_EVERY: u64 = 4096;

pub struct RateLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    trust_forwarded_for: bool,
}

impl RateLimit {
    /// `per_minute` of 0 turns the limit off.
    pub fn new(per_minute: u32, trust_forwarded_for: bool) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))));
        Self { limiter, trust_forwarded_for }
    }
}

fn exempt(path: &str) -> bool {
    !path.starts_with("/api/")
        || matches!(path, "/api/healthz" | "/api/readyz" | "/api/config" | "/api/webhooks/stripe")
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RateLimitEndpoint {
            inner,
            limiter: self.limiter.clone(),
            trust_forwarded_for: self.trust_forwarded_for,
            seen: AtomicU64::new(0),
        }
    }
}

pub struct RateLimitEndpoint<E> {
    inner: E,
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    trust_forwarded_for: bool,
    seen: AtomicU64,
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if let Some(limiter) = &self.limiter
            && !exempt(req.uri().path())
            && let Some(addr) = client_addr(&req, self.trust_forwarded_for)
        {
            if self.seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(FORGET_EVERY) {
                limiter.retain_recent();
            }
            if let Err(not_until) = limiter.check_key(&addr) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let mut response = render_poem_error(poem::Error::from_status(StatusCode::TOO_MANY_REQUESTS));
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                response.headers_mut().insert("retry-after", HeaderValue::from(seconds.max(1)));
                return Ok(response);
            }
        }
        Ok(self.inner.call(req).await?.into_response())
    }
}
