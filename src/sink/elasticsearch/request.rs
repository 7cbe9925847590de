//! Bulk requests: encoded documents cut into requests by `bulk.max_docs` / `bulk.max_bytes`,
//! bodies assembled (and gzip-compressed) for each attempt, halved on 413.

use bytes::Bytes;
use flate2::Compression as Level;
use flate2::write::GzEncoder;
use std::io::Write;

/// One encoded document of a batch.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Position of the event in the batch handed to the sink.
    pub pos: usize,
    /// Its action line and source line.
    pub bytes: Bytes,
    /// Attempts made so far.
    pub attempts: u32,
}

/// Cuts `docs` into requests of at most `max_docs` documents and `max_bytes` bytes (a document
/// larger than `max_bytes` goes alone).
pub fn chunk(docs: Vec<Doc>, max_docs: usize, max_bytes: usize) -> Vec<Vec<Doc>> {
    let max_docs = max_docs.max(1);
    let mut out = Vec::new();
    let mut cur: Vec<Doc> = Vec::new();
    let mut cur_bytes = 0usize;
    for d in docs {
        let len = d.bytes.len();
        if !cur.is_empty() && (cur.len() >= max_docs || cur_bytes + len > max_bytes) {
            out.push(std::mem::take(&mut cur));
            cur_bytes = 0;
        }
        cur_bytes += len;
        cur.push(d);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits a request the server found too large into two halves (`None` for a single doc).
pub fn split(mut docs: Vec<Doc>) -> Option<(Vec<Doc>, Vec<Doc>)> {
    if docs.len() < 2 {
        return None;
    }
    let back = docs.split_off(docs.len() / 2);
    Some((docs, back))
}

/// A body ready to send.
/// One bulk request as the encoder cut it: its documents and the buffer holding exactly them,
/// back to back, which is the body of the first attempt as it is (no copy).
#[derive(Debug, Clone)]
pub struct Request {
    /// The documents, in order.
    pub docs: Vec<Doc>,
    /// The concatenation of the documents' bytes.
    pub whole: Bytes,
}

#[derive(Debug, Clone)]
pub struct Body {
    /// The bytes on the wire.
    pub bytes: Bytes,
    /// Uncompressed size.
    pub raw_len: usize,
    /// Whether `bytes` is gzip.
    pub gzip: bool,
}

/// Assembles the body for `docs`, gzip-compressed (fast level) when `gzip`.
pub fn body(docs: &[Doc], gzip: bool) -> std::io::Result<Body> {
    let raw_len: usize = docs.iter().map(|d| d.bytes.len()).sum();
    let bytes = if gzip {
        let mut enc = GzEncoder::new(Vec::with_capacity(raw_len / 4 + 64), Level::fast());
        for d in docs {
            enc.write_all(&d.bytes)?;
        }
        Bytes::from(enc.finish()?)
    } else if docs.len() == 1 {
        docs[0].bytes.clone()
    } else {
        let mut v = Vec::with_capacity(raw_len);
        for d in docs {
            v.extend_from_slice(&d.bytes);
        }
        Bytes::from(v)
    };
    Ok(Body {
        bytes,
        raw_len,
        gzip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn docs(sizes: &[usize]) -> Vec<Doc> {
        sizes
            .iter()
            .enumerate()
            .map(|(pos, n)| Doc {
                pos,
                bytes: Bytes::from(vec![b'a' + pos as u8; *n]),
                attempts: 0,
            })
            .collect()
    }

    #[test]
    fn chunks_by_docs_and_bytes() {
        let c = chunk(docs(&[10, 10, 10, 10, 10]), 2, 1000);
        assert_eq!(c.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
        let c = chunk(docs(&[10, 10, 50, 10]), 100, 25);
        assert_eq!(c.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1, 1]);
        let positions: Vec<usize> = c.iter().flatten().map(|d| d.pos).collect();
        assert_eq!(positions, vec![0, 1, 2, 3]);
    }

    #[test]
    fn split_halves_and_single_docs_do_not_split() {
        let (a, b) = split(docs(&[1, 1, 1])).unwrap();
        assert_eq!((a.len(), b.len()), (1, 2));
        assert!(split(docs(&[1])).is_none());
    }

    #[test]
    fn gzip_body_round_trips() {
        let d = docs(&[3, 4]);
        let plain = body(&d, false).unwrap();
        assert_eq!(&plain.bytes[..], b"aaabbbb");
        let gz = body(&d, true).unwrap();
        let mut out = Vec::new();
        GzDecoder::new(&gz.bytes[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"aaabbbb");
        assert_eq!(gz.raw_len, 7);
    }
}
