//! A stored record's headers, read in place.

use super::batch::read_varint;
use bytes::Bytes;

/// The headers of a [`StoredRecord`](super::StoredRecord), read in place: a view of their
/// encoded form in the batch the record was read from (per header: varint name length, the
/// UTF-8 name, varint value length, the value; see `docs/storage-format.md`). Decoding a
/// batch checks them and allocates nothing for them; [`Headers::get`] and [`Headers::iter`]
/// read them where they are.
#[derive(Clone, Default)]
pub struct Headers {
    raw: Bytes,
    count: usize,
}

impl Headers {
    /// Checks the `count` headers that start at `buf[pos..]`; returns them and where they end.
    pub(super) fn read(buf: &Bytes, pos: usize, count: u64) -> Result<(Headers, usize), String> {
        let rest = buf.get(pos..).ok_or("headers start past the batch")?;
        let mut at = 0;
        for _ in 0..count {
            let (name, next) = field(rest, at)?;
            std::str::from_utf8(name).map_err(|_| "header name is not UTF-8")?;
            let (_, next) = field(rest, next)?;
            at = next;
        }
        let headers = Headers {
            raw: buf.slice(pos..pos + at),
            count: usize::try_from(count).map_err(|_| "too many headers")?,
        };
        Ok((headers, pos + at))
    }

    /// Headers holding `pairs`, encoded as in a batch (for records built by hand).
    pub fn from_pairs<K: AsRef<str>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Headers {
        let mut raw = Vec::new();
        for (k, v) in pairs {
            for field in [k.as_ref().as_bytes(), v.as_ref()] {
                super::batch::put_varint(&mut raw, field.len() as u64);
                raw.extend_from_slice(field);
            }
        }
        Headers {
            raw: Bytes::from(raw),
            count: pairs.len(),
        }
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The headers in order, as (name, value).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            raw: &self.raw,
            at: 0,
            left: self.count,
        }
    }

    /// The value of the first header named `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The headers as owned pairs (the values still share the batch's buffer), as a
    /// [`Record`](super::Record) carries them.
    pub fn to_vec(&self) -> Vec<(String, Bytes)> {
        self.iter()
            .map(|(k, v)| (k.to_string(), self.raw.slice_ref(v)))
            .collect()
    }
}

/// Equal when they hold the same (name, value) pairs in the same order.
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over [`Headers`].
pub struct Iter<'a> {
    raw: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Checked when the batch was decoded: these cannot fail.
        let (name, next) = field(self.raw, self.at).ok()?;
        let (value, next) = field(self.raw, next).ok()?;
        self.at = next;
        Some((std::str::from_utf8(name).ok()?, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// The length-prefixed field at `buf[at..]` and where it ends.
fn field(buf: &[u8], at: usize) -> Result<(&[u8], usize), String> {
    let (len, start) = read_varint(buf, at)?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| format!("header field of {len} bytes runs past the batch"))?;
    Ok((&buf[start..end], end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batch::put_varint;

    fn encode(pairs: &[(&str, &[u8])]) -> Bytes {
        let mut out = b"xx".to_vec();
        for (k, v) in pairs {
            put_varint(&mut out, k.len() as u64);
            out.extend_from_slice(k.as_bytes());
            put_varint(&mut out, v.len() as u64);
            out.extend_from_slice(v);
        }
        out.extend_from_slice(b"after");
        Bytes::from(out)
    }

    #[test]
    fn reads_in_place_and_finds_by_name() {
        let buf = encode(&[("sid", b"abc"), ("", b""), ("k", &[0xff; 200])]);
        let (h, end) = Headers::read(&buf, 2, 3).unwrap();
        assert_eq!(&buf[end..], b"after");
        assert_eq!(h.len(), 3);
        assert_eq!(h.get("sid"), Some(&b"abc"[..]));
        assert_eq!(h.get("k").map(<[u8]>::len), Some(200));
        assert_eq!(h.get("nope"), None);
        let v = h.to_vec();
        assert_eq!(v[0], ("sid".to_string(), Bytes::from_static(b"abc")));
        assert_eq!(Headers::from_pairs(&v), h);
        assert_eq!(h.iter().count(), 3);
        assert_eq!(format!("{h:?}").matches('(').count(), 3);
    }

    #[test]
    fn bad_headers_are_errors() {
        let buf = encode(&[("sid", b"abc")]);
        // One more header than there is.
        assert!(Headers::read(&buf, 2, 3).is_err());
        let mut bad = b"xx".to_vec();
        put_varint(&mut bad, 2);
        bad.extend_from_slice(&[0xff, 0xfe]);
        put_varint(&mut bad, 0);
        assert!(
            Headers::read(&Bytes::from(bad), 2, 1)
                .unwrap_err()
                .contains("UTF-8")
        );
        let mut long = b"xx".to_vec();
        put_varint(&mut long, 1000);
        assert!(Headers::read(&Bytes::from(long), 2, 1).is_err());
    }
}
