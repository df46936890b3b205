//! The API contract, checked from outside the server:
//!
//! - `openapi.yaml` passes an independent OpenAPI 3.0 validator (openapi-spec-validator);
//! - a TypeScript client generated from it (openapi-typescript, `clients/typescript`) compiles;
//! - schemathesis fuzzes every operation of the running server, signed in, with a fixed seed and a
//!   bounded number of cases: no 5xx and no response the spec does not allow (`xtask/fuzz_api.py`).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

use crate::localstripe::{self, LocalStripe};
use crate::postgres::Cluster;
use crate::system::run;

pub fn check(root: &Path, cluster: &Cluster, python: &Path) -> Result<()> {
    run(Command::new(python.join("openapi-spec-validator")).args(["--schema", "3.0"]).arg(root.join("openapi.yaml")))?;
    let client = root.join("clients/typescript");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&client))?;
    run(Command::new("npm").args(["run", "--silent", "check"]).current_dir(&client))?;
    println!("contract: the TypeScript client generated from openapi.yaml compiles");
    fuzz(root, cluster, python, CI_CASES)
}

/// Cases an operation in the bounded run `cargo xtask test` makes.
const CI_CASES: u32 = 30;

/// Kills the server when the fuzzing ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// schemathesis over every operation of a server started here, `cases` cases an operation.
pub fn fuzz(root: &Path, cluster: &Cluster, python: &Path, cases: u32) -> Result<()> {
    let binary = crate::run::server_binary(root)?;
    cluster.ensure_database("fuzz")?;
    let stripe = LocalStripe::start(root, python, None)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base_url = format!("http://127.0.0.1:{port}");
    stripe.register_webhook(&format!("{base_url}/api/webhooks/stripe"))?;
    let mail = std::env::temp_dir().join(format!("ticket-exchange-fuzz-mail-{}", std::process::id()));
    let server = Server(
        Command::new(binary)
            .env("DATABASE_URL", cluster.url("fuzz"))
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("STRIPE_SECRET_KEY", localstripe::SECRET_KEY)
            .env("STRIPE_PUBLISHABLE_KEY", localstripe::PUBLISHABLE_KEY)
            .env("STRIPE_WEBHOOK_SECRET", localstripe::WEBHOOK_SECRET)
            .env("STRIPE_API_BASE", stripe.url())
            .env("MAIL_DIR", &mail)
            .env("RUST_LOG", "error")
            // schemathesis is one client sending thousands of requests; let them reach the handlers.
            .env("RATE_LIMIT_PER_MINUTE", "0")
            .env("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000000")
            .env("LOGIN_MAX_FAILURES_PER_ACCOUNT", "1000000")
            .env("MAX_LIVE_HOLDS", "100")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the server to fuzz")?,
    );
    let result = run(Command::new(python.join("python"))
        .env("FUZZ_CASES", cases.to_string())
        .arg(root.join("xtask/fuzz_api.py"))
        .arg(&base_url)
        .arg(stripe.url())
        .arg(root.join("test-artifacts/schemathesis")));
    drop(server);
    let _ = std::fs::remove_dir_all(&mail);
    result
}
