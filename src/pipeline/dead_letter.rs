//! Dead letters: what a step or a sink refused, kept in the topic `<topic>.dead` of the same
//! store — never a black hole.
//!
//! A dead letter is one record whose value is a JSON object:
//!
//! ```json
//! {"pipeline":"nginx","stage":"sink","step":"elasticsearch","reason":"mapper_parsing_exception: …",
//!  "status":400,"attempts":1,"time":"2026-11-25T07:00:00.000Z",
//!  "topic":"nginx","partition":0,"offset":41,"source_id":"9f…-1024","event":{ …original fields… }}
//! ```
//!
//! and whose `sid` header carries the original source id, so that a redriven event keeps its
//! document `_id` (a redrive after a partial success overwrites instead of duplicating).

use crate::event::{Event, SOURCE_ID_HEADER};
use crate::store::{Record, StoredRecord};
use crate::value::{Map, Value};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};

/// The dead-letter topic of `topic`.
pub fn dead_topic_name(topic: &str) -> String {
    format!("{topic}.dead")
}

/// Which stage refused the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A cleaner step (`on_failure: dead_letter`).
    Cleaner,
    /// A sink (e.g. an Elasticsearch mapping error).
    Sink,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Cleaner => "cleaner",
            Stage::Sink => "sink",
        }
    }
}

/// Where the refused event sat in the pipeline's topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The pipeline's topic.
    pub topic: String,
    /// Partition of the record.
    pub partition: u32,
    /// Offset of the record.
    pub offset: u64,
}

/// One refused event and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The pipeline that refused it.
    pub pipeline: String,
    /// The event as it entered the refusing stage: for the cleaner, the event as read from the
    /// log (before any step), so a redrive after a pattern fix starts from the original.
    pub event: Event,
    /// The refusing stage.
    pub stage: Stage,
    /// The refusing step or sink (`grok`, `elasticsearch`, …).
    pub step: String,
    /// The reason (the pattern that failed, the Elasticsearch error).
    pub reason: String,
    /// The sink's status code, if any.
    pub status: Option<u16>,
    /// Delivery attempts so far (1 the first time; a redrive that fails again adds one).
    pub attempts: u32,
    /// When it was refused.
    pub time: DateTime<Utc>,
    /// Where it sat in the pipeline's topic, if it came from there.
    pub position: Option<Position>,
}

/// A dead-letter record that cannot be read back.
#[derive(Debug, thiserror::Error)]
#[error("dead letter at offset {offset}: {reason}")]
pub struct DeadLetterError {
    /// Offset of the record in the dead-letter topic.
    pub offset: u64,
    /// What is wrong with it.
    pub reason: String,
}

impl DeadLetter {
    /// The record written to `<topic>.dead`.
    pub fn to_record(&self) -> Record {
        let mut v = Map::new();
        v.insert("pipeline", Value::from(&self.pipeline));
        v.insert("stage", Value::from(self.stage.as_str()));
        v.insert("step", Value::from(&self.step));
        v.insert("reason", Value::from(&self.reason));
        if let Some(s) = self.status {
            v.insert("status", Value::from(s));
        }
        v.insert("attempts", Value::from(self.attempts));
        v.insert(
            "time",
            Value::from(self.time.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        if let Some(p) = &self.position {
            v.insert("topic", Value::from(&p.topic));
            v.insert("partition", Value::from(p.partition));
            v.insert("offset", Value::from(p.offset));
        }
        if let Some(sid) = &self.event.source_id {
            v.insert("source_id", Value::from(sid));
        }
        v.insert("event", Value::Object(self.event.fields.clone()));
        let headers = self
            .event
            .source_id
            .iter()
            .map(|sid| (SOURCE_ID_HEADER.to_string(), Bytes::from(sid.clone())))
            .collect();
        Record {
            timestamp_ms: self.time.timestamp_millis(),
            key: None,
            value: Bytes::from(serde_json::to_vec(&v).unwrap_or_default()),
            headers,
        }
    }

    /// Reads a dead letter back from its record.
    pub fn from_record(rec: &StoredRecord) -> Result<DeadLetter, DeadLetterError> {
        let err = |reason: &str| DeadLetterError {
            offset: rec.offset,
            reason: reason.to_string(),
        };
        let Value::Object(mut v) =
            serde_json::from_slice::<Value>(&rec.value).map_err(|e| err(&e.to_string()))?
        else {
            return Err(err("not a JSON object"));
        };
        let Some(Value::Object(fields)) = v.remove("event") else {
            return Err(err("no `event` object"));
        };
        let text = |v: &Map, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let source_id = v
            .get("source_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                rec.headers
                    .get(SOURCE_ID_HEADER)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            });
        let position = match (v.get("topic"), v.get("partition"), v.get("offset")) {
            (Some(Value::String(t)), Some(p), Some(o)) => Some(Position {
                topic: t.to_string(),
                partition: p.as_u64().unwrap_or_default() as u32,
                offset: o.as_u64().unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(DeadLetter {
            pipeline: text(&v, "pipeline"),
            event: Event { fields, source_id },
            stage: if text(&v, "stage") == "sink" {
                Stage::Sink
            } else {
                Stage::Cleaner
            },
            step: text(&v, "step"),
            reason: text(&v, "reason"),
            status: v.get("status").and_then(Value::as_u64).map(|s| s as u16),
            attempts: v.get("attempts").and_then(Value::as_u64).unwrap_or(1) as u32,
            time: v
                .get("time")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(Utc::now),
            position,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Headers;

    #[test]
    fn dead_letter_round_trips_through_its_record() {
        let mut event = Event::from_message("GET /x 500");
        event.source_id = Some("abc-12".into());
        event.insert("service", crate::value!("web"));
        let dl = DeadLetter {
            pipeline: "web".into(),
            event,
            stage: Stage::Sink,
            step: "elasticsearch".into(),
            reason: "mapper_parsing_exception: failed to parse [bytes]".into(),
            status: Some(400),
            attempts: 2,
            time: DateTime::parse_from_rfc3339("2026-11-25T07:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
            position: Some(Position {
                topic: "web".into(),
                partition: 3,
                offset: 41,
            }),
        };
        let rec = dl.to_record();
        assert_eq!(rec.headers[0].0, SOURCE_ID_HEADER);
        let stored = StoredRecord {
            partition: 0,
            offset: 7,
            timestamp_ms: rec.timestamp_ms,
            key: rec.key.clone(),
            value: rec.value.clone(),
            headers: Headers::from_pairs(&rec.headers),
        };
        assert_eq!(DeadLetter::from_record(&stored).unwrap(), dl);
    }

    #[test]
    fn garbage_is_an_error_naming_the_offset() {
        let stored = StoredRecord {
            partition: 0,
            offset: 9,
            timestamp_ms: 0,
            key: None,
            value: Bytes::from_static(b"not json"),
            headers: Headers::default(),
        };
        let e = DeadLetter::from_record(&stored).unwrap_err();
        assert!(e.to_string().contains("offset 9"), "{e}");
    }
}
