//! `ticket-exchange`: the server binary.
//!
//! `ticket-exchange` (or `ticket-exchange serve`) runs the server; `ticket-exchange openapi` prints the
//! OpenAPI document; `ticket-exchange migrate` applies pending migrations and exits.

use std::process::ExitCode;

use ticket_exchange::config::Config;
use ticket_exchange::{app, db, http, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    match command.as_deref() {
        Some("openapi") => {
            print!("{}", http::spec_yaml());
            ExitCode::SUCCESS
        }
        None | Some("serve") => run(false).await,
        Some("migrate") => run(true).await,
        Some(other) => {
            eprintln!("unknown command `{other}`; expected `serve`, `migrate` or `openapi`");
            ExitCode::from(2)
        }
    }
}

async fn run(migrate_only: bool) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_json);
    let result = if migrate_only {
        migrate(&config).await.map(|applied| tracing::info!(?applied, "migrations applied"))
    } else {
        app::serve(config).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "fatal");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<Vec<String>> {
    Ok(db::run_migrations(&config.database()?).await?)
}
