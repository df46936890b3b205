//! Caps request bodies. Declared lengths over the cap are refused before reading; streamed bodies are
//! read up to the cap and refused past it. Either way the answer is 413 in the documented error body.

use poem::http::StatusCode;
use poem::{Endpoint, Error, Middleware, Request, Result};

pub struct BodyLimit {
    pub max_bytes: usize,
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint { inner, max_bytes: self.max_bytes }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max_bytes: usize,
}

fn too_large() -> Error {
    Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let declared = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.max_bytes as u64) {
            return Err(too_large());
        }
        let body = req.take_body().into_bytes_limit(self.max_bytes).await.map_err(|err| match err {
            poem::error::ReadBodyError::PayloadTooLarge => too_large(),
            other => Error::from_string(other.to_string(), StatusCode::BAD_REQUEST),
        })?;
        req.set_body(body);
        self.inner.call(req).await
    }
}
