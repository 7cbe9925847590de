//! `sluice produce`.

use std::process::ExitCode;

/// Arguments of `sluice produce`.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// The topic (created if missing).
    pub topic: String,
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
    /// Key of every record (records with one key keep their order in one partition).
    #[arg(long)]
    pub key: Option<String>,
    /// Partitions of the topic when it is created.
    #[arg(long, default_value_t = 1)]
    pub partitions: u32,
    /// Acknowledgement level: 0, 1 (written) or all (fsync'd).
    #[arg(long, default_value = "all")]
    pub acks: String,
}

/// Runs `sluice produce`.
pub fn execute(_args: ProduceArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("produce")
}
