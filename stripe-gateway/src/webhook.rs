//! Stripe webhook signatures: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`.
//!
//! Verified here rather than with async-stripe-webhook so the tolerance window is measured against the
//! caller's clock (tests move it) and so the webhook does not compile every Stripe event type.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
    #[error("signature timestamp outside the tolerance window")]
    Stale,
    #[error("payload is not a Stripe event: {0}")]
    Payload(String),
}

/// The parts of an event we act on.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub id: String,
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// `data.object`.
    pub object: serde_json::Value,
}

/// Checks `header` against `payload` with `secret`, allowing `tolerance_secs` between the signature's
/// time and `now_unix`, then reads the event.
pub fn verify(
    payload: &[u8],
    header: &str,
    secret: &str,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<WebhookEvent, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let matches = signatures.iter().any(|signature| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac.verify_slice(signature).is_ok()
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now_unix - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|err| SignatureError::Payload(err.to_string()))?;
    let text =
        |key: &str| value[key].as_str().map(str::to_owned).ok_or_else(|| SignatureError::Payload(format!("no {key}")));
    Ok(WebhookEvent {
        id: text("id")?,
        kind: text("type")?,
        created: value["created"].as_i64().unwrap_or(timestamp),
        object: value["data"]["object"].clone(),
    })
}

/// The header Stripe would send for `payload` at `timestamp`: for tests and tools that replay events.
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] =
        br#"{"id":"evt_1","type":"payment_intent.succeeded","created":1000,"data":{"object":{"id":"pi_1"}}}"#;

    #[test]
    fn accepts_a_fresh_genuine_signature() {
        let event = verify(BODY, &sign(BODY, SECRET, 1000), SECRET, 1100, 300).expect("valid");
        assert_eq!((event.id.as_str(), event.kind.as_str()), ("evt_1", "payment_intent.succeeded"));
        assert_eq!(event.object["id"], "pi_1");
    }

    #[test]
    fn refuses_forged_stale_and_malformed_signatures() {
        assert_eq!(verify(BODY, &sign(BODY, "whsec_other", 1000), SECRET, 1000, 300), Err(SignatureError::Mismatch));
        let tampered =
            br#"{"id":"evt_1","type":"payment_intent.succeeded","created":1000,"data":{"object":{"id":"pi_2"}}}"#;
        assert_eq!(verify(tampered, &sign(BODY, SECRET, 1000), SECRET, 1000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(BODY, &sign(BODY, SECRET, 1000), SECRET, 1301, 300), Err(SignatureError::Stale));
        assert_eq!(verify(BODY, "garbage", SECRET, 1000, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(BODY, "t=1000,v1=zz", SECRET, 1000, 300), Err(SignatureError::Malformed));
    }
}
