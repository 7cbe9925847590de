//! `sluice validate`: load every pipeline, print every error (exit 2) or a summary (exit 0).

use crate::config::{self, PipelinePlan, plan::SinkPlan, plan::SourceKind};
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `sluice validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: super::ConfigArg,
}

/// Runs `sluice validate`.
pub fn execute(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    match config::load(&args.config.config) {
        Ok(plans) => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{}: {} pipeline(s) OK",
                args.config.config.display(),
                plans.len()
            )?;
            for p in &plans {
                writeln!(out, "{}", summary(p))?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            let mut err = std::io::stderr().lock();
            for e in errors.errors() {
                writeln!(err, "error: {e}")?;
            }
            writeln!(err, "{} error(s) in the configuration", errors.len())?;
            Ok(ExitCode::from(2))
        }
    }
}

/// One line describing a pipeline: source → topic → cleaner → sink.
pub fn summary(p: &PipelinePlan) -> String {
    let source = match p.source.kind {
        SourceKind::File => format!("files {}", p.source.paths.join(", ")),
        SourceKind::Stdin => "stdin".to_string(),
    };
    let sink = match &p.sink {
        SinkPlan::Stdout => "stdout".to_string(),
        SinkPlan::File(f) => format!("file {}", f.path.display()),
        SinkPlan::Search(s) => format!(
            "{} {} index {}",
            if s.kind == config::plan::SinkKind::Opensearch {
                "opensearch"
            } else {
                "elasticsearch"
            },
            s.hosts.join(","),
            s.index
        ),
    };
    format!(
        "  {} ({}): {} -> topic {} ({} partition(s)) -> group {} ({} worker(s), {} step(s)) -> {}",
        p.name,
        p.file.display(),
        source,
        p.buffer.topic,
        p.buffer.partitions,
        p.cleaner.group,
        p.cleaner.workers,
        p.cleaner.steps.len(),
        sink
    )
}
