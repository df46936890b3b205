//! A real Stripe-compatible server (localstripe, from PyPI) for the test that needs one, started per
//! test, in memory only, so nothing is shared. `cargo xtask test` installs it and names the Python
//! that has it in `TEST_TOOLS_PYTHON`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::manifest_dir;

pub const SECRET_KEY: &str = "sk_test_ticket_exchange";
pub const PUBLISHABLE_KEY: &str = "pk_test_ticket_exchange";
pub const WEBHOOK_SECRET: &str = "whsec_ticket_exchange_tests";

pub struct LocalStripe {
    child: Child,
    pub port: u16,
    pub url: String,
    client: reqwest::Client,
}

impl LocalStripe {
    pub async fn start() -> Self {
        // A port free now may be taken by another test's server before localstripe binds it; then
        // localstripe exits, and it is started again on another port.
        super::listening::on_a_free_port("localstripe", Self::launch).await
    }

    pub async fn start_on(port: u16) -> Self {
        match Self::launch(port).await {
            Some(server) => server,
            None => panic!("localstripe could not listen on port {port}:\n{}", Self::log(port)),
        }
    }

    fn log_path(port: u16) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("localstripe-{port}-{}.log", std::process::id()))
    }

    fn log(port: u16) -> String {
        std::fs::read_to_string(Self::log_path(port)).unwrap_or_default()
    }

    /// Starts localstripe on `port` and waits until it answers there as localstripe; `None` if it
    /// exits first (the port was taken).
    async fn launch(port: u16) -> Option<Self> {
        let python = std::env::var("TEST_TOOLS_PYTHON")
            .expect("TEST_TOOLS_PYTHON is not set: run the tests with `cargo xtask test`, which installs localstripe");
        let launcher = manifest_dir().join("../xtask/run_localstripe.py");
        let child = Command::new(python)
            .arg(launcher)
            .args(["--port", &port.to_string()])
            .env_remove("LOCALSTRIPE_STORE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(Self::log_path(port)).map_or_else(|_| Stdio::null(), Stdio::from))
            .spawn()
            .expect("start localstripe");
        let mut server = Self { child, port, url: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() };
        // Bounded wait for the process to listen; nothing else here waits. Only this localstripe's
        // answer counts: another server may hold the port (another test's localstripe among them).
        for _ in 0..600 {
            let listing =
                server.client.get(format!("{}/v1/customers", server.url)).basic_auth(SECRET_KEY, Some("")).send().await;
            if listing.is_ok_and(|response| response.status().is_success())
                && super::listening::listens_on(server.child.id(), port)
            {
                return Some(server);
            }
            if server.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("localstripe did not start on port {port}:\n{}", Self::log(port));
    }

    /// Has localstripe sign and send its events to `url`.
    pub async fn register_webhook(&self, url: &str) {
        let response = self
            .client
            .post(format!("{}/_config/webhooks/ticket-exchange", self.url))
            .form(&[("url", url), ("secret", WEBHOOK_SECRET)])
            .send()
            .await
            .expect("register webhook");
        assert!(response.status().is_success(), "webhook registration failed: {}", response.status());
    }

    /// What Stripe.js `createToken` does with the card element's contents.
    pub async fn card_token(&self, number: &str) -> String {
        let body: Value = self
            .client
            .post(format!("{}/v1/tokens", self.url))
            .form(&[
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2031"),
                ("card[cvc]", "123"),
                ("key", PUBLISHABLE_KEY),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        body["id"].as_str().expect("token id").to_owned()
    }

    /// GET on localstripe's API with the secret key.
    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}/v1{path}", self.url))
            .basic_auth(SECRET_KEY, Some(""))
            .send()
            .await
            .expect("localstripe get")
            .json()
            .await
            .expect("json")
    }

    /// POST of a form on localstripe with the secret key (its Connect extension's controls too).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .basic_auth(SECRET_KEY, Some(""))
            .form(form)
            .send()
            .await
            .expect("localstripe post");
        assert!(response.status().is_success(), "localstripe refused {path}: {}", response.status());
        response.json().await.expect("json")
    }

    /// Refunds the PaymentIntent in full at localstripe itself, as someone in Stripe's dashboard would.
    pub async fn refund_directly(&self, intent: &str) {
        let made = self
            .client
            .post(format!("{}/v1/refunds", self.url))
            .basic_auth(SECRET_KEY, Some(""))
            .form(&[("payment_intent", intent)])
            .send()
            .await
            .expect("refund at localstripe");
        assert!(made.status().is_success(), "refund at localstripe: {}", made.status());
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        self.stop();
    }
}
