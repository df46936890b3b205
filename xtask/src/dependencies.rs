//! The dependency trees of the three workspaces (the main one, the web UI's and the desktop shell's) against
//! `deny.toml` with cargo-deny: licenses, banned crates and sources. Advisories need the RustSec
//! database from the network, so `.github/workflows/advisories.yml` checks those.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::system::{cargo_install, run};

pub fn check(root: &Path) -> Result<()> {
    let deny = cargo_install("cargo-deny", "0.20.2", "cargo-deny", 5)?;
    for manifest in ["Cargo.toml", "app/ui/Cargo.toml", "app/shell/Cargo.toml"] {
        run(Command::new(&deny)
            .arg("--manifest-path")
            .arg(root.join(manifest))
            // All find the root's deny.toml: cargo-deny looks in the manifest's directory and above.
            .args(["--log-level", "error", "check", "bans", "licenses", "sources"]))?;
    }
    println!("dependencies: licenses, bans and sources pass in all three workspaces");
    Ok(())
}
