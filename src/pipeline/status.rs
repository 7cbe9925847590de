//! What the HTTP server shows about a running daemon: pipeline states, topics, groups, and the
//! gauges computed on demand before each `/metrics` scrape.

use super::PipelineSpec;
use crate::server::StatusSource;
use crate::store::Store;
use crate::store::group::read_group_offsets;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

const STARTING: u8 = 0;
const RUNNING: u8 = 1;
const STOPPING: u8 = 2;

/// The live state of one pipeline.
pub(crate) struct PipelineState {
    name: String,
    topic: String,
    group: String,
    workers: usize,
    sink: String,
    state: AtomicU8,
    failures: AtomicU64,
    last_error: Mutex<Option<(String, String)>>,
}

impl PipelineState {
    pub(crate) fn set_running(&self) {
        self.state.store(RUNNING, Ordering::SeqCst);
    }

    /// Counts a stage failure (the stage is restarted by its supervisor).
    pub(crate) fn record_failure(&self, stage: &str, error: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock() = Some((stage.to_string(), error.to_string()));
    }

    fn to_json(&self) -> Value {
        let state = match self.state.load(Ordering::SeqCst) {
            STARTING => "starting",
            RUNNING => "running",
            _ => "stopping",
        };
        let last_error = self
            .last_error
            .lock()
            .as_ref()
            .map(|(stage, e)| json!({"stage": stage, "error": e}));
        json!({
            "name": self.name,
            "state": state,
            "topic": self.topic,
            "group": self.group,
            "workers": self.workers,
            "sink": self.sink,
            "stage_failures": self.failures.load(Ordering::Relaxed),
            "last_error": last_error,
        })
    }
}

/// The daemon's status, shared with the HTTP server.
pub(crate) struct RuntimeStatus {
    store: Arc<Store>,
    pipelines: Mutex<Vec<Arc<PipelineState>>>,
}

impl RuntimeStatus {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        RuntimeStatus {
            store,
            pipelines: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn add_pipeline(&self, spec: &PipelineSpec) -> Arc<PipelineState> {
        let s = Arc::new(PipelineState {
            name: spec.name.clone(),
            topic: spec.topic.clone(),
            group: spec.group.clone(),
            workers: spec.workers,
            sink: spec.sink_description.clone(),
            state: AtomicU8::new(STARTING),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        self.pipelines.lock().push(s.clone());
        s
    }

    pub(crate) fn set_stopping(&self) {
        for p in self.pipelines.lock().iter() {
            p.state.store(STOPPING, Ordering::SeqCst);
        }
    }
}

impl StatusSource for RuntimeStatus {
    fn ready(&self) -> bool {
        let ps = self.pipelines.lock();
        !ps.is_empty() && ps.iter().all(|p| p.state.load(Ordering::SeqCst) == RUNNING)
    }

    fn topics(&self) -> Value {
        topics_json(&self.store)
    }

    fn groups(&self) -> Value {
        match read_group_offsets(&self.store) {
            Ok(views) => serde_json::to_value(views).unwrap_or(Value::Null),
            Err(e) => json!({"error": e.to_string()}),
        }
    }

    fn pipelines(&self) -> Value {
        Value::Array(self.pipelines.lock().iter().map(|p| p.to_json()).collect())
    }

    fn refresh_gauges(&self) {
        export_gauges(&self.store);
    }
}

/// Topics with per-partition offsets and sizes, as JSON.
pub(crate) fn topics_json(store: &Store) -> Value {
    let names = match store.topic_names() {
        Ok(n) => n,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let mut out = Vec::new();
    for name in names {
        let Ok(Some(topic)) = store.topic(&name) else {
            continue;
        };
        let stats = topic.stats();
        let partitions: Vec<Value> = stats
            .partitions
            .iter()
            .map(|p| {
                json!({
                    "partition": p.partition,
                    "start_offset": p.start_offset,
                    "end_offset": p.end_offset,
                    "bytes": p.bytes,
                    "segments": p.segments,
                    "dropped_records": p.dropped_records,
                })
            })
            .collect();
        out.push(json!({"name": name, "partitions": partitions}));
    }
    Value::Array(out)
}

/// Sets the gauges computed on demand: partition end offsets, committed offsets and lag.
pub(crate) fn export_gauges(store: &Store) {
    if let Ok(names) = store.topic_names() {
        for name in names {
            if let Ok(Some(topic)) = store.topic(&name) {
                for p in topic.stats().partitions {
                    metrics::gauge!("sluice_partition_end_offset", "topic" => name.clone(), "partition" => p.partition.to_string())
                        .set(p.end_offset as f64);
                    metrics::gauge!("sluice_partition_bytes", "topic" => name.clone(), "partition" => p.partition.to_string())
                        .set(p.bytes as f64);
                }
            }
        }
    }
    if let Ok(views) = read_group_offsets(store) {
        let now = crate::store::now_ms();
        for v in views {
            // End to end: the age of the oldest record the group has not committed (0 when
            // caught up), from the record's timestamp at the committed offset.
            let topic = store.topic(&v.topic).ok().flatten();
            let mut oldest_ms: i64 = 0;
            for p in &v.partitions {
                if p.lag == 0 {
                    continue;
                }
                let from = p.committed.unwrap_or(p.start).max(p.start);
                if let Some(rec) = topic
                    .as_ref()
                    .and_then(|t| t.fetch(p.partition, from, 1).ok())
                    .and_then(|f| f.records.into_iter().next())
                {
                    oldest_ms = oldest_ms.max(now - rec.timestamp_ms);
                }
            }
            metrics::gauge!("sluice_oldest_unacked_age_seconds", "group" => v.group.clone(), "topic" => v.topic.clone())
                .set(oldest_ms.max(0) as f64 / 1000.0);
            for p in v.partitions {
                let labels = [
                    ("group", v.group.clone()),
                    ("topic", v.topic.clone()),
                    ("partition", p.partition.to_string()),
                ];
                if let Some(c) = p.committed {
                    metrics::gauge!("sluice_group_committed_offset", &labels).set(c as f64);
                }
                metrics::gauge!("sluice_group_lag", &labels).set(p.lag as f64);
            }
        }
    }
}
