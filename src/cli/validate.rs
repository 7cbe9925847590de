//! `sluice validate`.

use std::process::ExitCode;

/// Arguments of `sluice validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: super::ConfigArg,
}

/// Runs `sluice validate`.
pub fn execute(_args: ValidateArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("validate")
}
