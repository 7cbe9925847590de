//! Encoding a whole batch into bulk requests: the CPU half of the sink, which a worker runs on
//! its cleaning thread (see [`Preparer`]) so that the events are encoded and freed on the
//! thread that built them, and a batch in flight costs only its encoded bytes.

use super::config::{BulkConfig, ElasticsearchConfig};
use super::encoder::Encoder;
use super::request::{Doc, Request};
use super::service::Refused;
use crate::event::{Event, METADATA};
use crate::sink::{Prepared, Preparer};
use bytes::Bytes;
use std::ops::Range;

/// Turns batches of events into bulk requests per the sink's configuration.
#[derive(Debug, Clone)]
pub struct BulkEncoder {
    encoder: Encoder,
    bulk: BulkConfig,
}

/// A batch encoded into bulk requests, ready for the sink to deliver.
#[derive(Debug)]
pub struct EncodedBatch {
    pub(super) requests: Vec<Request>,
    /// Events that could not be encoded (a template names a missing field).
    pub(super) refused: Vec<Refused>,
    pub(super) slots: Slots,
}

impl EncodedBatch {
    /// The number of events the batch was made of.
    pub fn len(&self) -> usize {
        self.slots.0.len()
    }

    /// True if the batch had no events.
    pub fn is_empty(&self) -> bool {
        self.slots.0.is_empty()
    }
}

impl BulkEncoder {
    /// An encoder for `cfg`.
    pub fn new(cfg: &ElasticsearchConfig) -> Self {
        BulkEncoder {
            encoder: Encoder::new(cfg),
            bulk: cfg.bulk.clone(),
        }
    }

    /// The bulk sizing.
    pub fn bulk(&self) -> &BulkConfig {
        &self.bulk
    }

    /// Encodes `batch`; the events are freed here, except those that could not be encoded.
    pub fn encode(&mut self, batch: Vec<Event>) -> EncodedBatch {
        let mut refused = Vec::new();
        let requests = self.encode_requests(&batch, &mut refused);
        let slots = Slots::new(batch, &refused, &requests);
        EncodedBatch {
            requests,
            refused,
            slots,
        }
    }

    /// Encodes `batch` straight into request-sized buffers (at most `bulk.max_docs` documents
    /// and `bulk.max_bytes` bytes each; a larger document goes alone). Events that cannot be
    /// encoded are added to `refused`.
    pub(super) fn encode_requests(
        &mut self,
        batch: &[Event],
        refused: &mut Vec<Refused>,
    ) -> Vec<Request> {
        let (max_docs, max_bytes) = (self.bulk.max_docs.max(1), self.bulk.max_bytes);
        let mut requests = Vec::new();
        let mut cur: Vec<(usize, Range<usize>)> = Vec::new();
        let capacity =
            |avg: usize, left: usize| (avg * left.min(max_docs)).min(max_bytes) + 2 * avg;
        let mut buf = Vec::with_capacity(capacity(1024, batch.len()));
        let mut encoded = 0usize;
        let mut encoded_docs = 0usize;
        let seal =
            |buf: Vec<u8>, cur: &mut Vec<(usize, Range<usize>)>, requests: &mut Vec<Request>| {
                let whole = Bytes::from(buf);
                let docs = cur
                    .drain(..)
                    .map(|(pos, r)| Doc {
                        pos,
                        bytes: whole.slice(r),
                        attempts: 0,
                    })
                    .collect();
                requests.push(Request { docs, whole });
            };
        for (pos, ev) in batch.iter().enumerate() {
            let start = buf.len();
            if let Err(e) = self.encoder.encode(ev, &mut buf) {
                refused.push(Refused {
                    pos,
                    reason: e.to_string(),
                    status: None,
                    attempts: 0,
                });
                continue;
            }
            let len = buf.len() - start;
            encoded += len;
            encoded_docs += 1;
            if !cur.is_empty() && (cur.len() >= max_docs || buf.len() > max_bytes) {
                // This document starts the next request.
                let avg = encoded / encoded_docs;
                let mut next = Vec::with_capacity(capacity(avg, batch.len() - pos).max(len));
                next.extend_from_slice(&buf[start..]);
                buf.truncate(start);
                seal(std::mem::replace(&mut buf, next), &mut cur, &mut requests);
                cur.push((pos, 0..len));
            } else {
                cur.push((pos, start..start + len));
            }
        }
        if !cur.is_empty() {
            seal(buf, &mut cur, &mut requests);
        }
        requests
    }
}

impl Preparer for BulkEncoder {
    fn prepare(&mut self, batch: Vec<Event>) -> Prepared {
        Prepared::Bulk(self.encode(batch))
    }
}

/// What it takes to hand a refused document back as the event it was: the event itself when
/// it could not be encoded, otherwise its encoded bytes, source id and `@metadata` (which is
/// not sent).
#[derive(Debug)]
enum Slot {
    Event(Event),
    Sent {
        doc: Bytes,
        source_id: Option<String>,
        metadata: Option<serde_json::Value>,
    },
    Taken,
}

/// Per position in the batch, what [`Slots::take`] needs.
#[derive(Debug)]
pub(super) struct Slots(Vec<Slot>);

impl Slots {
    fn new(batch: Vec<Event>, refused: &[Refused], requests: &[Request]) -> Self {
        let mut docs: Vec<Option<Bytes>> = vec![None; batch.len()];
        for d in requests.iter().flat_map(|r| &r.docs) {
            if let Some(slot) = docs.get_mut(d.pos) {
                *slot = Some(d.bytes.clone());
            }
        }
        let unencoded: std::collections::HashSet<usize> = refused.iter().map(|r| r.pos).collect();
        let slots = batch
            .into_iter()
            .zip(docs)
            .enumerate()
            .map(|(pos, (mut event, doc))| match doc {
                Some(doc) if !unencoded.contains(&pos) => Slot::Sent {
                    doc,
                    source_id: event.source_id.take(),
                    metadata: event.fields.remove(METADATA),
                },
                _ => Slot::Event(event),
            })
            .collect();
        Slots(slots)
    }

    /// The event at `pos`, once.
    pub(super) fn take(&mut self, pos: usize) -> Option<Event> {
        match std::mem::replace(self.0.get_mut(pos)?, Slot::Taken) {
            Slot::Event(e) => Some(e),
            Slot::Sent {
                doc,
                source_id,
                metadata,
            } => {
                // The document is its action line, then its source line.
                let source = doc.splitn(3, |b| *b == b'\n').nth(1).unwrap_or_default();
                let mut event = Event::decode(source, source_id);
                if let Some(m) = metadata {
                    event.fields.insert(METADATA.to_string(), m);
                }
                Some(event)
            }
            Slot::Taken => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_cut_by_docs_and_bytes_and_keep_every_encoded_event() {
        let cfg = ElasticsearchConfig {
            index: "i-%{service}".into(),
            bulk: BulkConfig {
                max_docs: 3,
                max_bytes: 300,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut sink = BulkEncoder::new(&cfg);
        let mut batch: Vec<Event> = (0..10)
            .map(|i| {
                let mut e = Event::from_message(format!("m{i}"));
                e.insert("service", serde_json::json!("s"));
                e
            })
            .collect();
        batch[4].insert("big", serde_json::json!("x".repeat(500)));
        batch[7].remove("service");
        let mut refused = Vec::new();
        let reqs = sink.encode_requests(&batch, &mut refused);
        assert_eq!(refused.iter().map(|r| r.pos).collect::<Vec<_>>(), vec![7]);
        let pos: Vec<Vec<usize>> = reqs
            .iter()
            .map(|r| r.docs.iter().map(|d| d.pos).collect())
            .collect();
        assert_eq!(
            pos,
            vec![vec![0, 1, 2], vec![3], vec![4], vec![5, 6, 8], vec![9]]
        );
        for r in &reqs {
            let joined: Vec<u8> = r.docs.iter().flat_map(|d| d.bytes.to_vec()).collect();
            assert_eq!(
                joined, r.whole,
                "the whole body is the documents back to back"
            );
        }
        for d in reqs.iter().flat_map(|r| &r.docs) {
            let text = std::str::from_utf8(&d.bytes).unwrap();
            assert!(
                text.contains(&format!("\"message\":\"m{}\"", d.pos)),
                "{text}"
            );
            assert_eq!(text.matches('\n').count(), 2);
        }
        for r in &reqs {
            let total: usize = r.docs.iter().map(|d| d.bytes.len()).sum();
            assert!(total <= 300 || r.docs.len() == 1);
        }
    }
}
