//! The one place where failures become HTTP responses.
//!
//! Every error, whether raised by a domain module, by request parsing or by routing, leaves the server as
//! `{"errors":[{"code","message","field"?}]}` with a fitting status. Server-side failures are logged with
//! their cause and answered with a body that says nothing internal.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::accounts::AccountsError;
use crate::db::DbError;
use crate::listings::ListingsError;
use crate::orders::OrdersError;
use crate::payments::PaymentsError;
use crate::ticket_files::{FileStoreError, TicketFilesError};
use crate::validation::Invalid;

/// The error body of every failed request.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    pub errors: Vec<ErrorItem>,
}

/// One reason a request failed.
#[derive(Debug, Clone, Object)]
pub struct ErrorItem {
    /// Stable, machine-readable code, e.g. `email_taken`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request field this error is about, when there is one.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
}

impl ErrorBody {
    pub fn single(code: &str, message: impl Into<String>) -> Self {
        Self { errors: vec![ErrorItem { code: code.to_owned(), message: message.into(), field: None }] }
    }

    fn field(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            errors: vec![ErrorItem { code: code.to_owned(), message: message.into(), field: Some(field.to_owned()) }],
        }
    }
}

/// Error responses shared by every operation.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed: bad JSON, wrong types, bad parameters.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid session was presented.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The session may not do this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Nothing with this id exists for the caller.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state (stale version, already taken).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The request body is larger than the server accepts.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The request body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Well-formed, but one or more fields break a rule; `field` names each.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Too many attempts; retry after the given number of seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// The server failed; the body says nothing more.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The payment provider refused or failed the request.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// A dependency (the database) is unreachable; retry later.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    pub fn unauthorized() -> Self {
        Self::Unauthorized(Json(ErrorBody::single("unauthenticated", "Sign in to continue.")))
    }

    /// A malformed parameter or field, named.
    pub fn bad_request(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(Json(ErrorBody::field(code, field, message)))
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(Json(ErrorBody::single("not_found", format!("No such {what}."))))
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::Conflict(Json(ErrorBody::single(code, message)))
    }

    pub fn internal() -> Self {
        Self::Internal(Json(ErrorBody::single("internal", "Something went wrong on our side. Please try again.")))
    }

    pub fn unavailable() -> Self {
        Self::Unavailable(Json(ErrorBody::single(
            "service_unavailable",
            "The service is temporarily unavailable. Please try again shortly.",
        )))
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        let errors = invalid
            .0
            .into_iter()
            .map(|e| ErrorItem { code: e.code.to_owned(), message: e.message, field: Some(e.field.to_owned()) })
            .collect();
        Self::Unprocessable(Json(ErrorBody { errors }))
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        Self::from(&err)
    }
}

impl From<&DbError> for ApiError {
    fn from(err: &DbError) -> Self {
        match err {
            DbError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::unavailable()
            }
            DbError::ConnectionLost(cause) => {
                tracing::warn!(error = %cause, "database connection lost");
                Self::unavailable()
            }
            DbError::Query(cause) => {
                tracing::error!(error = %cause, "database query failed");
                Self::internal()
            }
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(err: AccountsError) -> Self {
        match err {
            AccountsError::Invalid(invalid) => invalid.into(),
            AccountsError::EmailTaken => {
                Self::Conflict(Json(ErrorBody::field("email_taken", "email", "This email is already registered.")))
            }
            AccountsError::InvalidCredentials => Self::Unauthorized(Json(ErrorBody::single(
                "invalid_credentials",
                "The email or password is incorrect.",
            ))),
            AccountsError::Unauthenticated => Self::unauthorized(),
            AccountsError::TooManyAttempts { retry_after_secs } => Self::TooManyRequests(
                Json(ErrorBody::single(
                    "too_many_attempts",
                    format!("Too many failed sign-ins. Try again in {retry_after_secs} seconds."),
                )),
                retry_after_secs,
            ),
            AccountsError::PasswordHash(cause) => {
                tracing::error!(error = %cause, "password hashing failed");
                Self::internal()
            }
            AccountsError::Db(err) => err.into(),
        }
    }
}

impl From<ListingsError> for ApiError {
    fn from(err: ListingsError) -> Self {
        match err {
            ListingsError::Invalid(invalid) => invalid.into(),
            ListingsError::NotFound => Self::not_found("ticket"),
            ListingsError::StaleVersion { current } => Self::conflict(
                "stale_version",
                format!("This ticket changed since you loaded it (now version {current}). Reload and try again."),
            ),
            ListingsError::NotEditable { status } => Self::conflict(
                "ticket_not_editable",
                format!("This ticket is {status} and can no longer be changed or deleted."),
            ),
            ListingsError::Db(err) => err.into(),
        }
    }
}

impl From<crate::waitlist::WaitlistError> for ApiError {
    fn from(err: crate::waitlist::WaitlistError) -> Self {
        use crate::waitlist::WaitlistError;
        match err {
            WaitlistError::NotFound => Self::not_found("ticket"),
            WaitlistError::NotInLine => {
                Self::NotFound(Json(ErrorBody::single("not_in_line", "You are not in line for this ticket.")))
            }
            WaitlistError::OwnListing => Self::conflict("own_ticket", "You cannot wait for your own listing."),
            WaitlistError::YoursAlready => {
                Self::conflict("ticket_held_by_you", "You hold this ticket already: pay for it.")
            }
            WaitlistError::NotHeld => Self::conflict(
                "ticket_not_held",
                "Nobody holds this ticket: reserve it if it is for sale. A line forms only while it is held.",
            ),
            WaitlistError::Db(err) => err.into(),
        }
    }
}

impl From<crate::live::LiveError> for ApiError {
    fn from(err: crate::live::LiveError) -> Self {
        use crate::live::LiveError;
        match err {
            LiveError::InvalidLastEventId => Self::bad_request(
                "invalid_last_event_id",
                "Last-Event-ID",
                "Last-Event-ID must be the position of an event this stream sent.",
            ),
            LiveError::Full(full) => {
                tracing::warn!(%full, "live stream refused: this process is full");
                Self::unavailable()
            }
            LiveError::Db(err) => err.into(),
        }
    }
}

impl From<crate::sales::SalesError> for ApiError {
    fn from(err: crate::sales::SalesError) -> Self {
        match err {
            crate::sales::SalesError::Db(err) => err.into(),
        }
    }
}

impl From<crate::payouts::PayoutsError> for ApiError {
    fn from(err: crate::payouts::PayoutsError) -> Self {
        use crate::payouts::PayoutsError;
        match err {
            PayoutsError::NotConfigured => PaymentsError::NotConfigured.into(),
            PayoutsError::ProviderUnavailable(cause) => {
                tracing::warn!(error = %cause, "payment provider unreachable");
                Self::Unavailable(Json(ErrorBody::single(
                    "payment_provider_unavailable",
                    "The payment provider cannot be reached right now; please try again.",
                )))
            }
            PayoutsError::ProviderRejected(cause) => PaymentsError::ProviderRejected(cause).into(),
            PayoutsError::Db(err) => err.into(),
        }
    }
}

impl From<TicketFilesError> for ApiError {
    fn from(err: TicketFilesError) -> Self {
        match err {
            TicketFilesError::Invalid(invalid) => invalid.into(),
            TicketFilesError::TooLarge => Self::PayloadTooLarge(Json(ErrorBody::field(
                "file_too_large",
                "file",
                "The ticket file must be at most 2 MiB (2,097,152 bytes).",
            ))),
            TicketFilesError::Listing(err) => err.into(),
            TicketFilesError::OrderNotFound => Self::not_found("order"),
            TicketFilesError::NotAvailable { status } => Self::conflict(
                "ticket_not_available",
                format!(
                    "This order is {status}: its ticket is yours once the order is paid, and until it is refunded."
                ),
            ),
            TicketFilesError::Store(FileStoreError::Db(err)) | TicketFilesError::Db(err) => err.into(),
            TicketFilesError::FileMissing { key } => {
                tracing::error!(key, "a sold ticket's file is missing from the file store");
                Self::internal()
            }
            TicketFilesError::Store(FileStoreError::Backend(cause)) => {
                tracing::error!(error = %cause, "ticket file store failed");
                Self::internal()
            }
        }
    }
}

impl From<OrdersError> for ApiError {
    fn from(err: OrdersError) -> Self {
        match err {
            OrdersError::Unauthenticated => Self::unauthorized(),
            OrdersError::OrderNotFound => Self::not_found("order"),
            OrdersError::TicketNotFound => Self::not_found("ticket"),
            OrdersError::TicketUnavailable => {
                Self::conflict("ticket_unavailable", "This ticket is already reserved or sold.")
            }
            OrdersError::OwnTicket => Self::conflict("own_ticket", "You cannot buy your own ticket."),
            OrdersError::NotForSale => Self::conflict(
                "ticket_not_for_sale",
                "This listing is not for sale yet: its seller has not given the event's start or attached the ticket.",
            ),
            OrdersError::EventStarted => {
                Self::conflict("event_started", "This event has started; its tickets can no longer be bought.")
            }
            OrdersError::HoldLimit { max } => Self::conflict(
                "hold_limit_reached",
                format!("You already have {max} reservations waiting for payment. Pay for or cancel one first."),
            ),
            OrdersError::NotCancellable { status } => Self::conflict(
                "order_not_cancellable",
                format!("This order is {} and can no longer be cancelled.", status.replace('_', " ")),
            ),
            // Only reached when the handler cannot hand it to payments (Stripe not configured).
            OrdersError::PaymentStarted => Self::Unavailable(Json(ErrorBody::single(
                "payments_unavailable",
                "Payments are not available right now; please try again later.",
            ))),
            OrdersError::Db(err) => err.into(),
            OrdersError::BatchFailed(err) => Self::from(&*err),
        }
    }
}

impl From<PaymentsError> for ApiError {
    fn from(err: PaymentsError) -> Self {
        match err {
            PaymentsError::NotConfigured => Self::Unavailable(Json(ErrorBody::single(
                "payments_unavailable",
                "Payments are not configured on this server.",
            ))),
            PaymentsError::OrderNotFound => Self::not_found("order"),
            PaymentsError::NotPayable { status } => Self::conflict(
                "order_not_payable",
                format!("This order is {} and cannot be paid.", status.replace('_', " ")),
            ),
            PaymentsError::HoldLapsed => {
                Self::conflict("order_expired", "The 15-minute hold on this ticket has ended. Reserve it again.")
            }
            PaymentsError::AlreadyPaid => Self::conflict("order_already_paid", "This order is already paid."),
            PaymentsError::NotStarted => {
                Self::conflict("payment_not_started", "Start the payment (POST /api/payments) before confirming it.")
            }
            PaymentsError::Invalid(invalid) => invalid.into(),
            PaymentsError::Declined(message) => Self::Unprocessable(Json(ErrorBody::field(
                "card_declined",
                "cardToken",
                format!("Your card was declined: {message} Try another card."),
            ))),
            PaymentsError::ProviderUnavailable(cause) => {
                tracing::warn!(error = %cause, "payment provider unreachable");
                Self::Unavailable(Json(ErrorBody::single(
                    "payment_provider_unavailable",
                    "The payment provider cannot be reached right now. Nothing was charged twice; please try again.",
                )))
            }
            PaymentsError::ProviderRejected(cause) => {
                tracing::error!(error = %cause, "payment provider rejected a request");
                Self::BadGateway(Json(ErrorBody::single(
                    "payment_provider_error",
                    "The payment provider could not process this request.",
                )))
            }
            PaymentsError::RefundNotAllowed { status } => Self::conflict(
                "refund_not_allowed",
                format!("Only completed orders can be refunded; this one is {}.", status.replace('_', " ")),
            ),
            PaymentsError::NotCancellable { status } => Self::conflict(
                "order_not_cancellable",
                format!("This order is {} and can no longer be cancelled.", status.replace('_', " ")),
            ),
            PaymentsError::StillProcessing => Self::conflict(
                "payment_processing",
                "Your payment is still being processed; the order completes or is released when it ends.",
            ),
            PaymentsError::RefundWindowClosed { event_started_at } => Self::conflict(
                "refund_window_closed",
                format!(
                    "Refunds close when the event starts, and this one started at {}.",
                    event_started_at.format("%Y-%m-%d %H:%M UTC")
                ),
            ),
            PaymentsError::RefundInProgress => {
                Self::conflict("refund_in_progress", "A refund for this order is already in progress.")
            }
            PaymentsError::PartialRefund => Self::Unprocessable(Json(ErrorBody::field(
                "partial_refund_not_supported",
                "amount",
                "Only a full refund of the order total is possible.",
            ))),
            PaymentsError::RefundFailed(cause) => {
                tracing::warn!(error = %cause, "refund failed");
                Self::BadGateway(Json(ErrorBody::single(
                    "refund_failed",
                    "The refund did not go through; your order is unchanged. Please try again later.",
                )))
            }
            PaymentsError::InvalidSignature(reason) => {
                Self::BadRequest(Json(ErrorBody::single("invalid_signature", format!("Webhook rejected: {reason}."))))
            }
            PaymentsError::Db(err) => err.into(),
        }
    }
}

/// Turns any error that escaped the API layer (routing, parsing, authentication, panics) into the
/// documented error body. Responses the API built itself pass through untouched.
pub fn render_poem_error(err: poem::Error) -> Response {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
    };

    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let (code, message, field) = if let Some(e) = err.downcast_ref::<ParsePathError>() {
        // poem-openapi names path parameters by position here, so the name is not worth repeating.
        ("invalid_parameter", format!("An id in the path is invalid: {}", e.reason), None)
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        ("invalid_parameter", format!("Parameter `{}` is invalid: {}", e.name, e.reason), Some(e.name))
    } else if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        ("invalid_body", format!("The request body is invalid: {}", e.reason), None)
    } else if err.is::<ContentTypeError>() {
        (
            "unsupported_media_type",
            "The request body's Content-Type is missing or wrong: JSON (application/json), or for a ticket file \
             application/octet-stream or the file's own type."
                .into(),
            None,
        )
    } else if err.is::<AuthorizationError>() {
        ("unauthenticated", "Sign in to continue.".into(), None)
    } else {
        match status {
            StatusCode::NOT_FOUND => ("route_not_found", "There is no such API route.".into(), None),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "This route does not accept that method.".into(), None)
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request body is too large.".into(), None),
            StatusCode::TOO_MANY_REQUESTS => {
                ("rate_limited", "Too many requests from this address. Please wait and try again.".into(), None)
            }
            StatusCode::BAD_REQUEST => ("bad_request", "The request is malformed.".into(), None),
            status if status.is_server_error() => {
                tracing::error!(error = %err, %status, "request failed");
                ("internal", "Something went wrong on our side. Please try again.".into(), None)
            }
            _ => ("request_rejected", status.canonical_reason().unwrap_or("Rejected").to_owned(), None),
        }
    };
    let status = if err.is::<ContentTypeError>() { StatusCode::UNSUPPORTED_MEDIA_TYPE } else { status };
    let body = match field {
        Some(field) => ErrorBody::field(code, field, message),
        None => ErrorBody::single(code, message),
    };
    Json(body).with_status(status).into_response()
}
