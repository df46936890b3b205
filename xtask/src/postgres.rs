//! A private PostgreSQL cluster run from the system's PostgreSQL binaries: `initdb` once, `pg_ctl` to
//! start it on a free loopback port, stopped when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::system::{is_root, run};

pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
}

impl Cluster {
    /// Starts (creating first if needed) the cluster whose data lives in `data`.
    pub fn start(data: &Path, settings: &[&str]) -> Result<Self> {
        let bin = binaries()?;
        std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
        if is_root() {
            // PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user.
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(data))?;
        }
        if !data.join("PG_VERSION").exists() {
            run(as_postgres(&bin.join("initdb"))
                .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "-D"])
                .arg(data)
                .stdout(std::process::Stdio::null()))
            .context("initdb failed")?;
        }
        let port = free_port()?;
        let mut options = format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''");
        for setting in settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let log = data.join("server.log");
        run(as_postgres(&bin.join("pg_ctl"))
            .args(["start", "--wait", "--timeout=60", "--silent", "-D"])
            .arg(data)
            .arg("-l")
            .arg(&log)
            .args(["-o", &options]))
        .with_context(|| format!("PostgreSQL did not start; see {}", log.display()))?;
        Ok(Self { bin, data: data.to_owned(), port })
    }

    /// URL of the `postgres` database, as superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates `database` if it does not exist.
    pub fn ensure_database(&self, database: &str) -> Result<()> {
        let exists = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-tAc"])
            .arg(format!("SELECT 1 FROM pg_database WHERE datname = '{database}'"))
            .output()
            .context("running psql")?;
        if String::from_utf8_lossy(&exists.stdout).trim() != "1" {
            run(Command::new(self.bin.join("createdb")).args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                database,
            ]))?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["stop", "--wait", "--silent", "--mode=fast", "-D"])
            .arg(&self.data)
            .status();
    }
}

fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        // From `/`: the postgres user may not be allowed into the working directory.
        command.args(["-u", "postgres", "--"]).arg(program).current_dir("/");
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The directory holding `initdb`, `pg_ctl`, `psql` and `createdb`: the newest installed PostgreSQL.
pub fn binaries() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("no PostgreSQL server found under /usr/lib/postgresql"),
    }
}
