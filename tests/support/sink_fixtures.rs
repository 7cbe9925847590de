//! Events and configurations shared by the sink tests.

use sluice::event::Event;
use sluice::sink::elasticsearch::{ElasticsearchConfig, RetryConfig};
use sluice::value;
use sluice::value::Value;
use std::time::Duration;

/// `n` events of service `web` on 2024-05-06 with source ids `fp:0`, `fp:1`, ….
pub fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let v = value!({
                "@timestamp": "2024-05-06T07:08:09.123Z",
                "service": "web",
                "message": format!("GET /item/{i} HTTP/1.1 200"),
                "status": 200,
                "@metadata": {"partition": 1},
            });
            Event {
                fields: v.as_object().cloned().unwrap_or_default(),
                source_id: Some(format!("fp:{i}")),
            }
        })
        .collect()
}

/// The index the events above land in.
pub const INDEX: &str = "logs-web-2024.05.06";

/// A config for `hosts` with fast retries.
pub fn config(hosts: Vec<String>) -> ElasticsearchConfig {
    ElasticsearchConfig {
        hosts,
        index: "logs-%{service}-%{+yyyy.MM.dd}".into(),
        retry: RetryConfig {
            initial: Duration::from_millis(2),
            max: Duration::from_millis(20),
            max_attempts: 0,
        },
        timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

/// The event as it should be stored.
pub fn stored(e: &Event) -> Value {
    Value::Object(e.to_sink_value())
}
