//! The offline stand-in for Stripe used by `cargo xtask run` when `STRIPE_SECRET_KEY` is not set
//! (localstripe, with its store in `.data/localstripe.pickle` so payments survive restarts), and by
//! the API fuzzing (in memory).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

pub const SECRET_KEY: &str = "sk_test_offline";
pub const PUBLISHABLE_KEY: &str = "pk_test_offline";
pub const WEBHOOK_SECRET: &str = "whsec_offline";

pub struct LocalStripe {
    child: Child,
    pub port: u16,
}

impl LocalStripe {
    /// Starts localstripe; its state is kept in `store` across restarts, or in memory when `None`.
    pub fn start(root: &Path, python_bin: &Path, store: Option<&Path>) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if let Some(dir) = store.and_then(Path::parent) {
            std::fs::create_dir_all(dir)?;
        }
        let child = Command::new(python_bin.join("python"))
            .arg(root.join("xtask/run_localstripe.py"))
            .args(["--port", &port.to_string()])
            .env("LOCALSTRIPE_STORE", store.map(Path::as_os_str).unwrap_or_default())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting localstripe")?;
        let server = Self { child, port };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("localstripe did not start")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Has localstripe sign its events with [`WEBHOOK_SECRET`] and send them to `url`.
    pub fn register_webhook(&self, url: &str) -> Result<()> {
        let body = format!("url={}&secret={WEBHOOK_SECRET}", percent_encode(url));
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        write!(
            stream,
            "POST /_config/webhooks/ticket-exchange HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        if !response.starts_with("HTTP/1.1 200") {
            bail!("localstripe refused the webhook: {}", response.lines().next().unwrap_or_default());
        }
        Ok(())
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
