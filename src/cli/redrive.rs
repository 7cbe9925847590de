//! `sluice redrive PIPELINE`: send a pipeline's dead letters back through its cleaner and sink.

use super::UsageError;
use crate::pipeline::build::spec_from_plan;
use crate::pipeline::redrive::redrive;
use anyhow::Context;
use std::process::ExitCode;

/// Arguments of `sluice redrive`.
#[derive(Debug, clap::Args)]
pub struct RedriveArgs {
    /// The pipeline whose dead letters to send back.
    pub pipeline: String,
    #[command(flatten)]
    pub config: super::ConfigArg,
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
}

/// Runs `sluice redrive`.
pub fn execute(args: RedriveArgs) -> anyhow::Result<ExitCode> {
    let plans = crate::config::load(&args.config.config).map_err(|errs| {
        eprint!("{errs}");
        UsageError(format!("{} configuration error(s)", errs.len()))
    })?;
    let Some(plan) = plans.iter().find(|p| p.name == args.pipeline) else {
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        return Err(UsageError(format!(
            "no pipeline named {:?} in {} (pipelines: {})",
            args.pipeline,
            args.config.config.display(),
            names.join(", ")
        ))
        .into());
    };
    let spec = spec_from_plan(plan)?;
    let store = super::admin::open_locked(&args.data_dir.data_dir, "redrive", true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(redrive(&store, &spec))?;
    println!(
        "redrive {}: {} dead letters read, {} delivered, {} refused again (back in {}.dead), {} dropped, {} unreadable",
        spec.name,
        report.read,
        report.delivered,
        report.dead_again,
        spec.topic,
        report.dropped,
        report.unreadable
    );
    Ok(if report.dead_again > 0 || report.unreadable > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
