//! The shipper's output: events into the pipeline's topic through the store's producer.

use crate::event::{Event, SOURCE_ID_HEADER};
use crate::source::{EncodedEvent, EventWriter, OutputError, ShipperOutput};
use crate::store::{Batches, Producer, Record};
use bytes::Bytes;
use futures_util::future::BoxFuture;

/// How records are keyed (the YAML `partition_by: { key: "{{ log.file.path }}" }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    field: String,
}

impl KeyTemplate {
    /// Parses `{{ field.path }}` (or a bare field path).
    pub fn parse(template: &str) -> KeyTemplate {
        let t = template.trim();
        let inner = t
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
            .unwrap_or(t)
            .trim();
        KeyTemplate {
            field: inner.to_string(),
        }
    }

    /// The key of `event`: the field's value as text, or none when it is missing.
    pub fn key_of(&self, event: &Event) -> Option<Bytes> {
        match event.get(&self.field)? {
            crate::value::Value::String(s) => Some(Bytes::copy_from_slice(s.as_bytes())),
            other => Some(Bytes::from(other.to_string())),
        }
    }
}

/// Turns an event into the record stored in the log: value = the encoded fields, header
/// `sid` = the source id, key from the template.
pub fn event_to_record(event: &Event, key: Option<&KeyTemplate>, timestamp_ms: i64) -> Record {
    Record {
        timestamp_ms,
        key: key.and_then(|k| k.key_of(event)),
        value: Bytes::from(event.encode()),
        headers: event
            .source_id
            .iter()
            .map(|sid| (SOURCE_ID_HEADER.to_string(), Bytes::from(sid.clone())))
            .collect(),
    }
}

/// An [`EventWriter`] into a producer's [`Batches`]: each event becomes a record (value = its
/// JSON object, header `sid` = its source id, no key) written straight into the batch.
pub struct RecordWriter<'a> {
    /// Where the records go.
    pub batches: &'a mut Batches,
    /// The records' timestamp.
    pub timestamp_ms: i64,
}

impl EventWriter for RecordWriter<'_> {
    fn write_event(&mut self, source_id: Option<&[u8]>, value: &mut dyn FnMut(&mut Vec<u8>)) {
        match source_id {
            Some(sid) => {
                self.batches
                    .push(self.timestamp_ms, None, &[(SOURCE_ID_HEADER, sid)], value)
            }
            None => self.batches.push(self.timestamp_ms, None, &[], value),
        }
    }
}

/// Serialises one batch of events (`write`, see [`ShipperOutput::send_written`]) into the
/// producer's batches, stamped now.
pub fn build_records(producer: &Producer, write: &mut dyn FnMut(&mut dyn EventWriter)) -> Batches {
    let mut batches = producer.batches();
    write(&mut RecordWriter {
        batches: &mut batches,
        timestamp_ms: chrono::Utc::now().timestamp_millis(),
    });
    batches
}

/// Sends records built in place; errors classified as [`ShipperOutput`] wants them.
pub async fn send_built(producer: &Producer, batches: Batches) -> Result<(), OutputError> {
    producer
        .send_batches(batches)
        .await
        .map(|_| ())
        .map_err(|e| {
            if e.is_transient() {
                OutputError::Transient(e.to_string())
            } else {
                OutputError::Fatal(e.to_string())
            }
        })
}

/// [`ShipperOutput`] over a [`Producer`]: resolves once the log acknowledged the records
/// (per the topic's `acks`), so the shipper's checkpoint never runs ahead of the log.
pub struct ProducerOutput {
    producer: Producer,
    key: Option<KeyTemplate>,
}

impl ProducerOutput {
    /// An output producing through `producer`, keying records with `key` if given.
    pub fn new(producer: Producer, key: Option<KeyTemplate>) -> Self {
        ProducerOutput { producer, key }
    }
}

impl ProducerOutput {
    async fn produce(&self, records: Vec<Record>) -> Result<(), OutputError> {
        self.producer.send(records).await.map(|_| ()).map_err(|e| {
            if e.is_transient() {
                OutputError::Transient(e.to_string())
            } else {
                OutputError::Fatal(e.to_string())
            }
        })
    }
}

impl ShipperOutput for ProducerOutput {
    fn send(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), OutputError>> {
        Box::pin(async move {
            let now = chrono::Utc::now().timestamp_millis();
            let records: Vec<Record> = events
                .iter()
                .map(|e| event_to_record(e, self.key.as_ref(), now))
                .collect();
            self.produce(records).await
        })
    }

    /// Without a key template a record needs no field of its event: the shipper's serialised
    /// bytes go into the log as they are (no map per line).
    fn prefers_encoded(&self) -> bool {
        self.key.is_none()
    }

    fn send_encoded(&self, events: Vec<EncodedEvent>) -> BoxFuture<'_, Result<(), OutputError>> {
        if self.key.is_some() {
            let events = events.iter().map(EncodedEvent::to_event).collect();
            return self.send(events);
        }
        Box::pin(async move {
            let now = chrono::Utc::now().timestamp_millis();
            let records: Vec<Record> = events
                .into_iter()
                .map(|e| Record {
                    timestamp_ms: now,
                    key: None,
                    value: Bytes::from(e.value),
                    headers: e
                        .source_id
                        .map(|sid| vec![(SOURCE_ID_HEADER.to_string(), Bytes::from(sid))])
                        .unwrap_or_default(),
                })
                .collect();
            self.produce(records).await
        })
    }

    /// Without a key template: the events are serialised straight into the producer's
    /// batches (no `Vec` or record per event).
    fn send_written(
        &self,
        write: &mut dyn FnMut(&mut dyn EventWriter),
    ) -> BoxFuture<'_, Result<(), OutputError>> {
        if self.key.is_some() {
            let mut events = Vec::new();
            write(&mut EventsWriter(&mut events));
            return self.send(events);
        }
        let batches = build_records(&self.producer, write);
        Box::pin(send_built(&self.producer, batches))
    }
}

/// Decodes written events back into [`Event`]s (a key template needs their fields).
struct EventsWriter<'a>(&'a mut Vec<Event>);

impl EventWriter for EventsWriter<'_> {
    fn write_event(&mut self, source_id: Option<&[u8]>, value: &mut dyn FnMut(&mut Vec<u8>)) {
        let mut v = Vec::new();
        value(&mut v);
        let sid = source_id.map(|s| String::from_utf8_lossy(s).into_owned());
        self.0.push(Event::decode(&v, sid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn key_template_reads_the_field() {
        let mut e = Event::from_message("x");
        e.insert("log.file.path", value!("/var/log/a.log"));
        let k = KeyTemplate::parse("{{ log.file.path }}");
        assert_eq!(k.key_of(&e).as_deref(), Some(&b"/var/log/a.log"[..]));
        assert_eq!(KeyTemplate::parse("{{ nope }}").key_of(&e), None);
    }

    #[test]
    fn record_carries_source_id_and_fields() {
        let mut e = Event::from_message("hello");
        e.source_id = Some("f00-7".into());
        let r = event_to_record(&e, None, 5);
        assert_eq!(
            r.headers,
            vec![(SOURCE_ID_HEADER.to_string(), Bytes::from("f00-7"))]
        );
        assert_eq!(Event::decode(&r.value, None).fields, e.fields);
    }
}
