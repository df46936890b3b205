//! The real server binary as a child process, for tests about several replicas and crashes.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::listening::{listens_on, on_a_free_port};

pub struct ServerProcess {
    child: Child,
    port: u16,
    pub base_url: String,
}

impl ServerProcess {
    /// Starts `ticket-exchange` on a free port against `database_url` and waits until it answers.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(database_url, env, false).await
    }

    /// Like [`Self::start`], with the server's log (its standard output) readable through
    /// [`Self::stop_and_read_log`].
    pub async fn start_logging(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(database_url, env, true).await
    }

    async fn spawn(database_url: &str, env: &[(&str, &str)], logging: bool) -> Self {
        // A port free now may be taken by another test's server before this one binds it; then this
        // one exits, and it is started again on another port.
        on_a_free_port("ticket-exchange", |port| Self::launch(database_url, env, logging, port)).await
    }

    /// Starts the server on `port` and waits until it answers there; `None` if it exits first (the
    /// port was taken).
    async fn launch(database_url: &str, env: &[(&str, &str)], logging: bool, port: u16) -> Option<Self> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ticket-exchange"));
        command
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_POOL_SIZE", "10")
            .env("RUST_LOG", "warn")
            .stdout(if logging { Stdio::piped() } else { Stdio::null() })
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start server");
        let mut server = Self { child, port, base_url: format!("http://127.0.0.1:{port}") };
        server.ready_or_exited().await.then_some(server)
    }

    /// Waits (bounded) until the server says it is ready, as after start-up or an outage.
    pub async fn wait_until_ready(&mut self) {
        assert!(self.ready_or_exited().await, "server at {} exited before it was ready", self.base_url);
    }

    /// Waits (bounded) until this process answers ready on its port (true) or exits (false). Only its
    /// own answer counts: another test's server may hold the port.
    async fn ready_or_exited(&mut self) -> bool {
        // A listener that takes the request and never answers must not hold the probe up.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
        // Start-up (migrations, binding) takes a moment; the probe is bounded, and nothing else waits.
        for _ in 0..600 {
            if client.get(format!("{}/api/readyz", self.base_url)).send().await.is_ok_and(|r| r.status().is_success())
                && listens_on(self.child.id(), self.port)
            {
                return true;
            }
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server at {} did not become ready", self.base_url);
    }

    /// SIGTERM, then the lines the server logged until it exited.
    pub fn stop_and_read_log(&mut self) -> Vec<String> {
        use std::io::BufRead;
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let stdout = self.child.stdout.take().expect("started with start_logging");
        let lines = std::io::BufReader::new(stdout).lines().map(|line| line.expect("log line")).collect();
        let _ = self.child.wait();
        lines
    }

    /// SIGTERM, without waiting for the process to exit.
    pub fn terminate(&self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
