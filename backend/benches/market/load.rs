//! The load generators: wrk against the server, pgbench against the database, and a crowd of
//! simultaneous reqwest clients when every answer's status matters.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::Barrier;

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Answers (HTTP) or transactions (pgbench) per second that did what was asked.
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Answers that were not 2xx (HTTP only).
    pub failed: u64,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run this through `cargo xtask bench`"))
}

/// A scratch directory for one load run, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A directory of its own, even beside another of the same `name` (two wrk runs at once).
    pub fn new(name: &str) -> Self {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ticket-exchange-bench-{name}-{}-{made}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs pgbench's `script` for `seconds` with `clients` connections, prepared statements; `vars` are
/// passed with `-D`.
pub fn pgbench(url: &str, script: &str, clients: usize, seconds: u32, vars: &[(&str, String)]) -> Throughput {
    let scratch = Scratch::new("pgbench");
    let file = scratch.path().join("script.sql");
    std::fs::write(&file, script).expect("script");
    let mut command = Command::new(env("PGBENCH"));
    command.current_dir(scratch.path()).args([
        "-n",
        "-M",
        "prepared",
        "-c",
        &clients.to_string(),
        "-j",
        "2",
        "-T",
        &seconds.to_string(),
        "-l",
    ]);
    for (name, value) in vars {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    let output = command.arg("-f").arg(&file).arg(url).output().expect("pgbench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "pgbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let per_second = stdout
        .lines()
        .find(|line| line.starts_with("tps ="))
        .and_then(|line| line.split_whitespace().nth(2))
        .and_then(|tps| tps.parse().ok())
        .unwrap_or(0.0);
    let mut latencies: Vec<Duration> = std::fs::read_dir(scratch.path())
        .expect("logs")
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("pgbench_log"))
        .flat_map(|entry| {
            std::fs::read_to_string(entry.path())
                .unwrap_or_default()
                .lines()
                .filter_map(|line| line.split_whitespace().nth(2).and_then(|us| us.parse().ok()))
                .map(Duration::from_micros)
                .collect::<Vec<_>>()
        })
        .collect();
    Throughput { per_second, p50: percentile(&mut latencies, 0.5), p99: percentile(&mut latencies, 0.99), failed: 0 }
}

/// The wrk script: each thread reads its own file of requests (`method path token body`, one a
/// line, made by [`wrk_requests`]) and sends them in turn, from the start again when it runs out.
const WRK_SCRIPT: &str = r#"
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  requests = {}
  for line in io.lines(args[1] .. "/requests-" .. id .. ".txt") do
    local method, path, token, body = line:match("^(%S+) (%S+) (%S+) ?(.*)$")
    local headers = { ["Content-Type"] = "application/json" }
    if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
    if body == "" then body = nil end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
  next_request = 0
end
function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end
"#;

/// One request for wrk to send.
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub token: Option<String>,
    pub body: Option<String>,
}

pub const WRK_THREADS: usize = 2;

/// Writes the requests, dealt round-robin to wrk's threads.
fn wrk_requests(dir: &Path, requests: &[Request]) {
    for thread in 0..WRK_THREADS {
        let lines: String = requests
            .iter()
            .skip(thread)
            .step_by(WRK_THREADS)
            .map(|r| {
                format!(
                    "{} {} {} {}\n",
                    r.method,
                    r.path,
                    r.token.as_deref().unwrap_or("-"),
                    r.body.as_deref().unwrap_or("")
                )
            })
            .collect();
        std::fs::write(dir.join(format!("requests-{thread}.txt")), lines).expect("requests");
    }
}

/// Runs wrk against `base_url` for `seconds` with `connections`, sending `requests` in turn.
pub fn wrk(base_url: &str, requests: &[Request], connections: usize, seconds: u32) -> Throughput {
    let scratch = Scratch::new("wrk");
    wrk_requests(scratch.path(), requests);
    let script = scratch.path().join("requests.lua");
    std::fs::write(&script, WRK_SCRIPT).expect("script");
    let output = Command::new(env("WRK"))
        .args(["-t", &WRK_THREADS.to_string(), "-c", &connections.to_string(), "-d", &format!("{seconds}s")])
        .args(["--latency", "--timeout", "10s", "-s"])
        .arg(&script)
        .arg(base_url)
        .arg("--")
        .arg(scratch.path())
        .output()
        .expect("wrk");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    parse_wrk(&stdout)
}

/// Reads wrk's summary: `N requests in 5.00s`, `Non-2xx or 3xx responses: M`, and the latency
/// distribution's 50% and 99% lines.
fn parse_wrk(stdout: &str) -> Throughput {
    let mut total = 0u64;
    let mut elapsed = 0.0f64;
    let mut failed = 0u64;
    let mut p50 = Duration::ZERO;
    let mut p99 = Duration::ZERO;
    for line in stdout.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [count, "requests", "in", took, ..] => {
                total = count.parse().unwrap_or(0);
                elapsed = wrk_duration(took.trim_end_matches(',')).as_secs_f64();
            }
            ["Non-2xx", "or", "3xx", "responses:", count] => failed = count.parse().unwrap_or(0),
            ["50%", value] => p50 = wrk_duration(value),
            ["99%", value] => p99 = wrk_duration(value),
            _ => {}
        }
    }
    assert!(total > 0 && elapsed > 0.0, "wrk printed no summary: {stdout}");
    Throughput { per_second: (total - failed) as f64 / elapsed, p50, p99, failed }
}

/// wrk's durations: `812.00us`, `1.52ms`, `5.00s`, `1.02m`.
fn wrk_duration(text: &str) -> Duration {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().unwrap_or(0.0);
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => value,
    };
    Duration::from_secs_f64(seconds)
}

pub fn percentile(latencies: &mut [Duration], p: f64) -> Duration {
    latencies.sort();
    let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
    latencies.get(index).copied().unwrap_or_default()
}

/// What a crowd's requests came back with.
pub struct CrowdOutcome {
    pub statuses: Vec<u16>,
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

/// Sends `requests` in turn at `per_second` for `seconds` (each on its own task, so a slow answer
/// does not slow the pace), then waits for the answers.
pub async fn paced(base_url: &str, requests: &[Request], per_second: u32, seconds: u32) -> Throughput {
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for request in requests.iter().cycle().take((per_second * seconds) as usize) {
        tick.tick().await;
        let mut builder = client
            .request(request.method.parse().expect("method"), format!("{base_url}{}", request.path))
            .header("Content-Type", "application/json");
        if let Some(token) = &request.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = builder.send().await.is_ok_and(|r| r.status().is_success());
            (sent.elapsed(), ok)
        }));
    }
    let results: Vec<(Duration, bool)> = join_all(tasks).await.into_iter().map(|r| r.expect("task")).collect();
    let elapsed = started.elapsed();
    let done = results.iter().filter(|(_, ok)| *ok).count();
    let mut latencies: Vec<Duration> = results.iter().map(|(latency, _)| *latency).collect();
    Throughput {
        per_second: done as f64 / elapsed.as_secs_f64(),
        p50: percentile(&mut latencies, 0.5),
        p99: percentile(&mut latencies, 0.99),
        failed: (results.len() - done) as u64,
    }
}

/// Sends every request at once: each on its own connection, opened first, then all released
/// together by a barrier.
pub async fn crowd(base_url: &str, requests: &[Request]) -> CrowdOutcome {
    let barrier = Arc::new(Barrier::new(requests.len() + 1));
    let tasks: Vec<_> = requests
        .iter()
        .map(|request| {
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
            let url = format!("{base_url}{}", request.path);
            let warm = format!("{base_url}/api/healthz");
            let token = request.token.clone();
            let body = request.body.clone();
            let method: reqwest::Method = request.method.parse().expect("method");
            let barrier = barrier.clone();
            tokio::spawn(async move {
                // Open the connection before the start, so the crowd measures the server, not TCP.
                let _ = client.get(warm).send().await.map(|r| r.status());
                barrier.wait().await;
                let mut builder = client.request(method, url).header("Content-Type", "application/json");
                if let Some(token) = token {
                    builder = builder.bearer_auth(token);
                }
                if let Some(body) = body {
                    builder = builder.body(body);
                }
                let sent = Instant::now();
                let status = builder.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                (sent.elapsed(), status)
            })
        })
        .collect();
    barrier.wait().await;
    let started = Instant::now();
    let results: Vec<(Duration, u16)> = join_all(tasks).await.into_iter().map(|r| r.expect("task")).collect();
    let elapsed = started.elapsed();
    let (latencies, statuses) = results.into_iter().unzip();
    CrowdOutcome { statuses, latencies, elapsed }
}
