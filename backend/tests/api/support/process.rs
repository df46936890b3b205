//! The real server binary as a child process, for tests about several replicas and crashes.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct ServerProcess {
    child: Child,
    pub base_url: String,
}

impl ServerProcess {
    /// Starts `ticket-exchange` on a free port against `database_url` and waits until it answers.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(database_url, env, Stdio::null()).await
    }

    /// Like [`Self::start`], with the server's log (its standard output) readable through
    /// [`Self::stop_and_read_log`].
    pub async fn start_logging(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(database_url, env, Stdio::piped()).await
    }

    async fn spawn(database_url: &str, env: &[(&str, &str)], stdout: Stdio) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ticket-exchange"));
        command
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_POOL_SIZE", "10")
            .env("RUST_LOG", "warn")
            .stdout(stdout)
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start server");
        let server = Self { child, base_url: format!("http://127.0.0.1:{port}") };
        server.wait_until_ready().await;
        server
    }

    /// Waits (bounded) until the server says it is ready, as after start-up or an outage.
    pub async fn wait_until_ready(&self) {
        let client = reqwest::Client::new();
        // Start-up (migrations, binding) takes a moment; the probe is bounded, and nothing else waits.
        for _ in 0..600 {
            if client.get(format!("{}/api/readyz", self.base_url)).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
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
