//! The web UI's files (`WEB_DIR`). A file that `cargo xtask web` gzipped beside itself
//! (`<name>.gz`) goes as that copy, with `Content-Encoding: gzip`, to a browser that accepts gzip,
//! and as it is to one that does not; nothing is compressed per request. Every unknown path is
//! answered with `index.html` (gzipped, as the page is), for the UI's own router. HEAD is answered
//! as GET is, without the body.

use std::path::Path;

use poem::endpoint::StaticFilesEndpoint;
use poem::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, IF_RANGE, RANGE, VARY};
use poem::http::{HeaderValue, Method, StatusCode, Uri};
use poem::{Endpoint, IntoResponse, Request, Response};

pub struct WebFiles {
    files: StaticFilesEndpoint,
    /// The same directory without the fallback to `index.html`: a missing copy is a missing copy.
    gzipped: StaticFilesEndpoint,
}

impl WebFiles {
    pub fn new(dir: &Path) -> Self {
        Self {
            files: StaticFilesEndpoint::new(dir).index_file("index.html").fallback_to_index(),
            gzipped: StaticFilesEndpoint::new(dir),
        }
    }

    /// The gzipped copy of the file `path` names, when there is one.
    async fn gzipped_copy(&self, req: &Request, path: &str) -> Option<Response> {
        match self.gzipped.call(Self::asked_of(req, &format!("{path}.gz"))?).await {
            Ok(response) => Some(response.into_response()),
            // A range the copy does not have is refused as such, not answered from the other form.
            Err(err) if err.status() == StatusCode::RANGE_NOT_SATISFIABLE => Some(err.into_response()),
            // No copy (poem answers a missing file with an error).
            Err(_) => None,
        }
    }

    /// `req` as asked of `path` instead.
    fn asked_of(req: &Request, path: &str) -> Option<Request> {
        let uri: Uri = path.parse().ok()?;
        let mut copy = Request::builder().method(req.method().clone()).uri(uri);
        for (name, value) in req.headers() {
            copy = copy.header(name, value);
        }
        Some(copy.finish())
    }

    /// The answer to a GET (or another method, which the file endpoint refuses).
    async fn answer(&self, mut req: Request) -> poem::Result<Response> {
        let path = req.uri().path();
        let mut file = if path.ends_with('/') { format!("{path}index.html") } else { path.to_owned() };
        // A file under its own name (a picture) goes as it is. Any other path is a route of the UI's,
        // answered with the page as the page itself is: gzipped where it can be.
        if compressed_type(&file).is_none()
            && req.method() == Method::GET
            && let Some(page) = Self::asked_of(&req, "/index.html")
        {
            match self.gzipped.call(req).await {
                Err(err) if err.status() == StatusCode::NOT_FOUND => {
                    req = page;
                    file = "/index.html".to_owned();
                }
                answer => return Ok(answer?.into_response()),
            }
        }
        let Some(media_type) = compressed_type(&file) else {
            return Ok(self.files.call(req).await?.into_response());
        };
        let wants_gzip =
            accepts_gzip(req.headers().get_all(ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok()));
        let copy = if wants_gzip && req.method() == Method::GET { self.gzipped_copy(&req, &file).await } else { None };
        let mut response = match copy {
            Some(mut response) => {
                response.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(media_type));
                response
            }
            None => self.files.call(req).await?.into_response(),
        };
        // Caches must keep the two forms apart.
        response.headers_mut().insert(VARY, HeaderValue::from_static("accept-encoding"));
        Ok(response)
    }
}

/// The media type of the files sent gzipped, by their extension; `None` for the rest.
fn compressed_type(path: &str) -> Option<&'static str> {
    let (_, extension) = path.rsplit_once('/').map_or(path, |(_, name)| name).rsplit_once('.')?;
    match extension {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        "html" => Some("text/html; charset=utf-8"),
        _ => None,
    }
}

/// Whether `Accept-Encoding` admits gzip: `gzip` (or `x-gzip`) with a weight above 0, or else `*`
/// with one; a coding named outright is not covered by `*`.
fn accepts_gzip<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    let mut wildcard = None;
    for choice in values.flat_map(|value| value.split(',')) {
        let mut parts = choice.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let weighed_zero = parts.any(|param| {
            let (name, weight) = param.split_once('=').unwrap_or((param, ""));
            name.trim().eq_ignore_ascii_case("q") && weight.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
        });
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return !weighed_zero;
        }
        if coding == "*" {
            wildcard = Some(!weighed_zero);
        }
    }
    wildcard.unwrap_or(false)
}

impl Endpoint for WebFiles {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        // poem's file endpoint answers GET alone. A HEAD is answered as a GET of the whole file (a
        // range is for GET only): its headers, the length among them, without the body.
        if req.method() != Method::HEAD {
            return self.answer(req).await;
        }
        req.set_method(Method::GET);
        req.headers_mut().remove(RANGE);
        req.headers_mut().remove(IF_RANGE);
        let mut response = self.answer(req).await?;
        response.set_body(());
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::{accepts_gzip, compressed_type};

    #[test]
    fn gzip_is_accepted_by_name_or_wildcard_unless_weighed_zero() {
        let accepts = |values: &[&str]| accepts_gzip(values.iter().copied());
        assert!(accepts(&["gzip, deflate, br, zstd"]));
        assert!(accepts(&["br;q=1.0, GZIP;q=0.5"]));
        assert!(accepts(&["*"]));
        assert!(accepts(&["x-gzip"]));
        assert!(accepts(&["br", "gzip"]), "a second header line counts too");
        assert!(!accepts(&["br, deflate"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip; Q=0.000"]));
        assert!(!accepts(&["gzip;q=0, *"]), "a coding named outright is not covered by *");
        assert!(!accepts(&["*;q=0"]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&[""]));
        assert!(!accepts(&[]));
    }

    #[test]
    fn only_the_bundle_s_text_and_wasm_are_sent_gzipped() {
        assert_eq!(compressed_type("/ticket_exchange_ui_bg.wasm"), Some("application/wasm"));
        assert_eq!(compressed_type("/snippets/dioxus-cli-config-1/inline0.js"), Some("text/javascript; charset=utf-8"));
        assert_eq!(compressed_type("/index.html"), Some("text/html; charset=utf-8"));
        assert_eq!(compressed_type("/orders"), None);
        assert_eq!(compressed_type("/tickets/a.b/edit"), None);
        assert_eq!(compressed_type("/favicon.png"), None);
    }
}
