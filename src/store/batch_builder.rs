//! Building a record batch in place: each record is encoded straight into the batch's buffer
//! as it is pushed (the value written by the caller into that buffer), so a producer that
//! serialises its own values skips the per-record `Vec`/`Bytes`/header allocations of
//! [`Record`](super::batch::Record) and the copy into the batch. The bytes are exactly those
//! [`batch::encode`](super::batch::encode) gives for the same records.

use super::batch::{self, EncodedBatch, HEADER_LEN, MAX_BATCH_BYTES, put_varint, zigzag};
use super::config::Compression;
use std::io::Write;

/// One batch of one partition under construction (uncompressed records after a header
/// placeholder; [`BatchBuilder::finish`] fills the header and compresses if asked).
#[derive(Debug)]
pub(crate) struct BatchBuilder {
    buf: Vec<u8>,
    count: u32,
    first_ts: i64,
    max_ts: i64,
}

/// Bytes of the LEB128 varint of `v`.
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

impl BatchBuilder {
    /// An empty batch written into `buf` (cleared first; its capacity is reused).
    pub fn new(mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.resize(HEADER_LEN, 0);
        BatchBuilder {
            buf,
            count: 0,
            first_ts: 0,
            max_ts: i64::MIN,
        }
    }

    /// Records pushed.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Bytes so far (header included).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Appends one record; `value` appends the record's value to the buffer it is given (and
    /// must not touch what is already there).
    pub fn push(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        headers: &[(&str, &[u8])],
        value: &mut dyn FnMut(&mut Vec<u8>),
    ) {
        if self.count == 0 {
            self.first_ts = timestamp_ms;
        }
        self.max_ts = self.max_ts.max(timestamp_ms);
        let b = &mut self.buf;
        put_varint(b, zigzag(timestamp_ms.wrapping_sub(self.first_ts)));
        put_varint(b, u64::from(self.count));
        match key {
            None => put_varint(b, 0),
            Some(k) => {
                put_varint(b, k.len() as u64 + 1);
                b.extend_from_slice(k);
            }
        }
        // The value's length goes first but is known only once it is written: reserve the two
        // bytes most values need (128..16384 bytes), then move the value if that was wrong.
        const GUESS: usize = 2;
        let at = b.len();
        b.extend_from_slice(&[0; GUESS]);
        value(b);
        let len = b.len() - at - GUESS;
        let need = varint_len(len as u64);
        if need < GUESS {
            b.copy_within(at + GUESS.., at + need);
            b.truncate(at + need + len);
        } else if need > GUESS {
            b.resize(at + need + len, 0);
            b.copy_within(at + GUESS..at + GUESS + len, at + need);
        }
        write_varint_at(&mut b[at..at + need], len as u64);
        put_varint(b, headers.len() as u64);
        for (k, v) in headers {
            put_varint(b, k.len() as u64);
            b.extend_from_slice(k.as_bytes());
            put_varint(b, v.len() as u64);
            b.extend_from_slice(v);
        }
        self.count += 1;
    }

    /// The finished batch (base offset 0, set when appended). Gzip compresses the records into
    /// a new buffer; the uncompressed one is then returned as the second element for reuse.
    pub fn finish(
        self,
        compression: Compression,
    ) -> std::io::Result<(EncodedBatch, Option<Vec<u8>>)> {
        let BatchBuilder {
            buf,
            count,
            first_ts,
            max_ts,
        } = self;
        let records_len = buf.len() - HEADER_LEN;
        let (mut out, spare, attributes) = match compression {
            Compression::None => (buf, None, 0u8),
            Compression::Gzip => {
                let mut out = Vec::with_capacity(HEADER_LEN + records_len / 4);
                out.resize(HEADER_LEN, 0);
                let mut enc = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
                enc.write_all(&buf[HEADER_LEN..])?;
                enc.finish()?;
                (out, Some(buf), batch::ATTR_GZIP)
            }
        };
        if out.len() > MAX_BATCH_BYTES || records_len > u32::MAX as usize {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("batch of {} bytes exceeds {MAX_BATCH_BYTES}", out.len()),
            ));
        }
        let len = out.len() as u32;
        {
            let h = &mut out[..HEADER_LEN];
            h.fill(0);
            h[8..12].copy_from_slice(&len.to_le_bytes());
            h[16] = batch::BATCH_VERSION;
            h[17] = attributes;
            h[20..24].copy_from_slice(&count.to_le_bytes());
            h[24..32].copy_from_slice(&first_ts.to_le_bytes());
            h[32..40].copy_from_slice(&max_ts.to_le_bytes());
            h[40..44].copy_from_slice(&(records_len as u32).to_le_bytes());
        }
        let crc = batch::compute_crc(&out);
        out[12..16].copy_from_slice(&crc.to_le_bytes());
        Ok((
            EncodedBatch {
                bytes: out,
                count,
                max_timestamp: max_ts,
            },
            spare,
        ))
    }

    /// Gives the buffer back without finishing (the batch is dropped).
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}

/// Writes `v` as a varint filling exactly `out` (its minimal length).
fn write_varint_at(out: &mut [u8], mut v: u64) {
    let n = out.len();
    for (i, b) in out.iter_mut().enumerate() {
        *b = (v as u8 & 0x7f) | if i + 1 < n { 0x80 } else { 0 };
        v >>= 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batch::{Record, encode};
    use proptest::prelude::*;

    fn arb_record() -> impl Strategy<Value = Record> {
        crate::store::batch::tests::arb_record_with(prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(any::<u8>(), 16_000..17_000),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn built_in_place_is_encoded(records in proptest::collection::vec(arb_record(), 1..12),
                                     gzip in any::<bool>(), dirty in proptest::collection::vec(any::<u8>(), 0..100)) {
            let c = if gzip { Compression::Gzip } else { Compression::None };
            let mut b = BatchBuilder::new(dirty);
            for r in &records {
                let headers: Vec<(&str, &[u8])> =
                    r.headers.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
                b.push(r.timestamp_ms, r.key.as_deref(), &headers, &mut |out| {
                    out.extend_from_slice(&r.value)
                });
            }
            prop_assert_eq!(b.count() as usize, records.len());
            let (built, _) = b.finish(c).unwrap();
            let want = encode(&records, c).unwrap();
            prop_assert_eq!(built.bytes, want.bytes);
            prop_assert_eq!(built.count, want.count);
            prop_assert_eq!(built.max_timestamp, want.max_timestamp);
        }
    }

    #[test]
    fn varint_lengths() {
        for (v, n) in [
            (0u64, 1),
            (127, 1),
            (128, 2),
            (16383, 2),
            (16384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(v), n, "{v}");
            let mut a = vec![0; n];
            write_varint_at(&mut a, v);
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(a, b);
        }
    }
}
