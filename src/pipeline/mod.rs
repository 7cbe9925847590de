//! Wiring: runs source → store → cleaner → sink for every pipeline, supervises the stages, and
//! owns the commit rule (see [`worker`]).
//!
//! [`build`] turns a validated configuration plan into [`PipelineSpec`]s (stage runtime
//! configs); [`Runtime`] runs them against one [`Store`] until shutdown.

pub mod build;
pub mod dead_letter;
pub mod output;
pub mod redrive;
mod runtime;
mod status;
mod worker;

pub use dead_letter::{DeadLetter, dead_topic_name};
pub use output::{KeyTemplate, ProducerOutput};
pub use runtime::{RunOptions, Runtime};

use crate::cleaner::Cleaner;
use crate::sink::{Sink, SinkError};
use crate::source::{FileSourceConfig, StdinSourceConfig};
use crate::store::group::{GroupConfig, GroupError};
use crate::store::{Acks, Partitioner, Producer, ProducerConfig, Store, StoreError, TopicConfig};
use std::sync::Arc;
use std::time::Duration;

/// Errors of the pipeline runtime.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The durable log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Consumer-group membership or commit failed.
    #[error(transparent)]
    Group(#[from] GroupError),
    /// A sink failed for good.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A source failed.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// The HTTP listener could not be bound or served.
    #[error("http server on {addr}: {source}")]
    Http {
        /// The listen address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A pipeline could not be built from its configuration.
    #[error("pipeline {pipeline}: {reason}")]
    Build {
        /// The pipeline.
        pipeline: String,
        /// What is wrong.
        reason: String,
    },
}

/// Builds a fresh sink for a worker (each worker owns one).
pub type SinkFactory = Arc<dyn Fn() -> Result<Box<dyn Sink>, SinkError> + Send + Sync>;

/// Where a pipeline's events come from.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    /// Tail files.
    File(FileSourceConfig),
    /// Read standard input.
    Stdin(StdinSourceConfig),
}

/// One pipeline, ready to run: every stage's runtime configuration.
#[derive(Clone)]
pub struct PipelineSpec {
    /// Pipeline name.
    pub name: String,
    /// The source.
    pub source: SourceSpec,
    /// The buffer topic.
    pub topic: String,
    /// Its configuration (partitions, segments, retention).
    pub topic_config: TopicConfig,
    /// How the shipper produces into it.
    pub producer: ProducerConfig,
    /// Record key template (`partition_by: { key: … }`).
    pub key: Option<KeyTemplate>,
    /// The cleaner's consumer group.
    pub group: String,
    /// Number of cleaner workers (group members).
    pub workers: usize,
    /// Group membership settings (session timeout, max poll interval, offset reset).
    pub member: GroupConfig,
    /// Bytes fetched per poll.
    pub poll_bytes: usize,
    /// How often delivered offsets are committed while a backlog is drained (see
    /// `cleaner.commit_interval`); `Duration::ZERO` commits after every batch.
    pub commit_interval: Duration,
    /// The compiled steps.
    pub cleaner: Arc<Cleaner>,
    /// The sink, one instance per worker.
    pub sink: SinkFactory,
    /// A short description of the sink for the API (`elasticsearch http://…`).
    pub sink_description: String,
}

/// Writes dead letters to `<topic>.dead` with acks all.
#[derive(Clone)]
pub struct DeadLetterWriter {
    producer: Producer,
}

impl DeadLetterWriter {
    /// Opens (creating if needed) the dead-letter topic of `topic` in `store`.
    pub fn open(store: &Store, topic: &str) -> Result<DeadLetterWriter, StoreError> {
        let dead = store.create_topic(&dead_topic_name(topic), TopicConfig::default())?;
        let producer = Producer::new(
            dead,
            ProducerConfig {
                partitioner: Partitioner::RoundRobin,
                acks: Acks::Fsync,
                ..ProducerConfig::default()
            },
        );
        Ok(DeadLetterWriter { producer })
    }

    /// Writes `letters`; resolves once they are fsync'd.
    pub async fn write(&self, letters: Vec<DeadLetter>) -> Result<(), StoreError> {
        if letters.is_empty() {
            return Ok(());
        }
        let records = letters.iter().map(DeadLetter::to_record).collect();
        self.producer.send(records).await.map(|_| ())
    }
}
