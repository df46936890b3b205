//! [`AppState`]: what every request handler, job and consumer can reach.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::config::Config;
use crate::db::DbPool;
use crate::listings::market_pages::MarketPages;
use crate::live::Hub;
use crate::metrics::Metrics;
use crate::notifications::{Mailer, Notifier};
use crate::orders::ReservationBatches;
use crate::payments::Payments;
use crate::ticket_files::{DatabaseFileStore, FileStore};

/// What every request handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    /// Stripe, when configured.
    pub payments: Option<Arc<Payments>>,
    pub notifier: Arc<Notifier>,
    pub metrics: Arc<Metrics>,
    /// Where ticket files are kept (the database, by default).
    pub files: Arc<dyn FileStore>,
    /// This process's streams of listing changes.
    pub live: Arc<Hub>,
    /// The market's pages, kept while nothing can have changed them.
    pub market_pages: MarketPages,
    /// Reservations on their way to the database, in batches.
    pub reservations: ReservationBatches,
}

impl AppState {
    pub fn new(pool: DbPool, clock: Arc<dyn Clock>, config: Config) -> anyhow::Result<Arc<Self>> {
        let payments = match &config.stripe {
            Some(settings) => Some(Arc::new(Payments::new(settings.clone(), config.payouts)?)),
            None => None,
        };
        let metrics = Arc::new(Metrics::default());
        let files: Arc<dyn FileStore> = Arc::new(DatabaseFileStore { pool: pool.clone() });
        let notifier = Arc::new(Notifier {
            metrics: metrics.clone(),
            mailer: Mailer::new(&config.mail)?,
            pool: pool.clone(),
            clock: clock.clone(),
            files: files.clone(),
            public_url: config.public_url.clone(),
            hold_minutes: config.orders.hold.as_secs() / 60,
            claim_timeout: chrono::TimeDelta::from_std(config.mail.claim_timeout).unwrap_or(chrono::TimeDelta::MAX),
        });
        // Streams reading the log (a reconnect, or one that fell behind) take at most a quarter of
        // the pool between them, so a crowd reconnecting at once leaves the API its connections.
        let log_readers = (config.database_pool_size / 4).max(1);
        let live = Arc::new(Hub::new(config.live.max_subscribers, log_readers));
        let market_pages = MarketPages::new(config.market_pages);
        let reservations = ReservationBatches::new(pool.clone(), config.orders);
        Ok(Arc::new(Self { pool, clock, config, payments, notifier, metrics, files, live, market_pages, reservations }))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
