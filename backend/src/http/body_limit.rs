//! Caps request bodies. Declared lengths over the cap are refused before reading; streamed bodies are
//! read up to the cap and refused past it. Either way the answer is 413 in the documented error body.
//! A ticket file upload (`PUT /api/tickets/{id}/file`) has a cap of its own.

use poem::http::StatusCode;
use poem::{Endpoint, Error, Middleware, Request, Result};

pub struct BodyLimit {
    pub max_bytes: usize,
    /// The cap of a ticket file upload.
    pub file_max_bytes: usize,
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint { inner, max_bytes: self.max_bytes, file_max_bytes: self.file_max_bytes }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max_bytes: usize,
    file_max_bytes: usize,
}

/// Whether `req` uploads a ticket file.
fn is_file_upload(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == poem::http::Method::PUT && path.starts_with("/api/tickets/") && path.ends_with("/file")
}

fn too_large() -> Error {
    Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let max_bytes = if is_file_upload(&req) { self.file_max_bytes } else { self.max_bytes };
        let declared = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max_bytes as u64) {
            return Err(too_large());
        }
        let body = req.take_body().into_bytes_limit(max_bytes).await.map_err(|err| match err {
            poem::error::ReadBodyError::PayloadTooLarge => too_large(),
            other => Error::from_string(other.to_string(), StatusCode::BAD_REQUEST),
        })?;
        req.set_body(body);
        self.inner.call(req).await
    }
}
