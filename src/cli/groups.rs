//! `sluice groups`.

use std::process::ExitCode;

/// Arguments of `sluice groups`.
#[derive(Debug, clap::Args)]
pub struct GroupsArgs {
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sluice groups`.
pub fn execute(_args: GroupsArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("groups")
}
