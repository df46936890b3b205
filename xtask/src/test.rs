//! `cargo xtask test`: everything CI checks, on a throwaway PostgreSQL cluster.
//!
//! Steps, stopping at the first failure: `cargo fmt --check`; `cargo clippy -D warnings`; cargo-deny;
//! then, with missing system packages and the Python tools installed and a private cluster started:
//! every Rust test (nextest when installed, otherwise `cargo test`); the deployment files
//! (`deploy-check`); the API contract (spec validator, a generated TypeScript client, schemathesis
//! against the running server); the web UI, built once, in the browser tests of `e2e/` (node's test
//! runner, playwright-core, Debian's Chromium) and inside the desktop app, driven under Xvfb through
//! tauri-driver and WebKitWebDriver; `cargo check` of the app's mobile entry point for Android.
//! Rust tests clone a fresh database per test from a migrated template, found through
//! `TEST_DATABASE_URL`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::postgres::Cluster;
use crate::python::ensure_tools;
use crate::run::target_dir;
use crate::system::{ensure_commands, ensure_debian_packages, ensure_runtime_packages, ensure_rust_target, run};
use crate::web::{ui_cargo, ui_manifest};

pub fn test(root: &Path, filters: Vec<String>) -> Result<()> {
    let cargo = env!("CARGO");
    let everything = filters.is_empty();
    if everything {
        run(Command::new(cargo).args(["fmt", "--all", "--check"]))?;
        run(Command::new(cargo).args(["fmt", "--all", "--check", "--manifest-path"]).arg(ui_manifest(root)))?;
        run(Command::new(cargo).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
        run(ui_cargo(root, "clippy").args(["--all-targets", "--", "-D", "warnings"]))?;
        // The UI's browser-only code (`cfg(target_arch = "wasm32")`) as well.
        ensure_rust_target("wasm32-unknown-unknown")?;
        run(ui_cargo(root, "clippy").args(["--target", "wasm32-unknown-unknown", "--", "-D", "warnings"]))?;
        crate::dependencies::check(root)?;
    }
    let settings = [QUICK, &["full_page_writes=off", "max_connections=500"]].concat();
    on_throwaway_cluster(root, "test", &settings, |cluster, python| {
        rust_tests(root, cluster, python, &filters)?;
        if everything {
            crate::deploy::check(root, python)?;
            crate::image::build(root)?;
            crate::stack::test(root, python)?;
            crate::contract::check(root, cluster, python)?;
            let web = crate::web::build(root)?;
            browser_tests(root, cluster, python, &web)?;
            desktop_tests(root, cluster, python, &web)?;
            crate::desktop::check_android(root)?;
        }
        Ok(())
    })
}

/// Every Rust test of both workspaces, the main one and the web UI's (nextest when installed), or
/// those `filters` select.
fn rust_tests(root: &Path, cluster: &Cluster, python: &Path, filters: &[String]) -> Result<()> {
    let cargo = env!("CARGO");
    let database_url = cluster.url("postgres");

    let nextest = Command::new(cargo).args(["nextest", "--version"]).output().is_ok_and(|out| out.status.success());
    let mut unmatched = 0;
    for ui in [false, true] {
        let mut tests = Command::new(cargo);
        if nextest {
            // A filter may select tests of one workspace only.
            tests.args(["nextest", "run", "--no-fail-fast", "--no-tests=pass"]);
        } else {
            tests.args(["test", "--no-fail-fast"]);
        }
        if ui {
            tests.arg("--manifest-path").arg(ui_manifest(root)).arg("--target-dir").arg(target_dir(root));
        } else {
            tests.arg("--workspace");
        }
        tests
            .args(filters)
            .env("TEST_DATABASE_URL", &database_url)
            .env("TEST_PG_BIN", crate::postgres::binaries()?)
            .env("TEST_TOOLS_PYTHON", python.join("python"));
        if !nextest || filters.is_empty() {
            run(&mut tests)?;
            continue;
        }
        let status = tests.status().with_context(|| format!("cannot start {tests:?}"))?;
        if status.code() == Some(NEXTEST_INVALID_FILTER_EXPRESSION) {
            // A filter naming one workspace's binaries or packages names what the other lacks.
            unmatched += 1;
            eprintln!(
                "xtask: nextest refused the filter in {} (it names a package or binary not there); its tests \
                 are skipped",
                workspace_name(ui)
            );
        } else if !status.success() {
            bail!("{tests:?} failed with {status}");
        }
    }
    if unmatched == 2 {
        bail!(
            "nextest refused the filter {filters:?} in both workspaces (one filter cannot name packages or binaries of both)"
        );
    }
    Ok(())
}

/// nextest's exit code for a filter it cannot use (`NextestExitCode::INVALID_FILTER_EXPRESSION`).
const NEXTEST_INVALID_FILTER_EXPRESSION: i32 = 94;

fn workspace_name(ui: bool) -> &'static str {
    if ui { "the web UI's workspace" } else { "the main workspace" }
}

/// `cargo xtask contract`: only the API contract checks, on a throwaway cluster.
pub fn contract(root: &Path) -> Result<()> {
    on_throwaway_cluster(root, "contract", QUICK, |cluster, python| crate::contract::check(root, cluster, python))
}

/// `cargo xtask fuzz [cases]`: only schemathesis, with `cases` cases an operation.
pub fn fuzz(root: &Path, cases: u32) -> Result<()> {
    on_throwaway_cluster(root, "fuzz", QUICK, |cluster, python| crate::contract::fuzz(root, cluster, python, cases))
}

/// `cargo xtask e2e [desktop]`: only the browser tests, or only the desktop app's, on a throwaway
/// cluster.
pub fn e2e(root: &Path, desktop: bool) -> Result<()> {
    on_throwaway_cluster(root, "e2e", QUICK, |cluster, python| {
        let web = crate::web::build(root)?;
        if desktop { desktop_tests(root, cluster, python, &web) } else { browser_tests(root, cluster, python, &web) }
    })
}

/// Settings of a throwaway cluster: durability traded for speed.
const QUICK: &[&str] = &["fsync=off", "synchronous_commit=off"];

/// Runs `work` with the Python tools and a private PostgreSQL cluster (`name` in its directory's
/// name, `settings` on top) that is removed afterwards, however `work` ends.
fn on_throwaway_cluster(
    root: &Path,
    name: &str,
    settings: &[&str],
    work: impl FnOnce(&Cluster, &Path) -> Result<()>,
) -> Result<()> {
    ensure_runtime_packages()?;
    let python = ensure_tools(root)?;
    let data = std::env::temp_dir().join(format!("ticket-exchange-{name}-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let cluster = Cluster::start(&data, settings)?;
    let result = work(&cluster, &python);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// A browser or desktop test that runs longer than this has hung; it fails instead of holding CI.
const TEST_TIMEOUT: &str = "--test-timeout=180000";

/// The web UI in headless Chromium against the real server, localstripe and an SMTP server.
fn browser_tests(root: &Path, cluster: &Cluster, python: &Path, web: &Path) -> Result<()> {
    ensure_commands(&[("chromium", "chromium"), ("node", "nodejs"), ("npm", "npm")])?;
    let mut node = node_tests(root, cluster, python, "e2e", "node")?;
    run(node.args(["--test", "--test-concurrency=1", TEST_TIMEOUT, "ui.test.js"]).env("WEB_DIR", web))
}

/// The desktop app in a real window on a virtual display, driven through WebDriver.
fn desktop_tests(root: &Path, cluster: &Cluster, python: &Path, web: &Path) -> Result<()> {
    ensure_debian_packages(crate::desktop::WEBDRIVER_PACKAGES)?;
    let app = crate::desktop::build_debug(root, web)?;
    crate::desktop::unit_tests(root)?;
    let driver = crate::desktop::tauri_driver()?;
    let mut xvfb = node_tests(root, cluster, python, "desktop", "xvfb-run")?;
    run(xvfb
        .args([
            "--auto-servernum",
            "--server-args=-screen 0 1280x1024x24",
            "node",
            "--test",
            TEST_TIMEOUT,
            "desktop.test.js",
        ])
        .env("DESKTOP_BIN", app)
        .env("TAURI_DRIVER", driver)
        .env("WEB_DIR", web))
}

/// `program` run in `e2e/` with what the node tests need to start the stack on database `database`.
fn node_tests(root: &Path, cluster: &Cluster, python: &Path, database: &str, program: &str) -> Result<Command> {
    let server = crate::run::server_binary(root)?;
    let e2e = root.join("e2e");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&e2e))?;
    cluster.ensure_database(database)?;
    let mut command = Command::new(program);
    command
        .current_dir(&e2e)
        .env("SERVER_BIN", server)
        .env("E2E_DATABASE_URL", cluster.url(database))
        .env("E2E_ARTIFACTS", root.join("test-artifacts/e2e"))
        .env("TEST_TOOLS_PYTHON", python.join("python"))
        .env("LOCALSTRIPE_LAUNCHER", root.join("xtask/run_localstripe.py"));
    Ok(command)
}
