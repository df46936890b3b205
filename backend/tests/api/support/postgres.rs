//! A PostgreSQL cluster of a test's own, for tests that stop and restart the database. Started from
//! the server binaries `cargo xtask test` names in `TEST_PG_BIN`, on a free loopback port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct PrivateCluster {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// PostgreSQL refuses to run as root; as root, its tools run as the `postgres` user.
fn tool(bin: &Path, name: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join(name)).current_dir("/");
        command
    } else {
        Command::new(bin.join(name))
    }
}

fn succeed(command: &mut Command) {
    let status = command.stdout(Stdio::null()).status().expect("run a PostgreSQL tool");
    assert!(status.success(), "{command:?} failed");
}

impl PrivateCluster {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A cluster that also accepts TLS, presenting `certificate` (PEM) with its `key` (PEM).
    pub fn start_with_tls(certificate: &str, key: &str) -> Self {
        Self::start_with(Some((certificate, key)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Self {
        let bin = PathBuf::from(
            std::env::var("TEST_PG_BIN").expect("TEST_PG_BIN is not set: run the tests with `cargo xtask test`"),
        );
        let data = std::env::temp_dir().join(format!("ticket-exchange-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data).expect("data dir");
        if is_root() {
            succeed(Command::new("chown").args(["postgres:postgres"]).arg(&data));
        }
        succeed(tool(&bin, "initdb").args(["--auth=trust", "--username=postgres", "--locale=C", "-D"]).arg(&data));
        if let Some((certificate, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(data.join("server.crt"), certificate).expect("certificate");
            std::fs::write(data.join("server.key"), key).expect("key");
            std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
            std::fs::write(data.join("postgresql.auto.conf"), "ssl = on\n").expect("ssl = on");
            if is_root() {
                succeed(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&data));
            }
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let cluster = Self { bin, data, port };
        cluster.resume();
        cluster
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server at once, as a crash or a failover would: sessions are cut, nothing is flushed
    /// politely.
    pub fn crash(&self) {
        succeed(tool(&self.bin, "pg_ctl").args(["stop", "--wait", "--mode=immediate", "-D"]).arg(&self.data));
    }

    /// Starts the server again on the same port (recovering from the WAL after a crash).
    pub fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=100",
            self.port
        );
        succeed(
            tool(&self.bin, "pg_ctl")
                .args(["start", "--wait", "--timeout=60", "-D"])
                .arg(&self.data)
                .arg("-l")
                .arg(self.data.join("server.log"))
                .args(["-o", &options]),
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = tool(&self.bin, "pg_ctl")
            .args(["stop", "--mode=immediate", "-D"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
