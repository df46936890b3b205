//! `cargo xtask deploy-check`: the deployment files checked without a cluster: every Kubernetes
//! manifest against the Kubernetes API schemas plus the production rules (`deploy/check_manifests.py`,
//! kubernetes-validate), and the Dockerfile through hadolint.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::system::run;

pub fn check(root: &Path, python: &Path) -> Result<()> {
    run(Command::new(python.join("python")).arg(root.join("deploy/check_manifests.py")).arg(root))?;
    run(Command::new(python.join("hadolint")).arg(root.join("deploy/Dockerfile")))?;
    println!("deploy: manifests and Dockerfile pass");
    Ok(())
}
