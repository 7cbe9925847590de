//! Model-based test of consumer groups: random joins, leaves, polls, commits, appends and
//! partition growth, checked against a plain model of what must hold.

use bytes::Bytes;
use proptest::prelude::*;
use sluice::store::group::{GroupConfig, GroupError, GroupMember};
use sluice::store::{Acks, Record, Store, TopicConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Debug, Clone)]
enum Action {
    Join,
    Leave(usize),
    Poll(usize, usize),
    Commit(usize),
    Append(u32, u8),
    Grow,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        2 => Just(Action::Join),
        1 => any::<usize>().prop_map(Action::Leave),
        5 => (any::<usize>(), 1usize..400).prop_map(|(m, b)| Action::Poll(m, b)),
        3 => any::<usize>().prop_map(Action::Commit),
        3 => (0u32..8, 1u8..20).prop_map(|(p, n)| Action::Append(p, n)),
        1 => Just(Action::Grow),
    ]
}

struct Model {
    /// Committed offset per partition (absent = none, the group starts at 0).
    committed: BTreeMap<u32, u64>,
    /// Offsets delivered at least once, per partition.
    delivered: BTreeMap<u32, BTreeSet<u64>>,
    /// Per member: last offset delivered per partition.
    last: Vec<BTreeMap<u32, u64>>,
}

impl Model {
    fn check_delivery(&mut self, slot: usize, records: &[sluice::store::StoredRecord]) {
        for r in records {
            let p = r.partition;
            let committed = self.committed.get(&p).copied().unwrap_or(0);
            let continues = self.last[slot].get(&p).is_some_and(|&l| r.offset == l + 1);
            assert!(
                continues || r.offset == committed,
                "member {slot} got partition {p} offset {} (last {:?}, committed {committed}): skipped or repeated before the commit",
                r.offset,
                self.last[slot].get(&p)
            );
            assert_eq!(r.value, Bytes::from(format!("{p}:{}", r.offset)));
            self.last[slot].insert(p, r.offset);
            self.delivered.entry(p).or_default().insert(r.offset);
        }
    }
}

fn check_assignment(members: &mut [Option<GroupMember>], partitions: u32) {
    let mut counts = Vec::new();
    let mut seen = BTreeSet::new();
    for m in members.iter_mut().flatten() {
        let a = m.assignment();
        counts.push(a.len());
        for p in a {
            assert!(seen.insert(p), "partition {p} owned twice");
        }
    }
    if counts.is_empty() {
        return;
    }
    assert_eq!(seen, (0..partitions).collect(), "every partition owned");
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(max - min <= 1, "uneven {counts:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn groups_behave_like_the_model(actions in proptest::collection::vec(action(), 1..60)) {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut partitions = 3u32;
        let topic = store
            .create_topic("t", TopicConfig { partitions, ..TopicConfig::default() })
            .unwrap();
        let mut members: Vec<Option<GroupMember>> = Vec::new();
        let mut model = Model { committed: BTreeMap::new(), delivered: BTreeMap::new(), last: Vec::new() };
        let live = |members: &Vec<Option<GroupMember>>, i: usize| -> Option<usize> {
            let idx: Vec<usize> = (0..members.len()).filter(|&k| members[k].is_some()).collect();
            (!idx.is_empty()).then(|| idx[i % idx.len()])
        };
        for a in actions {
            match a {
                Action::Join => {
                    members.push(Some(store.groups().join("g", topic.clone(), GroupConfig::default()).unwrap()));
                    model.last.push(BTreeMap::new());
                }
                Action::Leave(i) => {
                    if let Some(k) = live(&members, i) {
                        members[k] = None;
                    }
                }
                Action::Poll(i, bytes) => {
                    if let Some(k) = live(&members, i) {
                        let got = members[k].as_mut().unwrap().poll_blocking(bytes, Duration::ZERO).unwrap();
                        model.check_delivery(k, &got);
                    }
                }
                Action::Commit(i) => {
                    if let Some(k) = live(&members, i) {
                        let m = members[k].as_mut().unwrap();
                        let positions: Vec<(u32, u64)> =
                            (0..partitions).filter_map(|p| m.position(p).map(|o| (p, o))).collect();
                        match m.commit() {
                            Ok(()) => {
                                for (p, o) in positions {
                                    model.committed.insert(p, o);
                                }
                            }
                            Err(GroupError::NotOwner { .. }) => {}
                            Err(e) => panic!("commit: {e}"),
                        }
                    }
                }
                Action::Append(p, n) => {
                    let p = p % partitions;
                    let first = topic.end_offset(p);
                    let records: Vec<Record> = (first..first + u64::from(n))
                        .map(|o| Record { timestamp_ms: 0, key: None, value: Bytes::from(format!("{p}:{o}")), headers: Vec::new() })
                        .collect();
                    topic.append(p, &records, Acks::Written).unwrap();
                }
                Action::Grow => {
                    partitions += 1;
                    store.create_topic("t", TopicConfig { partitions, ..TopicConfig::default() }).unwrap();
                }
            }
            check_assignment(&mut members, partitions);
        }
        // Finally one member reads everything left: every record was delivered at least once.
        members.clear();
        model.last.push(BTreeMap::new());
        let k = model.last.len() - 1;
        let mut last = store.groups().join("g", topic.clone(), GroupConfig::default()).unwrap();
        loop {
            let got = last.poll_blocking(1 << 20, Duration::ZERO).unwrap();
            if got.is_empty() {
                break;
            }
            model.check_delivery(k, &got);
        }
        for p in 0..partitions {
            let end = topic.end_offset(p);
            let got = model.delivered.get(&p).cloned().unwrap_or_default();
            prop_assert_eq!(got, (0..end).collect::<BTreeSet<u64>>(), "partition {}", p);
        }
    }
}
