//! Private Python virtualenvs: one holding the tools in `xtask/python-requirements.txt` (localstripe,
//! aiosmtpd, schemathesis, validators), and one for checkov (`xtask/checkov-requirements.txt`), whose
//! pinned dependencies would clash with the first's. They live outside the clone
//! (`TICKET_EXCHANGE_TOOLS`, default `/var/tmp/ticket-exchange/tools`) and are reused while their
//! requirements are unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::system::{ensure_debian_packages, run};

pub fn tools_dir() -> PathBuf {
    std::env::var_os("TICKET_EXCHANGE_TOOLS")
        .map_or_else(|| PathBuf::from("/var/tmp/ticket-exchange/tools"), PathBuf::from)
}

/// Creates or refreshes the test tools' virtualenv; returns its `bin` directory.
pub fn ensure_tools(root: &Path) -> Result<PathBuf> {
    ensure_venv(root, "python-requirements.txt", "venv", "localstripe")
}

/// Creates or refreshes checkov's virtualenv; returns its `bin` directory.
pub fn ensure_checkov(root: &Path) -> Result<PathBuf> {
    ensure_venv(root, "checkov-requirements.txt", "checkov-venv", "checkov")
}

fn ensure_venv(root: &Path, requirements: &str, name: &str, marker: &str) -> Result<PathBuf> {
    let requirements = root.join("xtask").join(requirements);
    let wanted =
        std::fs::read_to_string(&requirements).with_context(|| format!("reading {}", requirements.display()))?;
    let venv = tools_dir().join(name);
    let stamp = venv.join("requirements.installed");
    let bin = venv.join("bin");
    if std::fs::read_to_string(&stamp).is_ok_and(|installed| installed == wanted) && bin.join(marker).exists() {
        return Ok(bin);
    }
    if Command::new("python3").args(["-c", "import venv, ensurepip"]).output().map_or(true, |out| !out.status.success())
    {
        ensure_debian_packages(&["python3", "python3-venv"])?;
    }
    eprintln!("installing Python test tools into {}", venv.display());
    std::fs::create_dir_all(tools_dir())?;
    run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv))?;
    run(Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(&stamp, wanted)?;
    Ok(bin)
}
