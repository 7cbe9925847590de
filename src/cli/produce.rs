//! `sluice produce`: lines from stdin into a topic.

use super::UsageError;
use crate::store::{Acks, Partitioner, Producer, ProducerConfig, Record, TopicConfig};
use anyhow::Context;
use bytes::Bytes;
use std::io::BufRead;
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
    /// Partitions of the topic when it is created (an existing topic grows to this many).
    #[arg(long)]
    pub partitions: Option<u32>,
    /// Acknowledgement level: 0, 1 (written) or all (fsync'd).
    #[arg(long, default_value = "all")]
    pub acks: String,
}

/// Lines per `send`: big enough for throughput, small enough to bound memory.
const CHUNK_LINES: usize = 4096;
const CHUNK_BYTES: usize = 1 << 20;

/// Runs `sluice produce`: each stdin line (without its `\n` / `\r\n`) becomes one record;
/// exits once every record is acknowledged per `--acks`. Lines are sent in chunks of what is
/// already buffered (at most 4096 lines / 1 MiB), so a slow pipe is produced as it arrives.
pub fn execute(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let acks: Acks = args
        .acks
        .parse()
        .map_err(|e| UsageError(format!("--acks: {e}")))?;
    if args.partitions == Some(0) {
        return Err(UsageError("--partitions must be at least 1".into()).into());
    }
    let store = super::admin::open_locked(&args.data_dir.data_dir, "produce", false)?;
    let topic = match store.topic(&args.topic)? {
        Some(t) if args.partitions.is_none_or(|n| n <= t.partition_count()) => t,
        Some(t) => {
            let mut config = t.config();
            config.partitions = args.partitions.unwrap_or(1);
            store.create_topic(&args.topic, config)?
        }
        None => store
            .create_topic(
                &args.topic,
                TopicConfig {
                    partitions: args.partitions.unwrap_or(1),
                    ..TopicConfig::default()
                },
            )
            .with_context(|| format!("cannot create topic {}", args.topic))?,
    };
    let partitioner = if args.key.is_some() {
        Partitioner::Key
    } else {
        Partitioner::RoundRobin
    };
    let producer = Producer::new(
        topic.clone(),
        ProducerConfig {
            partitioner,
            acks,
            ..ProducerConfig::default()
        },
    );
    let key = args.key.map(Bytes::from);
    let stdin = std::io::stdin();
    // Our own buffer, so we can tell whether more input is already here: when it is empty the
    // next read may block (`tail -f | sluice produce`), so what we have is sent first.
    let mut input = std::io::BufReader::with_capacity(256 * 1024, stdin.lock());
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    let mut chunk_bytes = 0;
    let mut total = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .context("cannot read stdin")?;
        if n > 0 {
            if line.last() == Some(&b'\n') {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            }
            chunk_bytes += line.len();
            chunk.push(Record {
                timestamp_ms: now_ms(),
                key: key.clone(),
                value: Bytes::copy_from_slice(&line),
                headers: Vec::new(),
            });
        }
        let input_waiting = !input.buffer().is_empty();
        if !chunk.is_empty()
            && (n == 0
                || !input_waiting
                || chunk.len() >= CHUNK_LINES
                || chunk_bytes >= CHUNK_BYTES)
        {
            total += chunk.len() as u64;
            producer
                .send_blocking(std::mem::take(&mut chunk))
                .with_context(|| format!("cannot append to topic {}", args.topic))?;
            chunk_bytes = 0;
        }
        if n == 0 {
            break;
        }
    }
    producer
        .flush()
        .with_context(|| format!("cannot flush topic {}", args.topic))?;
    tracing::debug!(topic = %args.topic, records = total, %acks, "produced");
    Ok(ExitCode::SUCCESS)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
