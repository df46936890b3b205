//! The address a request came from, for per-client limits.

use poem::Request;

/// The client's IP address: the peer address, or with `trust_forwarded_for` the first address of
/// `X-Forwarded-For` as written by the proxy in front of the server.
pub fn client_addr(req: &Request, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(forwarded) = req.headers().get("x-forwarded-for").and_then(|value| value.to_str().ok())
        && let Some(first) = forwarded.split(',').map(str::trim).find(|part| !part.is_empty())
    {
        return first.to_owned();
    }
    req.remote_addr().as_socket_addr().map_or_else(|| "unknown".to_owned(), |addr| addr.ip().to_string())
}
