//! `sluice consume`: records of a topic to stdout.

use super::UsageError;
use crate::event::Event;
use crate::store::group::GroupConfig;
use crate::store::{Store, StoredRecord, Topic};
use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `sluice consume`.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// The topic to read.
    pub topic: String,
    #[command(flatten)]
    pub data_dir: super::DataDirArg,
    /// Resume from and commit this consumer group's offsets (needs the data directory's lock).
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

const FETCH_BYTES: usize = 1 << 20;
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

/// Runs `sluice consume`.
pub fn execute(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    if let Some(group) = &args.group {
        crate::store::group::validate_group_name(group).map_err(|e| UsageError(e.to_string()))?;
    }
    if args.max == Some(0) {
        return Ok(ExitCode::SUCCESS);
    }
    match &args.group {
        Some(group) => {
            let store =
                super::admin::open_locked(&args.data_dir.data_dir, "consume --group", true)?;
            let topic = require_topic(&store, &args.topic)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the runtime")?;
            rt.block_on(consume_group(&store, topic, group, &args))?;
        }
        None => {
            let store = super::admin::open_read_only(&args.data_dir.data_dir)?;
            let topic = require_topic(&store, &args.topic)?;
            consume_plain(topic, &args)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn require_topic(store: &Store, name: &str) -> anyhow::Result<Arc<Topic>> {
    store
        .topic(name)?
        .ok_or_else(|| anyhow::anyhow!("no such topic: {name} (in {})", store.dir().display()))
}

/// With a group: resume from the committed offsets, commit what was printed.
async fn consume_group(
    store: &Store,
    topic: Arc<Topic>,
    group: &str,
    args: &ConsumeArgs,
) -> anyhow::Result<()> {
    let mut member = store
        .groups()
        .join(group, topic, GroupConfig::default())
        .context("cannot join the consumer group")?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    loop {
        let timeout = if args.follow {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
        let records = member.poll(FETCH_BYTES, timeout).await?;
        if records.is_empty() {
            if args.follow {
                continue;
            }
            break;
        }
        let mut next: BTreeMap<u32, u64> = BTreeMap::new();
        let mut done = false;
        for r in &records {
            write_record(&mut out, r, args.json)?;
            next.insert(r.partition, r.offset + 1);
            printed += 1;
            if args.max.is_some_and(|m| printed >= m) {
                done = true;
                break;
            }
        }
        // At least once: what is committed was written to stdout first.
        out.flush()?;
        let offsets: Vec<(u32, u64)> = next.into_iter().collect();
        member
            .commit_offsets(&offsets)
            .context("cannot commit the group's offsets")?;
        if done {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

/// Without a group: read-only, from the start (or the end with `--follow` alone).
fn consume_plain(topic: Arc<Topic>, args: &ConsumeArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let from_start = args.from_beginning || !args.follow;
    let mut positions: Vec<u64> = (0..topic.partition_count())
        .map(|p| {
            if from_start {
                topic.start_offset(p)
            } else {
                topic.end_offset(p)
            }
        })
        .collect();
    let mut printed = 0u64;
    loop {
        let mut progressed = false;
        for p in 0..topic.partition_count() {
            if p as usize >= positions.len() {
                positions.push(topic.start_offset(p));
            }
            loop {
                let pos = positions[p as usize];
                if pos >= topic.end_offset(p) {
                    break;
                }
                let fetched = match topic.fetch(p, pos, FETCH_BYTES) {
                    Ok(f) => f,
                    Err(crate::store::StoreError::OffsetOutOfRange { start, .. })
                        if pos < start =>
                    {
                        tracing::warn!(
                            partition = p,
                            from = pos,
                            to = start,
                            "records deleted by retention; skipping ahead"
                        );
                        positions[p as usize] = start;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let mut next = pos;
                for r in fetched.records.iter().filter(|r| r.offset >= pos) {
                    write_record(&mut out, r, args.json)?;
                    next = r.offset + 1;
                    printed += 1;
                    if args.max.is_some_and(|m| printed >= m) {
                        out.flush()?;
                        return Ok(());
                    }
                }
                let next = next.max(fetched.next_offset);
                if next <= pos {
                    break;
                }
                positions[p as usize] = next;
                progressed = true;
            }
        }
        out.flush()?;
        if !args.follow {
            return Ok(());
        }
        if !progressed {
            std::thread::sleep(FOLLOW_INTERVAL);
            // A read-only topic picks up what the writing process appended since the last look.
            topic
                .refresh()
                .with_context(|| format!("cannot follow topic {}", topic.name()))?;
        }
    }
}

/// Prints one record: its value (an event record as the JSON object of its fields) and a
/// newline, or a JSON object.
fn write_record(out: &mut impl Write, r: &StoredRecord, json: bool) -> std::io::Result<()> {
    if json {
        let mut obj = serde_json::Map::new();
        obj.insert("partition".into(), r.partition.into());
        obj.insert("offset".into(), r.offset.into());
        obj.insert("timestamp".into(), r.timestamp_ms.into());
        obj.insert(
            "key".into(),
            r.key
                .as_ref()
                .map(|k| serde_json::Value::String(String::from_utf8_lossy(k).into_owned()))
                .unwrap_or(serde_json::Value::Null),
        );
        obj.insert(
            "value".into(),
            String::from_utf8_lossy(&Event::record_text(&r.value))
                .into_owned()
                .into(),
        );
        if !r.headers.is_empty() {
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v).into_owned().into(),
                    )
                })
                .collect();
            obj.insert("headers".into(), headers.into());
        }
        let mut line = serde_json::to_vec(&serde_json::Value::Object(obj))?;
        line.push(b'\n');
        out.write_all(&line)
    } else {
        out.write_all(&Event::record_text(&r.value))?;
        out.write_all(b"\n")
    }
}
