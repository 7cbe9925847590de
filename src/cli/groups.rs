//! `sluice groups`: consumer groups with committed offset and lag per partition.

use super::admin::{open_read_only, write_table};
use crate::store::group::read_group_offsets;
use std::io::Write;
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

/// Runs `sluice groups` (read-only: safe while `sluice run` writes the directory).
pub fn execute(args: GroupsArgs) -> anyhow::Result<ExitCode> {
    let store = open_read_only(&args.data_dir.data_dir)?;
    let groups = read_group_offsets(&store)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        // Serialise first: a closed stdout must surface as an io::Error (exit 0 on EPIPE).
        let text = serde_json::to_string_pretty(&groups)?;
        writeln!(out, "{text}")?;
    } else {
        let mut rows = Vec::new();
        for g in &groups {
            for p in &g.partitions {
                rows.push(vec![
                    g.group.clone(),
                    g.topic.clone(),
                    p.partition.to_string(),
                    p.committed.map_or("-".to_string(), |c| c.to_string()),
                    p.start.to_string(),
                    p.end.to_string(),
                    p.lag.to_string(),
                ]);
            }
        }
        write_table(
            &mut out,
            &[
                "GROUP",
                "TOPIC",
                "PARTITION",
                "COMMITTED",
                "START",
                "END",
                "LAG",
            ],
            &rows,
        )?;
    }
    out.flush()?;
    for g in &groups {
        for problem in &g.problems {
            eprintln!("warning: group {} on {}: {problem}", g.group, g.topic);
        }
    }
    Ok(ExitCode::SUCCESS)
}
