//! `sluice run`.

use std::process::ExitCode;

/// Arguments of `sluice run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: super::ConfigArg,
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
}

/// Runs `sluice run`.
pub fn execute(_args: RunArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("run")
}
