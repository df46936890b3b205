//! Ticket Exchange backend: a marketplace API for reselling tickets.
//!
//! Each domain lives in its own module (accounts, listings, outbox); `http` is the boundary that turns
//! requests into domain calls and domain errors into responses. See ARCHITECTURE.md.

pub mod accounts;
pub mod app;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod health;
pub mod http;
pub mod jobs;
pub mod listings;
pub mod live;
pub mod metrics;
pub mod money;
pub mod notifications;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod payouts;
pub mod sales;
pub mod state;
pub mod telemetry;
pub mod ticket_files;
pub mod validation;
pub mod waitlist;
