//! [`Map`]: an event's object, its fields in insertion order in one vector.

use std::fmt;

use super::{Str, Value};

/// A JSON object: keys and values in insertion order, in one contiguous vector.
///
/// Events hold a dozen or two fields; scanning that many keys (a 32-bit tag of each key first,
/// bytes only on a tag match) costs less than a B-tree's or a hash table's lookup, one
/// allocation holds the whole object, and writing it out walks memory in order. Bulk inserts
/// ([`Extend`], the parsers) resolve repeated keys once, so many fields stay n log n. Inserting an existing key replaces
/// its value in place (as `serde_json::Map` does: the last of repeated keys wins); removing a
/// key keeps the others in order. Two maps are equal when they hold the same keys with equal
/// values, whatever the order (as with `serde_json::Map`).
#[derive(Clone, Default)]
pub struct Map {
    entries: Vec<Entry>,
}

/// One field: the key, a 32-bit tag of it (compared before the bytes, so a lookup skips
/// other keys on one integer comparison), and the value. 64 bytes, one cache line.
#[derive(Clone)]
struct Entry {
    key: Str,
    value: Value,
    tag: u32,
}

/// A function of a key's bytes (its length and first and last four bytes) that differs for
/// most pairs of different field names; equal keys always have equal tags.
#[inline]
fn tag(k: &[u8]) -> u32 {
    let n = k.len();
    let mix = if n >= 4 {
        let head = u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
        let tail = u32::from_le_bytes([k[n - 4], k[n - 3], k[n - 2], k[n - 1]]);
        head ^ tail.rotate_left(13)
    } else {
        k.iter().fold(0u32, |h, &b| h << 8 | u32::from(b))
    };
    mix ^ (n as u32).wrapping_mul(0x9e37_79b9)
}

/// A key prepared once (its text and tag), for the steps' fixed field names: a lookup then
/// skips computing the tag, and inserting copies the prepared text (no allocation up to 24
/// bytes, no re-encoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    text: Str,
    tag: u32,
}

impl Key {
    /// Prepares `text`.
    pub fn new(text: &str) -> Key {
        Key {
            text: Str::from(text),
            tag: tag(text.as_bytes()),
        }
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

/// Above this many fields, repeated keys of a bulk insert are found by sorting, not by
/// comparing every pair.
const PAIRWISE_MAX: usize = 32;

impl Map {
    /// An empty map (no allocation).
    pub const fn new() -> Map {
        Map {
            entries: Vec::new(),
        }
    }

    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> Map {
        Map {
            entries: Vec::with_capacity(n),
        }
    }

    /// Makes room for `n` more fields.
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map holds no field.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every field.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Where the key with these bytes and tag is: tags compared first, bytes on a match.
    #[inline]
    fn find(&self, bytes: &[u8], tag: u32) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.tag == tag && e.key.as_bytes() == bytes)
    }

    #[inline]
    fn position(&self, key: &str) -> Option<usize> {
        self.find(key.as_bytes(), tag(key.as_bytes()))
    }

    #[inline]
    fn position_of(&self, key: &Key) -> Option<usize> {
        self.find(key.text.as_bytes(), key.tag)
    }

    /// The value of a prepared key, if present.
    #[inline]
    pub fn get_key(&self, key: &Key) -> Option<&Value> {
        self.position_of(key).map(|i| &self.entries[i].value)
    }

    /// The value of a prepared key, mutably, if present.
    #[inline]
    pub fn get_key_mut(&mut self, key: &Key) -> Option<&mut Value> {
        self.position_of(key).map(|i| &mut self.entries[i].value)
    }

    /// [`Map::insert`] of a prepared key.
    pub fn insert_key(&mut self, key: &Key, value: Value) -> Option<Value> {
        match self.insert_new_key(key, value) {
            Ok(()) => None,
            Err((slot, value)) => Some(std::mem::replace(slot, value)),
        }
    }

    /// Adds a prepared key with `value` if absent; if present, leaves it and gives back its
    /// slot and `value` (one search either way).
    pub fn insert_new_key(&mut self, key: &Key, value: Value) -> Result<(), (&mut Value, Value)> {
        match self.position_of(key) {
            Some(i) => Err((&mut self.entries[i].value, value)),
            None => {
                self.push_entry(key.text.clone(), value, key.tag);
                Ok(())
            }
        }
    }

    /// [`Map::remove`] of a prepared key.
    pub fn remove_key(&mut self, key: &Key) -> Option<Value> {
        self.position_of(key).map(|i| self.entries.remove(i).value)
    }

    /// The value of `key`, if present.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].value)
    }

    /// The value of `key`, mutably, if present.
    #[inline]
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(|i| &mut self.entries[i].value)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`; returns the previous value. A new key goes last.
    pub fn insert(&mut self, key: impl AsRef<str> + Into<Str>, value: Value) -> Option<Value> {
        match self.position(key.as_ref()) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].value, value)),
            None => {
                self.push_unique(key.into(), value);
                None
            }
        }
    }

    /// Appends `key` without looking for it first: for callers that know it is absent, or
    /// that call [`Map::resolve_repeats`] once they are done.
    #[inline]
    pub(crate) fn push_unique(&mut self, key: Str, value: Value) {
        let tag = tag(key.as_bytes());
        self.push_entry(key, value, tag);
    }

    /// Appends an entry, writing its fields straight into the vector. (`Vec::push` assembles
    /// the 64-byte entry on the stack first, the 4-byte tag among the rest, and copies it
    /// with 16-byte loads, which stall on store forwarding: `perf annotate` had half of
    /// `insert_new_key`'s time on that copy.)
    #[inline]
    fn push_entry(&mut self, key: Str, value: Value, tag: u32) {
        self.entries.reserve(1);
        let len = self.entries.len();
        // SAFETY: `reserve(1)` leaves room for an entry at index `len`; each field is written
        // exactly once through a raw pointer (nothing is read or dropped there), and the
        // length covers the entry only once all three are written.
        unsafe {
            let slot = self.entries.as_mut_ptr().add(len);
            std::ptr::addr_of_mut!((*slot).key).write(key);
            std::ptr::addr_of_mut!((*slot).value).write(value);
            std::ptr::addr_of_mut!((*slot).tag).write(tag);
            self.entries.set_len(len + 1);
        }
    }

    /// After [`Map::push_unique`] of keys that may repeat: each repeated key keeps its first
    /// position and its last value, as if every field had been [`Map::insert`]ed. Pairwise
    /// for small maps, by sorting for large ones (so a hostile object with many keys costs
    /// n log n, not n²).
    pub(crate) fn resolve_repeats(&mut self) {
        let n = self.entries.len();
        if n <= PAIRWISE_MAX {
            let repeats = (1..n).any(|i| {
                let e = &self.entries[i];
                self.entries[..i]
                    .iter()
                    .any(|f| f.tag == e.tag && f.key == e.key)
            });
            if !repeats {
                return;
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            self.entries[a]
                .key
                .as_bytes()
                .cmp(self.entries[b].key.as_bytes())
                .then(a.cmp(&b))
        });
        let mut keep = vec![true; n];
        let mut run = 0;
        while run < n {
            let mut end = run + 1;
            while end < n && self.entries[order[end]].key == self.entries[order[run]].key {
                end += 1;
            }
            if end - run > 1 {
                let (first, last) = (order[run], order[end - 1]);
                let value = std::mem::take(&mut self.entries[last].value);
                self.entries[first].value = value;
                for &i in &order[run + 1..end] {
                    keep[i] = false;
                }
            }
            run = end;
        }
        let mut i = 0;
        self.entries.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }

    /// The value of `key`, inserted from `make` first when absent.
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                self.push_unique(Str::from(key), make());
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].value
    }

    /// Removes `key` and returns its value; the other fields keep their order.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key` and returns it with its value; the other fields keep their order.
    pub fn remove_entry(&mut self, key: &str) -> Option<(Str, Value)> {
        self.position(key).map(|i| {
            let e = self.entries.remove(i);
            (e.key, e.value)
        })
    }

    /// Keeps the fields for which `keep` returns true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Str, &mut Value) -> bool) {
        self.entries.retain_mut(|e| keep(&e.key, &mut e.value));
    }

    /// Moves every field of `other` into `self` (replacing values of keys both hold; new keys
    /// go last, in `other`'s order).
    pub fn append(&mut self, other: &mut Map) {
        self.entries.append(&mut other.entries);
        self.resolve_repeats();
    }

    /// The fields in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// The fields in order, values mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(self.entries.iter_mut())
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Str> + ExactSizeIterator {
        self.entries.iter().map(|e| &e.key)
    }

    /// The values in order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|e| &e.value)
    }

    /// The values in order, mutable.
    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|e| &mut e.value)
    }
}

/// Iterator over a [`Map`]'s fields.
#[derive(Clone)]
pub struct Iter<'a>(std::slice::Iter<'a, Entry>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Str, &'a Value);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (&e.key, &e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|e| (&e.key, &e.value))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Iterator over a [`Map`]'s fields, values mutable.
pub struct IterMut<'a>(std::slice::IterMut<'a, Entry>);

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Str, &'a mut Value);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (&e.key, &mut e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for IterMut<'_> {}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Map {
    type Item = (&'a Str, &'a mut Value);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl IntoIterator for Map {
    type Item = (Str, Value);
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter(self.entries.into_iter())
    }
}

/// Owning iterator over a [`Map`]'s fields.
pub struct IntoIter(std::vec::IntoIter<Entry>);

impl Iterator for IntoIter {
    type Item = (Str, Value);
    #[inline]
    fn next(&mut self) -> Option<(Str, Value)> {
        self.0.next().map(|e| (e.key, e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<(Str, Value)> {
        self.0.next_back().map(|e| (e.key, e.value))
    }
}

impl ExactSizeIterator for IntoIter {}

impl<K: AsRef<str> + Into<Str>> FromIterator<(K, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Map {
        let mut map = Map::new();
        map.extend(iter);
        map
    }
}

/// Inserts every field as [`Map::insert`] would (a repeated key keeps its first place and last
/// value), resolving repeats once at the end: n log n for many fields, not a scan per field.
impl<K: AsRef<str> + Into<Str>> Extend<(K, Value)> for Map {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.entries.reserve(iter.size_hint().0);
        for (k, v) in iter {
            self.push_unique(k.into(), v);
        }
        self.resolve_repeats();
    }
}

impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;
    /// The value of `key`, or null when absent (never panics).
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&super::NULL)
    }
}

#[cfg(test)]
mod tests;
