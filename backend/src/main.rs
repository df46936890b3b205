//! `ticket-exchange`: the server binary.
//!
//! `ticket-exchange` (or `ticket-exchange serve`) runs the server; `ticket-exchange openapi` prints the
//! OpenAPI document; `ticket-exchange migrate` applies pending migrations and exits;
//! `ticket-exchange outbox parked` lists the event deliveries that gave up and
//! `ticket-exchange outbox retry <event-id> [consumer]` puts them back in line;
//! `ticket-exchange demo` migrates and fills a database without accounts with a demo market.

use std::process::ExitCode;

use ticket_exchange::clock::{Clock, SystemClock};
use ticket_exchange::config::Config;
use ticket_exchange::outbox::parked;
use ticket_exchange::state::AppState;
use ticket_exchange::{app, db, demo, http, telemetry};

/// mimalloc rather than glibc's malloc, which took a quarter of the server's time under load (the
/// market benchmark's profile): a request is hundreds of small allocations. Where the server is run
/// for real (the image, `cargo xtask run`, the benchmark) `MIMALLOC_ARENA_EAGER_COMMIT=0` is set:
/// mimalloc then commits its arenas as they fill rather than whole at start, which left the server
/// resident at 48 MiB before its first request (27 MiB without), at no cost in speed measured.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Some("outbox") => outbox(std::env::args().skip(2).collect()).await,
        Some("demo") => demo().await,
        Some(other) => {
            eprintln!("unknown command `{other}`; expected `serve`, `migrate`, `openapi`, `outbox` or `demo`");
            ExitCode::from(2)
        }
    }
}

/// `outbox parked` | `outbox retry <event-id> [consumer]`, against `DATABASE_URL`.
async fn outbox(args: Vec<String>) -> ExitCode {
    let usage = "usage: ticket-exchange outbox parked | ticket-exchange outbox retry <event-id> [consumer]";
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let pool = match config.database().map_err(anyhow::Error::from).and_then(|database| db::connect(&database, 1)) {
        Ok(pool) => pool,
        Err(err) => {
            eprintln!("cannot reach the database: {err}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let done = match args.as_slice() {
        ["parked"] => parked::list(&pool).await.map(|deliveries| {
            if deliveries.is_empty() {
                println!("no parked deliveries");
            }
            for delivery in deliveries {
                println!(
                    "{}\t{}\t{}\t{} attempts\t{}\t{}",
                    delivery.event_id,
                    delivery.consumer,
                    delivery.kind,
                    delivery.attempts,
                    delivery.recorded_at.to_rfc3339(),
                    delivery.last_error.unwrap_or_default()
                );
            }
        }),
        ["retry", event, rest @ ..] if rest.len() <= 1 => {
            let Ok(event_id) = event.parse::<i64>() else {
                eprintln!("{usage}");
                return ExitCode::from(2);
            };
            parked::retry(&pool, event_id, rest.first().copied(), SystemClock.now()).await.map(|count| {
                println!("{count} deliveries of event {event_id} are due again");
            })
        }
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
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

/// `demo`: migrations, then the demo market if no one has an account yet.
async fn demo() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let seeded = async {
        migrate(&config).await?;
        let pool = db::connect(&config.database()?, 2)?;
        let state = AppState::new(pool, std::sync::Arc::new(SystemClock), config)?;
        demo::seed(&state).await
    };
    match seeded.await {
        Ok(demo::Seeded::Market { sellers, listings }) => {
            let emails = demo::seller_emails().collect::<Vec<_>>().join(", ");
            println!(
                "demo: {sellers} sellers and {listings} listings added; sign in as any of {emails} with the password {}",
                demo::PASSWORD
            );
            ExitCode::SUCCESS
        }
        Ok(demo::Seeded::InUse) => {
            println!("demo: the database has other accounts already; nothing was added");
            ExitCode::SUCCESS
        }
        Ok(demo::Seeded::PublicSite) => {
            eprintln!(
                "demo: PUBLIC_URL is https; a demo market with a published password is not added to a public site"
            );
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("demo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<Vec<String>> {
    Ok(db::run_migrations(&config.database()?).await?)
}
