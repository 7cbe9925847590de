//! Choosing a partition for each record.

use super::batch::Record;

/// How a [`Producer`](super::Producer) spreads records over partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Partitioner {
    /// Default. Record by record in turn.
    #[default]
    RoundRobin,
    /// All records to one partition until `batch_size` bytes went there, then the next one
    /// (fewer, fuller batches).
    Sticky,
    /// By a hash (FNV-1a, stable across versions) of the record's key, so one key keeps one
    /// partition and its order; records without a key go round robin.
    Key,
}

/// FNV-1a 64-bit: stable, so a key maps to the same partition across restarts and versions.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Mutable partitioner state (round-robin counter, sticky choice).
#[derive(Debug, Default)]
pub(crate) struct Chooser {
    rr: u64,
    sticky: u32,
    sticky_bytes: usize,
}

/// Where a send built in place starts: the round-robin position and the sticky partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start {
    pub rr: u64,
    pub sticky: u32,
}

/// What a send built in place used: round-robin turns and bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    pub rr_used: u64,
    pub bytes: usize,
}

impl Start {
    /// The partition of the next record (`usage` counts the round-robin turns taken).
    #[inline]
    pub fn choose(
        &self,
        how: Partitioner,
        key: Option<&[u8]>,
        partitions: u32,
        usage: &mut Usage,
    ) -> u32 {
        let n = u64::from(partitions.max(1));
        match (how, key) {
            (Partitioner::Sticky, _) => self.sticky,
            (Partitioner::Key, Some(k)) => (key_hash(k) % n) as u32,
            _ => {
                let p = (self.rr.wrapping_add(usage.rr_used) % n) as u32;
                usage.rr_used += 1;
                p
            }
        }
    }
}

impl Chooser {
    /// Where a send built in place starts (see [`Chooser::advance`]).
    pub fn start(&mut self, partitions: u32) -> Start {
        if self.sticky >= partitions {
            self.sticky = 0;
        }
        Start {
            rr: self.rr,
            sticky: self.sticky,
        }
    }

    /// Accounts for a send built in place from [`Chooser::start`] (concurrent builders may
    /// start at the same round-robin position: the spread is then only approximately even).
    pub fn advance(&mut self, u: Usage, how: Partitioner, partitions: u32, batch_size: usize) {
        self.rr = self.rr.wrapping_add(u.rr_used);
        if how == Partitioner::Sticky {
            self.sticky_bytes += u.bytes;
            if self.sticky_bytes >= batch_size {
                self.sticky = (self.sticky + 1) % partitions.max(1);
                self.sticky_bytes = 0;
            }
        }
    }

    /// Assigns a partition to each record.
    pub fn assign(
        &mut self,
        how: Partitioner,
        records: &[Record],
        partitions: u32,
        batch_size: usize,
    ) -> Vec<u32> {
        let n = u64::from(partitions.max(1));
        let mut rr = || {
            let p = (self.rr % n) as u32;
            self.rr = self.rr.wrapping_add(1);
            p
        };
        match how {
            Partitioner::RoundRobin => records.iter().map(|_| rr()).collect(),
            Partitioner::Key => records
                .iter()
                .map(|r| match &r.key {
                    Some(k) => (key_hash(k) % n) as u32,
                    None => rr(),
                })
                .collect(),
            Partitioner::Sticky => {
                if self.sticky >= partitions {
                    self.sticky = 0;
                }
                let p = self.sticky;
                self.sticky_bytes += records.iter().map(Record::encoded_size_hint).sum::<usize>();
                if self.sticky_bytes >= batch_size {
                    self.sticky = (self.sticky + 1) % partitions.max(1);
                    self.sticky_bytes = 0;
                }
                vec![p; records.len()]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn key_keeps_partition_and_round_robin_spreads() {
        let mut c = Chooser::default();
        let recs: Vec<Record> = (0..8)
            .map(|i| Record {
                key: Some(Bytes::from(format!("k{}", i % 2))),
                ..Record::default()
            })
            .collect();
        let a = c.assign(Partitioner::Key, &recs, 4, 1 << 20);
        assert_eq!(a[0], a[2]);
        assert_eq!(a[1], a[3]);
        let b = c.assign(Partitioner::RoundRobin, &recs, 4, 1 << 20);
        assert_eq!(b, vec![0, 1, 2, 3, 0, 1, 2, 3]);
        let s = c.assign(Partitioner::Sticky, &recs, 4, 1 << 20);
        assert!(s.iter().all(|&p| p == s[0]));
    }
}
