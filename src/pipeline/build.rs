//! From a validated configuration plan to a runnable [`PipelineSpec`]: the only place that
//! maps `config` types into the stages' own runtime configurations.

use super::{KeyTemplate, PipelineError, PipelineSpec, SinkFactory, SourceSpec};
use crate::config::plan::{self, PipelinePlan, SinkPlan};
use crate::sink::elasticsearch::{self as es, ElasticsearchConfig, ElasticsearchSink};
use crate::sink::file::{FileSink, FileSinkConfig};
use crate::sink::stdout::{StdoutSink, StdoutSinkConfig};
use crate::sink::{Sink, SinkAck, SinkError};
use crate::source::{FileSourceConfig, MultilineConfig, StdinSourceConfig};
use crate::store::group::{AutoOffsetReset, GroupConfig};
use crate::store::{
    Acks, Compression, Partitioner, ProducerConfig, Retention, TopicConfig, WhenFull,
};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Builds the spec of one pipeline.
pub fn spec_from_plan(plan: &PipelinePlan) -> Result<PipelineSpec, PipelineError> {
    let b = &plan.buffer;
    let c = &plan.cleaner;
    let (sink, sink_description) = sink_factory(plan)?;
    Ok(PipelineSpec {
        name: plan.name.clone(),
        source: source_spec(&plan.source),
        topic: b.topic.clone(),
        topic_config: TopicConfig {
            partitions: b.partitions,
            segment_bytes: b.segment_bytes,
            segment_age: b.segment_age,
            compression: match b.compression {
                plan::Compression::None => Compression::None,
                plan::Compression::Gzip => Compression::Gzip,
            },
            retention: Retention {
                max_bytes: Some(b.retention.max_bytes).filter(|&n| n > 0),
                max_age: Some(b.retention.max_age).filter(|d| !d.is_zero()),
                when_full: match b.retention.when_full {
                    plan::WhenFull::Block => WhenFull::Block,
                    plan::WhenFull::DropOldest => WhenFull::DropOldest,
                },
                block_timeout: b.retention.block_timeout,
            },
            ..TopicConfig::default()
        },
        producer: ProducerConfig {
            partitioner: match b.partition_by {
                plan::PartitionBy::RoundRobin => Partitioner::RoundRobin,
                plan::PartitionBy::Sticky => Partitioner::Sticky,
                plan::PartitionBy::Key(_) => Partitioner::Key,
            },
            acks: acks(b.acks),
            linger: b.linger,
            batch_size: b.batch_size as usize,
            ..ProducerConfig::default()
        },
        key: match &b.partition_by {
            plan::PartitionBy::Key(t) => Some(KeyTemplate::parse(t)),
            _ => None,
        },
        group: c.group.clone(),
        workers: c.workers as usize,
        member: GroupConfig {
            session_timeout: c.session_timeout,
            max_poll_interval: c.max_poll_interval,
            auto_offset_reset: match c.auto_offset_reset {
                plan::OffsetReset::Earliest => AutoOffsetReset::Earliest,
                plan::OffsetReset::Latest => AutoOffsetReset::Latest,
            },
        },
        // About 256 bytes per record: `batch_size` records per poll (1000 → 256 KiB).
        poll_bytes: c.batch_size.max(1) * 256,
        commit_interval: c.commit_interval,
        cleaner: c.steps.clone(),
        sink,
        sink_description,
    })
}

fn acks(a: plan::Acks) -> Acks {
    match a {
        plan::Acks::None => Acks::None,
        plan::Acks::Written => Acks::Written,
        plan::Acks::All => Acks::Fsync,
    }
}

fn multiline(m: &plan::MultilinePlan) -> MultilineConfig {
    MultilineConfig {
        pattern: m.pattern.as_str().to_string(),
        negate: m.negate,
        match_: match m.match_mode {
            plan::MultilineMatch::After => crate::source::MultilineMatch::After,
            plan::MultilineMatch::Before => crate::source::MultilineMatch::Before,
        },
        max_lines: m.max_lines,
        max_bytes: m.max_bytes as usize,
        timeout: m.timeout,
    }
}

fn source_spec(s: &plan::SourcePlan) -> SourceSpec {
    match s.kind {
        plan::SourceKind::File => SourceSpec::File(FileSourceConfig {
            paths: s.paths.clone(),
            exclude: s.exclude.clone(),
            start_at: match s.start_at {
                plan::StartAt::Beginning => crate::source::StartAt::Beginning,
                plan::StartAt::End => crate::source::StartAt::End,
            },
            multiline: s.multiline.as_ref().map(multiline),
            fields: s.fields.clone(),
            tags: s.tags.clone(),
            max_line_bytes: s.max_line_bytes as usize,
            close_inactive: s.close_inactive,
            clean_removed: s.clean_removed,
            scan_interval: s.scan_interval,
            checkpoint_interval: s.checkpoint_interval,
            ..FileSourceConfig::default()
        }),
        plan::SourceKind::Stdin => SourceSpec::Stdin(StdinSourceConfig {
            multiline: s.multiline.as_ref().map(multiline),
            fields: s.fields.clone(),
            tags: s.tags.clone(),
            max_line_bytes: s.max_line_bytes as usize,
            ..StdinSourceConfig::default()
        }),
    }
}

/// The sink configuration of a search plan (Elasticsearch or OpenSearch).
pub fn elasticsearch_config(p: &plan::SearchSinkPlan) -> ElasticsearchConfig {
    ElasticsearchConfig {
        hosts: p.hosts.clone(),
        index: p.index.clone(),
        op_type: match p.op_type {
            plan::OpType::Index => es::OpType::Index,
            plan::OpType::Create => es::OpType::Create,
        },
        document_id: match &p.document_id {
            plan::DocumentId::SourceId => es::DocumentId::SourceId,
            plan::DocumentId::Template(t) => es::DocumentId::Template(t.clone()),
            plan::DocumentId::None => es::DocumentId::None,
        },
        bulk: es::BulkConfig {
            max_bytes: p.bulk_max_bytes as usize,
            max_docs: p.bulk_max_docs,
            flush: p.bulk_flush,
            filter_response: p.bulk_filter_response,
        },
        concurrency: p.concurrency as usize,
        compression: es_compression(p.compression),
        auth: match &p.auth {
            plan::AuthPlan::None => es::Auth::None,
            plan::AuthPlan::Basic { user, password } => es::Auth::Basic {
                user: user.clone(),
                password: es::Secret::new(password.clone()),
            },
            plan::AuthPlan::ApiKey(k) => es::Auth::ApiKey(es::Secret::new(k.clone())),
            plan::AuthPlan::Bearer(t) => es::Auth::Bearer(es::Secret::new(t.clone())),
        },
        tls: es::TlsConfig {
            ca_file: p.tls_ca_file.clone(),
            insecure_skip_verify: p.tls_insecure_skip_verify,
        },
        retry: es::RetryConfig {
            initial: p.retry_initial,
            max: p.retry_max,
            max_attempts: p.retry_max_attempts,
        },
        timeout: p.timeout,
        healthcheck: match p.healthcheck {
            plan::Healthcheck::Warn => es::Healthcheck::Warn,
            plan::Healthcheck::Required => es::Healthcheck::Required,
        },
    }
}

fn es_compression(c: plan::Compression) -> es::Compression {
    match c {
        plan::Compression::None => es::Compression::None,
        plan::Compression::Gzip => es::Compression::Gzip,
    }
}

/// A sink shared by every worker of a pipeline (a file or stdout has one writer).
struct SharedSink {
    inner: Arc<tokio::sync::Mutex<Box<dyn Sink>>>,
    name: String,
}

impl Sink for SharedSink {
    fn send(
        &mut self,
        batch: Vec<crate::event::Event>,
    ) -> BoxFuture<'_, Result<SinkAck, SinkError>> {
        Box::pin(async move { self.inner.lock().await.send(batch).await })
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move { self.inner.lock().await.flush().await })
    }

    fn name(&self) -> &str {
        &self.name
    }
}

fn shared(sink: Box<dyn Sink>) -> SinkFactory {
    let name = sink.name().to_string();
    let inner = Arc::new(tokio::sync::Mutex::new(sink));
    Arc::new(move || {
        Ok(Box::new(SharedSink {
            inner: inner.clone(),
            name: name.clone(),
        }) as Box<dyn Sink>)
    })
}

/// The pipeline's sink factory and a description for the API. File and stdout sinks are
/// shared by the workers (one writer); each worker gets its own Elasticsearch sink.
pub fn sink_factory(plan: &PipelinePlan) -> Result<(SinkFactory, String), PipelineError> {
    let name = plan.name.clone();
    match &plan.sink {
        SinkPlan::Stdout => Ok((
            shared(Box::new(StdoutSink::new(
                StdoutSinkConfig::default(),
                &name,
            ))),
            "stdout".to_string(),
        )),
        SinkPlan::File(f) => {
            let cfg = FileSinkConfig {
                path: f.path.clone(),
                compression: es_compression(f.compression),
                max_bytes: f.max_bytes,
                ..FileSinkConfig::new(f.path.clone())
            };
            let sink = FileSink::new(cfg, &name)?;
            Ok((shared(Box::new(sink)), format!("file {}", f.path.display())))
        }
        SinkPlan::Search(p) => {
            let cfg = elasticsearch_config(p);
            // Fail early on a bad configuration (TLS CA file, hosts).
            ElasticsearchSink::new(cfg.clone(), &name)?;
            let hosts: Vec<String> = p.hosts.iter().map(|h| es::config::redact_url(h)).collect();
            let description = format!("elasticsearch {}", hosts.join(","));
            let factory: SinkFactory = Arc::new(move || {
                Ok(Box::new(ElasticsearchSink::new(cfg.clone(), &name)?) as Box<dyn Sink>)
            });
            Ok((factory, description))
        }
    }
}
