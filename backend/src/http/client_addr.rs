//! The address a request came from, for per-client limits.

use std::net::IpAddr;

use poem::Request;

/// The client's IP address: the peer address, or with `trust_forwarded_for` the last address of
/// `X-Forwarded-For`, the one the proxy in front of the server wrote (earlier entries come from the
/// client and prove nothing). Anything that is not an IP address falls back to the peer; `None` when
/// the peer is not an IP socket either.
pub fn client_addr(req: &Request, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(forwarded) = req.headers().get("x-forwarded-for").and_then(|value| value.to_str().ok())
        && let Some(last) = forwarded.rsplit(',').map(str::trim).find(|part| !part.is_empty())
        && let Ok(addr) = last.parse::<IpAddr>()
    {
        return Some(addr);
    }
    req.remote_addr().as_socket_addr().map(|addr| addr.ip())
}
