//! `cargo xtask desktop [--bundle]`: the Tauri shell around the web UI.
//!
//! Builds the web UI, copies it to `app/shell/dist` (Tauri embeds it), installs the webview's
//! development libraries if missing, and builds the desktop app. `--bundle` also makes the Linux
//! installers with Tauri's bundler (tauri-cli, installed once into the tools directory): a `.deb` that
//! installs with dpkg, and an `.rpm`. macOS, Windows, Android and iOS builds run on hosted runners
//! (`.github/workflows/desktop.yml`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::python::tools_dir;
use crate::system::{ensure_debian_packages, run};

/// Debian packages Tauri needs to compile and run on Linux.
pub const WEBVIEW_PACKAGES: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "build-essential",
    "file",
    "libxdo-dev",
    "libssl-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "pkg-config",
];

pub fn shell_dir(root: &Path) -> PathBuf {
    root.join("app/shell")
}

/// Puts the built web UI where Tauri embeds it from.
pub fn stage_web(root: &Path) -> Result<()> {
    let web = crate::web::build(root)?;
    let dist = shell_dir(root).join("dist");
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist)?;
    copy_tree(&web, &dist)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn tauri_cli() -> Result<PathBuf> {
    let bin = tools_dir().join("bin/cargo-tauri");
    if !bin.exists() {
        eprintln!("installing tauri-cli into {} (about 9 minutes, once)", tools_dir().display());
        run(Command::new(env!("CARGO"))
            .args(["install", "tauri-cli", "--version", "^2", "--locked", "--root"])
            .arg(tools_dir()))?;
    }
    Ok(bin)
}

pub fn desktop(root: &Path, bundle: bool) -> Result<()> {
    ensure_debian_packages(WEBVIEW_PACKAGES)?;
    stage_web(root)?;
    let manifest = shell_dir(root).join("Cargo.toml");
    if bundle {
        run(Command::new(tauri_cli()?).args(["build", "--bundles", "deb,rpm"]).current_dir(shell_dir(root)))?;
        let bundles = crate::run::target_dir(root).join("release/bundle");
        for kind in ["deb", "rpm"] {
            for entry in std::fs::read_dir(bundles.join(kind)).into_iter().flatten().flatten() {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                println!("desktop: {} {:.1} MiB", entry.path().display(), size as f64 / 1_048_576.0);
            }
        }
    } else {
        run(Command::new(env!("CARGO")).args(["build", "--manifest-path"]).arg(&manifest))?;
        println!("desktop: built {}", crate::run::target_dir(root).join("debug/ticket-exchange-desktop").display());
    }
    Ok(())
}
