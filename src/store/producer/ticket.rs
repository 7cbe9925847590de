//! Tickets: one per `send`, resolved once every batch holding its records is acknowledged.

use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::oneshot;

use crate::store::error::StoreError;

/// What a send resolves to: (partition, offset) per record (or per batch for
/// [`Producer::send_batches`](super::Producer::send_batches)).
pub(super) type Reply = Result<Vec<(u32, u64)>, StoreError>;

/// One `send` call waiting for its records (possibly spread over several batches).
pub(super) struct Ticket {
    inner: Mutex<TicketInner>,
}

struct TicketInner {
    results: Vec<(u32, u64)>,
    parts_left: usize,
    err: Option<StoreError>,
    tx: Option<oneshot::Sender<Reply>>,
}

/// The records of one `send` inside a batch: its ticket (none with `acks: 0`), their indexes in
/// the send, and the position of the first of them in the batch.
pub(super) type Part = (Option<Arc<Ticket>>, Vec<u32>, u64);

impl Ticket {
    /// A ticket for `results` slots, resolved through `tx` once `parts` parts finished.
    pub fn new(results: usize, parts: usize, tx: oneshot::Sender<Reply>) -> Arc<Ticket> {
        Arc::new(Ticket {
            inner: Mutex::new(TicketInner {
                results: vec![(0, 0); results],
                parts_left: parts,
                err: None,
                tx: Some(tx),
            }),
        })
    }

    /// Records the outcome of one part: slot `idxs[k]` gets offset `first + k`.
    pub fn finish_part(&self, partition: u32, idxs: &[u32], first: Result<u64, &StoreError>) {
        let mut t = self.inner.lock();
        match first {
            Ok(first) => {
                for (k, &i) in idxs.iter().enumerate() {
                    t.results[i as usize] = (partition, first + k as u64);
                }
            }
            Err(e) => {
                if t.err.is_none() {
                    t.err = Some(e.duplicate());
                }
            }
        }
        t.parts_left -= 1;
        if t.parts_left == 0
            && let Some(tx) = t.tx.take()
        {
            let r = match t.err.take() {
                Some(e) => Err(e),
                None => Ok(std::mem::take(&mut t.results)),
            };
            let _ = tx.send(r);
        }
    }
}
