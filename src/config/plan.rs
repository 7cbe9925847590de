//! The validated, compiled form of a pipeline file: typed values (durations as [`Duration`],
//! sizes as bytes, regexes compiled, the step chain built). Every default is documented on its
//! field and in docs/configuration.md. Stages map these into their own runtime configs.

use crate::cleaner::Cleaner;
use crate::config::Location;
use crate::value::{Map, Value};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One pipeline: source → buffer → cleaner → sink.
#[derive(Debug, Clone)]
pub struct PipelinePlan {
    /// `name`: required; letters, digits, `.`, `_`, `-`. Names the default topic and group.
    pub name: String,
    /// `description`: free text. Default none.
    pub description: Option<String>,
    /// The file the pipeline came from.
    pub file: PathBuf,
    /// Where the `name` key is (for messages about the pipeline as a whole).
    pub at: Location,
    /// Where the topic is chosen (`buffer.topic`, or `name` when it defaults to the name).
    pub topic_at: Location,
    /// `source`.
    pub source: SourcePlan,
    /// `buffer`.
    pub buffer: BufferPlan,
    /// `cleaner`.
    pub cleaner: CleanerPlan,
    /// `sink`.
    pub sink: SinkPlan,
    /// `test_input`: sample lines for `sluice test`. Default none.
    pub test_input: Vec<String>,
    /// `tests`: expectations for `sluice test --check`. Default none.
    pub tests: Vec<TestCase>,
}

/// `source.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Tail files matched by `paths`. The default.
    #[default]
    File,
    /// Read lines from standard input.
    Stdin,
}

/// `source.start_at`: where to start in a file never seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// From its first byte. The default.
    #[default]
    Beginning,
    /// From its current end (only new lines).
    End,
}

/// The `source` section.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    /// `type`: `file` (default) or `stdin`.
    pub kind: SourceKind,
    /// `paths`: globs of files to tail (required for `file`).
    pub paths: Vec<String>,
    /// `exclude`: globs of files to skip. Default none.
    pub exclude: Vec<String>,
    /// `start_at`. Default `beginning`.
    pub start_at: StartAt,
    /// `multiline`. Default none (one line, one event).
    pub multiline: Option<MultilinePlan>,
    /// `fields`: added to every event. Default none.
    pub fields: Map,
    /// `tags`: added to every event. Default none.
    pub tags: Vec<String>,
    /// `max_line_bytes`: longer lines are truncated and tagged. Default 1MiB.
    pub max_line_bytes: u64,
    /// `close_inactive`: close a file not written for this long. Default 5m.
    pub close_inactive: Duration,
    /// `clean_removed`: forget checkpoints of files gone for this long. Default 72h.
    pub clean_removed: Duration,
    /// `scan_interval`: how often globs are re-expanded. Default 1s.
    pub scan_interval: Duration,
    /// `checkpoint_interval`: how often checkpoints are written. Default 1s.
    pub checkpoint_interval: Duration,
}

/// `source.multiline.match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultilineMatch {
    /// A matching line belongs to the record before it. The default.
    #[default]
    After,
    /// A matching line belongs to the record after it.
    Before,
}

/// `source.multiline`: joining lines into one record (stack traces).
#[derive(Debug, Clone)]
pub struct MultilinePlan {
    /// `pattern`: required regex.
    pub pattern: Regex,
    /// `negate`: lines that do NOT match are the continuation lines. Default false.
    pub negate: bool,
    /// `match`: `after` (default) or `before`.
    pub match_mode: MultilineMatch,
    /// `max_lines`: lines per record at most. Default 500.
    pub max_lines: usize,
    /// `max_bytes`: bytes per record at most. Default 10MiB.
    pub max_bytes: u64,
    /// `timeout`: flush a pending record after this long without a new line. Default 5s.
    pub timeout: Duration,
}

/// `buffer.partition_by`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PartitionBy {
    /// Spread records over partitions in turn. The default.
    #[default]
    RoundRobin,
    /// Fill one partition per batch, then move on.
    Sticky,
    /// Hash the value of this event field (`key: "{{ log.file.path }}"`): one key keeps its
    /// order.
    Key(String),
}

/// `buffer.acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `0`: do not wait for the log.
    None,
    /// `1`: wait until written (not fsync'd).
    Written,
    /// `all`: wait until fsync'd (group-committed). The default.
    #[default]
    All,
}

/// `compression` of the buffer, file sink and Elasticsearch requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// No compression. The default.
    #[default]
    None,
    /// gzip.
    Gzip,
}

/// `buffer.retention.when_full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Make producers wait (backpressure to the shippers). The default.
    #[default]
    Block,
    /// Delete the oldest segments to make room.
    DropOldest,
}

/// The `buffer` section (the embedded durable log).
#[derive(Debug, Clone)]
pub struct BufferPlan {
    /// `topic`. Default: the pipeline name.
    pub topic: String,
    /// The dead-letter topic: `<topic>.dead`.
    pub dead_letter_topic: String,
    /// `partitions`. Default 1.
    pub partitions: u32,
    /// `partition_by`. Default `round_robin`.
    pub partition_by: PartitionBy,
    /// `acks`. Default `all`.
    pub acks: Acks,
    /// `linger`: how long a batch may wait to fill. Default 5ms.
    pub linger: Duration,
    /// `batch_size`: bytes per batch at most. Default 1MiB.
    pub batch_size: u64,
    /// `compression`. Default `none`.
    pub compression: Compression,
    /// `segment_bytes`: roll a segment at this size. Default 128MiB.
    pub segment_bytes: u64,
    /// `segment_age`: roll a segment at this age. Default 1h.
    pub segment_age: Duration,
    /// `retention`.
    pub retention: RetentionPlan,
}

/// `buffer.retention`.
#[derive(Debug, Clone)]
pub struct RetentionPlan {
    /// `max_bytes` per partition. Default 10GiB.
    pub max_bytes: u64,
    /// `max_age`. Default 7d.
    pub max_age: Duration,
    /// `when_full`. Default `block`.
    pub when_full: WhenFull,
    /// `block_timeout`: how long a producer blocks before reporting an error. Default 30s.
    pub block_timeout: Duration,
}

/// `cleaner.ecs_compatibility`: the default field naming of grok steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EcsMode {
    /// ECS v1 names (`[source][address]`, …), as Logstash 8. The default.
    #[default]
    V1,
    /// Legacy names (`clientip`, …).
    Disabled,
}

/// `cleaner.auto_offset_reset`: where a group with no committed offset starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    /// The oldest record kept. The default.
    #[default]
    Earliest,
    /// Only records appended from now on.
    Latest,
}

/// The `cleaner` section.
#[derive(Debug, Clone)]
pub struct CleanerPlan {
    /// `group`. Default `<name>-cleaners`.
    pub group: String,
    /// `workers`: members of the group. Default 2.
    pub workers: u32,
    /// `ecs_compatibility`. Default `v1`.
    pub ecs_compatibility: EcsMode,
    /// `batch_size`: records per poll. Default 1000.
    pub batch_size: usize,
    /// `session_timeout`. Default 10s.
    pub session_timeout: Duration,
    /// `max_poll_interval`. Default 5m.
    pub max_poll_interval: Duration,
    /// `commit_interval`: while a backlog is drained, delivered offsets are committed at most
    /// this often (always when a worker catches up, stops or loses a partition). Default 1s;
    /// `0s` commits after every batch.
    pub commit_interval: Duration,
    /// `auto_offset_reset`. Default `earliest`.
    pub auto_offset_reset: OffsetReset,
    /// `steps`, compiled. Default: no steps (events pass unchanged).
    pub steps: Arc<Cleaner>,
}

/// `sink.type` (and the flavour of a search-engine sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// Elasticsearch `_bulk`.
    Elasticsearch,
    /// OpenSearch `_bulk`.
    Opensearch,
    /// NDJSON file.
    File,
    /// NDJSON on standard output. The default.
    #[default]
    Stdout,
}

/// The `sink` section.
#[derive(Debug, Clone)]
pub enum SinkPlan {
    /// `type: stdout`.
    Stdout,
    /// `type: file`.
    File(FileSinkPlan),
    /// `type: elasticsearch` or `opensearch`.
    Search(SearchSinkPlan),
}

/// A file sink.
#[derive(Debug, Clone)]
pub struct FileSinkPlan {
    /// `path`: required.
    pub path: PathBuf,
    /// `compression`. Default `none`.
    pub compression: Compression,
    /// `max_bytes`: roll the file at this size. Default 100MiB.
    pub max_bytes: u64,
}

/// `sink.op_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpType {
    /// `index`: create or overwrite. The default.
    #[default]
    Index,
    /// `create`: create only (data streams); 409 on our own id counts as delivered.
    Create,
}

/// `sink.document_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DocumentId {
    /// The event's source id (deterministic: exactly-once documents). The default.
    #[default]
    SourceId,
    /// A `%{field}` template.
    Template(String),
    /// `none`: let the engine choose (duplicates possible after a crash).
    None,
}

/// `sink.healthcheck`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Healthcheck {
    /// Log a warning if the cluster is unreachable at start. The default.
    #[default]
    Warn,
    /// Refuse to start if the cluster is unreachable.
    Required,
}

/// `sink.auth`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuthPlan {
    /// No authentication. The default.
    #[default]
    None,
    /// `user` + `password`: HTTP basic.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// `api_key`: `Authorization: ApiKey …`.
    ApiKey(String),
    /// `bearer`: `Authorization: Bearer …`.
    Bearer(String),
}

/// An Elasticsearch or OpenSearch sink.
#[derive(Debug, Clone)]
pub struct SearchSinkPlan {
    /// Elasticsearch or OpenSearch.
    pub kind: SinkKind,
    /// `hosts`: base URLs, tried in turn. Default `["http://127.0.0.1:9200"]`.
    pub hosts: Vec<String>,
    /// `index`: name template. Default `logs-%{+yyyy.MM.dd}`.
    pub index: String,
    /// `op_type`. Default `index`.
    pub op_type: OpType,
    /// `document_id`. Default: the source id.
    pub document_id: DocumentId,
    /// `bulk.max_bytes`. Default 5MiB.
    pub bulk_max_bytes: u64,
    /// `bulk.max_docs`. Default 5000.
    pub bulk_max_docs: usize,
    /// `bulk.flush`: send a partial bulk after this long. Default 1s.
    pub bulk_flush: Duration,
    /// `bulk.filter_response`: ask for the statuses and errors of the items only
    /// (`filter_path`). Default true.
    pub bulk_filter_response: bool,
    /// `concurrency`: bulk requests in flight. Default 2.
    pub concurrency: u32,
    /// `compression` of request bodies. Default `none`.
    pub compression: Compression,
    /// `auth`. Default none.
    pub auth: AuthPlan,
    /// `tls.ca_file`: extra CA certificate (PEM). Default none.
    pub tls_ca_file: Option<PathBuf>,
    /// `tls.insecure_skip_verify`. Default false.
    pub tls_insecure_skip_verify: bool,
    /// `retry.initial` backoff. Default 100ms.
    pub retry_initial: Duration,
    /// `retry.max` backoff. Default 30s.
    pub retry_max: Duration,
    /// `retry.max_attempts`: 0 = forever. Default 0.
    pub retry_max_attempts: u32,
    /// `timeout` of one request. Default 30s.
    pub timeout: Duration,
    /// `healthcheck`. Default `warn`.
    pub healthcheck: Healthcheck,
}

/// What a `tests:` case expects of the event's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    /// The event is kept (delivered). The default.
    #[default]
    Keep,
    /// A step drops it.
    Dropped,
    /// A step sends it to the dead letters.
    DeadLetter,
}

/// One entry of `tests:`.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// `input`: the line (the event starts as `{message: input}`).
    pub input: String,
    /// `expect`: field path → value; `null` means the field must be absent.
    pub expect: BTreeMap<String, Value>,
    /// `outcome`. Default `keep`.
    pub outcome: ExpectedOutcome,
    /// Where the case is.
    pub at: Location,
}
