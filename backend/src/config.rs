//! Configuration, read from environment variables only. Every variable is documented in the README.

use std::net::SocketAddr;
use std::time::Duration;

use crate::listings::market_pages::PageCacheSettings;
use crate::money::TaxRate;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: the PostgreSQL connection string.
    pub database_url: String,
    /// `DATABASE_CA_FILE`: a PEM file of CA certificates to trust, beside the public web roots, for
    /// TLS to PostgreSQL (`?sslmode=require` in `DATABASE_URL`), e.g. a managed service's CA bundle.
    pub database_ca_file: Option<String>,
    /// `DATABASE_POOL_SIZE`: connections per process (default 16).
    pub database_pool_size: usize,
    /// `BIND_ADDR`: where the HTTP server listens (default `127.0.0.1:8080`).
    pub bind_addr: SocketAddr,
    /// `PUBLIC_URL`: the address users reach the server at (default `http://<BIND_ADDR>`).
    pub public_url: String,
    pub sessions: SessionPolicy,
    pub login_throttle: LoginThrottle,
    pub orders: OrderPolicy,
    /// How far above face value a ticket may be resold (`PRICE_CAP_PERCENT`, whole percent, default 0).
    pub price_cap: crate::listings::domain::PriceCap,
    /// What the platform keeps of each sale and when the seller's share is transferred.
    pub payouts: crate::payouts::PayoutTerms,
    pub jobs: JobSettings,
    pub live: LiveSettings,
    /// The market's kept pages (`MARKET_PAGE_MAX_AGE`, `MARKET_PAGE_CACHE_BYTES`).
    pub market_pages: PageCacheSettings,
    pub mail: MailSettings,
    /// Stripe, when `STRIPE_SECRET_KEY` is set; without it payment operations answer 503.
    pub stripe: Option<StripeSettings>,
    /// `WEB_DIR`: the built web UI, served at `/` (unset: `/` redirects to the API docs).
    pub web_dir: Option<std::path::PathBuf>,
    /// `CORS_ORIGINS`: origins allowed to call the API from another origin: the desktop and mobile
    /// apps' webviews (default `tauri://localhost,http://tauri.localhost,https://tauri.localhost`).
    pub cors_origins: Vec<String>,
    /// `TRUST_FORWARDED_FOR`: take the client address from `X-Forwarded-For` (behind a proxy).
    pub trust_forwarded_for: bool,
    /// `RATE_LIMIT_PER_MINUTE`: API requests a minute per client address, per process (default 600;
    /// 0 turns the limit off).
    pub rate_limit_per_minute: u32,
    /// `MAX_BODY_BYTES`: largest accepted request body (default 64 KiB).
    pub max_body_bytes: usize,
    /// `SHUTDOWN_GRACE`: how long in-flight requests may run after SIGTERM (default `30s`).
    pub shutdown_grace: Duration,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// `SESSION_IDLE_TIMEOUT`: a session unused this long ends (default `7d`).
    pub idle_timeout: Duration,
    /// `SESSION_MAX_AGE`: a session ends this long after sign-in whatever its use (default `30d`).
    pub max_age: Duration,
}

/// Limits on failed sign-ins, counted in a sliding window.
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    /// `LOGIN_FAILURE_WINDOW` (default `15m`).
    pub window: Duration,
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`: failed sign-ins to one account from one address (default 5).
    pub max_per_account: i64,
    /// `LOGIN_MAX_FAILURES_PER_ADDRESS` (default 20).
    pub max_per_address: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(7 * 86_400), max_age: Duration::from_secs(30 * 86_400) }
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self { window: Duration::from_secs(15 * 60), max_per_account: 5, max_per_address: 20 }
    }
}

/// Where email goes.
#[derive(Clone)]
pub struct MailSettings {
    /// `SMTP_URL`: `smtp://` or `smtps://user:password@host:port` (e.g. Resend's relay). Unset: emails
    /// are written as `.eml` files into `mail_dir` instead.
    pub smtp_url: Option<String>,
    /// `MAIL_FROM` (default `Ticket Exchange <tickets@localhost>`).
    pub from: String,
    /// `MAIL_DIR` (default `mail`): where emails are written when there is no SMTP server.
    pub mail_dir: std::path::PathBuf,
    /// `EMAIL_CLAIM_TIMEOUT` (default `5m`): how long an email being sent is left to the worker
    /// sending it before another takes it over (the first may have died mid-send).
    pub claim_timeout: Duration,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp", &self.smtp_url.as_ref().map(|_| "configured"))
            .field("from", &self.from)
            .field("mail_dir", &self.mail_dir)
            .finish()
    }
}

/// How to reach Stripe (or a Stripe-compatible server).
#[derive(Clone)]
pub struct StripeSettings {
    /// `STRIPE_SECRET_KEY`.
    pub secret_key: String,
    /// `STRIPE_PUBLISHABLE_KEY`: handed to clients for Stripe.js.
    pub publishable_key: String,
    /// `STRIPE_WEBHOOK_SECRET`: signs webhook deliveries (`whsec_...`).
    pub webhook_secret: String,
    /// `STRIPE_CONNECT_WEBHOOK_SECRET`: signs the deliveries of a Connect endpoint (events about
    /// sellers' connected accounts), when it is a different endpoint's secret.
    pub connect_webhook_secret: Option<String>,
    /// `STRIPE_API_BASE`: API base URL (default Stripe's).
    pub api_base: Option<String>,
    /// `STRIPE_JS_URL`: where clients load Stripe.js (default `https://js.stripe.com/v3/`).
    pub js_url: String,
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field("publishable_key", &self.publishable_key)
            .field("api_base", &self.api_base)
            .field("js_url", &self.js_url)
            .finish_non_exhaustive()
    }
}

/// Rules for reservations.
#[derive(Debug, Clone, Copy)]
pub struct OrderPolicy {
    /// `HOLD_DURATION`: how long a reservation holds a listing (default `15m`).
    pub hold: Duration,
    /// `MAX_LIVE_HOLDS`: live reservations one buyer may have at once (default 3).
    pub max_live_holds: i64,
    /// `TAX_RATE_PERCENT`: tax added to every order (default `5`).
    pub tax_rate: TaxRate,
    /// `PAYMENT_GRACE`: how long past its end a hold whose payment has started stays held while
    /// Stripe cannot be asked whether it was paid (default `30m`). Within it a payment Stripe accepted
    /// in time always wins the ticket; after it the late-payment rules apply.
    pub payment_grace: Duration,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        Self {
            hold: Duration::from_secs(15 * 60),
            max_live_holds: 3,
            tax_rate: TaxRate::from_milli_percent(5_000),
            payment_grace: Duration::from_secs(30 * 60),
        }
    }
}

/// Background work: the expiry sweep and the outbox dispatcher.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// `SWEEP_INTERVAL`: how often lapsed holds are released (default `5s`).
    pub sweep_interval: Duration,
    /// `SWEEP_BATCH`: holds released per transaction (default 500).
    pub sweep_batch: i64,
    /// `OUTBOX_INTERVAL`: how often due event deliveries are attempted (default `1s`).
    pub outbox_interval: Duration,
    /// `OUTBOX_MAX_ATTEMPTS`: attempts before a delivery is parked (default 8).
    pub outbox_max_attempts: i32,
    /// `RECONCILE_INTERVAL`: how often unsettled payments are checked with Stripe (default `1m`).
    pub reconcile_interval: Duration,
    /// `RECONCILE_AFTER`: how long a payment may stay unsettled before it is checked (default `2m`).
    pub reconcile_after: Duration,
    /// `BACKGROUND_JOBS`: run the sweep, dispatcher and reconciliation in this process (default true).
    pub enabled: bool,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            sweep_interval: Duration::from_secs(5),
            sweep_batch: 500,
            outbox_interval: Duration::from_secs(1),
            outbox_max_attempts: 8,
            reconcile_interval: Duration::from_secs(60),
            reconcile_after: Duration::from_secs(120),
            enabled: true,
        }
    }
}

/// The live stream of listing changes.
#[derive(Debug, Clone, Copy)]
pub struct LiveSettings {
    /// `LIVE_SEQUENCE_INTERVAL`: how often committed changes are given their place in the change log
    /// and announced (default `100ms`): the most a change waits before subscribers hear of it.
    pub sequence_interval: Duration,
    /// `LIVE_HISTORY`: changes kept for subscribers who reconnect (default 10,000); one further
    /// behind is told to fetch the listings anew.
    pub history: i64,
    /// `LIVE_KEEP_ALIVE`: how often an idle stream sends a comment, so proxies keep it open
    /// (default `15s`).
    pub keep_alive: Duration,
    /// `LIVE_MAX_SUBSCRIBERS`: open streams per process (default 5,000); more answer 503.
    pub max_subscribers: usize,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            sequence_interval: Duration::from_millis(100),
            history: 10_000,
            keep_alive: Duration::from_secs(15),
            max_subscribers: 5_000,
        }
    }
}

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    name: &'static str,
    reason: String,
}

impl Config {
    /// How to open database connections (TLS when `DATABASE_URL` asks for it).
    pub fn database(&self) -> Result<crate::db::Connector, crate::db::TlsSetupError> {
        crate::db::Connector::new(&self.database_url, self.database_ca_file.as_deref())
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let database_url = var("DATABASE_URL").ok_or(ConfigError {
            name: "DATABASE_URL",
            reason: "must be set (the README's run command sets it for you)".into(),
        })?;
        let bind_addr: SocketAddr = parse(var("BIND_ADDR"), "BIND_ADDR", "127.0.0.1:8080".parse().ok())?;
        let public_url = var("PUBLIC_URL")
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{bind_addr}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError { name: "PUBLIC_URL", reason: "must start with http:// or https://".into() });
        }
        let defaults = SessionPolicy::default();
        let throttle = LoginThrottle::default();
        let order_defaults = OrderPolicy::default();
        let jobs = JobSettings::default();
        let live_defaults = LiveSettings::default();
        let live = LiveSettings {
            sequence_interval: duration(
                var("LIVE_SEQUENCE_INTERVAL"),
                "LIVE_SEQUENCE_INTERVAL",
                live_defaults.sequence_interval,
            )?,
            history: parse(var("LIVE_HISTORY"), "LIVE_HISTORY", Some(live_defaults.history))?,
            keep_alive: duration(var("LIVE_KEEP_ALIVE"), "LIVE_KEEP_ALIVE", live_defaults.keep_alive)?,
            max_subscribers: parse(
                var("LIVE_MAX_SUBSCRIBERS"),
                "LIVE_MAX_SUBSCRIBERS",
                Some(live_defaults.max_subscribers),
            )?,
        };
        if live.sequence_interval.is_zero() || live.keep_alive.is_zero() {
            return Err(ConfigError {
                name: "LIVE_SEQUENCE_INTERVAL",
                reason: "LIVE_SEQUENCE_INTERVAL and LIVE_KEEP_ALIVE must be above zero".into(),
            });
        }
        if live.history < 1 {
            return Err(ConfigError { name: "LIVE_HISTORY", reason: "must be at least 1".into() });
        }
        Ok(Self {
            database_url,
            database_ca_file: var("DATABASE_CA_FILE"),
            database_pool_size: parse(var("DATABASE_POOL_SIZE"), "DATABASE_POOL_SIZE", Some(16))?,
            bind_addr,
            public_url,
            sessions: SessionPolicy {
                idle_timeout: duration(var("SESSION_IDLE_TIMEOUT"), "SESSION_IDLE_TIMEOUT", defaults.idle_timeout)?,
                max_age: duration(var("SESSION_MAX_AGE"), "SESSION_MAX_AGE", defaults.max_age)?,
            },
            login_throttle: LoginThrottle {
                window: duration(var("LOGIN_FAILURE_WINDOW"), "LOGIN_FAILURE_WINDOW", throttle.window)?,
                max_per_account: parse(
                    var("LOGIN_MAX_FAILURES_PER_ACCOUNT"),
                    "LOGIN_MAX_FAILURES_PER_ACCOUNT",
                    Some(throttle.max_per_account),
                )?,
                max_per_address: parse(
                    var("LOGIN_MAX_FAILURES_PER_ADDRESS"),
                    "LOGIN_MAX_FAILURES_PER_ADDRESS",
                    Some(throttle.max_per_address),
                )?,
            },
            orders: OrderPolicy {
                hold: duration(var("HOLD_DURATION"), "HOLD_DURATION", order_defaults.hold)?,
                max_live_holds: parse(var("MAX_LIVE_HOLDS"), "MAX_LIVE_HOLDS", Some(order_defaults.max_live_holds))?,
                tax_rate: match var("TAX_RATE_PERCENT") {
                    Some(raw) => TaxRate::parse_percent(&raw)
                        .map_err(|reason| ConfigError { name: "TAX_RATE_PERCENT", reason })?,
                    None => order_defaults.tax_rate,
                },
                payment_grace: duration(var("PAYMENT_GRACE"), "PAYMENT_GRACE", order_defaults.payment_grace)?,
            },
            price_cap: crate::listings::domain::PriceCap {
                percent: match parse::<u32>(var("PRICE_CAP_PERCENT"), "PRICE_CAP_PERCENT", Some(0))? {
                    percent @ 0..=1000 => percent,
                    _ => {
                        return Err(ConfigError { name: "PRICE_CAP_PERCENT", reason: "must be 0 to 1000".into() });
                    }
                },
            },
            payouts: crate::payouts::PayoutTerms {
                platform_fee: match var("PLATFORM_FEE_PERCENT") {
                    // At most half: every seller's share stays a transfer Stripe can make.
                    Some(raw) => match crate::money::Percentage::parse_percent(&raw) {
                        Ok(fee) if fee.milli_percent() <= 50_000 => fee,
                        Ok(_) => {
                            return Err(ConfigError { name: "PLATFORM_FEE_PERCENT", reason: "must be 0 to 50".into() });
                        }
                        Err(reason) => return Err(ConfigError { name: "PLATFORM_FEE_PERCENT", reason }),
                    },
                    None => crate::payouts::PayoutTerms::default().platform_fee,
                },
                delay_after_start: duration(
                    var("PAYOUT_DELAY"),
                    "PAYOUT_DELAY",
                    crate::payouts::PayoutTerms::default().delay_after_start,
                )?,
            },
            jobs: JobSettings {
                sweep_interval: duration(var("SWEEP_INTERVAL"), "SWEEP_INTERVAL", jobs.sweep_interval)?,
                sweep_batch: parse(var("SWEEP_BATCH"), "SWEEP_BATCH", Some(jobs.sweep_batch))?,
                outbox_interval: duration(var("OUTBOX_INTERVAL"), "OUTBOX_INTERVAL", jobs.outbox_interval)?,
                outbox_max_attempts: parse(
                    var("OUTBOX_MAX_ATTEMPTS"),
                    "OUTBOX_MAX_ATTEMPTS",
                    Some(jobs.outbox_max_attempts),
                )?,
                reconcile_interval: duration(var("RECONCILE_INTERVAL"), "RECONCILE_INTERVAL", jobs.reconcile_interval)?,
                reconcile_after: duration(var("RECONCILE_AFTER"), "RECONCILE_AFTER", jobs.reconcile_after)?,
                enabled: parse(var("BACKGROUND_JOBS"), "BACKGROUND_JOBS", Some(jobs.enabled))?,
            },
            live,
            market_pages: {
                let defaults = PageCacheSettings::default();
                PageCacheSettings {
                    max_age: match duration(var("MARKET_PAGE_MAX_AGE"), "MARKET_PAGE_MAX_AGE", defaults.max_age)? {
                        age if age > PageCacheSettings::LONGEST_AGE => {
                            return Err(ConfigError {
                                name: "MARKET_PAGE_MAX_AGE",
                                reason: format!(
                                    "must be at most {}s: what no change records shows on a kept page that late",
                                    PageCacheSettings::LONGEST_AGE.as_secs()
                                ),
                            });
                        }
                        age => age,
                    },
                    bytes: parse(var("MARKET_PAGE_CACHE_BYTES"), "MARKET_PAGE_CACHE_BYTES", Some(defaults.bytes))?,
                }
            },
            mail: MailSettings {
                smtp_url: var("SMTP_URL"),
                from: var("MAIL_FROM").unwrap_or_else(|| "Ticket Exchange <tickets@localhost>".into()),
                mail_dir: var("MAIL_DIR").unwrap_or_else(|| "mail".into()).into(),
                claim_timeout: duration(var("EMAIL_CLAIM_TIMEOUT"), "EMAIL_CLAIM_TIMEOUT", Duration::from_secs(300))?,
            },
            stripe: match var("STRIPE_SECRET_KEY") {
                None => None,
                Some(secret_key) => Some(StripeSettings {
                    secret_key,
                    publishable_key: var("STRIPE_PUBLISHABLE_KEY").ok_or(ConfigError {
                        name: "STRIPE_PUBLISHABLE_KEY",
                        reason: "must be set with STRIPE_SECRET_KEY".into(),
                    })?,
                    webhook_secret: var("STRIPE_WEBHOOK_SECRET").ok_or(ConfigError {
                        name: "STRIPE_WEBHOOK_SECRET",
                        reason: "must be set with STRIPE_SECRET_KEY".into(),
                    })?,
                    connect_webhook_secret: var("STRIPE_CONNECT_WEBHOOK_SECRET"),
                    api_base: var("STRIPE_API_BASE"),
                    js_url: var("STRIPE_JS_URL").unwrap_or_else(|| "https://js.stripe.com/v3/".into()),
                }),
            },
            web_dir: var("WEB_DIR").map(Into::into),
            cors_origins: var("CORS_ORIGINS")
                .unwrap_or_else(|| "tauri://localhost,http://tauri.localhost,https://tauri.localhost".into())
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                .filter(|origin| !origin.is_empty())
                .collect(),
            trust_forwarded_for: parse(var("TRUST_FORWARDED_FOR"), "TRUST_FORWARDED_FOR", Some(false))?,
            rate_limit_per_minute: parse(var("RATE_LIMIT_PER_MINUTE"), "RATE_LIMIT_PER_MINUTE", Some(600))?,
            max_body_bytes: parse(var("MAX_BODY_BYTES"), "MAX_BODY_BYTES", Some(64 * 1024))?,
            shutdown_grace: duration(var("SHUTDOWN_GRACE"), "SHUTDOWN_GRACE", Duration::from_secs(30))?,
            log_json: match var("LOG_FORMAT").as_deref() {
                None | Some("text") => false,
                Some("json") => true,
                Some(_) => {
                    return Err(ConfigError { name: "LOG_FORMAT", reason: "must be `text` or `json`".into() });
                }
            },
        })
    }

    /// Whether cookies must carry the `Secure` flag.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

fn parse<T: std::str::FromStr>(value: Option<String>, name: &'static str, default: Option<T>) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match value {
        Some(raw) => raw.trim().parse().map_err(|err: T::Err| ConfigError { name, reason: err.to_string() }),
        None => default.ok_or(ConfigError { name, reason: "must be set".into() }),
    }
}

fn duration(value: Option<String>, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match value {
        Some(raw) => humantime::parse_duration(raw.trim()).map_err(|err| ConfigError { name, reason: err.to_string() }),
        None => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned()))
    }

    #[test]
    fn defaults_apply_when_only_the_database_is_given() {
        let config = config(&[("DATABASE_URL", "postgres://localhost/db")]).expect("valid");
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert!(!config.secure_cookies());
        assert_eq!(config.login_throttle.max_per_account, 5);
    }

    #[test]
    fn https_public_url_makes_cookies_secure() {
        let config =
            config(&[("DATABASE_URL", "postgres://x"), ("PUBLIC_URL", "https://tickets.example/")]).expect("valid");
        assert_eq!(config.public_url, "https://tickets.example");
        assert!(config.secure_cookies());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("DATABASE_URL", "postgres://x"), ("SESSION_MAX_AGE", "forever")]).expect_err("invalid");
        assert!(err.to_string().contains("SESSION_MAX_AGE"));
        assert!(config(&[]).expect_err("missing").to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn a_kept_page_may_be_at_most_a_minute_old() {
        let page_age = |age| config(&[("DATABASE_URL", "postgres://x"), ("MARKET_PAGE_MAX_AGE", age)]);
        assert_eq!(page_age("60s").expect("valid").market_pages.max_age, Duration::from_secs(60));
        let err = page_age("61s").expect_err("too old");
        assert!(err.to_string().contains("MARKET_PAGE_MAX_AGE"), "{err}");
    }
}
