//! `sluice run`: every pipeline of the configuration until SIGINT/SIGTERM, then drain.

use super::{ConfigArg, DataDirArg, UsageError};
use crate::pipeline::{RunOptions, Runtime, build};
use crate::store::Store;
use anyhow::Context;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Arguments of `sluice run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// HTTP address for /health, /ready, /metrics, the JSON API and the console
    /// (loopback by default; `off` serves no HTTP).
    #[arg(long, env = "SLUICE_LISTEN", default_value = crate::server::DEFAULT_LISTEN)]
    pub listen: String,
    /// How long a graceful shutdown may take before sluice exits anyway.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::config::units::parse_duration(s)
}

/// Runs `sluice run`.
pub fn execute(args: RunArgs) -> anyhow::Result<ExitCode> {
    let plans = crate::config::load(&args.config.config).map_err(|errs| {
        eprint!("{errs}");
        UsageError(format!(
            "{} configuration error(s) in {}",
            errs.len(),
            args.config.config.display()
        ))
    })?;
    if plans.is_empty() {
        return Err(UsageError(format!(
            "no pipelines found in {} (expected *.yaml or *.yml files)",
            args.config.config.display()
        ))
        .into());
    }
    let listen: Option<SocketAddr> = match args.listen.as_str() {
        "off" | "none" | "" => None,
        s => Some(
            s.parse()
                .map_err(|e| UsageError(format!("--listen {s}: {e}")))?,
        ),
    };
    std::fs::create_dir_all(&args.data_dir.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.data_dir.display()))?;
    let store = Arc::new(Store::open(&args.data_dir.data_dir).with_context(|| {
        format!(
            "opening the data directory {}",
            args.data_dir.data_dir.display()
        )
    })?);
    let specs = plans
        .iter()
        .map(build::spec_from_plan)
        .collect::<Result<Vec<_>, _>>()?;
    let metrics = crate::server::install_metrics();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let abort = CancellationToken::new();
        spawn_signal_handler(shutdown.clone(), abort.clone())?;
        let rt = Runtime::new(
            store,
            specs,
            RunOptions {
                listen,
                shutdown_timeout: args.shutdown_timeout,
            },
        );
        rt.run(shutdown, abort, metrics).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// First SIGINT/SIGTERM: graceful shutdown. Second: exit now.
fn spawn_signal_handler(
    shutdown: CancellationToken,
    abort: CancellationToken,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                tracing::info!("signal received: draining (send another to exit now)");
                shutdown.cancel();
            } else {
                abort.cancel();
                return;
            }
        }
    });
    Ok(())
}
