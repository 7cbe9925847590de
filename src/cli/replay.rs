//! `sluice replay`: move a consumer group's committed offsets (to re-clean a range).

use super::UsageError;
use super::admin::{open_locked, write_table};
use crate::store::group::SeekTo;
use std::io::Write;
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
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sluice replay`. Needs the data directory's lock: the group must not be running (as
/// Kafka refuses to reset the offsets of an active group).
pub fn execute(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let to = if let Some(t) = &args.to_time {
        let ts = chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| UsageError(format!("--to-time {t:?} is not RFC 3339: {e}")))?;
        SeekTo::Timestamp(ts.timestamp_millis())
    } else if let Some(o) = args.to_offset {
        SeekTo::Offset(o)
    } else {
        SeekTo::Earliest
    };
    crate::store::group::validate_group_name(&args.group).map_err(|e| UsageError(e.to_string()))?;
    let store = open_locked(&args.data_dir.data_dir, "replay", true)?;
    let topic = store
        .topic(&args.topic)?
        .ok_or_else(|| anyhow::anyhow!("no such topic: {}", args.topic))?;
    let before = store.groups().describe(&args.group, &topic)?;
    let after = store.groups().reset_offsets(&args.group, &topic, to)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let old = |p: u32| {
        before
            .partitions
            .iter()
            .find(|v| v.partition == p)
            .and_then(|v| v.committed)
    };
    if args.json {
        let rows: Vec<_> = after
            .iter()
            .map(|(&p, &o)| serde_json::json!({"partition": p, "previous": old(p), "committed": o, "end": topic.end_offset(p)}))
            .collect();
        // Serialise first: a closed stdout must surface as an io::Error (exit 0 on EPIPE).
        let text = serde_json::to_string_pretty(
            &serde_json::json!({"group": args.group, "topic": args.topic, "partitions": rows}),
        )?;
        writeln!(out, "{text}")?;
    } else {
        let rows: Vec<Vec<String>> = after
            .iter()
            .map(|(&p, &o)| {
                vec![
                    args.group.clone(),
                    args.topic.clone(),
                    p.to_string(),
                    old(p).map_or("-".into(), |c| c.to_string()),
                    o.to_string(),
                    topic.end_offset(p).saturating_sub(o).to_string(),
                ]
            })
            .collect();
        write_table(
            &mut out,
            &[
                "GROUP",
                "TOPIC",
                "PARTITION",
                "PREVIOUS",
                "COMMITTED",
                "LAG",
            ],
            &rows,
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
