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

/// Turns batches of events into bulk requests per the sink's configuration, one event at a
/// time ([`Preparer::push`]): each event is encoded and freed as soon as it is handed over,
/// while it is still in the CPU's caches.
#[derive(Debug, Clone)]
pub struct BulkEncoder {
    encoder: Encoder,
    bulk: BulkConfig,
    open: Open,
}

/// The batch being encoded.
#[derive(Debug, Clone, Default)]
struct Open {
    /// Requests already cut.
    requests: Vec<Request>,
    refused: Vec<Refused>,
    /// One per event pushed, in order.
    slots: Vec<Slot>,
    /// The request being filled, and its documents (position, range in `buf`).
    buf: Vec<u8>,
    docs: Vec<(usize, Range<usize>)>,
    /// Bytes and documents encoded so far (for sizing the next buffer).
    encoded_bytes: usize,
    encoded_docs: usize,
    /// Events still expected in this batch ([`Preparer::begin`]'s hint, counted down).
    left: usize,
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

    /// The bytes of its requests' bodies (uncompressed).
    pub fn body_bytes(&self) -> usize {
        self.requests.iter().map(|r| r.whole.len()).sum()
    }
}

impl BulkEncoder {
    /// An encoder for `cfg`.
    pub fn new(cfg: &ElasticsearchConfig) -> Self {
        BulkEncoder {
            encoder: Encoder::new(cfg),
            bulk: cfg.bulk.clone(),
            open: Open::default(),
        }
    }

    /// The bulk sizing.
    pub fn bulk(&self) -> &BulkConfig {
        &self.bulk
    }

    /// Encodes `batch` (what [`Preparer::prepare`] does); the events are freed here, except
    /// those that could not be encoded.
    pub fn encode(&mut self, batch: Vec<Event>) -> EncodedBatch {
        self.begin(batch.len());
        for event in batch {
            self.push(event);
        }
        self.finish_batch()
    }

    /// Bytes to reserve for a request buffer, from the average document so far (1 KiB before
    /// the first) and the documents still expected: at most one full request.
    fn capacity(&self) -> usize {
        let avg = self
            .open
            .encoded_bytes
            .checked_div(self.open.encoded_docs)
            .unwrap_or(1024)
            .max(1);
        let docs = self.open.left.clamp(1, self.bulk.max_docs.max(1));
        (avg * docs).min(self.bulk.max_bytes) + 2 * avg
    }

    /// Cuts the request being filled (if it holds documents), its body being `buf`.
    fn seal(&mut self, buf: Vec<u8>) {
        let open = &mut self.open;
        if open.docs.is_empty() {
            return;
        }
        let whole = Bytes::from(buf);
        let docs = open
            .docs
            .drain(..)
            .map(|(pos, r)| {
                let bytes = whole.slice(r);
                if let Some(Slot::Sent { doc, .. }) = open.slots.get_mut(pos) {
                    *doc = bytes.clone();
                }
                Doc {
                    pos,
                    bytes,
                    attempts: 0,
                }
            })
            .collect();
        open.requests.push(Request { docs, whole });
    }

    /// Ends the batch: every event pushed since [`Preparer::begin`], cut into requests of at
    /// most `bulk.max_docs` documents and `bulk.max_bytes` bytes each (a larger document goes
    /// alone).
    fn finish_batch(&mut self) -> EncodedBatch {
        let buf = std::mem::take(&mut self.open.buf);
        self.seal(buf);
        let open = std::mem::take(&mut self.open);
        EncodedBatch {
            requests: open.requests,
            refused: open.refused,
            slots: Slots(open.slots),
        }
    }
}

impl Preparer for BulkEncoder {
    fn begin(&mut self, expected: usize) {
        self.open = Open {
            left: expected,
            ..Open::default()
        };
        self.open.buf = Vec::with_capacity(self.capacity());
    }

    fn push(&mut self, mut event: Event) {
        let pos = self.open.slots.len();
        self.open.left = self.open.left.saturating_sub(1);
        let start = self.open.buf.len();
        if let Err(e) = self.encoder.encode(&event, &mut self.open.buf) {
            self.open.refused.push(Refused {
                pos,
                reason: e.to_string(),
                status: None,
                attempts: 0,
            });
            self.open.slots.push(Slot::Event(event));
            return;
        }
        // What a refusal later needs: the rest of the event is freed now.
        self.open.slots.push(Slot::Sent {
            doc: Bytes::new(),
            source_id: event.source_id.take(),
            metadata: event.fields.remove(METADATA),
        });
        drop(event);
        let len = self.open.buf.len() - start;
        self.open.encoded_bytes += len;
        self.open.encoded_docs += 1;
        let full = self.open.docs.len() >= self.bulk.max_docs.max(1)
            || self.open.buf.len() > self.bulk.max_bytes;
        if !self.open.docs.is_empty() && full {
            // This document starts the next request.
            let mut next = Vec::with_capacity(self.capacity().max(len));
            next.extend_from_slice(&self.open.buf[start..]);
            self.open.buf.truncate(start);
            let buf = std::mem::replace(&mut self.open.buf, next);
            self.seal(buf);
            self.open.docs.push((pos, 0..len));
        } else {
            self.open.docs.push((pos, start..start + len));
        }
    }

    fn finish(&mut self) -> Prepared {
        Prepared::Bulk(self.finish_batch())
    }
}

/// What it takes to hand a refused document back as the event it was: the event itself when
/// it could not be encoded, otherwise its encoded bytes, source id and `@metadata` (which is
/// not sent).
#[derive(Debug, Clone)]
enum Slot {
    Event(Event),
    Sent {
        doc: Bytes,
        source_id: Option<String>,
        metadata: Option<crate::value::Value>,
    },
    Taken,
}

/// Per position in the batch, what [`Slots::take`] needs.
#[derive(Debug)]
pub(super) struct Slots(Vec<Slot>);

impl Slots {
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
                    event.fields.insert(METADATA, m);
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
                e.insert("service", crate::value!("s"));
                e
            })
            .collect();
        batch[4].insert("big", crate::value!("x".repeat(500)));
        batch[7].remove("service");
        let encoded = sink.encode(batch);
        let reqs = &encoded.requests;
        assert_eq!(
            encoded.refused.iter().map(|r| r.pos).collect::<Vec<_>>(),
            vec![7]
        );
        let pos: Vec<Vec<usize>> = reqs
            .iter()
            .map(|r| r.docs.iter().map(|d| d.pos).collect())
            .collect();
        assert_eq!(
            pos,
            vec![vec![0, 1, 2], vec![3], vec![4], vec![5, 6, 8], vec![9]]
        );
        for r in reqs {
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
        for r in reqs {
            let total: usize = r.docs.iter().map(|d| d.bytes.len()).sum();
            assert!(total <= 300 || r.docs.len() == 1);
        }
    }

    #[test]
    fn a_wrong_size_hint_changes_no_request_and_refused_docs_come_back_whole() {
        let cfg = ElasticsearchConfig {
            index: "i".into(),
            bulk: BulkConfig {
                max_docs: 4,
                max_bytes: 1 << 20,
                ..Default::default()
            },
            ..Default::default()
        };
        let events: Vec<Event> = (0..10)
            .map(|i| {
                let mut e = Event::from_message(format!("m{i}"));
                e.insert("@metadata.n", crate::value!(i));
                e.source_id = Some(format!("sid{i}"));
                e
            })
            .collect();
        let bodies = |b: &EncodedBatch| -> Vec<Bytes> {
            b.requests.iter().map(|r| r.whole.clone()).collect()
        };
        let exact = BulkEncoder::new(&cfg).encode(events.clone());
        for hint in [0, 3, 1000] {
            let mut enc = BulkEncoder::new(&cfg);
            enc.begin(hint);
            for e in events.clone() {
                enc.push(e);
            }
            let Prepared::Bulk(mut got) = enc.finish() else {
                panic!("the bulk encoder prepares bulk requests");
            };
            assert_eq!(bodies(&got), bodies(&exact), "hint {hint}");
            assert_eq!(got.len(), 10);
            for (pos, e) in events.iter().enumerate() {
                assert_eq!(
                    got.slots.take(pos).as_ref(),
                    Some(e),
                    "hint {hint}, pos {pos}"
                );
            }
        }
    }
}
