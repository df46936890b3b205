//! Background work on a schedule (tokio-cron-scheduler): the expiry sweep, the outbox dispatcher and
//! payment reconciliation.
//!
//! The scheduler only calls idempotent functions that tests call directly; every replica runs both
//! jobs, and the database keeps them from doing the same work twice. A tick that finds the previous
//! run of its job still going is skipped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::orders::sweep::sweep_lapsed_holds;
use crate::outbox::Dispatcher;
use crate::payments::reconcile::reconcile;
use crate::state::AppState;

/// The running jobs.
pub struct Jobs {
    scheduler: JobScheduler,
    /// Held by a job while it runs.
    running: Vec<Arc<Mutex<()>>>,
}

impl Jobs {
    /// Stops starting jobs, then waits up to `grace` for those running to finish, so a delivery in
    /// flight (an email handed to SMTP, a Stripe call) is recorded before the process exits.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        self.scheduler.shutdown().await?;
        let finished = async {
            for running in &self.running {
                drop(running.lock().await);
            }
        };
        if tokio::time::timeout(grace, finished).await.is_err() {
            tracing::warn!("background jobs still running after the shutdown grace; stopping anyway");
        }
        Ok(())
    }
}

/// Starts the jobs; they run until [`Jobs::stop`].
pub async fn start(state: Arc<AppState>, dispatcher: Dispatcher) -> anyhow::Result<Jobs> {
    let scheduler = JobScheduler::new().await?;
    let mut running = Vec::new();
    let settings = state.config.jobs;
    let state_for_reconcile = state.clone();

    scheduler
        .add(repeated(&mut running, settings.sweep_interval, move || {
            let state = state.clone();
            async move {
                let swept = sweep_lapsed_holds(&state.pool, state.now(), settings.sweep_batch).await;
                state.metrics.record_sweep(swept.as_ref().ok().copied());
                match swept {
                    Ok(0) => {}
                    Ok(ended) => tracing::info!(ended, "released lapsed holds"),
                    Err(err) => tracing::warn!(error = %err, "expiry sweep failed"),
                }
            }
        })?)
        .await?;

    scheduler
        .add(repeated(&mut running, settings.outbox_interval, move || {
            let dispatcher = dispatcher.clone();
            async move {
                match dispatcher.dispatch_due(100).await {
                    Ok(report) if report.attempted() > 0 => tracing::debug!(?report, "dispatched events"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "event dispatch failed"),
                }
            }
        })?)
        .await?;

    if let Some(payments) = state_for_reconcile.payments.clone() {
        let state = state_for_reconcile;
        scheduler
            .add(repeated(&mut running, settings.reconcile_interval, move || {
                let (state, payments) = (state.clone(), payments.clone());
                async move {
                    match reconcile(&payments, &state.pool, state.now(), state.config.jobs.reconcile_after).await {
                        Ok(report) if report.checked > 0 => tracing::info!(?report, "reconciled payments"),
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "payment reconciliation failed"),
                    }
                }
            })?)
            .await?;
    }

    scheduler.start().await?;
    Ok(Jobs { scheduler, running })
}

/// A job that runs `work` every `every` (at least a second), skipping a tick while the previous run is
/// still going; the lock it holds while running joins `running`.
fn repeated<F, Fut>(
    running: &mut Vec<Arc<Mutex<()>>>,
    every: Duration,
    work: F,
) -> Result<Job, tokio_cron_scheduler::JobSchedulerError>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let lock = Arc::new(Mutex::new(()));
    running.push(lock.clone());
    let running = lock;
    let work = Arc::new(work);
    // The scheduler counts in whole seconds.
    let every = every.max(Duration::from_secs(1));
    Job::new_repeated_async(every, move |_id, _scheduler| {
        let running = running.clone();
        let work = work.clone();
        Box::pin(async move {
            if let Ok(_guard) = running.try_lock() {
                work().await;
            }
        })
    })
}
