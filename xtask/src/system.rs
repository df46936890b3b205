//! Running commands and installing the system packages the project needs.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs a command, failing when it does.
pub fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0").unwrap_or(false)
}

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|out| out.status.success())
}

/// Installs Debian packages that are missing, with apt-get (through sudo when not root).
pub fn ensure_debian_packages(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", package])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !have("apt-get") {
        bail!("missing system packages {missing:?} and no apt-get to install them; install them by hand");
    }
    eprintln!("installing system packages: {}", missing.join(" "));
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut full: Vec<&str> = sudo.to_vec();
        full.push("apt-get");
        full.extend_from_slice(args);
        run(Command::new(full[0]).args(&full[1..]).env("DEBIAN_FRONTEND", "noninteractive"))
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(&missing);
    apt(&install)
}

/// Installs the Debian package named beside each command that is not on PATH.
pub fn ensure_commands(commands: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> =
        commands.iter().filter(|(command, _)| !have(command)).map(|(_, package)| *package).collect();
    ensure_debian_packages(&missing)
}

/// The system packages that running the product needs.
pub fn ensure_runtime_packages() -> Result<()> {
    if crate::postgres::binaries().is_ok() {
        return Ok(());
    }
    ensure_debian_packages(&["postgresql", "postgresql-client"])
}

/// Adds a Rust compilation target through rustup unless it is installed already.
pub fn ensure_rust_target(target: &str) -> Result<()> {
    let installed =
        Command::new("rustup").args(["target", "list", "--installed"]).output().context("running rustup")?;
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|line| line.trim() == target) {
        run(Command::new("rustup").args(["target", "add", target]))?;
    }
    Ok(())
}

/// A tool from crates.io in the tools directory (`TICKET_EXCHANGE_TOOLS`), installed once.
pub fn cargo_install(krate: &str, version: &str, binary: &str, minutes: u32) -> Result<PathBuf> {
    let tools = crate::python::tools_dir();
    let bin = tools.join("bin").join(binary);
    if !bin.exists() {
        eprintln!("installing {krate} into {} (about {minutes} minutes, once)", tools.display());
        run(Command::new(env!("CARGO"))
            .args(["install", krate, "--version", version, "--locked", "--root"])
            .arg(&tools))?;
    }
    Ok(bin)
}
