//! A batch of reservations, one round trip: the call of the SQL function `reserve_tickets`
//! (migration `reservations_in_batches`) and the reading of its answers, one a reservation.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::AstPass;
use diesel::result::{Error as DieselError, QueryResult};
use diesel::sql_types::{Array, BigInt, Bytea, Integer, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{OrderRow, OrdersError};
use crate::accounts::SessionCheck;
use crate::config::OrderPolicy;
use crate::db::prepared::{Prepared, Statement};
use crate::outbox::{self, Event};

/// One reservation asked for: whose session, and which ticket.
#[derive(Debug, Clone)]
pub struct Ask {
    pub session: SessionCheck,
    pub ticket_id: Uuid,
}

/// The call of `reserve_tickets`, with its arguments in the function's order.
struct ReserveCall {
    token_hashes: Vec<Vec<u8>>,
    ticket_ids: Vec<Uuid>,
    order_ids: Vec<Uuid>,
    events: Vec<serde_json::Value>,
    idle_cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    max_live_holds: i64,
    tax_milli_percent: i64,
    event_kind: &'static str,
    consumers: &'static [&'static str],
}

impl Statement for ReserveCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT r.request, r.refusal, (r.reserved).* FROM reserve_tickets(");
        out.push_bind_param::<Array<Bytea>, _>(&self.token_hashes)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<diesel::sql_types::Uuid>, _>(&self.ticket_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<diesel::sql_types::Uuid>, _>(&self.order_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Jsonb>, _>(&self.events)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.idle_cutoff)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.max_live_holds)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.tax_milli_percent)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.event_kind)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(self.consumers)?;
        out.push_sql(") AS r");
        Ok(())
    }
}

/// What `reserve_tickets` answers for one reservation: the order, or why not.
#[derive(QueryableByName)]
struct Answer {
    #[diesel(sql_type = Integer)]
    request: i32,
    #[diesel(sql_type = Nullable<Text>)]
    refusal: Option<String>,
    #[diesel(embed)]
    reserved: Option<OrderRow>,
}

/// Why `reserve_tickets` refused a reservation.
#[derive(Debug)]
pub enum Refusal {
    /// The ticket is under a hold that has run out: end that hold, then ask again.
    HoldLapsed,
    /// The buyer had another reservation in the same batch: ask again in another.
    Again,
    Orders(OrdersError),
}

impl From<Refusal> for OrdersError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            // Freed once already and lapsed again: someone else has had it since.
            Refusal::HoldLapsed => Self::TicketUnavailable,
            // Only ever asked again, never answered (`batches`).
            Refusal::Again => Self::TicketUnavailable,
            Refusal::Orders(err) => err,
        }
    }
}

impl Refusal {
    fn read(reason: &str, policy: OrderPolicy) -> Self {
        match reason {
            "hold_lapsed" => Self::HoldLapsed,
            "again" => Self::Again,
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

/// Asks the database once to make each of `asks`, judged at one instant: the latest of their
/// sessions' times (a clock read later never reads earlier). Answers in the order of `asks`.
pub async fn attempt(
    conn: &mut AsyncPgConnection,
    asks: &[Ask],
    policy: OrderPolicy,
) -> QueryResult<Vec<Result<OrderRow, Refusal>>> {
    let Some(judged) = asks.iter().max_by_key(|ask| ask.session.now) else {
        return Ok(Vec::new());
    };
    let (now, idle_cutoff) = (judged.session.now, judged.session.idle_cutoff);
    let expires_at = now + TimeDelta::from_std(policy.hold).unwrap_or(TimeDelta::MAX);
    let order_ids: Vec<Uuid> = asks.iter().map(|_| Uuid::new_v4()).collect();
    // The buyer is first known inside the database, which fills in `buyerId` (and the hold's end,
    // which the event's start may bring forward).
    let created = |order_id, ticket_id| Event::OrderCreated {
        order_id,
        ticket_id,
        buyer_id: Uuid::nil(),
        expires_at,
        version: 1,
    };
    let event_kind = created(Uuid::nil(), Uuid::nil()).kind();
    let events = asks
        .iter()
        .zip(&order_ids)
        .map(|(ask, &order_id)| {
            serde_json::to_value(created(order_id, ask.ticket_id))
                .map_err(|err| DieselError::SerializationError(err.into()))
        })
        .collect::<QueryResult<Vec<_>>>()?;
    let call = ReserveCall {
        token_hashes: asks.iter().map(|ask| ask.session.token_hash.clone()).collect(),
        ticket_ids: asks.iter().map(|ask| ask.ticket_id).collect(),
        order_ids,
        events,
        idle_cutoff,
        now,
        expires_at,
        max_live_holds: policy.max_live_holds,
        tax_milli_percent: policy.tax_rate.milli_percent(),
        event_kind,
        consumers: outbox::subscribers(event_kind),
    };
    let mut answers: Vec<Option<Result<OrderRow, Refusal>>> = asks.iter().map(|_| None).collect();
    for answer in Prepared(call).load::<Answer>(conn).await? {
        let outcome = match (answer.reserved, answer.refusal) {
            (Some(order), None) => Ok(order),
            (_, refusal) => Err(Refusal::read(refusal.as_deref().unwrap_or_default(), policy)),
        };
        if let Some(slot) = usize::try_from(answer.request).ok().and_then(|n| answers.get_mut(n.wrapping_sub(1))) {
            *slot = Some(outcome);
        }
    }
    answers
        .into_iter()
        .map(|answer| answer.ok_or_else(|| DieselError::DeserializationError("a reservation went unanswered".into())))
        .collect()
}
