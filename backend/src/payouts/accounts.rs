//! Sellers' connected accounts: the row that names a seller's Stripe account and what Stripe last
//! said of it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use stripe_gateway::AccountSnapshot;
use uuid::Uuid;

use crate::db::schema::seller_accounts;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = seller_accounts)]
pub struct SellerAccountRow {
    pub user_id: Uuid,
    pub create_key: String,
    pub stripe_account_id: Option<String>,
    pub details_submitted: bool,
    pub payouts_enabled: bool,
    pub transfers_active: bool,
    pub requirements_due: Vec<String>,
}

impl SellerAccountRow {
    /// The platform can transfer the seller's shares to this account.
    pub fn can_receive(&self) -> bool {
        self.stripe_account_id.is_some() && self.transfers_active
    }
}

fn creation_key(user_id: Uuid) -> String {
    format!("seller/{user_id}/create_account/{}", Uuid::new_v4().simple())
}

pub async fn find(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<SellerAccountRow>> {
    seller_accounts::table.find(user_id).select(SellerAccountRow::as_select()).first(conn).await.optional()
}

/// The seller's row, share-locked: what it says cannot change until the caller's transaction ends.
pub async fn find_for_share(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<SellerAccountRow>> {
    seller_accounts::table.find(user_id).select(SellerAccountRow::as_select()).for_share().first(conn).await.optional()
}

/// The seller's row, made with a fresh creation key if there is none: the key is stored before the
/// account is asked for, so a retry after a lost answer names the same key.
pub async fn find_or_start(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<SellerAccountRow> {
    diesel::insert_into(seller_accounts::table)
        .values((
            seller_accounts::user_id.eq(user_id),
            seller_accounts::create_key.eq(creation_key(user_id)),
            seller_accounts::created_at.eq(now),
            seller_accounts::updated_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    seller_accounts::table.find(user_id).select(SellerAccountRow::as_select()).first(conn).await
}

/// Replaces a creation key Stripe refused, while no account is named yet.
pub async fn renew_key(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    refused: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        seller_accounts::table
            .find(user_id)
            .filter(seller_accounts::create_key.eq(refused))
            .filter(seller_accounts::stripe_account_id.is_null()),
    )
    .set((seller_accounts::create_key.eq(creation_key(user_id)), seller_accounts::updated_at.eq(now)))
    .execute(conn)
    .await
}

/// Names the seller's account (first answer wins) and records what Stripe said of it.
pub async fn set_account(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    account: &AccountSnapshot,
    now: DateTime<Utc>,
) -> QueryResult<SellerAccountRow> {
    diesel::update(seller_accounts::table.find(user_id).filter(seller_accounts::stripe_account_id.is_null()))
        .set(seller_accounts::stripe_account_id.eq(&account.id))
        .execute(conn)
        .await?;
    apply(conn, account, now).await?;
    seller_accounts::table.find(user_id).select(SellerAccountRow::as_select()).first(conn).await
}

/// Records what Stripe says of an account now; returns its seller's row, if it is one of ours.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    account: &AccountSnapshot,
    now: DateTime<Utc>,
) -> QueryResult<Option<SellerAccountRow>> {
    diesel::update(seller_accounts::table.filter(seller_accounts::stripe_account_id.eq(&account.id)))
        .set((
            seller_accounts::details_submitted.eq(account.details_submitted),
            seller_accounts::payouts_enabled.eq(account.payouts_enabled),
            seller_accounts::transfers_active.eq(account.transfers_active),
            seller_accounts::requirements_due.eq(&account.requirements_due),
            seller_accounts::updated_at.eq(now),
        ))
        .returning(SellerAccountRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}
