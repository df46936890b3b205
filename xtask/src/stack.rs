//! `cargo xtask stack [--test]`: the production shape on loopback, from the image `cargo xtask image`
//! builds: a private PostgreSQL, three containers of the image (read-only root filesystem, user
//! 65532, the ConfigMap's environment), haproxy in front with health checks on `/api/readyz`,
//! localstripe, and an SMTP sink (aiosmtpd writing a maildir). It prints the URL and runs until
//! Ctrl-C; `--test` runs `deploy/stack_test.py` against it instead (a purchase through the load
//! balancer; a replica killed with SIGKILL and another restarted with SIGTERM under load).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::image::{RUN_FLAGS, podman};
use crate::localstripe::{self, LocalStripe};
use crate::postgres::Cluster;
use crate::system::{ensure_debian_packages, run};

const REPLICAS: usize = 3;

/// Everything the stack started; dropping it stops all of it (also when starting fails half-way).
#[derive(Default)]
struct Stack {
    containers: Vec<String>,
    /// Each container's own address, in the order of `containers`.
    replica_urls: Vec<String>,
    haproxy: Option<Child>,
    smtp: Option<Child>,
    stripe: Option<LocalStripe>,
    /// Stopped before its data directory (inside `scratch`) is removed.
    cluster: Option<Cluster>,
    scratch: PathBuf,
    url: String,
    database_url: String,
    mail: PathBuf,
}

impl Stack {
    fn stripe_url(&self) -> String {
        self.stripe.as_ref().map(LocalStripe::url).unwrap_or_default()
    }

    /// The containers' own logs, for when something failed.
    fn print_logs(&self) {
        for name in &self.containers {
            eprintln!("--- podman logs {name} (last 40 lines)");
            let _ = podman().args(["logs", "--tail", "40", name]).status();
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for name in &self.containers {
            let _ = podman().args(["rm", "--force", "--time", "5", name]).stdout(Stdio::null()).status();
        }
        for child in [self.haproxy.as_mut(), self.smtp.as_mut()].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        drop(self.stripe.take());
        drop(self.cluster.take());
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The ConfigMap's `data`, as the pods get it.
fn config_map(root: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(root.join("deploy/k8s/configmap.yaml"))?;
    let data = text.split_once("\ndata:\n").map(|(_, data)| data).context("configmap.yaml has no data")?;
    Ok(data
        .lines()
        .filter_map(|line| line.strip_prefix("  "))
        .filter(|line| !line.starts_with('#') && !line.starts_with(' '))
        .filter_map(|line| line.split_once(": "))
        .map(|(key, value)| (key.to_owned(), value.trim().trim_matches('"').to_owned()))
        .collect())
}

fn haproxy_config(lb_port: u16, ports: &[u16], socket: &Path) -> String {
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(n, port)| format!("  server replica{} 127.0.0.1:{port} check\n", n + 1))
        .collect();
    format!(
        "global\n  maxconn 4000\n  stats socket {} mode 600 level admin\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n  \
         retries 3\n  option redispatch\n  option http-server-close\n  http-reuse never\n\
         frontend web\n  bind 127.0.0.1:{lb_port}\n  option forwardfor\n  default_backend replicas\n\
         backend replicas\n  balance roundrobin\n  option httpchk GET /api/readyz\n  \
         http-check expect status 200\n  default-server inter 500ms fall 2 rise 2\n{servers}",
        socket.display()
    )
}

/// Starts replica `n` (1-based) of `image`, listening on `port`.
fn start_replica(root: &Path, image: &str, n: usize, port: u16, env: &[(String, String)]) -> Result<String> {
    let name = format!("ticket-exchange-stack-{}-{n}", std::process::id());
    let mut command = podman();
    command
        .args(["run", "--detach", "--replace", "--name", &name])
        .args(RUN_FLAGS)
        .args(["--read-only", "--tmpfs", "/tmp:rw,size=16m", "--user", "65532:65532"])
        .args(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]);
    for (key, value) in env {
        command.args(["--env", &format!("{key}={value}")]);
    }
    command.args(["--env", &format!("BIND_ADDR=127.0.0.1:{port}")]).arg(image).current_dir(root);
    run(command.stdout(Stdio::null()))?;
    Ok(name)
}

fn wait_until_ready(url: &str, seconds: u64) -> Result<()> {
    use std::io::{Read, Write};
    let (host, path) = url.trim_start_matches("http://").split_once('/').unwrap_or((url, ""));
    let address: std::net::SocketAddr = host.parse().context("a loopback address")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = write!(stream, "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{url} did not answer 200 within {seconds} s")
}

/// Starts the stack. `load_test`: the test's load comes from one address, which the per-address
/// rate limit would treat as one abusive client, so it is off then (as in the benchmarks).
fn start(root: &Path, python: &Path, load_test: bool) -> Result<Stack> {
    ensure_debian_packages(&["haproxy"])?;
    let image = crate::image::build(root)?;
    let scratch = std::env::temp_dir().join(format!("ticket-exchange-stack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let mut stack = Stack::default();
    stack.mail = scratch.join("mail");
    stack.scratch.clone_from(&scratch);
    let cluster = stack.cluster.insert(Cluster::start(&scratch.join("postgres"), &["max_connections=200"])?);
    cluster.ensure_database("stack")?;
    stack.database_url = cluster.url("stack");
    let stripe_url = stack.stripe.insert(LocalStripe::start(root, python, None)?).url();
    let smtp_port = free_port()?;
    stack.smtp = Some(
        Command::new(python.join("python"))
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{smtp_port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&stack.mail)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the SMTP sink (aiosmtpd)")?,
    );
    let lb_port = free_port()?;
    stack.url = format!("http://127.0.0.1:{lb_port}");
    let mut env = config_map(root)?;
    let mut overrides = vec![
        ("PUBLIC_URL", stack.url.clone()),
        ("DATABASE_URL", stack.database_url.clone()),
        ("STRIPE_SECRET_KEY", localstripe::SECRET_KEY.to_owned()),
        ("STRIPE_PUBLISHABLE_KEY", localstripe::PUBLISHABLE_KEY.to_owned()),
        ("STRIPE_WEBHOOK_SECRET", localstripe::WEBHOOK_SECRET.to_owned()),
        ("STRIPE_API_BASE", stripe_url.clone()),
        ("STRIPE_JS_URL", format!("{stripe_url}/js.stripe.com/v3/")),
        ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
        ("LOG_FORMAT", "text".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    if load_test {
        overrides.push(("RATE_LIMIT_PER_MINUTE", "0".to_owned()));
        // An email the SIGKILLed replica was sending is taken over after this, not after 5 minutes.
        overrides.push(("EMAIL_CLAIM_TIMEOUT", "20s".to_owned()));
    }
    env.retain(|(key, _)| key != "BIND_ADDR" && !overrides.iter().any(|(name, _)| name == key));
    env.extend(overrides.iter().map(|(key, value)| ((*key).to_owned(), value.clone())));
    let ports: Vec<u16> = (0..REPLICAS).map(|_| free_port()).collect::<Result<_>>()?;
    // All three start, and migrate, at once.
    for (n, port) in ports.iter().enumerate() {
        let name = start_replica(root, &image, n + 1, *port, &env)?;
        stack.containers.push(name);
        stack.replica_urls.push(format!("http://127.0.0.1:{port}"));
    }
    let config = scratch.join("haproxy.cfg");
    std::fs::write(&config, haproxy_config(lb_port, &ports, &scratch.join("haproxy.sock")))?;
    stack.haproxy = Some(
        Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting haproxy")?,
    );
    let ready = ports
        .iter()
        .try_for_each(|port| wait_until_ready(&format!("127.0.0.1:{port}/api/readyz"), 60))
        .and_then(|()| wait_until_ready(&format!("127.0.0.1:{lb_port}/api/readyz"), 30));
    if let Err(err) = ready {
        stack.print_logs();
        return Err(err);
    }
    if let Some(stripe) = &stack.stripe {
        stripe.register_webhook(&format!("{}/api/webhooks/stripe", stack.url))?;
    }
    Ok(stack)
}

/// `cargo xtask stack`: runs until Ctrl-C. `cargo xtask stack --test`: runs the stack test.
pub fn stack(root: &Path, test: bool) -> Result<()> {
    let python = crate::python::ensure_tools(root)?;
    if test {
        return self::test(root, &python);
    }
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("Ctrl-C handler")?;
    let stack = start(root, &python, false)?;
    println!(
        "stack: {} (three replicas behind haproxy; localstripe {}; mail in {})",
        stack.url,
        stack.stripe_url(),
        stack.mail.display()
    );
    println!("stack: Ctrl-C stops everything it started");
    while !stopped.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("stack: stopping");
    Ok(())
}

/// The stack test (`deploy/stack_test.py`) against a stack started for it.
pub fn test(root: &Path, python: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let stack = start(root, python, true)?;
    let result = run(Command::new(python.join("python"))
        .arg(root.join("deploy/stack_test.py"))
        .env("STACK_URL", &stack.url)
        .env("STRIPE_URL", stack.stripe_url())
        .env("MAILDIR", &stack.mail)
        .env("DATABASE_URL", &stack.database_url)
        .env("PSQL", crate::postgres::binaries()?.join("psql"))
        .env("REPLICAS", stack.containers.join(","))
        .env("REPLICA_URLS", stack.replica_urls.join(","))
        .env("HAPROXY_SOCKET", stack.scratch.join("haproxy.sock")));
    if result.is_err() {
        stack.print_logs();
    }
    drop(stack);
    println!("stack: test {} in {} s", if result.is_ok() { "passed" } else { "failed" }, started.elapsed().as_secs());
    result
}
