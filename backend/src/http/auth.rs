//! How a request proves who it is: a session token in the `tx_session` HttpOnly cookie (browsers) or
//! in `Authorization: Bearer` (the desktop and mobile apps).

use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use super::error::ApiError;
use crate::accounts::{self, Authenticated, SessionCheck};
use crate::config::Config;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "tx_session";

/// A session token sent as `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct BearerToken(Bearer);

/// A session token sent in the `tx_session` cookie.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "tx_session", key_in = "cookie")]
pub struct SessionCookie(ApiKey);

/// A required session.
#[derive(SecurityScheme)]
pub enum SessionAuth {
    BearerToken(BearerToken),
    SessionCookie(SessionCookie),
}

/// A session that may be absent.
#[derive(SecurityScheme)]
pub enum OptionalSessionAuth {
    BearerToken(BearerToken),
    SessionCookie(SessionCookie),
    #[oai(fallback)]
    Anonymous,
}

impl SessionAuth {
    fn token(&self) -> &str {
        match self {
            Self::BearerToken(bearer) => &bearer.0.token,
            Self::SessionCookie(cookie) => &cookie.0.key,
        }
    }

    /// The presented token, ready for the database to check inside a statement of its own (a
    /// reservation checks the session and reserves in one round trip).
    pub fn check(&self, state: &AppState) -> SessionCheck {
        SessionCheck::new(self.token(), state.now(), state.config.sessions)
    }

    /// The signed-in user, or 401.
    pub async fn user(&self, state: &AppState) -> Result<Authenticated, ApiError> {
        Ok(accounts::authenticate(&state.pool, self.token(), state.now(), state.config.sessions).await?)
    }
}

impl OptionalSessionAuth {
    /// The signed-in user, if a valid session was presented.
    pub async fn user(&self, state: &AppState) -> Result<Option<Authenticated>, ApiError> {
        let token = match self {
            Self::BearerToken(bearer) => &bearer.0.token,
            Self::SessionCookie(cookie) => &cookie.0.key,
            Self::Anonymous => return Ok(None),
        };
        match accounts::authenticate(&state.pool, token, state.now(), state.config.sessions).await {
            Ok(who) => Ok(Some(who)),
            Err(accounts::AccountsError::Unauthenticated) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

/// `Set-Cookie` value carrying a new session token.
pub fn session_cookie(config: &Config, token: &str) -> String {
    let max_age = config.sessions.max_age.as_secs();
    let secure = if config.secure_cookies() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// `Set-Cookie` value that removes the session cookie.
pub fn cleared_session_cookie(config: &Config) -> String {
    let secure = if config.secure_cookies() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
}
