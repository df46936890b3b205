//! `/api/users`: register, login, logout and the current user.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::{Attempt, NewSession, Registration, User};
use crate::http::ApiTags;
use crate::http::auth::{OptionalSessionAuth, SessionAuth, cleared_session_cookie, session_cookie};
use crate::http::client_addr::client_addr;
use crate::http::error::ApiError;
use crate::http::text::{EmailText, Text};
use crate::state::AppState;

/// A new account.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct RegisterRequest {
    /// Email address; unique regardless of case.
    email: EmailText,
    /// 8 to 128 characters.
    password: Text<128>,
    /// Must be `true`: the user accepted the terms and conditions.
    terms_accepted: bool,
    /// How the new session is handed over; both ways when absent.
    session: Option<SessionDelivery>,
}

/// Credentials for signing in.
#[derive(Debug, Object)]
struct LoginRequest {
    email: EmailText,
    password: Text<128>,
    /// How the new session is handed over; both ways when absent.
    session: Option<SessionDelivery>,
}

/// Where a new session's token goes. A browser asks for `cookie`, so that no page script ever holds
/// the token; an app asks for `token` and sends it as a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
enum SessionDelivery {
    /// Only in the HttpOnly `tx_session` cookie: the body carries no token.
    Cookie,
    /// Only in the body's `token`: no cookie is set.
    Token,
}

/// The `Set-Cookie` value and the body's token for `delivery` (both when absent).
fn hand_over(state: &AppState, delivery: Option<SessionDelivery>, token: &str) -> (Option<String>, Option<String>) {
    let cookie = (delivery != Some(SessionDelivery::Token)).then(|| session_cookie(&state.config, token));
    let body = (delivery != Some(SessionDelivery::Cookie)).then(|| token.to_owned());
    (cookie, body)
}

/// An account as others may see it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct UserView {
    id: Uuid,
    email: String,
    created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self { id: user.id, email: user.email, created_at: user.created_at }
    }
}

/// A signed-in session. Browsers use the cookie; apps send `token` as a bearer token.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SessionView {
    user: UserView,
    /// Opaque session token for `Authorization: Bearer`; absent when the request asked for the cookie
    /// only.
    #[oai(skip_serializing_if_is_none)]
    token: Option<String>,
    expires_at: DateTime<Utc>,
}

impl SessionView {
    fn new(user: User, session: &NewSession, token: Option<String>) -> Self {
        Self { user: user.into(), token, expires_at: session.expires_at }
    }
}

/// Who is signed in, if anyone.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct CurrentUserView {
    current_user: Option<UserView>,
}

#[derive(ApiResponse)]
enum RegisterResponse {
    /// Account created and signed in.
    #[oai(status = 201)]
    Created(Json<SessionView>, #[oai(header = "Set-Cookie")] Option<String>),
}

#[derive(ApiResponse)]
enum LoginResponse {
    /// Signed in.
    #[oai(status = 200)]
    Ok(Json<SessionView>, #[oai(header = "Set-Cookie")] Option<String>),
}

#[derive(ApiResponse)]
enum LogoutResponse {
    /// Signed out; the session can no longer be used.
    #[oai(status = 204)]
    NoContent(#[oai(header = "Set-Cookie")] String),
}

pub struct AccountsApi;

#[OpenApi(tag = "ApiTags::Users", prefix_path = "/users")]
impl AccountsApi {
    /// Create an account and sign in.
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        state: Data<&Arc<AppState>>,
        body: Json<RegisterRequest>,
    ) -> Result<RegisterResponse, ApiError> {
        let registration = Registration::parse(body.email.as_str(), body.password.as_str(), body.terms_accepted)?;
        let (user, session) = super::register(&state.pool, registration, state.now(), state.config.sessions).await?;
        let (cookie, token) = hand_over(&state, body.session, session.token.as_str());
        Ok(RegisterResponse::Created(Json(SessionView::new(user, &session, token)), cookie))
    }

    /// Sign in with email and password.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Result<LoginResponse, ApiError> {
        let addr = client_addr(req, state.config.trust_forwarded_for)
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let attempt = Attempt { email: body.email.as_str(), password: body.password.as_str(), client_addr: &addr };
        let (user, session) =
            super::login(&state.pool, attempt, state.now(), state.config.sessions, state.config.login_throttle).await?;
        let (cookie, token) = hand_over(&state, body.session, session.token.as_str());
        Ok(LoginResponse::Ok(Json(SessionView::new(user, &session, token)), cookie))
    }

    /// Sign out: revokes the session.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, state: Data<&Arc<AppState>>, auth: SessionAuth) -> Result<LogoutResponse, ApiError> {
        let who = auth.user(&state).await?;
        super::logout(&state.pool, who, state.now()).await?;
        Ok(LogoutResponse::NoContent(cleared_session_cookie(&state.config)))
    }

    /// The signed-in user, or `null`.
    #[oai(path = "/current-user", method = "get", operation_id = "current_user")]
    async fn current_user(
        &self,
        state: Data<&Arc<AppState>>,
        auth: OptionalSessionAuth,
    ) -> Result<Json<CurrentUserView>, ApiError> {
        let current_user = match auth.user(&state).await? {
            Some(who) => Some(super::current_user(&state.pool, who).await?.into()),
            None => None,
        };
        Ok(Json(CurrentUserView { current_user }))
    }
}
