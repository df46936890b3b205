//! `cargo xtask test`: everything CI checks, on a throwaway PostgreSQL cluster.
//!
//! Steps: install missing system packages and the Python test tools (localstripe, aiosmtpd), start a private cluster in a temporary directory, then
//! `cargo fmt --check`, `cargo clippy -D warnings` and every test (nextest when installed, otherwise
//! `cargo test`). Tests clone a fresh database per test from a migrated template on that cluster, found
//! through `TEST_DATABASE_URL`.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::postgres::Cluster;
use crate::python::ensure_tools;
use crate::system::{ensure_runtime_packages, run};

pub fn test(root: &Path, filters: Vec<String>) -> Result<()> {
    ensure_runtime_packages()?;
    let python = ensure_tools(root)?;
    let cargo = env!("CARGO");
    if filters.is_empty() {
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
    let result = run(tests
        .args(&filters)
        .env("TEST_DATABASE_URL", &database_url)
        .env("TEST_TOOLS_PYTHON", python.join("python")));
    drop(cluster);
    let _ = std::fs::remove_dir_all(&data);
    result
}
