//! `cargo xtask openapi`: writes the spec the server generates to `openapi.yaml`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

pub fn openapi(root: &Path, check: bool) -> Result<()> {
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--package", "ticket-exchange", "--", "openapi"])
        .output()
        .context("running the server's `openapi` command")?;
    if !output.status.success() {
        bail!("generating the spec failed:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    let path = root.join("openapi.yaml");
    let current = std::fs::read(&path).unwrap_or_default();
    if check {
        if current != output.stdout {
            bail!("openapi.yaml is out of date: run `cargo xtask openapi`");
        }
        println!("openapi.yaml is up to date");
    } else if current != output.stdout {
        std::fs::write(&path, &output.stdout)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
