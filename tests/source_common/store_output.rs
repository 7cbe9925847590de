//! A `ShipperOutput` over the real store's producer (what the pipeline does), for tests and the
//! benchmark.
#![allow(dead_code)]

use bytes::Bytes;
use futures_util::future::BoxFuture;
use sluice::event::{Event, SOURCE_ID_HEADER};
use sluice::pipeline::output::{build_records, send_built};
use sluice::source::{EncodedEvent, EventWriter, OutputError, ShipperOutput};
use sluice::store::{Producer, Record, StoredRecord, Topic, now_ms};

/// Sends events as records: value = `Event::encode()`, header `sid` = the source id.
/// `encoded: true` takes the shipper's serialised fast path (events written straight into the
/// producer's batches, as `ProducerOutput` does).
pub struct StoreOutput {
    pub producer: Producer,
    pub encoded: bool,
}

fn record(ts: i64, value: Vec<u8>, sid: Option<String>) -> Record {
    Record {
        timestamp_ms: ts,
        key: None,
        value: Bytes::from(value),
        headers: match sid {
            Some(s) => vec![(SOURCE_ID_HEADER.to_string(), Bytes::from(s))],
            None => Vec::new(),
        },
    }
}

impl StoreOutput {
    async fn send_records(&self, records: Vec<Record>) -> Result<(), OutputError> {
        match self.producer.send(records).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_transient() => Err(OutputError::Transient(e.to_string())),
            Err(e) => Err(OutputError::Fatal(e.to_string())),
        }
    }
}

impl ShipperOutput for StoreOutput {
    fn send(&self, events: Vec<Event>) -> BoxFuture<'_, Result<(), OutputError>> {
        Box::pin(async move {
            let ts = now_ms();
            let records: Vec<Record> = events
                .into_iter()
                .map(|e| record(ts, e.encode(), e.source_id))
                .collect();
            self.send_records(records).await
        })
    }

    fn prefers_encoded(&self) -> bool {
        self.encoded
    }

    fn send_encoded(&self, events: Vec<EncodedEvent>) -> BoxFuture<'_, Result<(), OutputError>> {
        Box::pin(async move {
            let ts = now_ms();
            let records: Vec<Record> = events
                .into_iter()
                .map(|e| record(ts, e.value, e.source_id))
                .collect();
            self.send_records(records).await
        })
    }

    fn send_written(
        &self,
        write: &mut dyn FnMut(&mut dyn EventWriter),
    ) -> BoxFuture<'_, Result<(), OutputError>> {
        let batches = build_records(&self.producer, write);
        Box::pin(send_built(&self.producer, batches))
    }
}

/// Every record of every partition of `topic`.
pub fn read_all(topic: &Topic) -> Vec<StoredRecord> {
    let mut all = Vec::new();
    for p in 0..topic.partition_count() {
        let mut off = topic.start_offset(p);
        while off < topic.end_offset(p) {
            let f = topic.fetch(p, off, 4 << 20).unwrap();
            if f.records.is_empty() {
                break;
            }
            off = f.next_offset;
            all.extend(f.records);
        }
    }
    all
}

/// (message, source id) of a stored record.
pub fn message_and_sid(r: &StoredRecord) -> (String, String) {
    let e = Event::decode(&r.value, None);
    let sid = r
        .headers
        .get(SOURCE_ID_HEADER)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    (e.get_str("message").unwrap_or_default().to_string(), sid)
}
