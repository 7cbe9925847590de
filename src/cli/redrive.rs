//! `sluice redrive`.

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
pub fn execute(_args: RedriveArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("redrive")
}
