//! Tests of the backend through HTTP, against real PostgreSQL.

mod accounts;
mod email;
mod errors;
mod listings;
mod migrations;
mod openapi;
mod orders;
mod outbox;
mod payments;
mod support;
mod sweep;
