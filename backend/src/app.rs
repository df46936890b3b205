//! The running server: the HTTP server around [`AppState`], its background jobs, and the outbox
//! consumers it runs.

use std::sync::Arc;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::db;
use crate::notifications;
use crate::outbox::{Dispatcher, RetryPolicy, consumers};
use crate::state::AppState;
use crate::{http, jobs, live, payments, payouts};

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let database = config.database()?;
    let applied = db::run_migrations(&database).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied database migrations");
    }
    let pool = db::connect(&database, config.database_pool_size)?;
    let state = AppState::new(pool, Arc::new(SystemClock), config.clone())?;
    if state.payments.is_none() {
        tracing::warn!("STRIPE_SECRET_KEY is not set: payment operations will answer 503");
    }
    if config.mail.smtp_url.is_none() {
        tracing::info!(dir = %config.mail.mail_dir.display(), "SMTP_URL is not set: emails are written as .eml files");
    }
    let mut scheduler = if config.jobs.enabled {
        Some(jobs::start(state.clone(), dispatcher(&state)).await?)
    } else {
        tracing::info!("background jobs disabled (BACKGROUND_JOBS=false)");
        None
    };
    let acceptor = TcpListener::bind(config.bind_addr).into_acceptor().await?;
    let local = acceptor.local_addr();
    tracing::info!(addr = ?local, public_url = %config.public_url, "listening");
    let grace = state.config.shutdown_grace;
    let served = run(acceptor, state, shutdown_signal()).await;
    if let Some(jobs) = scheduler.take() {
        jobs.stop(grace).await?;
    }
    served
}

/// The outbox dispatcher with every consumer this process runs.
pub fn dispatcher(state: &AppState) -> Dispatcher {
    let policy = RetryPolicy { max_attempts: state.config.jobs.outbox_max_attempts, ..RetryPolicy::default() };
    let (notifier, seller_notifier) = (state.notifier.clone(), state.notifier.clone());
    let dispatcher = Dispatcher::new(state.pool.clone(), state.clock.clone(), policy)
        .register(consumers::EMAIL, move |delivery| notifications::send_order_email(notifier.clone(), delivery))
        .register(consumers::SELLER_EMAIL, move |delivery| {
            notifications::send_seller_email(seller_notifier.clone(), delivery)
        });
    // Without Stripe, payment events wait (undelivered) for a process that has it.
    let Some(stripe) = state.payments.clone() else {
        return dispatcher;
    };
    let (pool, clock) = (state.pool.clone(), state.clock.clone());
    let (cancel_stripe, cancel_pool, cancel_clock) = (stripe.clone(), pool.clone(), clock.clone());
    let (lapse_stripe, lapse_pool, lapse_clock) = (stripe.clone(), pool.clone(), clock.clone());
    let (transfer_stripe, transfer_pool, transfer_clock) = (stripe.clone(), pool.clone(), clock.clone());
    let (reverse_stripe, reverse_pool, reverse_clock) = (stripe.clone(), pool.clone(), clock.clone());
    dispatcher
        .register(consumers::CANCEL_PAYMENT, move |delivery| {
            payments::cancel_intent_for_order(
                cancel_stripe.clone(),
                cancel_pool.clone(),
                cancel_clock.clone(),
                delivery,
            )
        })
        .register(consumers::RESOLVE_LAPSED_HOLD, move |delivery| {
            payments::resolve_lapsed_hold(lapse_stripe.clone(), lapse_pool.clone(), lapse_clock.clone(), delivery)
        })
        .register(consumers::REFUND_PAYMENT, move |delivery| {
            payments::refund_late_payment(stripe.clone(), pool.clone(), clock.clone(), delivery)
        })
        .register(consumers::TRANSFER_SHARE, move |delivery| {
            payouts::transfer_due_share(
                transfer_stripe.clone(),
                transfer_pool.clone(),
                transfer_clock.clone(),
                delivery,
            )
        })
        .register(consumers::REVERSE_SHARE, move |delivery| {
            payouts::reverse_refunded_share(
                reverse_stripe.clone(),
                reverse_pool.clone(),
                reverse_clock.clone(),
                delivery,
            )
        })
}

/// Serves `state` on an already bound acceptor until `shutdown` resolves.
pub async fn run(
    acceptor: TcpAcceptor,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let grace = state.config.shutdown_grace;
    // Hand-overs apply the rules recorded here; with the database away, they are recorded as soon as
    // it answers.
    if let Err(err) = crate::waitlist::publish_rules(&state.pool, &state.config.orders).await {
        tracing::warn!(error = %err, "cannot record the hold rules for waitlist hand-overs yet; retrying");
        tokio::spawn(crate::waitlist::publish_rules_until_recorded(
            state.pool.clone(),
            state.config.orders,
            state.live.closed(),
        ));
    }
    let live = live::start(&state).await?;
    let hub = state.live.clone();
    let live_hub = state.live.clone();
    // Open streams never end by themselves: they are ended when the server stops accepting.
    let shutdown = async move {
        shutdown.await;
        hub.close();
    };
    let routes = http::routes(state);
    let served =
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(routes, shutdown, Some(grace)).await;
    // Also when serving failed before any shutdown was asked for.
    live_hub.close();
    live.stopped().await;
    served?;
    tracing::info!("server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
