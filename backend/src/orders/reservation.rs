//! One reservation, one round trip: the call of the SQL function `reserve_ticket` (migration
//! `reserve_in_one_round_trip`) and the reading of its answer.

use chrono::TimeDelta;
use diesel::QueryableByName;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Bytea, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{OrderRow, OrdersError};
use crate::accounts::SessionCheck;
use crate::config::OrderPolicy;
use crate::outbox::{self, Event};

const RESERVE: &str =
    "SELECT r.refusal, (r.reserved).* FROM reserve_ticket($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS r";

/// What `reserve_ticket` answers: the order, or why not.
#[derive(QueryableByName)]
struct Answer {
    #[diesel(sql_type = Nullable<Text>)]
    refusal: Option<String>,
    #[diesel(embed)]
    reserved: Option<OrderRow>,
}

/// Why `reserve_ticket` refused.
#[derive(Debug)]
pub enum Refusal {
    /// The ticket is under a hold that has run out: end that hold, then ask again.
    HoldLapsed,
    Orders(OrdersError),
}

impl From<Refusal> for OrdersError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            // Freed once already and lapsed again: someone else has had it since.
            Refusal::HoldLapsed => Self::TicketUnavailable,
            Refusal::Orders(err) => err,
        }
    }
}

impl Refusal {
    fn read(reason: &str, policy: OrderPolicy) -> Self {
        match reason {
            "hold_lapsed" => Self::HoldLapsed,
            "unauthenticated" => Self::Orders(OrdersError::Unauthenticated),
            "ticket_not_found" => Self::Orders(OrdersError::TicketNotFound),
            "own_ticket" => Self::Orders(OrdersError::OwnTicket),
            "hold_limit" => Self::Orders(OrdersError::HoldLimit { max: policy.max_live_holds }),
            // `ticket_unavailable`, the only other answer.
            _ => Self::Orders(OrdersError::TicketUnavailable),
        }
    }
}

/// Asks the database once to reserve `ticket_id` for `session`'s user.
pub async fn attempt(
    conn: &mut AsyncPgConnection,
    session: &SessionCheck,
    ticket_id: Uuid,
    policy: OrderPolicy,
) -> Result<OrderRow, Refusal> {
    let now = session.now;
    let order_id = Uuid::new_v4();
    let expires_at = now + TimeDelta::from_std(policy.hold).unwrap_or(TimeDelta::MAX);
    // The buyer is first known inside the database, which fills in `buyerId`.
    let event = Event::OrderCreated { order_id, ticket_id, buyer_id: Uuid::nil(), expires_at, version: 1 };
    let payload = serde_json::to_value(&event)
        .map_err(|err| Refusal::Orders(DieselError::SerializationError(err.into()).into()))?;
    let query = diesel::sql_query(RESERVE)
        .bind::<Bytea, _>(&session.token_hash)
        .bind::<Timestamptz, _>(session.idle_cutoff)
        .bind::<diesel::sql_types::Uuid, _>(ticket_id)
        .bind::<diesel::sql_types::Uuid, _>(order_id)
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(expires_at)
        .bind::<BigInt, _>(policy.max_live_holds)
        .bind::<BigInt, _>(policy.tax_rate.milli_percent())
        .bind::<Text, _>(event.kind())
        .bind::<Jsonb, _>(payload)
        .bind::<Array<Text>, _>(outbox::subscribers(event.kind()));
    let answer = query.get_result::<Answer>(conn).await.map_err(|err| Refusal::Orders(err.into()))?;
    match (answer.reserved, answer.refusal) {
        (Some(order), None) => Ok(order),
        (_, refusal) => Err(Refusal::read(refusal.as_deref().unwrap_or_default(), policy)),
    }
}
