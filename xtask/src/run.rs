//! `cargo xtask run`: builds the server and runs it. Without `DATABASE_URL` it first starts a private
//! PostgreSQL whose data lives in `.data/postgres` and survives restarts; without `STRIPE_SECRET_KEY`
//! it starts localstripe in Stripe's place, so a whole purchase works with no network. `--demo` first
//! fills a database without accounts with a few sellers and their listings (`ticket-exchange demo`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};

use crate::localstripe::{self, LocalStripe};
use crate::postgres::Cluster;
use crate::python::ensure_tools;
use crate::system::{ensure_runtime_packages, run as run_command};

static SERVER_PID: AtomicU32 = AtomicU32::new(0);

pub fn run(root: &Path, demo: bool) -> Result<()> {
    // Ctrl-C reaches the server directly (same process group); a SIGTERM aimed at this process is passed
    // on. Either way the server drains and exits, and then the private database is stopped.
    ctrlc::set_handler(|| {
        let pid = SERVER_PID.load(Ordering::SeqCst);
        if pid != 0 {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
    })?;

    let (cluster, database_url) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => (None, url),
        _ => {
            ensure_runtime_packages()?;
            let cluster = Cluster::start(&root.join(".data/postgres"), &[])?;
            cluster.ensure_database("ticket_exchange")?;
            let url = cluster.url("ticket_exchange");
            eprintln!("started a private PostgreSQL on port {} (data in .data/postgres)", cluster.port);
            (Some(cluster), url)
        }
    };

    let web = crate::web::build(root)?;
    let binary = server_binary(root)?;
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let public_url = std::env::var("PUBLIC_URL").unwrap_or_else(|_| format!("http://{bind}"));
    let mut server = Command::new(&binary);
    server
        .env("DATABASE_URL", &database_url)
        .env("BIND_ADDR", &bind)
        .env("PUBLIC_URL", &public_url)
        .env("WEB_DIR", &web)
        // As the image runs it (deploy/Dockerfile).
        .env("MIMALLOC_ARENA_EAGER_COMMIT", "0");

    // Payments work offline: without a Stripe key, localstripe stands in for Stripe.
    let stripe = match std::env::var("STRIPE_SECRET_KEY") {
        Ok(key) if !key.trim().is_empty() => None,
        _ => {
            let python = ensure_tools(root)?;
            let stripe = LocalStripe::start(root, &python, Some(&root.join(".data/localstripe.pickle")))?;
            stripe.register_webhook(&format!("http://{bind}/api/webhooks/stripe"))?;
            server
                .env("STRIPE_SECRET_KEY", localstripe::SECRET_KEY)
                .env("STRIPE_PUBLISHABLE_KEY", localstripe::PUBLISHABLE_KEY)
                .env("STRIPE_WEBHOOK_SECRET", localstripe::WEBHOOK_SECRET)
                .env("STRIPE_API_BASE", stripe.url())
                .env("STRIPE_JS_URL", format!("{}/js.stripe.com/v3/", stripe.url()));
            eprintln!("payments: localstripe on {} stands in for Stripe (test card 4242 4242 4242 4242)", stripe.url());
            Some(stripe)
        }
    };
    // Email works offline too: without SMTP, each email is written as an .eml file.
    if std::env::var("SMTP_URL").map_or(true, |url| url.trim().is_empty()) {
        let dir = std::env::var("MAIL_DIR").map_or_else(|_| root.join(".data/mail"), std::path::PathBuf::from);
        server.env("MAIL_DIR", &dir);
        eprintln!("email: no SMTP_URL, so emails are written as .eml files into {}", dir.display());
    }
    if demo {
        let mut seed = Command::new(&binary);
        seed.arg("demo");
        for (name, value) in server.get_envs() {
            if let Some(value) = value {
                seed.env(name, value);
            }
        }
        run_command(&mut seed)?;
    }
    let mut server = server.spawn().with_context(|| format!("starting {}", binary.display()))?;
    SERVER_PID.store(server.id(), Ordering::SeqCst);
    eprintln!("\nTicket Exchange is starting at {public_url}  (API docs: {public_url}/api/docs; Ctrl-C stops)\n");
    let status = server.wait()?;
    SERVER_PID.store(0, Ordering::SeqCst);
    drop(stripe);
    drop(cluster);
    if !status.success() && status.code().is_some() {
        bail!("the server exited with {status}");
    }
    Ok(())
}

/// Builds the server (debug) and returns its binary.
pub fn server_binary(root: &Path) -> Result<PathBuf> {
    run_command(Command::new(env!("CARGO")).args([
        "build",
        "--package",
        "ticket-exchange",
        "--bin",
        "ticket-exchange",
    ]))?;
    Ok(target_dir(root).join("debug/ticket-exchange"))
}

/// Where cargo puts build output for this workspace.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}
