//! Stripe Connect as a marketplace uses it: Express connected accounts for sellers, onboarding links,
//! and separate charges and transfers (the platform charges the buyer, then transfers the seller's
//! share, linked to the charge by `transfer_group`), with transfer reversals when a sale is refunded.

use std::collections::BTreeMap;

use stripe::RequestStrategy;
use stripe_client_core::{RequestBuilder, StripeMethod};

use crate::gateway::{GatewayError, StripeGateway, strategy};

/// A connected account as onboarding left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSnapshot {
    pub id: String,
    /// The seller finished Stripe's onboarding form.
    pub details_submitted: bool,
    /// Stripe pays the account's balance out to the seller's bank.
    pub payouts_enabled: bool,
    /// The account's `transfers` capability is active: the platform can transfer to it.
    pub transfers_active: bool,
    /// What Stripe still needs from the seller (`requirements.currently_due`).
    pub requirements_due: Vec<String>,
}

/// A transfer of funds to a connected account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferSnapshot {
    pub id: String,
    pub amount: i64,
    pub amount_reversed: i64,
    pub currency: String,
    pub destination: String,
    /// Its reversals so far, newest first (as Stripe lists them).
    pub reversal_ids: Vec<String>,
}

impl TransferSnapshot {
    pub fn fully_reversed(&self) -> bool {
        self.amount_reversed >= self.amount
    }
}

/// A (whole or partial) reversal of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalSnapshot {
    pub id: String,
    pub amount: i64,
}

/// What to transfer.
#[derive(Debug, Clone, Copy)]
pub struct TransferRequest<'a> {
    /// Minor units.
    pub amount: i64,
    pub currency: &'a str,
    pub destination: &'a str,
    pub transfer_group: &'a str,
    /// The charge the funds come from: the transfer waits for them, and never exceeds the charge.
    pub source_charge: Option<&'a str>,
    pub order_id: &'a str,
}

#[derive(miniserde::Deserialize)]
struct CapabilitiesWire {
    transfers: Option<String>,
}

#[derive(miniserde::Deserialize)]
struct RequirementsWire {
    currently_due: Option<Vec<String>>,
}

#[derive(miniserde::Deserialize)]
struct AccountWire {
    id: String,
    details_submitted: Option<bool>,
    payouts_enabled: Option<bool>,
    capabilities: Option<CapabilitiesWire>,
    requirements: Option<RequirementsWire>,
}

impl From<AccountWire> for AccountSnapshot {
    fn from(wire: AccountWire) -> Self {
        Self {
            id: wire.id,
            details_submitted: wire.details_submitted.unwrap_or(false),
            payouts_enabled: wire.payouts_enabled.unwrap_or(false),
            transfers_active: wire.capabilities.and_then(|caps| caps.transfers).as_deref() == Some("active"),
            requirements_due: wire.requirements.and_then(|req| req.currently_due).unwrap_or_default(),
        }
    }
}

#[derive(miniserde::Deserialize)]
struct LinkWire {
    url: String,
}

#[derive(miniserde::Deserialize)]
struct TransferWire {
    id: String,
    amount: i64,
    amount_reversed: Option<i64>,
    currency: String,
    destination: Option<String>,
    reversals: Option<ReversalListWire>,
}

#[derive(miniserde::Deserialize)]
struct ReversalListWire {
    data: Vec<ReversalWire>,
}

impl From<TransferWire> for TransferSnapshot {
    fn from(wire: TransferWire) -> Self {
        Self {
            id: wire.id,
            amount: wire.amount,
            amount_reversed: wire.amount_reversed.unwrap_or(0),
            currency: wire.currency,
            destination: wire.destination.unwrap_or_default(),
            reversal_ids: wire.reversals.map(|list| list.data.into_iter().map(|r| r.id).collect()).unwrap_or_default(),
        }
    }
}

#[derive(miniserde::Deserialize)]
struct TransferListWire {
    data: Vec<TransferWire>,
}

#[derive(miniserde::Deserialize)]
struct ReversalWire {
    id: String,
    amount: i64,
}

#[derive(serde::Serialize)]
struct AccountForm<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    email: &'a str,
    capabilities: BTreeMap<&'a str, BTreeMap<&'a str, bool>>,
    metadata: BTreeMap<&'a str, &'a str>,
}

#[derive(serde::Serialize)]
struct LinkForm<'a> {
    account: &'a str,
    refresh_url: &'a str,
    return_url: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(serde::Serialize)]
struct TransferForm<'a> {
    amount: i64,
    currency: &'a str,
    destination: &'a str,
    transfer_group: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_transaction: Option<&'a str>,
    metadata: BTreeMap<&'a str, &'a str>,
}

#[derive(serde::Serialize)]
struct TransferQuery<'a> {
    transfer_group: &'a str,
    limit: u32,
}

impl StripeGateway {
    /// Creates an Express connected account for a seller, able to receive transfers once onboarded.
    pub async fn create_connected_account(
        &self,
        email: &str,
        user_id: &str,
        key: &str,
    ) -> Result<AccountSnapshot, GatewayError> {
        let form = AccountForm {
            kind: "express",
            email,
            capabilities: BTreeMap::from([("transfers", BTreeMap::from([("requested", true)]))]),
            metadata: BTreeMap::from([("user_id", user_id)]),
        };
        let request = RequestBuilder::new(StripeMethod::Post, "/accounts").form(&form);
        let wire: AccountWire = request.customize().request_strategy(strategy(key)?).send(self.client()).await?;
        Ok(wire.into())
    }

    /// The connected account as Stripe has it now.
    pub async fn retrieve_account(&self, id: &str) -> Result<AccountSnapshot, GatewayError> {
        let request = RequestBuilder::new(StripeMethod::Get, format!("/accounts/{id}"));
        let wire: AccountWire =
            request.customize().request_strategy(RequestStrategy::Retry(2)).send(self.client()).await?;
        Ok(wire.into())
    }

    /// A single-use link to Stripe's hosted onboarding of `account` (it expires within minutes):
    /// Stripe sends the seller to `return_url` when they leave it, to `refresh_url` if it expired.
    pub async fn create_onboarding_link(
        &self,
        account: &str,
        refresh_url: &str,
        return_url: &str,
        key: &str,
    ) -> Result<String, GatewayError> {
        let form = LinkForm { account, refresh_url, return_url, kind: "account_onboarding" };
        let request = RequestBuilder::new(StripeMethod::Post, "/account_links").form(&form);
        let wire: LinkWire = request.customize().request_strategy(strategy(key)?).send(self.client()).await?;
        Ok(wire.url)
    }

    /// Transfers funds from the platform's balance to a connected account.
    pub async fn create_transfer(
        &self,
        transfer: TransferRequest<'_>,
        key: &str,
    ) -> Result<TransferSnapshot, GatewayError> {
        let form = TransferForm {
            amount: transfer.amount,
            currency: &transfer.currency.to_ascii_lowercase(),
            destination: transfer.destination,
            transfer_group: transfer.transfer_group,
            source_transaction: transfer.source_charge,
            metadata: BTreeMap::from([("order_id", transfer.order_id)]),
        };
        let request = RequestBuilder::new(StripeMethod::Post, "/transfers").form(&form);
        let wire: TransferWire = request.customize().request_strategy(strategy(key)?).send(self.client()).await?;
        Ok(wire.into())
    }

    /// Every transfer of `transfer_group`: what a transfer request whose answer was lost did.
    pub async fn transfers_in_group(&self, transfer_group: &str) -> Result<Vec<TransferSnapshot>, GatewayError> {
        let request =
            RequestBuilder::new(StripeMethod::Get, "/transfers").query(&TransferQuery { transfer_group, limit: 100 });
        let list: TransferListWire =
            request.customize().request_strategy(RequestStrategy::Retry(2)).send(self.client()).await?;
        Ok(list.data.into_iter().map(TransferSnapshot::from).collect())
    }

    pub async fn retrieve_transfer(&self, id: &str) -> Result<TransferSnapshot, GatewayError> {
        let request = RequestBuilder::new(StripeMethod::Get, format!("/transfers/{id}"));
        let wire: TransferWire =
            request.customize().request_strategy(RequestStrategy::Retry(2)).send(self.client()).await?;
        Ok(wire.into())
    }

    /// Reverses what remains of a transfer: the funds go back to the platform's balance.
    pub async fn reverse_transfer(&self, id: &str, key: &str) -> Result<ReversalSnapshot, GatewayError> {
        let request = RequestBuilder::new(StripeMethod::Post, format!("/transfers/{id}/reversals"));
        let wire: ReversalWire = request.customize().request_strategy(strategy(key)?).send(self.client()).await?;
        Ok(ReversalSnapshot { id: wire.id, amount: wire.amount })
    }
}
