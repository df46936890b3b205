//! Who is signed in, for the whole app.

use dioxus::prelude::*;

use crate::api::{self, Problem, types};
use crate::platform;

/// The session as the UI knows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Session {
    /// Set once the server has been asked who is signed in.
    pub loaded: bool,
    pub user: Option<types::UserView>,
    /// The bearer token (desktop and mobile); browsers use the cookie.
    pub token: Option<String>,
}

pub static SESSION: GlobalSignal<Session> =
    Signal::global(|| Session { token: platform::load_token(), ..Session::default() });

/// Set while the server cannot be reached; the header shows a banner.
pub static UNREACHABLE: GlobalSignal<bool> = Signal::global(|| false);

/// A client carrying the current session. Reads without subscribing, so a resource that makes a
/// request does not rerun whenever the session changes.
pub fn client() -> api::Client {
    api::client(SESSION.peek().token.as_deref())
}

/// Records a request's outcome for the connectivity banner and passes the error on.
pub fn note<T>(result: Result<T, Problem>) -> Result<T, Problem> {
    let unreachable = matches!(&result, Err(problem) if problem.is_unreachable());
    if *UNREACHABLE.peek() != unreachable {
        *UNREACHABLE.write() = unreachable;
    }
    result
}

/// Asks the server who is signed in.
pub async fn refresh() {
    let result = note(client().current_user().send().await.map_err(Problem::from));
    let mut session = SESSION.write();
    session.loaded = true;
    if let Ok(view) = result {
        session.user = view.into_inner().current_user;
        if session.user.is_none() && session.token.is_some() {
            session.token = None;
            platform::store_token(None);
        }
    }
}

/// How this platform asks the server to hand over a new session: browsers only in the HttpOnly
/// cookie, so no page script ever sees the token; the apps as a bearer token.
pub fn delivery() -> types::SessionDelivery {
    if platform::uses_bearer_token() { types::SessionDelivery::Token } else { types::SessionDelivery::Cookie }
}

/// Records a new sign-in.
pub fn signed_in(view: types::SessionView) {
    let token = view.token.filter(|_| platform::uses_bearer_token());
    platform::store_token(token.as_deref());
    let mut session = SESSION.write();
    session.loaded = true;
    session.token = token;
    session.user = Some(view.user);
}

pub async fn sign_out() {
    let _ = client().logout().send().await;
    platform::store_token(None);
    let mut session = SESSION.write();
    session.user = None;
    session.token = None;
}
