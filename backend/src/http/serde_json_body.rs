//! [`SerdeJson`]: a JSON answer written by serde straight from its value, for the market's pages.
//!
//! poem-openapi's `Json` renders through a `serde_json::Value` first: a B-tree map per object and a
//! copy of every string, then the tree written out. Profiled under wrk, that tree was about a tenth
//! of the server's time on a page of listings. `SerdeJson<T>` writes `T`'s `serde::Serialize` form
//! instead, and describes itself in the spec by `T`'s poem-openapi schema, exactly as `Json<T>`
//! does. So the two must render the same JSON (their keys' order aside: poem-openapi's come out
//! sorted, serde's in field order): a type answered this way derives both, and a test of its own
//! compares the two as JSON values.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

/// A 200 answer of `T` as JSON, written by serde; in the spec, what `Json<T>` would be. It holds the
/// JSON already written, so an answer can be kept and sent again (`listings::market_pages`).
pub struct SerdeJson<T> {
    body: Bytes,
    of: PhantomData<fn() -> T>,
}

impl<T: Serialize> SerdeJson<T> {
    /// Writes `value`. Only a map whose keys are not strings fails: no answered type has one.
    pub fn write(value: &T) -> Result<Self, serde_json::Error> {
        Ok(Self::written(serde_json::to_vec(value)?.into()))
    }

    /// What [`SerdeJson::write`] wrote for a `T` before.
    pub fn written(body: Bytes) -> Self {
        Self { body, of: PhantomData }
    }

    pub fn into_body(self) -> Bytes {
        self.body
    }
}

impl<T: Type> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + Serialize> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        Response::builder().content_type(Self::CONTENT_TYPE).body(self.body)
    }
}

impl<T: Type + Serialize> ApiResponse for SerdeJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType { content_type: Self::CONTENT_TYPE, schema: Self::schema_ref() }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Times as poem-openapi writes them (`to_rfc3339`: `2026-11-23T18:05:00.123456+00:00`), for the
/// `serialize_with` of a type answered by [`SerdeJson`].
pub mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn one<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339())
    }

    pub fn option<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => one(at, serializer),
            None => serializer.serialize_none(),
        }
    }
}
