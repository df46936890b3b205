//! Project automation: `cargo xtask <command>`.
//!
//! - `run [--demo]`: build and start the product (with a private PostgreSQL unless `DATABASE_URL` is set);
//!   `--demo` first fills a database without accounts with a demo market.
//! - `test`: install what tests need, then formatting, lints and every test against real PostgreSQL.
//! - `bench`: the holds benchmark (release build, private PostgreSQL); figures in `.data/bench/`.
//! - `e2e [desktop]`: only the browser tests, or only the desktop app's test under Xvfb.
//! - `web`: build the web UI (wasm) into `<target dir>/web-ui`.
//! - `desktop [--bundle]`: the Tauri desktop app (and its .deb/.rpm installers).
//! - `openapi`: write `openapi.yaml` from the code (`--check` fails if it differs).
//! - `deploy-check`: validate the Kubernetes manifests and lint the Dockerfile.
//! - `contract`: the spec validator, the generated TypeScript client, and schemathesis (30 cases an
//!   operation, as CI runs it).
//! - `fuzz [cases]`: only schemathesis, with more cases an operation (default 200).
//! - `image`: build the production image with podman (local stand-ins for its bases when missing).
//! - `stack [--test]`: three containers of the image behind haproxy, with PostgreSQL, localstripe and
//!   an SMTP sink; `--test` runs the stack test against it.

mod bench;
mod contract;
mod dependencies;
mod deploy;
mod desktop;
mod image;
mod localstripe;
mod openapi;
mod postgres;
mod python;
mod run;
mod stack;
mod system;
mod test;
mod web;

use std::path::PathBuf;

use anyhow::{Result, bail};

fn main() -> std::process::ExitCode {
    match dispatch() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => run::run(&root, args.iter().any(|arg| arg == "--demo")),
        Some("test") => test::test(&root, args[1..].iter().skip_while(|arg| *arg == "--").cloned().collect()),
        Some("bench") => bench::bench(),
        Some("web") => web::build(&root).map(drop),
        Some("e2e") => test::e2e(&root, args.get(1).is_some_and(|arg| arg == "desktop")),
        Some("desktop") => desktop::desktop(&root, args.iter().any(|arg| arg == "--bundle")),
        Some("contract") => test::contract(&root),
        Some("image") => image::build(&root).map(drop),
        Some("stack") => stack::stack(&root, args.iter().any(|arg| arg == "--test")),
        Some("fuzz") => test::fuzz(&root, args.get(1).map_or(Ok(200), |cases| cases.parse()).unwrap_or(200)),
        Some("deploy-check") => deploy::check(&root, &python::ensure_tools(&root)?),
        Some("openapi") => openapi::openapi(&root, args.iter().any(|arg| arg == "--check")),
        _ => bail!(
            "usage: cargo xtask <run [--demo] | test [nextest filters] | e2e [desktop] | web | desktop [--bundle] | bench | openapi [--check] | deploy-check | contract | fuzz [cases] | image | stack [--test]>"
        ),
    }
}

/// The checkout this command runs in: the nearest directory above the working directory holding
/// `xtask/Cargo.toml`. (Not the path compiled in: a target directory shared between checkouts may
/// hand one checkout's xtask binary to another.)
fn project_root() -> PathBuf {
    let start = std::env::current_dir().unwrap_or_default();
    start.ancestors().find(|dir| dir.join("xtask/Cargo.toml").exists()).map(PathBuf::from).unwrap_or_else(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        manifest.parent().map(PathBuf::from).unwrap_or(manifest)
    })
}
