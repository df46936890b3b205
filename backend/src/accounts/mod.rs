//! Accounts: registration, sign-in with throttling, sessions and sign-out.

pub mod api;
mod email;
mod password;
mod sessions;
mod throttle;
mod token;
mod users;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use uuid::Uuid;

pub use email::EmailAddress;
pub use password::Password;
pub use sessions::{Authenticated, NewSession, SessionCheck};
pub use users::User;

use crate::config::{LoginThrottle, SessionPolicy};
use crate::db::{self, DbError, DbPool};
use crate::validation::{Collector, FieldError, Invalid};

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("no valid session")]
    Unauthenticated,
    #[error("too many failed sign-ins; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for AccountsError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err.into())
    }
}

/// What a new account needs.
#[derive(Debug)]
pub struct Registration {
    pub email: EmailAddress,
    pub password: Password,
}

impl Registration {
    pub fn parse(email: &str, password: &str, terms_accepted: bool) -> Result<Self, Invalid> {
        let mut errors = Collector::default();
        let email = errors.take(EmailAddress::parse(email));
        let password = errors.take(Password::parse(password));
        if !terms_accepted {
            errors.take::<()>(Err(FieldError::new(
                "termsAccepted",
                "terms_not_accepted",
                "You must accept the terms and conditions.",
            )));
        }
        errors.finish()?;
        match (email, password) {
            (Some(email), Some(password)) => Ok(Self { email, password }),
            _ => Err(Invalid(vec![])),
        }
    }
}

/// Where a sign-in attempt comes from, for throttling.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub client_addr: &'a str,
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AccountsError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| AccountsError::PasswordHash(err.to_string()))
}

/// Creates an account and signs it in.
pub async fn register(
    pool: &DbPool,
    registration: Registration,
    now: DateTime<Utc>,
    policy: SessionPolicy,
) -> Result<(User, NewSession), AccountsError> {
    let password = registration.password;
    let password_hash = blocking(move || password::hash(password.as_str()))
        .await?
        .map_err(|err| AccountsError::PasswordHash(err.to_string()))?;
    let user =
        User { id: Uuid::new_v4(), email: registration.email.as_str().to_owned(), password_hash, created_at: now };
    let mut conn = db::conn(pool).await?;
    let session = conn
        .transaction(async |conn| {
            users::insert(conn, &user).await.map_err(|err| {
                if db::is_unique_violation(&err, users::EMAIL_UNIQUE_INDEX) {
                    AccountsError::EmailTaken
                } else {
                    err.into()
                }
            })?;
            Ok::<_, AccountsError>(sessions::open(conn, user.id, now, policy).await?)
        })
        .await?;
    Ok((user, session))
}

/// Checks credentials and opens a session. Unknown email and wrong password fail alike.
pub async fn login(
    pool: &DbPool,
    attempt: Attempt<'_>,
    now: DateTime<Utc>,
    policy: SessionPolicy,
    limits: LoginThrottle,
) -> Result<(User, NewSession), AccountsError> {
    let mut errors = Collector::default();
    if attempt.email.trim().is_empty() {
        errors.take::<()>(Err(FieldError::new("email", "required", "Email is required.")));
    }
    if attempt.password.is_empty() {
        errors.take::<()>(Err(FieldError::new("password", "required", "Password is required.")));
    }
    errors.finish()?;
    let email_key = attempt.email.trim().to_lowercase();
    // Counted and recorded at once: the attempt is booked as a failure before the password is
    // checked, so simultaneous guesses cannot all slip under the limit; a right password unbooks it.
    let (booked, user) = {
        let mut conn = db::conn(pool).await?;
        let booked = conn
            .transaction(async |conn| throttle::book_attempt(conn, &email_key, attempt.client_addr, now, limits).await)
            .await?;
        let booked = match booked {
            throttle::Booking::Booked(id) => id,
            throttle::Booking::Refused { retry_after_secs } => {
                return Err(AccountsError::TooManyAttempts { retry_after_secs });
            }
        };
        (booked, users::find_by_email_key(&mut conn, &email_key).await?)
    };
    let stored_hash = user.as_ref().map_or_else(|| password::decoy_hash().to_owned(), |u| u.password_hash.clone());
    let candidate = attempt.password.to_owned();
    // No connection is held while the password is hashed.
    let matches = blocking(move || password::verify(&candidate, &stored_hash)).await?;
    match user {
        Some(user) if matches => {
            let mut conn = db::conn(pool).await?;
            let session = conn
                .transaction(async |conn| {
                    throttle::forgive(conn, booked, &email_key, attempt.client_addr).await?;
                    sessions::open(conn, user.id, now, policy).await
                })
                .await?;
            Ok((user, session))
        }
        _ => Err(AccountsError::InvalidCredentials),
    }
}

/// Resolves a session token to the signed-in user.
pub async fn authenticate(
    pool: &DbPool,
    token: &str,
    now: DateTime<Utc>,
    policy: SessionPolicy,
) -> Result<Authenticated, AccountsError> {
    let mut conn = db::conn(pool).await?;
    sessions::authenticate(&mut conn, SessionCheck::new(token, now, policy))
        .await?
        .ok_or(AccountsError::Unauthenticated)
}

/// The user a checked session belongs to, inside the caller's transaction (`None` when it is not live).
pub async fn session_user(
    conn: &mut diesel_async::AsyncPgConnection,
    check: SessionCheck,
) -> diesel::QueryResult<Option<Uuid>> {
    Ok(sessions::authenticate(conn, check).await?.map(|who| who.user_id))
}

/// The account behind a session.
pub async fn current_user(pool: &DbPool, who: Authenticated) -> Result<User, AccountsError> {
    let mut conn = db::conn(pool).await?;
    users::find(&mut conn, who.user_id).await?.ok_or(AccountsError::Unauthenticated)
}

/// Whether anyone but the holders of `emails` has an account.
pub async fn exists_other_than(pool: &DbPool, emails: &[EmailAddress]) -> Result<bool, AccountsError> {
    let keys: Vec<String> = emails.iter().map(EmailAddress::key).collect();
    let mut conn = db::conn(pool).await?;
    Ok(users::exists_other_than(&mut conn, &keys).await?)
}

/// The account registered under `email` (compared as addresses are: without regard to case), if any.
pub async fn find_by_email(pool: &DbPool, email: &EmailAddress) -> Result<Option<User>, AccountsError> {
    let mut conn = db::conn(pool).await?;
    Ok(users::find_by_email_key(&mut conn, &email.key()).await?)
}

/// Revokes the session.
pub async fn logout(pool: &DbPool, who: Authenticated, now: DateTime<Utc>) -> Result<(), AccountsError> {
    let mut conn = db::conn(pool).await?;
    Ok(sessions::revoke(&mut conn, who.session_id, now).await?)
}
