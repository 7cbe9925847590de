//! Partition assignment: even, sticky, deterministic.
//!
//! With `n` partitions and `m` members every member gets `n / m` or `n / m + 1` partitions (so
//! no member has two more than another). Members keep the partitions they already own as far as
//! the quota allows, which keeps a rebalance from moving more partitions than it must; the
//! result depends only on the previous assignment and the member ids, never on timing.

use std::collections::{BTreeMap, BTreeSet};

/// Computes the assignment of partitions `0..partitions` to `members` (ids; sorted internally),
/// keeping as much of `previous` (member → partitions) as the quota allows.
pub fn assign(
    partitions: u32,
    members: &[u64],
    previous: &BTreeMap<u64, Vec<u32>>,
) -> BTreeMap<u64, Vec<u32>> {
    let mut members: Vec<u64> = members.to_vec();
    members.sort_unstable();
    members.dedup();
    let mut out: BTreeMap<u64, Vec<u32>> = members.iter().map(|&m| (m, Vec::new())).collect();
    if members.is_empty() {
        return out;
    }
    let m = members.len() as u32;
    let base = partitions / m;
    let extra = partitions % m;
    // Who gets `base + 1`: the members that currently keep the most partitions, ties by id.
    let kept = |id: u64| -> usize {
        previous
            .get(&id)
            .map(|ps| ps.iter().filter(|&&p| p < partitions).count())
            .unwrap_or(0)
    };
    let mut order = members.clone();
    order.sort_by(|a, b| kept(*b).cmp(&kept(*a)).then(a.cmp(b)));
    let quota: BTreeMap<u64, u32> = order
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, base + u32::from((i as u32) < extra)))
        .collect();

    let mut taken = BTreeSet::new();
    for &id in &members {
        let q = quota[&id] as usize;
        if let Some(prev) = previous.get(&id) {
            let mut prev: Vec<u32> = prev.iter().copied().filter(|&p| p < partitions).collect();
            prev.sort_unstable();
            prev.dedup();
            for p in prev {
                if out[&id].len() >= q {
                    break;
                }
                if taken.insert(p)
                    && let Some(v) = out.get_mut(&id)
                {
                    v.push(p);
                }
            }
        }
    }
    let mut free = (0..partitions).filter(|p| !taken.contains(p));
    for &id in &members {
        let q = quota[&id] as usize;
        if let Some(v) = out.get_mut(&id) {
            while v.len() < q {
                match free.next() {
                    Some(p) => v.push(p),
                    None => break,
                }
            }
            v.sort_unstable();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(partitions: u32, members: &[u64], a: &BTreeMap<u64, Vec<u32>>) {
        let mut all: Vec<u32> = a.values().flatten().copied().collect();
        all.sort_unstable();
        if members.is_empty() {
            assert!(all.is_empty());
            return;
        }
        assert_eq!(
            all,
            (0..partitions).collect::<Vec<_>>(),
            "every partition once"
        );
        let min = a.values().map(Vec::len).min().unwrap();
        let max = a.values().map(Vec::len).max().unwrap();
        assert!(max - min <= 1, "uneven: {a:?}");
    }

    #[test]
    fn three_members_six_partitions() {
        let a = assign(6, &[1, 2, 3], &BTreeMap::new());
        assert_eq!(a[&1], vec![0, 1]);
        assert_eq!(a[&2], vec![2, 3]);
        assert_eq!(a[&3], vec![4, 5]);
    }

    #[test]
    fn leaving_member_moves_only_its_partitions() {
        let a = assign(6, &[1, 2, 3], &BTreeMap::new());
        let b = assign(6, &[1, 3], &a);
        assert_eq!(b[&1].len(), 3);
        assert_eq!(b[&3].len(), 3);
        for p in &a[&1] {
            assert!(b[&1].contains(p));
        }
        for p in &a[&3] {
            assert!(b[&3].contains(p));
        }
    }

    proptest! {
        #[test]
        fn balanced_complete_sticky(
            partitions in 0u32..40,
            members in proptest::collection::btree_set(0u64..20, 0..8),
            next in proptest::collection::btree_set(0u64..20, 0..8),
            grow in 0u32..10,
        ) {
            let members: Vec<u64> = members.into_iter().collect();
            let a = assign(partitions, &members, &BTreeMap::new());
            check(partitions, &members, &a);
            prop_assert_eq!(&a, &assign(partitions, &members, &BTreeMap::new()));
            let next: Vec<u64> = next.into_iter().collect();
            let b = assign(partitions + grow, &next, &a);
            check(partitions + grow, &next, &b);
            // Stickiness: a member present in both keeps min(old count, new quota) partitions.
            for id in next.iter().filter(|id| members.contains(id)) {
                let kept = b[id].iter().filter(|p| a[id].contains(p)).count();
                prop_assert!(kept >= a[id].len().min(b[id].len()));
            }
        }
    }
}
