//! `sluice consume`.

use std::process::ExitCode;

/// Arguments of `sluice consume`.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// The topic to read.
    pub topic: String,
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
    /// Resume from and commit this consumer group's offsets.
    #[arg(long)]
    pub group: Option<String>,
    /// Without a group: start at the earliest offset (default: only new records with --follow,
    /// everything otherwise).
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop after this many records.
    #[arg(long)]
    pub max: Option<u64>,
    /// Wait for new records at the end instead of stopping.
    #[arg(long)]
    pub follow: bool,
    /// Print JSON objects (partition, offset, timestamp, key, value) instead of values.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sluice consume`.
pub fn execute(_args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("consume")
}
