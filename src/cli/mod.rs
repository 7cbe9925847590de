//! The command line: one file per command. `main.rs` parses nothing itself; it calls [`run`]
//! and maps the result to an exit status (0 ok, 1 runtime failure, 2 usage or config error).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A usage or configuration error: the command exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Log pipelines in one binary: tail → durable log → clean → Elasticsearch.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data directory is (`--data-dir`, `SLUICE_DATA_DIR`, default `data/`).
#[derive(Debug, Clone, clap::Args)]
pub struct DataDirArg {
    /// The data directory (topics, groups, source checkpoints).
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

/// Where the pipeline configuration is (`--config`, default `pipelines/`).
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// A pipeline file, or a directory whose `*.yaml`/`*.yml` files are pipelines.
    #[arg(long, short = 'c', default_value = "pipelines")]
    pub config: PathBuf,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every pipeline until SIGINT/SIGTERM, then drain.
    Run(run::RunArgs),
    /// Check the configuration; errors name file:line:column.
    Validate(validate::ValidateArgs),
    /// Run a pipeline's cleaner steps over sample lines and print the resulting events.
    Test(test::TestArgs),
    /// Topics, partitions, offsets and sizes; `--verify` checks every batch and index (fsck).
    Topics(topics::TopicsArgs),
    /// Consumer groups: committed offset and lag per partition.
    Groups(groups::GroupsArgs),
    /// Move a consumer group's committed offsets (to re-clean a range after a fix).
    Replay(replay::ReplayArgs),
    /// Send a pipeline's dead letters back through its cleaner and sink.
    Redrive(redrive::RedriveArgs),
    /// Lines from stdin into a topic.
    Produce(produce::ProduceArgs),
    /// Records of a topic to stdout.
    Consume(consume::ConsumeArgs),
}

mod admin;
pub mod consume;
pub mod groups;
pub mod produce;
pub mod redrive;
pub mod replay;
pub mod run;
pub mod test;
pub mod topics;
pub mod validate;

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Run(a) => run::execute(a),
        Command::Validate(a) => validate::execute(a),
        Command::Test(a) => test::execute(a),
        Command::Topics(a) => topics::execute(a),
        Command::Groups(a) => groups::execute(a),
        Command::Replay(a) => replay::execute(a),
        Command::Redrive(a) => redrive::execute(a),
        Command::Produce(a) => produce::execute(a),
        Command::Consume(a) => consume::execute(a),
    }
}

/// Logs go to stderr through `tracing`; `RUST_LOG` sets the filter (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
