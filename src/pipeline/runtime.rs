//! The daemon: every pipeline's shipper, workers and the HTTP server, supervised, with an
//! orderly shutdown.
//!
//! Shutdown order (first SIGINT/SIGTERM): sources stop reading and write their final
//! checkpoint once their pending sends are acknowledged; then workers finish and commit their
//! in-flight batch; then the HTTP server stops. All of it within `shutdown_timeout`; a second
//! signal (or the timeout) returns at once, which is still safe: the next start resumes from the
//! last commit and checkpoint.

use super::output::ProducerOutput;
use super::status::{PipelineState, RuntimeStatus};
use super::worker::{WorkerShared, run_worker};
use super::{DeadLetterWriter, PipelineError, PipelineSpec, SourceSpec};
use crate::source::{ShipperOutput, run_file_source, run_stdin_source};
use crate::store::{Producer, Store};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a failed stage waits before it is restarted.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// Options of [`Runtime::run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where the HTTP server listens; `None` serves no HTTP.
    pub listen: Option<SocketAddr>,
    /// How long a graceful shutdown may take. Default: 30 s.
    pub shutdown_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            listen: None,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Runs pipelines against one store.
pub struct Runtime {
    store: Arc<Store>,
    specs: Vec<PipelineSpec>,
    options: RunOptions,
}

impl Runtime {
    /// A runtime for `specs` on `store`.
    pub fn new(store: Arc<Store>, specs: Vec<PipelineSpec>, options: RunOptions) -> Self {
        Runtime {
            store,
            specs,
            options,
        }
    }

    /// Runs until `shutdown` fires, then drains; returns early if `abort` fires during the
    /// drain. `metrics` renders `/metrics` if given.
    pub async fn run(
        self,
        shutdown: CancellationToken,
        abort: CancellationToken,
        metrics: Option<crate::server::MetricsHandle>,
    ) -> Result<(), PipelineError> {
        let status = Arc::new(RuntimeStatus::new(self.store.clone()));
        let sources_cancel = CancellationToken::new();
        let workers_cancel = CancellationToken::new();
        let http_cancel = CancellationToken::new();
        let sources = TaskTracker::new();
        let workers = TaskTracker::new();

        for spec in &self.specs {
            // Once per pipeline: Elasticsearch's version is logged; `healthcheck: required`
            // stops the start here.
            (spec.sink)()?.healthcheck().await?;
            let state = status.add_pipeline(spec);
            let topic = self
                .store
                .create_topic(&spec.topic, spec.topic_config.clone())?;
            let dead = DeadLetterWriter::open(&self.store, &spec.topic)?;
            let producer = Producer::new(topic, spec.producer.clone());
            let output: Arc<dyn ShipperOutput> =
                Arc::new(ProducerOutput::new(producer, spec.key.clone()));
            let checkpoint_dir = self.store.dir().join("sources").join(&spec.name);
            sources.spawn(supervise_source(
                spec.clone(),
                checkpoint_dir,
                output,
                state.clone(),
                sources_cancel.clone(),
            ));
            let shared = Arc::new(WorkerShared {
                pipeline: spec.name.clone(),
                topic: spec.topic.clone(),
                cleaner: spec.cleaner.clone(),
                dead,
                poll_bytes: spec.poll_bytes,
                commit_interval: spec.commit_interval,
            });
            for id in 0..spec.workers.max(1) {
                workers.spawn(supervise_worker(
                    self.store.clone(),
                    spec.clone(),
                    shared.clone(),
                    id,
                    state.clone(),
                    workers_cancel.clone(),
                ));
            }
            state.set_running();
            tracing::info!(pipeline = %spec.name, topic = %spec.topic, workers = spec.workers, sink = %spec.sink_description, "pipeline started");
        }
        sources.close();
        workers.close();

        let http: Option<JoinHandle<std::io::Result<()>>> = match self.options.listen {
            Some(addr) => {
                let listener =
                    tokio::net::TcpListener::bind(addr)
                        .await
                        .map_err(|e| PipelineError::Http {
                            addr: addr.to_string(),
                            source: e,
                        })?;
                tracing::info!(%addr, "http: /health /ready /metrics /api/* and the console");
                Some(tokio::spawn(crate::server::serve(
                    listener,
                    status.clone(),
                    metrics,
                    http_cancel.clone(),
                )))
            }
            None => None,
        };

        shutdown.cancelled().await;
        tracing::info!(timeout = ?self.options.shutdown_timeout, "shutting down: draining in-flight batches");
        status.set_stopping();
        let drain = async {
            sources_cancel.cancel();
            sources.wait().await;
            workers_cancel.cancel();
            workers.wait().await;
        };
        tokio::select! {
            _ = drain => tracing::info!("drained; checkpoints and offsets committed"),
            _ = tokio::time::sleep(self.options.shutdown_timeout) => {
                tracing::warn!("shutdown timeout: exiting with batches in flight (they will be redelivered)");
            }
            _ = abort.cancelled() => tracing::warn!("second signal: exiting now (the next start resumes from the last commit)"),
        }
        http_cancel.cancel();
        if let Some(h) = http {
            let _ = h.await;
        }
        Ok(())
    }
}

async fn supervise_source(
    spec: PipelineSpec,
    checkpoint_dir: PathBuf,
    output: Arc<dyn ShipperOutput>,
    state: Arc<PipelineState>,
    cancel: CancellationToken,
) {
    loop {
        let task = {
            let spec = spec.clone();
            let dir = checkpoint_dir.clone();
            let output = output.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                match spec.source {
                    SourceSpec::File(cfg) => {
                        run_file_source(&spec.name, cfg, dir, output, cancel).await
                    }
                    SourceSpec::Stdin(cfg) => {
                        run_stdin_source(&spec.name, cfg, output, cancel).await
                    }
                }
            })
        };
        match task.await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => {
                tracing::error!(pipeline = %spec.name, error = %e, "source failed; restarting");
                state.record_failure("source", &e.to_string());
            }
            Err(e) => {
                tracing::error!(pipeline = %spec.name, error = %e, "source panicked; restarting");
                state.record_failure("source", &e.to_string());
            }
        }
        metrics::counter!("sluice_stage_restarts_total", "pipeline" => spec.name.clone(), "stage" => "source").increment(1);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RESTART_DELAY) => {}
        }
    }
}

async fn supervise_worker(
    store: Arc<Store>,
    spec: PipelineSpec,
    shared: Arc<WorkerShared>,
    id: usize,
    state: Arc<PipelineState>,
    cancel: CancellationToken,
) {
    loop {
        let attempt = async {
            let topic = store
                .topic(&spec.topic)?
                .ok_or_else(|| PipelineError::Build {
                    pipeline: spec.name.clone(),
                    reason: format!("topic {} vanished", spec.topic),
                })?;
            let member = store
                .groups()
                .join(&spec.group, topic, spec.member.clone())?;
            let sink = (spec.sink)()?;
            Ok::<_, PipelineError>(tokio::spawn(run_worker(
                shared.clone(),
                member,
                sink,
                cancel.clone(),
            )))
        };
        let outcome = match attempt.await {
            Ok(task) => match task.await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e.to_string(),
                Err(e) => format!("panicked: {e}"),
            },
            Err(e) => e.to_string(),
        };
        tracing::error!(pipeline = %spec.name, worker = id, error = %outcome, "worker failed; restarting from the last commit");
        state.record_failure("cleaner", &outcome);
        metrics::counter!("sluice_stage_restarts_total", "pipeline" => spec.name.clone(), "stage" => "cleaner").increment(1);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RESTART_DELAY) => {}
        }
    }
}
