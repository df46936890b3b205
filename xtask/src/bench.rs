//! `cargo xtask bench`: the market benchmark on a private PostgreSQL, with a release build, wrk and
//! pgbench.

use std::process::Command;

use anyhow::Result;

use crate::postgres::{Cluster, binaries};
use crate::system::{ensure_commands, ensure_runtime_packages, run};

pub fn bench() -> Result<()> {
    ensure_runtime_packages()?;
    ensure_commands(&[("wrk", "wrk")])?;
    let data = std::env::temp_dir().join(format!("ticket-exchange-bench-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let cluster = Cluster::start(&data, &["max_connections=300", "shared_buffers=256MB"])?;
    let bin = binaries()?;
    let result = run(Command::new(env!("CARGO"))
        .args(["bench", "--package", "ticket-exchange", "--bench", "market"])
        .env("BENCH_DATABASE_URL", cluster.url("postgres"))
        .env("PGBENCH", bin.join("pgbench"))
        .env("PSQL", bin.join("psql"))
        .env("WRK", "wrk"));
    drop(cluster);
    let _ = std::fs::remove_dir_all(&data);
    result
}
