//! The `users` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::users;

/// A registered account.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    #[diesel(skip_insertion)]
    #[diesel(select_expression = users::password_hash)]
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// Name of the unique index that makes emails unique regardless of case.
pub const EMAIL_UNIQUE_INDEX: &str = "users_email_lower_key";

pub async fn insert(conn: &mut AsyncPgConnection, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values((
            users::id.eq(user.id),
            users::email.eq(&user.email),
            users::password_hash.eq(&user.password_hash),
            users::created_at.eq(user.created_at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn find_by_email_key(conn: &mut AsyncPgConnection, email_key: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(email_key),
        )
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether any account has an address other than those keyed `email_keys`.
pub async fn exists_other_than(conn: &mut AsyncPgConnection, email_keys: &[String]) -> QueryResult<bool> {
    let others = users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) <> ALL(")
                .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(email_keys)
                .sql(")"),
        )
        .select(users::id);
    diesel::dsl::select(diesel::dsl::exists(others)).get_result(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).first(conn).await.optional()
}
