//! `sluice topics`.

use std::process::ExitCode;

/// Arguments of `sluice topics`.
#[derive(Debug, clap::Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
    /// Check every batch CRC and every index (fsck).
    #[arg(long)]
    pub verify: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sluice topics`.
pub fn execute(_args: TopicsArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("topics")
}
