//! The Prometheus recorder behind `GET /metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// A handle that renders every metric recorded through the `metrics` facade.
pub type MetricsHandle = PrometheusHandle;

/// Latency buckets (seconds) for histograms such as bulk latency.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the global Prometheus recorder (once per process) and returns its handle.
/// Returns `None` if a recorder was already installed by someone else.
pub fn install_metrics() -> Option<MetricsHandle> {
    let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
    let handle = builder.install_recorder().ok()?;
    describe();
    Some(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "sluice_events_in_total",
        "Events that entered a stage, by pipeline and stage"
    );
    describe_counter!(
        "sluice_events_out_total",
        "Events that left a stage, by pipeline and stage"
    );
    describe_counter!(
        "sluice_events_failed_total",
        "Events a stage dropped or dead-lettered, by pipeline, stage and reason"
    );
    describe_gauge!(
        "sluice_partition_end_offset",
        "Next offset to be written, by topic and partition"
    );
    describe_gauge!(
        "sluice_group_committed_offset",
        "Committed offset, by group, topic and partition"
    );
    describe_gauge!("sluice_group_lag", "End offset minus committed offset");
    describe_gauge!(
        "sluice_oldest_unacked_age_seconds",
        "Age of the oldest record not yet committed by the group (acknowledged by the sink), by group and topic"
    );
    describe_histogram!(
        "sluice_stage_batch_seconds",
        "Time to clean and deliver one batch, by pipeline"
    );
}
