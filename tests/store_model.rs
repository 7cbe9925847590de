//! Model-based property test: random append / read / roll / commit-as-floor / reopen /
//! retention / time-lookup actions against the real store and a plain in-memory model (a `Vec`
//! of records per partition plus a start offset). After every action the two must agree.

use bytes::Bytes;
use proptest::prelude::*;
use sluice::store::{
    Acks, Compression, Record, Retention, Store, StoreError, StoreOptions, Topic, TopicConfig,
    WhenFull,
};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const PARTITIONS: u32 = 2;

#[derive(Debug, Clone)]
enum Action {
    Append {
        p: u32,
        n: usize,
        size: usize,
        ts: i64,
        keyed: bool,
        acks: u8,
    },
    Read {
        p: u32,
        at: f64,
        max_bytes: usize,
    },
    Roll {
        p: u32,
    },
    Floor {
        p: u32,
        at: Option<f64>,
    },
    Reopen,
    Retention,
    Time {
        p: u32,
        ts: i64,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (0..PARTITIONS, 1usize..12, 0usize..300, 0i64..1000, any::<bool>(), 0u8..3)
            .prop_map(|(p, n, size, ts, keyed, acks)| Action::Append { p, n, size, ts, keyed, acks }),
        3 => (0..PARTITIONS, 0.0f64..=1.0, 1usize..4000).prop_map(|(p, at, max_bytes)| Action::Read { p, at, max_bytes }),
        1 => (0..PARTITIONS).prop_map(|p| Action::Roll { p }),
        2 => (0..PARTITIONS, proptest::option::of(0.0f64..=1.0)).prop_map(|(p, at)| Action::Floor { p, at }),
        1 => Just(Action::Reopen),
        2 => Just(Action::Retention),
        1 => (0..PARTITIONS, -10i64..1100).prop_map(|(p, ts)| Action::Time { p, ts }),
    ]
}

#[derive(Default, Clone)]
struct ModelPartition {
    start: u64,
    records: Vec<Record>, // records[i] has offset start + i
    floor: Option<u64>,
}

impl ModelPartition {
    fn end(&self) -> u64 {
        self.start + self.records.len() as u64
    }
}

fn config(when_full: WhenFull, gzip: bool) -> TopicConfig {
    TopicConfig {
        partitions: PARTITIONS,
        segment_bytes: 4096,
        index_interval_bytes: 256,
        compression: if gzip {
            Compression::Gzip
        } else {
            Compression::None
        },
        retention: Retention {
            max_bytes: Some(24 * 1024),
            max_age: None,
            when_full,
            block_timeout: Duration::ZERO,
        },
        ..TopicConfig::default()
    }
}

fn open(dir: &TempDir) -> (Store, Arc<Topic>) {
    let s = Store::open_with(
        dir.path(),
        StoreOptions {
            maintenance_interval: None,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let t = s.topic("m").unwrap().unwrap();
    (s, t)
}

fn pick(m: &ModelPartition, at: f64) -> u64 {
    m.start + ((m.records.len() as f64) * at).floor() as u64
}

fn run(actions: Vec<Action>, when_full: WhenFull, gzip: bool) -> Result<(), TestCaseError> {
    let dir = TempDir::new().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.create_topic("m", config(when_full, gzip)).unwrap();
    }
    let (mut store, mut t) = open(&dir);
    let mut model = vec![ModelPartition::default(); PARTITIONS as usize];
    let mut counter = 0u64;
    for a in actions {
        // Appends (when over max_bytes) and retention passes may delete old segments.
        let may_delete = matches!(a, Action::Append { .. } | Action::Retention);
        match a {
            Action::Append {
                p,
                n,
                size,
                ts,
                keyed,
                acks,
            } => {
                let recs: Vec<Record> = (0..n)
                    .map(|i| {
                        counter += 1;
                        Record {
                            timestamp_ms: ts + i as i64,
                            key: keyed.then(|| Bytes::from(format!("k{}", counter % 5))),
                            value: Bytes::from(format!("{counter}:{}", "v".repeat(size))),
                            headers: if counter.is_multiple_of(3) {
                                vec![("sid".into(), Bytes::from(counter.to_string()))]
                            } else {
                                vec![]
                            },
                        }
                    })
                    .collect();
                let acks = [Acks::None, Acks::Written, Acks::Fsync][acks as usize];
                match t.append(p, &recs, acks) {
                    Ok(info) => {
                        let m = &mut model[p as usize];
                        prop_assert_eq!(info.first_offset, m.end());
                        prop_assert_eq!(info.last_offset, m.end() + n as u64 - 1);
                        m.records.extend(recs);
                    }
                    Err(StoreError::Full { .. }) => {
                        prop_assert_eq!(when_full, WhenFull::Block);
                        prop_assert!(
                            model.iter().any(|m| m.floor.is_some()),
                            "Full without any floor"
                        );
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("append: {e}"))),
                }
            }
            Action::Read { p, at, max_bytes } => {
                let m = &model[p as usize];
                let from = pick(m, at);
                let f = t.fetch(p, from, max_bytes).unwrap();
                prop_assert!(f.corrupt.is_empty());
                prop_assert_eq!(f.end_offset, m.end());
                if from < m.end() {
                    prop_assert!(!f.records.is_empty(), "at least one batch");
                }
                prop_assert_eq!(f.next_offset, from + f.records.len() as u64);
                for (i, r) in f.records.iter().enumerate() {
                    let want = &m.records[(from - m.start) as usize + i];
                    prop_assert_eq!(r.offset, from + i as u64);
                    prop_assert_eq!(&r.value, &want.value);
                    prop_assert_eq!(&r.key, &want.key);
                    prop_assert_eq!(r.timestamp_ms, want.timestamp_ms);
                    prop_assert_eq!(&r.headers.to_vec(), &want.headers);
                }
                if from > m.start {
                    let below = t.fetch(p, m.start.saturating_sub(1), 1);
                    if m.start > 0 {
                        let out_of_range =
                            matches!(below, Err(StoreError::OffsetOutOfRange { .. }));
                        prop_assert!(out_of_range);
                    }
                }
            }
            Action::Roll { p } => {
                t.roll(p).unwrap();
            }
            Action::Floor { p, at } => {
                let m = &mut model[p as usize];
                // A committed offset never goes below the start (groups reset to it).
                let floor = at.map(|x| pick(m, x));
                m.floor = floor;
                t.set_retention_floor(p, floor);
            }
            Action::Reopen => {
                drop(t);
                drop(store);
                (store, t) = open(&dir);
                for m in &mut model {
                    m.floor = None;
                }
            }
            Action::Retention => {
                t.enforce_retention().unwrap();
            }
            Action::Time { p, ts } => {
                let m = &model[p as usize];
                let want = m
                    .records
                    .iter()
                    .position(|r| r.timestamp_ms >= ts)
                    .map_or(m.end(), |i| m.start + i as u64);
                prop_assert_eq!(t.offset_for_time(p, ts).unwrap(), want);
            }
        }
        for p in 0..PARTITIONS {
            let m = &mut model[p as usize];
            let start = t.start_offset(p);
            if may_delete {
                prop_assert!(start >= m.start && start <= m.end());
                if when_full == WhenFull::Block
                    && let Some(f) = m.floor
                {
                    prop_assert!(start <= f, "block mode deleted unconsumed records");
                }
                m.records.drain(..(start - m.start) as usize);
                m.start = start;
            }
            prop_assert_eq!(start, m.start);
            prop_assert_eq!(t.end_offset(p), m.end());
        }
    }
    let rep = t.verify();
    prop_assert!(rep.is_ok(), "{:?}", rep.problems);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(actions in proptest::collection::vec(action(), 1..60),
                           drop_oldest in any::<bool>(), gzip in any::<bool>()) {
        let wf = if drop_oldest { WhenFull::DropOldest } else { WhenFull::Block };
        run(actions, wf, gzip)?;
    }
}
