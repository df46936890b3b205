//! [`StripeGateway`]: PaymentIntents and refunds.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_core::payment_intent::{
    CancelPaymentIntent, ConfirmPaymentIntent, CreatePaymentIntent, RetrievePaymentIntent, UpdatePaymentIntent,
};
use stripe_core::refund::{CreateRefund, ListRefund};
use stripe_types::Currency;

/// Where a PaymentIntent is in Stripe's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl IntentStatus {
    fn parse(raw: &str) -> Result<Self, GatewayError> {
        Ok(match raw {
            "requires_payment_method" => Self::RequiresPaymentMethod,
            "requires_confirmation" => Self::RequiresConfirmation,
            "requires_action" => Self::RequiresAction,
            "processing" => Self::Processing,
            "requires_capture" => Self::RequiresCapture,
            "canceled" => Self::Canceled,
            "succeeded" => Self::Succeeded,
            other => return Err(GatewayError::Protocol(format!("unknown PaymentIntent status `{other}`"))),
        })
    }

    /// Whether Stripe still accepts a cancellation.
    pub fn is_cancelable(self) -> bool {
        matches!(
            self,
            Self::RequiresPaymentMethod | Self::RequiresConfirmation | Self::RequiresAction | Self::RequiresCapture
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::RequiresConfirmation => "requires_confirmation",
            Self::RequiresAction => "requires_action",
            Self::Processing => "processing",
            Self::RequiresCapture => "requires_capture",
            Self::Canceled => "canceled",
            Self::Succeeded => "succeeded",
        }
    }
}

/// What we know of a PaymentIntent after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentSnapshot {
    pub id: String,
    pub status: IntentStatus,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code, as Stripe writes it.
    pub currency: String,
    pub client_secret: Option<String>,
    /// The `order_id` metadata we set at creation.
    pub order_id: Option<String>,
    /// Why the last payment attempt failed, if it did.
    pub last_error: Option<String>,
    /// When Stripe charged the card (the latest charge's creation, Unix seconds), once it succeeded.
    pub paid_at: Option<i64>,
    /// The whole charge has been refunded, whoever asked.
    pub refunded: bool,
    /// The charge has been disputed by the card holder's bank.
    pub disputed: bool,
    /// The latest charge's id (what a transfer of the seller's share is funded from).
    pub charge_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundSnapshot {
    pub id: String,
    pub status: RefundStatus,
    pub amount: i64,
}

/// Why a call to Stripe did not give the answer asked for.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No answer: network failure or timeout. The call may or may not have taken effect; retrying with
    /// the same idempotency key is safe.
    #[error("Stripe unreachable: {0}")]
    Unreachable(String),
    /// The card was declined or could not be charged.
    #[error("card declined: {message}")]
    Declined { code: Option<String>, message: String },
    /// Stripe refused the request.
    #[error("Stripe rejected the request ({status}): {message}")]
    Rejected { status: u16, code: Option<String>, message: String },
    /// Stripe answered with something we could not read.
    #[error("unexpected answer from Stripe: {0}")]
    Protocol(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl From<StripeError> for GatewayError {
    fn from(err: StripeError) -> Self {
        match err {
            StripeError::Stripe(api, status) => {
                let code = api.code.as_ref().map(|code| code.to_string());
                let message = api.message.clone().unwrap_or_else(|| "no message".into());
                if status == 402 || code.as_deref() == Some("card_declined") {
                    Self::Declined { code, message }
                } else {
                    Self::Rejected { status, code, message }
                }
            }
            StripeError::ClientError(reason) => Self::Unreachable(reason),
            StripeError::Timeout => Self::Unreachable("timed out".into()),
            StripeError::JSONDeserialize(reason) => Self::Protocol(reason),
            StripeError::ConfigError(reason) => Self::Invalid(reason),
        }
    }
}

#[derive(miniserde::Deserialize)]
struct IntentWire {
    id: String,
    status: String,
    amount: i64,
    currency: String,
    client_secret: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    last_payment_error: Option<ErrorWire>,
    /// A charge id, or the charge itself when expanded (`expand[]=latest_charge`).
    latest_charge: Option<miniserde::json::Value>,
}

#[derive(miniserde::Deserialize)]
struct ErrorWire {
    message: Option<String>,
    code: Option<String>,
}

#[derive(serde::Serialize)]
struct CustomerForm<'a> {
    email: &'a str,
    metadata: BTreeMap<&'a str, &'a str>,
}

#[derive(serde::Serialize)]
struct SourceForm<'a> {
    source: &'a str,
}

#[derive(miniserde::Deserialize)]
struct IdWire {
    id: String,
}

#[derive(miniserde::Deserialize)]
struct RefundWire {
    id: String,
    status: Option<String>,
    amount: i64,
}

#[derive(miniserde::Deserialize)]
struct RefundListWire {
    data: Vec<RefundWire>,
}

impl From<RefundWire> for RefundSnapshot {
    fn from(wire: RefundWire) -> Self {
        let status = match wire.status.as_deref() {
            Some("succeeded") => RefundStatus::Succeeded,
            Some("failed") => RefundStatus::Failed,
            Some("canceled") => RefundStatus::Canceled,
            Some("requires_action") => RefundStatus::RequiresAction,
            _ => RefundStatus::Pending,
        };
        Self { id: wire.id, status, amount: wire.amount }
    }
}

/// What an expanded charge says: when it was made (if it succeeded), and whether any of it was
/// refunded or disputed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ChargeFacts {
    id: Option<String>,
    paid_at: Option<i64>,
    refunded: bool,
    disputed: bool,
}

fn charge_facts(charge: Option<&miniserde::json::Value>) -> ChargeFacts {
    use miniserde::json::{Number, Value};
    let charge = match charge {
        Some(Value::Object(charge)) => charge,
        Some(Value::String(id)) => return ChargeFacts { id: Some(id.clone()), ..ChargeFacts::default() },
        _ => return ChargeFacts::default(),
    };
    let number = |key: &str| match charge.get(key) {
        Some(Value::Number(Number::U64(value))) => i64::try_from(*value).ok(),
        Some(Value::Number(Number::I64(value))) => Some(*value),
        _ => None,
    };
    let flag = |key: &str| matches!(charge.get(key), Some(Value::Bool(true)));
    let succeeded = matches!(charge.get("status"), Some(Value::String(status)) if status == "succeeded");
    // Stripe's `refunded` is true only once the whole amount went back.
    let whole = number("amount").zip(number("amount_refunded")).is_some_and(|(amount, back)| back >= amount);
    ChargeFacts {
        id: match charge.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            _ => None,
        },
        paid_at: if succeeded { number("created") } else { None },
        refunded: flag("refunded") || whole,
        disputed: flag("disputed"),
    }
}

impl TryFrom<IntentWire> for IntentSnapshot {
    type Error = GatewayError;

    fn try_from(wire: IntentWire) -> Result<Self, GatewayError> {
        let status = IntentStatus::parse(&wire.status)?;
        let charge = charge_facts(wire.latest_charge.as_ref());
        Ok(Self {
            status,
            paid_at: if status == IntentStatus::Succeeded { charge.paid_at } else { None },
            refunded: charge.refunded,
            disputed: charge.disputed,
            charge_id: charge.id,
            id: wire.id,
            amount: wire.amount,
            currency: wire.currency,
            client_secret: wire.client_secret,
            order_id: wire.metadata.and_then(|mut metadata| metadata.remove("order_id")),
            last_error: wire
                .last_payment_error
                .map(|error| error.message.or(error.code).unwrap_or_else(|| "payment failed".into())),
        })
    }
}

/// A Stripe account reached through one API base URL.
#[derive(Clone)]
pub struct StripeGateway {
    client: Client,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeGateway(..)")
    }
}

pub(crate) fn strategy(key: &str) -> Result<RequestStrategy, GatewayError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|err| GatewayError::Invalid(format!("idempotency key: {err}")))
}

impl StripeGateway {
    /// A gateway using `secret_key`, talking to `api_base` (Stripe's own when `None`).
    pub fn new(secret_key: &str, api_base: Option<&str>) -> Result<Self, GatewayError> {
        let mut builder = ClientBuilder::new(secret_key).timeout(Duration::from_secs(20));
        if let Some(base) = api_base {
            // The client appends `v1/...` to the base directly.
            builder = builder.url(format!("{}/", base.trim_end_matches('/')));
        }
        Ok(Self { client: builder.build()? })
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    async fn intent<R: StripeRequest>(&self, request: R, key: Option<&str>) -> Result<IntentSnapshot, GatewayError> {
        let mut call = request.build().customize::<IntentWire>();
        call = match key {
            Some(key) => call.request_strategy(strategy(key)?),
            None => call.request_strategy(RequestStrategy::Retry(2)),
        };
        call.send(&self.client).await?.try_into()
    }

    /// Creates a Stripe Customer for a buyer; returns its id.
    pub async fn create_customer(&self, email: &str, user_id: &str, key: &str) -> Result<String, GatewayError> {
        let form = CustomerForm { email, metadata: BTreeMap::from([("user_id", user_id)]) };
        let request = RequestBuilder::new(StripeMethod::Post, "/customers").form(&form);
        let customer: IdWire = request.customize().request_strategy(strategy(key)?).send(&self.client).await?;
        Ok(customer.id)
    }

    /// Saves the card behind a Stripe.js token (`tok_...`) to a Customer; returns the card's id. A card
    /// that cannot be used is declined here, before any charge.
    pub async fn attach_card(&self, customer: &str, token: &str, key: &str) -> Result<String, GatewayError> {
        let form = SourceForm { source: token };
        let request = RequestBuilder::new(StripeMethod::Post, format!("/customers/{customer}/sources")).form(&form);
        let card: IdWire = request.customize().request_strategy(strategy(key)?).send(&self.client).await?;
        Ok(card.id)
    }

    /// Creates a PaymentIntent for an order, in the transfer group its seller's transfer will name.
    /// Carrying the same key, a repeated call returns the same PaymentIntent instead of a second one.
    pub async fn create_intent(
        &self,
        amount: i64,
        currency: &str,
        customer: &str,
        order_id: &str,
        key: &str,
    ) -> Result<IntentSnapshot, GatewayError> {
        let currency = Currency::from_str(&currency.to_ascii_lowercase())
            .map_err(|_| GatewayError::Invalid(format!("unknown currency {currency}")))?;
        let metadata = std::collections::HashMap::from([("order_id".to_owned(), order_id.to_owned())]);
        let request = CreatePaymentIntent::new(amount, currency)
            .customer(customer)
            .metadata(metadata)
            .transfer_group(crate::transfer_group(order_id));
        self.intent(request, Some(key)).await
    }

    /// The PaymentIntent as Stripe has it now, with its latest charge (for when it was paid).
    pub async fn retrieve_intent(&self, id: &str) -> Result<IntentSnapshot, GatewayError> {
        self.intent(RetrievePaymentIntent::new(id).expand(vec!["latest_charge".to_owned()]), None).await
    }

    /// Sets the payment method (a PaymentMethod, card or card source id) that confirmation will charge.
    pub async fn attach_payment_method(
        &self,
        id: &str,
        payment_method: &str,
        key: &str,
    ) -> Result<IntentSnapshot, GatewayError> {
        self.intent(UpdatePaymentIntent::new(id).payment_method(payment_method), Some(key)).await
    }

    /// Confirms the PaymentIntent with its attached payment method: the charge happens here.
    pub async fn confirm_intent(&self, id: &str, key: &str) -> Result<IntentSnapshot, GatewayError> {
        self.intent(ConfirmPaymentIntent::new(id), Some(key)).await
    }

    pub async fn cancel_intent(&self, id: &str, key: &str) -> Result<IntentSnapshot, GatewayError> {
        self.intent(CancelPaymentIntent::new(id).expand(vec!["latest_charge".to_owned()]), Some(key)).await
    }

    /// Refunds `amount` of the PaymentIntent's charge.
    pub async fn refund_intent(&self, id: &str, amount: i64, key: &str) -> Result<RefundSnapshot, GatewayError> {
        let request = CreateRefund::new().payment_intent(id).amount(amount);
        let wire: RefundWire =
            request.build().customize::<RefundWire>().request_strategy(strategy(key)?).send(&self.client).await?;
        Ok(wire.into())
    }

    /// Every refund Stripe has made of the PaymentIntent's charge, whoever asked for it: the way to
    /// learn what a refund request whose answer was lost did.
    pub async fn refunds_of_intent(&self, id: &str) -> Result<Vec<RefundSnapshot>, GatewayError> {
        let request = ListRefund::new().payment_intent(id).limit(100);
        let call = request.build().customize::<RefundListWire>().request_strategy(RequestStrategy::Retry(2));
        let list = call.send(&self.client).await?;
        Ok(list.data.into_iter().map(RefundSnapshot::from).collect())
    }
}
