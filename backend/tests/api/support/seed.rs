//! Fast set-up straight into the database, for tests that need many users.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::sql_types::{Bytea, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Session;

/// Creates `count` users, each with a session valid at `now`, without paying for password hashing.
pub async fn buyers(database_url: &str, count: usize, now: DateTime<Utc>) -> Vec<Session> {
    let mut conn = AsyncPgConnection::establish(database_url).await.expect("connect");
    let mut sessions = Vec::with_capacity(count);
    for n in 0..count {
        let user_id = Uuid::new_v4();
        let token = format!("seeded-token-{}", Uuid::new_v4());
        diesel::sql_query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, 'unusable', $3)")
            .bind::<diesel::sql_types::Uuid, _>(user_id)
            .bind::<Text, _>(format!("buyer{n}-{user_id}@example.com"))
            .bind::<Timestamptz, _>(now)
            .execute(&mut conn)
            .await
            .expect("insert user");
        diesel::sql_query(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind::<diesel::sql_types::Uuid, _>(Uuid::new_v4())
        .bind::<Bytea, _>(Sha256::digest(token.as_bytes()).to_vec())
        .bind::<diesel::sql_types::Uuid, _>(user_id)
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(now + TimeDelta::days(1))
        .execute(&mut conn)
        .await
        .expect("insert session");
        sessions.push(Session { token, user_id });
    }
    sessions
}

/// A listing of event `name` for 10.00 CAD, with its ticket file: for sale at `now`. Made through the
/// library, as the API would make it, without HTTP.
pub async fn ticket_for_sale(
    app: &super::TestApp,
    owner: Uuid,
    name: &str,
    now: DateTime<Utc>,
) -> ticket_exchange::listings::TicketRow {
    use ticket_exchange::listings::{self, DraftInput, TicketDraft, domain::PriceCap};
    let starts_at = (now + TimeDelta::days(90)).to_rfc3339();
    let input = DraftInput {
        event_name: name,
        venue: "Massey Hall",
        city: "Toronto",
        starts_at: &starts_at,
        time_zone: "America/Toronto",
        section: None,
        row: None,
        seat: None,
        face_value: 1_000,
        price: 1_000,
        currency: None,
    };
    let draft = TicketDraft::parse(input, PriceCap::default(), now).expect("draft");
    let ticket = listings::create(&app.pool, owner, &draft, now).await.expect("list");
    ticket_exchange::ticket_files::attach(
        &app.pool,
        app.state.files.as_ref(),
        owner,
        ticket.id,
        super::TICKET_PDF,
        None,
        now,
    )
    .await
    .expect("attach the ticket file")
}
