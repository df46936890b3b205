//! One reservation, one round trip: the call of the SQL function `reserve_ticket` (migration
//! `reserve_in_one_round_trip`) and the reading of its answer.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::AstPass;
use diesel::result::{Error as DieselError, QueryResult};
use diesel::sql_types::{Array, BigInt, Bytea, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{OrderRow, OrdersError};
use crate::accounts::SessionCheck;
use crate::config::OrderPolicy;
use crate::db::prepared::{Prepared, Statement};
use crate::outbox::{self, Event};

/// The call of `reserve_ticket`, with its arguments in the function's order.
struct ReserveCall {
    session: SessionCheck,
    ticket_id: Uuid,
    order_id: Uuid,
    expires_at: DateTime<Utc>,
    max_live_holds: i64,
    tax_milli_percent: i64,
    event_kind: &'static str,
    payload: serde_json::Value,
    consumers: &'static [&'static str],
}

impl Statement for ReserveCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT r.refusal, (r.reserved).* FROM reserve_ticket(");
        out.push_bind_param::<Bytea, _>(&self.session.token_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.session.idle_cutoff)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.ticket_id)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.order_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.session.now)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.max_live_holds)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.tax_milli_percent)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.event_kind)?;
        out.push_sql(", ");
        out.push_bind_param::<Jsonb, _>(&self.payload)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(self.consumers)?;
        out.push_sql(") AS r");
        Ok(())
    }
}

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
            "not_for_sale" => Self::Orders(OrdersError::NotForSale),
            "event_started" => Self::Orders(OrdersError::EventStarted),
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
    let call = ReserveCall {
        session: session.clone(),
        ticket_id,
        order_id,
        expires_at,
        max_live_holds: policy.max_live_holds,
        tax_milli_percent: policy.tax_rate.milli_percent(),
        event_kind: event.kind(),
        payload,
        consumers: outbox::subscribers(event.kind()),
    };
    let answer = Prepared(call).get_result::<Answer>(conn).await.map_err(|err| Refusal::Orders(err.into()))?;
    match (answer.reserved, answer.refusal) {
        (Some(order), None) => Ok(order),
        (_, refusal) => Err(Refusal::read(refusal.as_deref().unwrap_or_default(), policy)),
    }
}
