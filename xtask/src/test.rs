//! `cargo xtask test`: everything CI checks, on a throwaway PostgreSQL cluster.
//!
//! Steps: install missing system packages (PostgreSQL, Chromium) and the Python test tools
//! (localstripe, aiosmtpd); `cargo fmt --check`; `cargo clippy -D warnings`; start a private cluster
//! in a temporary directory; every Rust test (nextest when installed, otherwise `cargo test`); build
//! the web UI; the browser tests in `e2e/` (node's test runner, playwright-core, Debian's Chromium).
//! Rust tests clone a fresh database per test from a migrated template, found through
//! `TEST_DATABASE_URL`.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::postgres::Cluster;
use crate::python::ensure_tools;
use crate::run::target_dir;
use crate::system::{ensure_commands, ensure_runtime_packages, run};

pub fn test(root: &Path, filters: Vec<String>) -> Result<()> {
    ensure_runtime_packages()?;
    let python = ensure_tools(root)?;
    let cargo = env!("CARGO");
    let everything = filters.is_empty();
    if everything {
        run(Command::new(cargo).args(["fmt", "--all", "--check"]))?;
        run(Command::new(cargo).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    }

    let data = std::env::temp_dir().join(format!("ticket-exchange-test-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let cluster =
        Cluster::start(&data, &["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=500"])?;
    let database_url = cluster.url("postgres");

    let nextest = Command::new(cargo).args(["nextest", "--version"]).output().is_ok_and(|out| out.status.success());
    let mut tests = Command::new(cargo);
    if nextest {
        tests.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        tests.args(["test", "--workspace", "--no-fail-fast"]);
    }
    let mut result = run(tests
        .args(&filters)
        .env("TEST_DATABASE_URL", &database_url)
        .env("TEST_TOOLS_PYTHON", python.join("python")));

    if everything && result.is_ok() {
        result = browser_tests(root, &cluster, &python);
    }
    drop(cluster);
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// `cargo xtask e2e`: only the browser tests, on a throwaway cluster.
pub fn e2e(root: &Path) -> Result<()> {
    ensure_runtime_packages()?;
    let python = ensure_tools(root)?;
    let data = std::env::temp_dir().join(format!("ticket-exchange-e2e-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let cluster = Cluster::start(&data, &["fsync=off", "synchronous_commit=off"])?;
    let result = browser_tests(root, &cluster, &python);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// The web UI in headless Chromium against the real server, localstripe and an SMTP server.
fn browser_tests(root: &Path, cluster: &Cluster, python: &Path) -> Result<()> {
    ensure_commands(&[("chromium", "chromium"), ("node", "nodejs"), ("npm", "npm")])?;
    let web = crate::web::build(root)?;
    run(Command::new(env!("CARGO")).args(["build", "--package", "ticket-exchange", "--bin", "ticket-exchange"]))?;
    let e2e = root.join("e2e");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&e2e))?;
    cluster.ensure_database("e2e")?;
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .current_dir(&e2e)
        .env("SERVER_BIN", target_dir(root).join("debug/ticket-exchange"))
        .env("WEB_DIR", &web)
        .env("E2E_DATABASE_URL", cluster.url("e2e"))
        .env("E2E_ARTIFACTS", root.join("test-artifacts/e2e"))
        .env("TEST_TOOLS_PYTHON", python.join("python"))
        .env("LOCALSTRIPE_LAUNCHER", root.join("xtask/run_localstripe.py")))
}
