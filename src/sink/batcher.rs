//! Collecting events into sink batches by count, size and time (`bulk.max_docs`,
//! `bulk.max_bytes`, `bulk.flush`): the pipeline pushes events as they come and hands a batch
//! to [`Sink::send`](super::Sink::send) when [`Batcher::push`] returns one or when
//! [`Batcher::deadline`] has passed.

use crate::event::Event;
use std::time::Duration;
use tokio::time::Instant;

/// Accumulates events until a batch is full or old enough.
#[derive(Debug)]
pub struct Batcher {
    max_docs: usize,
    max_bytes: usize,
    flush: Duration,
    events: Vec<Event>,
    bytes: usize,
    first_at: Option<Instant>,
}

impl Batcher {
    /// A batcher closing batches at `max_docs` events, `max_bytes` bytes or `flush` after the
    /// first event.
    pub fn new(max_docs: usize, max_bytes: usize, flush: Duration) -> Self {
        Batcher {
            max_docs: max_docs.max(1),
            max_bytes: max_bytes.max(1),
            flush,
            events: Vec::new(),
            bytes: 0,
            first_at: None,
        }
    }

    /// Adds `event` (`size`: its encoded size, e.g. the record's length); returns the batch if
    /// it is now full.
    pub fn push(&mut self, event: Event, size: usize) -> Option<Vec<Event>> {
        if self.events.is_empty() {
            self.first_at = Some(Instant::now());
        }
        self.events.push(event);
        self.bytes += size;
        if self.events.len() >= self.max_docs || self.bytes >= self.max_bytes {
            Some(self.take())
        } else {
            None
        }
    }

    /// When the current batch must be sent even if not full (`None` when empty).
    pub fn deadline(&self) -> Option<Instant> {
        self.first_at.map(|t| t + self.flush)
    }

    /// Takes the current batch (possibly empty).
    pub fn take(&mut self) -> Vec<Event> {
        self.bytes = 0;
        self.first_at = None;
        std::mem::take(&mut self.events)
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when no event waits.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn closes_by_count_bytes_and_time() {
        let mut b = Batcher::new(3, 100, Duration::from_secs(1));
        assert!(b.deadline().is_none());
        assert!(b.push(Event::from_message("a"), 10).is_none());
        let d = b.deadline().unwrap();
        assert_eq!(d, Instant::now() + Duration::from_secs(1));
        assert!(b.push(Event::from_message("b"), 10).is_none());
        assert_eq!(b.push(Event::from_message("c"), 10).unwrap().len(), 3);
        assert!(b.is_empty() && b.deadline().is_none());
        assert_eq!(b.push(Event::from_message("big"), 100).unwrap().len(), 1);
        b.push(Event::from_message("x"), 1);
        assert_eq!(b.take().len(), 1);
    }
}
