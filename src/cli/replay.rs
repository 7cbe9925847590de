//! `sluice replay`.

use std::process::ExitCode;

/// Arguments of `sluice replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
    /// The consumer group to move.
    #[arg(long)]
    pub group: String,
    /// The topic whose offsets to move.
    #[arg(long)]
    pub topic: String,
    /// Move to the earliest offset still stored.
    #[arg(long, conflicts_with_all = ["to_offset", "to_time"], required_unless_present_any = ["to_offset", "to_time"])]
    pub to_earliest: bool,
    /// Move every partition to this offset (clamped to what is stored).
    #[arg(long, conflicts_with = "to_time")]
    pub to_offset: Option<u64>,
    /// Move to the first record at or after this time (RFC 3339).
    #[arg(long)]
    pub to_time: Option<String>,
}

/// Runs `sluice replay`.
pub fn execute(_args: ReplayArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("replay")
}
