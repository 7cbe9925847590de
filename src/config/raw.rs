//! The pipeline YAML as written: serde structs, unknown keys refused (reported with a "did you
//! mean" by [`super::de`]). Durations and sizes stay text here; [`super::build`] parses and
//! checks them, and compiles `cleaner.steps` (kept as YAML nodes, read by
//! [`super::steps`]).

use super::plan::{
    Compression, EcsMode, ExpectedOutcome, Healthcheck, MultilineMatch, OffsetReset, OpType,
    SinkKind, SourceKind, StartAt, WhenFull,
};
use crate::value::Value;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;

/// A pipeline file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPipeline {
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `source`.
    pub source: RawSource,
    /// `buffer`.
    pub buffer: RawBuffer,
    /// `cleaner`.
    pub cleaner: RawCleaner,
    /// `sink`.
    pub sink: RawSink,
    /// `test_input`.
    pub test_input: Vec<String>,
    /// `tests`.
    pub tests: Vec<RawTest>,
}

/// `source`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSource {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// `paths`.
    pub paths: Vec<String>,
    /// `exclude`.
    pub exclude: Vec<String>,
    /// `start_at`.
    pub start_at: StartAt,
    /// `multiline`.
    pub multiline: Option<RawMultiline>,
    /// `fields`.
    pub fields: BTreeMap<String, Value>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `max_line_bytes`.
    pub max_line_bytes: Option<String>,
    /// `close_inactive`.
    pub close_inactive: Option<String>,
    /// `clean_removed`.
    pub clean_removed: Option<String>,
    /// `scan_interval`.
    pub scan_interval: Option<String>,
    /// `checkpoint_interval`.
    pub checkpoint_interval: Option<String>,
}

/// `source.multiline`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMultiline {
    /// `pattern`.
    pub pattern: Option<String>,
    /// `negate`.
    pub negate: bool,
    /// `match`.
    #[serde(rename = "match")]
    pub match_mode: MultilineMatch,
    /// `max_lines`.
    pub max_lines: Option<u64>,
    /// `max_bytes`.
    pub max_bytes: Option<String>,
    /// `timeout`.
    pub timeout: Option<String>,
}

/// `buffer.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferKind {
    /// The embedded log.
    #[default]
    Embedded,
    /// Apache Kafka (not in this build).
    Kafka,
}

/// `buffer.partition_by`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawPartitionBy {
    /// `round_robin`.
    #[default]
    RoundRobin,
    /// `sticky`.
    Sticky,
    /// `{ key: "{{ field }}" }`.
    Key(String),
}

/// `buffer`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBuffer {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: BufferKind,
    /// `brokers` (kafka only).
    pub brokers: Vec<String>,
    /// `topic`.
    pub topic: Option<String>,
    /// `partitions`.
    pub partitions: Option<u32>,
    /// `partition_by`.
    pub partition_by: RawPartitionBy,
    /// `acks` (`0`, `1`, `all`).
    pub acks: Option<String>,
    /// `linger`.
    pub linger: Option<String>,
    /// `batch_size`.
    pub batch_size: Option<String>,
    /// `compression`.
    pub compression: Compression,
    /// `segment_bytes`.
    pub segment_bytes: Option<String>,
    /// `segment_age`.
    pub segment_age: Option<String>,
    /// `retention`.
    pub retention: RawRetention,
}

/// `buffer.retention`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetention {
    /// `max_bytes`.
    pub max_bytes: Option<String>,
    /// `max_age`.
    pub max_age: Option<String>,
    /// `when_full`.
    pub when_full: WhenFull,
    /// `block_timeout`.
    pub block_timeout: Option<String>,
}

/// `cleaner`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCleaner {
    /// `group`.
    pub group: Option<String>,
    /// `workers`.
    pub workers: Option<u32>,
    /// `ecs_compatibility`.
    pub ecs_compatibility: EcsMode,
    /// `batch_size`.
    pub batch_size: Option<u64>,
    /// `session_timeout`.
    pub session_timeout: Option<String>,
    /// `max_poll_interval`.
    pub max_poll_interval: Option<String>,
    /// `commit_interval`.
    pub commit_interval: Option<String>,
    /// `auto_offset_reset`.
    pub auto_offset_reset: OffsetReset,
    /// `steps`: read from the YAML nodes by [`super::steps`]; only its shape is checked here.
    pub steps: Vec<IgnoredAny>,
}

/// `sink` (keys of every sink type; [`super::build`] checks which apply to `type`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSink {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: SinkKind,
    /// `path` (file).
    pub path: Option<String>,
    /// `compression` (file, elasticsearch).
    pub compression: Compression,
    /// `max_bytes` (file).
    pub max_bytes: Option<String>,
    /// `hosts`.
    pub hosts: Option<Vec<String>>,
    /// `index`.
    pub index: Option<String>,
    /// `op_type`.
    pub op_type: OpType,
    /// `document_id`.
    pub document_id: Option<String>,
    /// `bulk`.
    pub bulk: RawBulk,
    /// `concurrency`.
    pub concurrency: Option<u32>,
    /// `auth`.
    pub auth: RawAuth,
    /// `tls`.
    pub tls: RawTls,
    /// `retry`.
    pub retry: RawRetry,
    /// `timeout`.
    pub timeout: Option<String>,
    /// `healthcheck`.
    pub healthcheck: Healthcheck,
}

/// `sink.bulk`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBulk {
    /// `max_bytes`.
    pub max_bytes: Option<String>,
    /// `max_docs`.
    pub max_docs: Option<u64>,
    /// `flush`.
    pub flush: Option<String>,
    /// `filter_response`.
    pub filter_response: Option<bool>,
}

/// `sink.auth`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuth {
    /// `user`.
    pub user: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `api_key`.
    pub api_key: Option<String>,
    /// `bearer`.
    pub bearer: Option<String>,
}

/// `sink.tls`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTls {
    /// `ca_file`.
    pub ca_file: Option<String>,
    /// `insecure_skip_verify`.
    pub insecure_skip_verify: bool,
}

/// `sink.retry`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetry {
    /// `initial`.
    pub initial: Option<String>,
    /// `max`.
    pub max: Option<String>,
    /// `max_attempts`.
    pub max_attempts: Option<u32>,
}

/// One entry of `tests`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTest {
    /// `input`.
    pub input: Option<String>,
    /// `expect`.
    pub expect: BTreeMap<String, Value>,
    /// `outcome`.
    pub outcome: ExpectedOutcome,
}
