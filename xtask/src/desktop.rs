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

use crate::system::{cargo_install, ensure_debian_packages, ensure_rust_target, run};

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

/// Puts the built web UI (`web`, from [`crate::web::build`]) where Tauri embeds it from.
pub fn stage_web(root: &Path, web: &Path) -> Result<()> {
    let dist = shell_dir(root).join("dist");
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist)?;
    copy_tree(web, &dist)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.path().extension().is_some_and(|ext| ext == "gz") {
            // The server's gzipped copies: Tauri compresses what it embeds itself.
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Debian packages the desktop app's WebDriver test needs beside [`WEBVIEW_PACKAGES`]: a virtual
/// display and WebKitGTK's WebDriver.
pub const WEBDRIVER_PACKAGES: &[&str] = &["xvfb", "xauth", "webkit2gtk-driver"];

/// tauri-driver: the WebDriver intermediary between a W3C client and WebKitWebDriver.
pub fn tauri_driver() -> Result<PathBuf> {
    cargo_install("tauri-driver", "2.1.0", "tauri-driver", 2)
}

/// Builds the debug desktop app with the built web UI `web` inside; returns the binary.
pub fn build_debug(root: &Path, web: &Path) -> Result<PathBuf> {
    ensure_debian_packages(WEBVIEW_PACKAGES)?;
    stage_web(root, web)?;
    run(Command::new(env!("CARGO")).args(["build", "--manifest-path"]).arg(shell_dir(root).join("Cargo.toml")))?;
    Ok(crate::run::target_dir(root).join("debug/ticket-exchange-desktop"))
}

/// The shell's own unit tests (its Content-Security-Policy among them), run after [`build_debug`] so
/// the web UI they embed is staged.
pub fn unit_tests(root: &Path) -> Result<()> {
    run(Command::new(env!("CARGO")).args(["test", "--lib", "--manifest-path"]).arg(shell_dir(root).join("Cargo.toml")))
}

/// The mobile entry point compiles for Android: `cargo check` of the shell for
/// `aarch64-linux-android` (no NDK is needed to check; linking would need one).
pub fn check_android(root: &Path) -> Result<()> {
    const TARGET: &str = "aarch64-linux-android";
    ensure_rust_target(TARGET)?;
    run(Command::new(env!("CARGO"))
        .args(["check", "--lib", "--target", TARGET, "--manifest-path"])
        .arg(shell_dir(root).join("Cargo.toml")))
}

pub fn desktop(root: &Path, bundle: bool) -> Result<()> {
    if bundle {
        ensure_debian_packages(WEBVIEW_PACKAGES)?;
        stage_web(root, &crate::web::build(root)?)?;
        let tauri_cli = cargo_install("tauri-cli", "^2", "cargo-tauri", 9)?;
        run(Command::new(tauri_cli).args(["build", "--bundles", "deb,rpm"]).current_dir(shell_dir(root)))?;
        let bundles = crate::run::target_dir(root).join("release/bundle");
        for kind in ["deb", "rpm"] {
            let packages = std::fs::read_dir(bundles.join(kind)).into_iter().flatten().flatten();
            for entry in packages.filter(|entry| entry.path().extension().is_some_and(|ext| ext == kind)) {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                println!("desktop: {} {:.1} MiB", entry.path().display(), size as f64 / 1_048_576.0);
            }
        }
    } else {
        println!("desktop: built {}", build_debug(root, &crate::web::build(root)?)?.display());
    }
    Ok(())
}
