//! The API, through the client generated from `openapi.yaml` (see `build.rs`).

#[allow(clippy::all, clippy::unwrap_used, unused, unreachable_pub, missing_docs, unused_qualifications)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/api_client.rs"));
}

pub use generated::{Client, types};

use crate::platform;

/// Why a request failed, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Problem {
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The first error's code (`email_taken`, `ticket_unavailable`, ...).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// Errors about one field each: (field, message).
    pub fields: Vec<(String, String)>,
}

impl Problem {
    /// The server could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        self.status.is_none()
    }

    /// The message for `field`, if the server named it.
    pub fn field(&self, field: &str) -> Option<String> {
        self.fields.iter().find(|(name, _)| name == field).map(|(_, message)| message.clone())
    }

    /// `value` as the API's length-bounded type for `field` (the spec's `maxLength`), or the problem a
    /// value too long for it is, shown by the field as the server's own 422 would be.
    pub fn bounded<T: TryFrom<String>>(field: &str, label: &str, value: String) -> Result<T, Self> {
        T::try_from(value).map_err(|_| {
            let message = format!("{label} is too long.");
            Self {
                status: Some(422),
                code: "too_long".into(),
                message: message.clone(),
                fields: vec![(field.to_owned(), message)],
            }
        })
    }

    fn from_body(status: u16, body: &types::ErrorBody) -> Self {
        let first = body.errors.first();
        Self {
            status: Some(status),
            code: first.map(|e| e.code.clone()).unwrap_or_default(),
            message: first.map(|e| e.message.clone()).unwrap_or_else(|| "Something went wrong.".into()),
            fields: body.errors.iter().filter_map(|e| e.field.clone().map(|f| (f, e.message.clone()))).collect(),
        }
    }
}

impl<E: std::fmt::Debug> From<progenitor_client::Error<E>> for Problem
where
    E: ErrorBodyLike,
{
    fn from(err: progenitor_client::Error<E>) -> Self {
        match err {
            progenitor_client::Error::ErrorResponse(response) => {
                let status = response.status().as_u16();
                match response.into_inner().error_body() {
                    Some(body) => Self::from_body(status, &body),
                    None => Self {
                        status: Some(status),
                        message: "The server refused the request.".into(),
                        ..Self::default()
                    },
                }
            }
            progenitor_client::Error::CommunicationError(_) => Self {
                status: None,
                code: "unreachable".into(),
                message: "The server cannot be reached. Check your connection and try again.".into(),
                fields: vec![],
            },
            other => Self {
                status: other.status().map(|s| s.as_u16()),
                code: "unexpected".into(),
                message: "The server answered unexpectedly. Please try again.".into(),
                fields: vec![],
            },
        }
    }
}

/// Error payloads of the API: every error is an `ErrorBody`, except the probes'.
pub trait ErrorBodyLike {
    fn error_body(self) -> Option<types::ErrorBody>;
}

impl ErrorBodyLike for types::ErrorBody {
    fn error_body(self) -> Option<types::ErrorBody> {
        Some(self)
    }
}

impl ErrorBodyLike for types::HealthStatus {
    fn error_body(self) -> Option<types::ErrorBody> {
        None
    }
}

/// A client for the current platform, carrying `token` as a bearer token where the platform uses
/// tokens (desktop and mobile); browsers send the session cookie instead.
pub fn client(token: Option<&str>) -> Client {
    let (base, bearer) = platform::api_base();
    let mut headers = reqwest::header::HeaderMap::new();
    if let (true, Some(token)) = (bearer, token)
        && let Ok(value) = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
    {
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let http = reqwest::Client::builder().default_headers(headers).build().unwrap_or_default();
    Client::new_with_client(&base, http)
}

impl ErrorBodyLike for () {
    fn error_body(self) -> Option<types::ErrorBody> {
        None
    }
}
