//! `sluice topics`: topics, partitions, offsets, sizes; `--verify` is the fsck.

use super::admin::{human_bytes, open_read_only, write_table};
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `sluice topics`.
#[derive(Debug, clap::Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
    /// Check every batch CRC and every index (fsck); exit 1 if anything is wrong.
    #[arg(long)]
    pub verify: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sluice topics` (read-only: safe while `sluice run` writes the directory).
pub fn execute(args: TopicsArgs) -> anyhow::Result<ExitCode> {
    let store = open_read_only(&args.data_dir.data_dir)?;
    let mut rows = Vec::new();
    let mut json_topics = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for name in store.topic_names()? {
        let Some(topic) = store.topic(&name)? else {
            continue;
        };
        let stats = topic.stats();
        let mut parts = Vec::new();
        for p in &stats.partitions {
            rows.push(vec![
                name.clone(),
                p.partition.to_string(),
                p.start_offset.to_string(),
                p.end_offset.to_string(),
                (p.end_offset - p.start_offset).to_string(),
                human_bytes(p.bytes),
                p.segments.to_string(),
            ]);
            parts.push(serde_json::json!({
                "partition": p.partition,
                "start": p.start_offset,
                "end": p.end_offset,
                "records": p.end_offset - p.start_offset,
                "bytes": p.bytes,
                "segments": p.segments,
                "dropped": p.dropped_records,
                "retention_floor": p.retention_floor,
            }));
        }
        let mut topic_problems = Vec::new();
        if args.verify {
            let report = topic.verify();
            for problem in &report.problems {
                topic_problems.push(problem.to_string());
            }
        }
        problems.extend(topic_problems.iter().map(|p| format!("{name}: {p}")));
        let mut obj = serde_json::json!({ "topic": name, "partitions": parts });
        if args.verify {
            obj["problems"] = topic_problems.into();
        }
        json_topics.push(obj);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        // Serialise first: a closed stdout must surface as an io::Error (exit 0 on EPIPE).
        let text = serde_json::to_string_pretty(&json_topics)?;
        writeln!(out, "{text}")?;
    } else {
        write_table(
            &mut out,
            &[
                "TOPIC",
                "PARTITION",
                "START",
                "END",
                "RECORDS",
                "SIZE",
                "SEGMENTS",
            ],
            &rows,
        )?;
        if args.verify {
            if problems.is_empty() {
                writeln!(out, "verify: OK, no problems found")?;
            } else {
                for p in &problems {
                    writeln!(out, "PROBLEM {p}")?;
                }
            }
        }
    }
    out.flush()?;
    if !problems.is_empty() {
        eprintln!("verify: {} problem(s) found", problems.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
