//! Tests of the backend through HTTP, against real PostgreSQL.

mod accounts;
mod batches;
mod demo;
mod email;
mod errors;
mod faults;
mod listings;
mod live;
mod market_pages;
mod migrations;
mod money_faults;
mod openapi;
mod operations;
mod orders;
mod outbox;
mod payments;
mod payouts;
mod replicas;
mod resale;
mod support;
mod sweep;
mod tls;
mod waitlist;
mod web_files;
