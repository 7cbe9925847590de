//! `sluice test`.

use std::process::ExitCode;

/// Arguments of `sluice test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The pipeline whose steps to run.
    pub pipeline: String,
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Input lines (a file, or `-` for stdin); default: the pipeline's `test_input`.
    #[arg(long)]
    pub input: Option<std::path::PathBuf>,
    /// Run the pipeline's `tests:` and exit 1 on a mismatch.
    #[arg(long)]
    pub check: bool,
}

/// Runs `sluice test`.
pub fn execute(_args: TestArgs) -> anyhow::Result<ExitCode> {
    super::not_implemented("test")
}
