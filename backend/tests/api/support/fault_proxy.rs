//! A fault proxy: a real HTTP server (poem) that forwards to a real upstream (reqwest) and, for the
//! requests a rule matches, delays them, answers 5xx without forwarding, forwards them and then drops
//! the connection before the answer is read (so the caller cannot know the upstream acted), or holds
//! them back (a webhook that arrives minutes late, after the hold it is about has ended).
//!
//! Sits between the server and localstripe, and between localstripe's webhooks and the server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::{HeaderMap, Method, StatusCode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Body, Endpoint, Request, Response};
use tokio::sync::oneshot;

/// What to do to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then forward.
    Delay(Duration),
    /// Answer with this status without forwarding.
    Fail(u16),
    /// Forward, then break the connection instead of answering.
    DropAfterForward,
    /// Keep the request and never forward it (a webhook that comes only much later, if at all).
    Hold,
}

#[derive(Debug, Clone)]
struct Rule {
    method: Option<Method>,
    path_contains: String,
    fault: Fault,
    /// How many more requests the rule applies to; `None` for all.
    remaining: Option<usize>,
}

#[derive(Debug)]
struct Forward {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    held: Vec<Forward>,
    /// Paths of every request seen, in order.
    seen: Vec<String>,
}

pub struct FaultProxy {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    _stop: oneshot::Sender<()>,
}

/// The builder of one rule; the rule is added when `apply` is called.
pub struct RuleBuilder<'a> {
    proxy: &'a FaultProxy,
    rule: Rule,
}

impl RuleBuilder<'_> {
    /// Only requests with this method.
    pub fn method(mut self, method: Method) -> Self {
        self.rule.method = Some(method);
        self
    }

    /// Only the next `count` matching requests.
    pub fn times(mut self, count: usize) -> Self {
        self.rule.remaining = Some(count);
        self
    }

    pub fn apply(self, fault: Fault) {
        let mut rule = self.rule;
        rule.fault = fault;
        self.proxy.shared.lock().expect("proxy state").rules.push(rule);
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port forwarding to `upstream` (e.g. `http://127.0.0.1:8420`).
    pub async fn start(upstream: &str) -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind proxy");
        let addr = acceptor.local_addr().remove(0);
        let url = format!("http://{}", addr.as_socket_addr().expect("tcp address"));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let client = reqwest::Client::builder().build().expect("client");
        let endpoint = ProxyEndpoint {
            upstream: upstream.trim_end_matches('/').to_owned(),
            shared: shared.clone(),
            client: client.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    endpoint,
                    async move {
                        let _ = stopped.await;
                    },
                    Some(Duration::from_millis(100)),
                )
                .await;
        });
        Self { url, shared, _stop: stop }
    }

    /// A rule for requests whose path contains `fragment` (e.g. `/confirm`, `/refunds`, `/v1/`).
    pub fn on(&self, fragment: &str) -> RuleBuilder<'_> {
        RuleBuilder {
            proxy: self,
            rule: Rule { method: None, path_contains: fragment.to_owned(), fault: Fault::Hold, remaining: None },
        }
    }

    /// Removes every rule: requests pass through untouched again.
    pub fn heal(&self) {
        self.shared.lock().expect("proxy state").rules.clear();
    }

    /// Paths (with query) of the requests seen so far that contain `fragment`.
    pub fn seen(&self, fragment: &str) -> Vec<String> {
        self.shared.lock().expect("proxy state").seen.iter().filter(|path| path.contains(fragment)).cloned().collect()
    }
}

struct ProxyEndpoint {
    upstream: String,
    shared: Arc<Mutex<Shared>>,
    client: reqwest::Client,
}

impl ProxyEndpoint {
    /// The fault for this request, consuming one use of a counted rule.
    fn fault_for(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut shared = self.shared.lock().expect("proxy state");
        shared.seen.push(path.to_owned());
        let rule = shared.rules.iter_mut().find(|rule| {
            rule.remaining != Some(0)
                && rule.method.as_ref().is_none_or(|wanted| wanted == method)
                && path.contains(&rule.path_contains)
        })?;
        if let Some(remaining) = rule.remaining.as_mut() {
            *remaining -= 1;
        }
        Some(rule.fault)
    }
}

async fn forward(client: &reqwest::Client, upstream: &str, request: &Forward) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut outgoing = client.request(request.method.clone(), format!("{upstream}{}", request.path_and_query));
    for (name, value) in &request.headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.body(request.body.clone()).send().await {
        Ok(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map(|bytes| bytes.to_vec()).unwrap_or_default();
            (status, headers, body)
        }
        Err(_) => (StatusCode::BAD_GATEWAY, HeaderMap::new(), b"upstream unreachable".to_vec()),
    }
}

impl Endpoint for ProxyEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let method = req.method().clone();
        let path_and_query = req.uri().path_and_query().map_or("/".to_owned(), ToString::to_string);
        let headers = req.headers().clone();
        let body = req.into_body().into_vec().await.unwrap_or_default();
        let request = Forward { method: method.clone(), path_and_query: path_and_query.clone(), headers, body };
        let fault = self.fault_for(&method, &path_and_query);
        match fault {
            Some(Fault::Fail(status)) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Ok(Response::builder()
                    .status(status)
                    .content_type("application/json")
                    .body(r#"{"error":{"type":"api_error","message":"injected fault"}}"#));
            }
            Some(Fault::Hold) => {
                self.shared.lock().expect("proxy state").held.push(request);
                return Ok(Response::builder().status(StatusCode::SERVICE_UNAVAILABLE).body("held by the fault proxy"));
            }
            Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            Some(Fault::DropAfterForward) | None => {}
        }
        let (status, upstream_headers, body) = forward(&self.client, &self.upstream, &request).await;
        if fault == Some(Fault::DropAfterForward) {
            // The upstream acted; the caller gets headers and then a body that breaks off.
            let broken = futures_util::stream::once(async {
                Err::<Vec<u8>, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped by the fault proxy",
                ))
            });
            return Ok(Response::builder()
                .status(status)
                .header("content-length", (body.len() + 1).to_string())
                .body(Body::from_bytes_stream(broken)));
        }
        let mut response = Response::builder().status(status);
        for (name, value) in &upstream_headers {
            if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                response = response.header(name, value);
            }
        }
        Ok(response.body(body))
    }
}
