//! The record batch codec: the unit written to and read from segment files.
//!
//! Layout (little-endian; see `docs/storage-format.md`):
//!
//! ```text
//!  0 base_offset u64 | 8 batch_len u32 | 12 crc32c u32 | 16 version u8 | 17 attributes u8
//! 18 reserved u16    | 20 record_count u32 | 24 first_timestamp i64 | 32 max_timestamp i64
//! 40 records_len u32 (uncompressed) | 44 reserved u32 | 48 records...
//! ```
//! The CRC-32C covers bytes 16..batch_len; the base offset is assigned under the partition's
//! write lock and checked by sequence instead (every batch starts where the previous ended).

use bytes::{Buf, Bytes};
use std::io::{Read, Write};

use super::config::Compression;
use super::headers::Headers;

/// Size of the batch header.
pub const HEADER_LEN: usize = 48;
/// The batch format version written.
pub const BATCH_VERSION: u8 = 1;
/// Attribute bit: the records are gzip-compressed.
pub const ATTR_GZIP: u8 = 1;
/// The largest batch accepted (1 GiB).
pub const MAX_BATCH_BYTES: usize = 1 << 30;

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Optional key (the `key` partitioner hashes it).
    pub key: Option<Bytes>,
    /// The payload.
    pub value: Bytes,
    /// Named headers (for example `sid`, the source id).
    pub headers: Vec<(String, Bytes)>,
}

impl Record {
    /// A record with only a value, stamped with the current time.
    pub fn new(value: impl Into<Bytes>) -> Self {
        Record {
            timestamp_ms: now_ms(),
            key: None,
            value: value.into(),
            headers: Vec::new(),
        }
    }

    /// Upper bound of the encoded size (for batching decisions).
    pub fn encoded_size_hint(&self) -> usize {
        let h: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 10)
            .sum();
        self.value.len() + self.key.as_ref().map_or(0, |k| k.len()) + h + 30
    }
}

/// A record read back, with its partition and offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The partition it is in.
    pub partition: u32,
    /// Its offset in the partition.
    pub offset: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Optional key.
    pub key: Option<Bytes>,
    /// The payload.
    pub value: Bytes,
    /// Named headers, read in place.
    pub headers: Headers,
}

/// Current wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A decoded batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: u64,
    /// Total length of the batch, header included.
    pub batch_len: u32,
    /// Stored CRC-32C of bytes 16..batch_len.
    pub crc: u32,
    /// Attribute bits ([`ATTR_GZIP`]).
    pub attributes: u8,
    /// Number of records.
    pub record_count: u32,
    /// Timestamp of the first record.
    pub first_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Length of the records section once decompressed.
    pub records_len: u32,
}

impl BatchHeader {
    /// Parses and sanity-checks a header (version, minimum length, non-empty).
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, String> {
        if buf.len() < HEADER_LEN {
            return Err(format!("short header: {} bytes", buf.len()));
        }
        let mut b = &buf[..HEADER_LEN];
        let base_offset = b.get_u64_le();
        let batch_len = b.get_u32_le();
        let crc = b.get_u32_le();
        let version = b.get_u8();
        let attributes = b.get_u8();
        let _reserved = b.get_u16_le();
        let record_count = b.get_u32_le();
        let first_timestamp = b.get_i64_le();
        let max_timestamp = b.get_i64_le();
        let records_len = b.get_u32_le();
        if version != BATCH_VERSION {
            return Err(format!("unknown batch version {version}"));
        }
        if (batch_len as usize) < HEADER_LEN || batch_len as usize > MAX_BATCH_BYTES + HEADER_LEN {
            return Err(format!("impossible batch length {batch_len}"));
        }
        if record_count == 0 {
            return Err("batch with zero records".into());
        }
        if attributes & !ATTR_GZIP != 0 {
            return Err(format!("unknown attributes {attributes:#x}"));
        }
        Ok(BatchHeader {
            base_offset,
            batch_len,
            crc,
            attributes,
            record_count,
            first_timestamp,
            max_timestamp,
            records_len,
        })
    }

    /// The offset after the last record of this batch.
    pub fn next_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count)
    }
}

/// Computes the CRC a batch should carry (over bytes 16..).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[16..])
}

/// Checks the CRC of a whole batch.
pub fn check_crc(header: &BatchHeader, batch: &[u8]) -> Result<(), String> {
    let actual = compute_crc(batch);
    if actual != header.crc {
        return Err(format!(
            "CRC mismatch (stored {:#010x}, computed {actual:#010x})",
            header.crc
        ));
    }
    Ok(())
}

/// An encoded batch, base offset still to be assigned with [`set_base_offset`].
#[derive(Debug, Clone)]
pub struct EncodedBatch {
    /// The bytes (header + records).
    pub bytes: Vec<u8>,
    /// Number of records.
    pub count: u32,
    /// Largest timestamp.
    pub max_timestamp: i64,
}

/// Encodes `records` into one batch (base offset 0, patched later).
pub fn encode(records: &[Record], compression: Compression) -> std::io::Result<EncodedBatch> {
    encode_into(records, compression, Vec::new())
}

/// [`encode`] into `buf` (cleared first): a caller encoding batch after batch passes the
/// previous batch's bytes back in, so the buffer is allocated (and faulted in) once.
pub fn encode_into(
    records: &[Record],
    compression: Compression,
    mut out: Vec<u8>,
) -> std::io::Result<EncodedBatch> {
    let first_ts = records.first().map_or(0, |r| r.timestamp_ms);
    let hint: usize = records.iter().map(Record::encoded_size_hint).sum();
    out.clear();
    out.reserve(HEADER_LEN + hint);
    out.resize(HEADER_LEN, 0);
    let mut max_ts = i64::MIN;
    let mut body_start = HEADER_LEN;
    let mut plain = Vec::new();
    // Uncompressed records go straight after the header; compressed ones via a side buffer.
    let target: &mut Vec<u8> = match compression {
        Compression::None => &mut out,
        Compression::Gzip => {
            plain.reserve(hint);
            body_start = 0;
            &mut plain
        }
    };
    for (i, r) in records.iter().enumerate() {
        max_ts = max_ts.max(r.timestamp_ms);
        put_varint(target, zigzag(r.timestamp_ms.wrapping_sub(first_ts)));
        put_varint(target, i as u64);
        match &r.key {
            None => put_varint(target, 0),
            Some(k) => {
                put_varint(target, k.len() as u64 + 1);
                target.extend_from_slice(k);
            }
        }
        put_varint(target, r.value.len() as u64);
        target.extend_from_slice(&r.value);
        put_varint(target, r.headers.len() as u64);
        for (k, v) in &r.headers {
            put_varint(target, k.len() as u64);
            target.extend_from_slice(k.as_bytes());
            put_varint(target, v.len() as u64);
            target.extend_from_slice(v);
        }
    }
    let records_len = target.len() - body_start;
    let mut attributes = 0u8;
    if compression == Compression::Gzip {
        attributes |= ATTR_GZIP;
        let mut enc = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
        enc.write_all(&plain)?;
        enc.finish()?;
    }
    if out.len() > MAX_BATCH_BYTES || records_len > u32::MAX as usize {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("batch of {} bytes exceeds {MAX_BATCH_BYTES}", out.len()),
        ));
    }
    let len = out.len() as u32;
    let count = records.len() as u32;
    {
        let h = &mut out[..HEADER_LEN];
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[16] = BATCH_VERSION;
        h[17] = attributes;
        h[20..24].copy_from_slice(&count.to_le_bytes());
        h[24..32].copy_from_slice(&first_ts.to_le_bytes());
        h[32..40].copy_from_slice(&max_ts.to_le_bytes());
        h[40..44].copy_from_slice(&(records_len as u32).to_le_bytes());
    }
    let crc = compute_crc(&out);
    out[12..16].copy_from_slice(&crc.to_le_bytes());
    Ok(EncodedBatch {
        bytes: out,
        count,
        max_timestamp: max_ts,
    })
}

/// Writes the base offset into an encoded batch (not covered by the CRC).
pub fn set_base_offset(batch: &mut [u8], base: u64) {
    batch[0..8].copy_from_slice(&base.to_le_bytes());
}

/// Decodes the records of a CRC-checked batch held in `batch` (header included), keeping those
/// at or after `min_offset`. Uncompressed keys and values are zero-copy slices of `batch`.
pub fn decode(
    header: &BatchHeader,
    batch: &Bytes,
    partition: u32,
    min_offset: u64,
    out: &mut Vec<StoredRecord>,
) -> Result<(), String> {
    let body = if header.attributes & ATTR_GZIP != 0 {
        let mut plain = Vec::with_capacity(header.records_len as usize);
        flate2::read::GzDecoder::new(&batch[HEADER_LEN..header.batch_len as usize])
            .read_to_end(&mut plain)
            .map_err(|e| format!("gzip: {e}"))?;
        Bytes::from(plain)
    } else {
        batch.slice(HEADER_LEN..header.batch_len as usize)
    };
    if body.len() != header.records_len as usize {
        return Err(format!(
            "records section is {} bytes, header says {}",
            body.len(),
            header.records_len
        ));
    }
    let mut cur = Cursor { buf: &body, pos: 0 };
    out.reserve(header.record_count as usize);
    for i in 0..header.record_count {
        let ts_delta = unzigzag(cur.varint()?);
        let off_delta = cur.varint()?;
        if off_delta != u64::from(i) {
            return Err(format!("record {i} has offset delta {off_delta}"));
        }
        let key_len = cur.varint()?;
        let key = if key_len == 0 {
            None
        } else {
            Some(cur.bytes(key_len - 1)?)
        };
        let vlen = cur.varint()?;
        let value = cur.bytes(vlen)?;
        let nh = cur.varint()?;
        let (headers, end) = Headers::read(cur.buf, cur.pos, nh)?;
        cur.pos = end;
        let offset = header.base_offset + off_delta;
        if offset >= min_offset {
            out.push(StoredRecord {
                partition,
                offset,
                timestamp_ms: header.first_timestamp.wrapping_add(ts_delta),
                key,
                value,
                headers,
            });
        }
    }
    if cur.pos != body.len() {
        return Err(format!(
            "{} trailing bytes after the records",
            body.len() - cur.pos
        ));
    }
    Ok(())
}

struct Cursor<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Cursor<'_> {
    fn varint(&mut self) -> Result<u64, String> {
        let (v, next) = read_varint(self.buf, self.pos)?;
        self.pos = next;
        Ok(v)
    }

    fn bytes(&mut self, len: u64) -> Result<Bytes, String> {
        let end = self
            .pos
            .checked_add(usize::try_from(len).map_err(|_| "length overflow")?)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| format!("field of {len} bytes runs past the batch"))?;
        let b = self.buf.slice(self.pos..end);
        self.pos = end;
        Ok(b)
    }
}

/// The unsigned LEB128 varint at `buf[at..]`, and where it ends.
pub(super) fn read_varint(buf: &[u8], mut at: usize) -> Result<(u64, usize), String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(at).ok_or("truncated varint")?;
        at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((v, at));
        }
    }
    Err("varint too long".into())
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_record() -> impl Strategy<Value = Record> {
        arb_record_with(proptest::collection::vec(any::<u8>(), 0..300))
    }

    /// Records with any timestamp, key and headers, and values from `value`.
    pub(crate) fn arb_record_with(
        value: impl Strategy<Value = Vec<u8>>,
    ) -> impl Strategy<Value = Record> {
        (
            any::<i64>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            value,
            proptest::collection::vec(
                ("[a-z]{0,8}", proptest::collection::vec(any::<u8>(), 0..10)),
                0..3,
            ),
        )
            .prop_map(|(ts, k, v, h)| Record {
                timestamp_ms: ts,
                key: k.map(Bytes::from),
                value: Bytes::from(v),
                headers: h.into_iter().map(|(k, v)| (k, Bytes::from(v))).collect(),
            })
    }

    proptest! {
        #[test]
        fn round_trip(records in proptest::collection::vec(arb_record(), 1..20),
                      gzip in any::<bool>(), base in 0u64..u64::MAX / 2) {
            let c = if gzip { Compression::Gzip } else { Compression::None };
            let mut enc = encode(&records, c).unwrap();
            set_base_offset(&mut enc.bytes, base);
            let h = BatchHeader::parse(&enc.bytes).unwrap();
            prop_assert_eq!(h.base_offset, base);
            prop_assert_eq!(h.batch_len as usize, enc.bytes.len());
            prop_assert_eq!(h.record_count as usize, records.len());
            check_crc(&h, &enc.bytes).unwrap();
            let bytes = Bytes::from(enc.bytes);
            let mut out = Vec::new();
            decode(&h, &bytes, 3, 0, &mut out).unwrap();
            prop_assert_eq!(out.len(), records.len());
            for (i, (a, b)) in records.iter().zip(&out).enumerate() {
                prop_assert_eq!(b.offset, base + i as u64);
                prop_assert_eq!(b.partition, 3);
                prop_assert_eq!(a.timestamp_ms, b.timestamp_ms);
                prop_assert_eq!(&a.key, &b.key);
                prop_assert_eq!(&a.value, &b.value);
                prop_assert_eq!(&a.headers, &b.headers.to_vec());
            }
        }

        #[test]
        fn encode_into_a_used_buffer_is_encode(records in proptest::collection::vec(arb_record(), 1..20),
                                               before in proptest::collection::vec(arb_record(), 1..20),
                                               gzip in any::<bool>()) {
            let c = if gzip { Compression::Gzip } else { Compression::None };
            let used = encode(&before, c).unwrap().bytes;
            let again = encode_into(&records, c, used).unwrap();
            let fresh = encode(&records, c).unwrap();
            prop_assert_eq!(again.bytes, fresh.bytes);
            prop_assert_eq!(again.count, fresh.count);
            prop_assert_eq!(again.max_timestamp, fresh.max_timestamp);
        }

        #[test]
        fn any_flipped_bit_is_detected(records in proptest::collection::vec(arb_record(), 1..5),
                                       pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let enc = encode(&records, Compression::None).unwrap();
            let mut bytes = enc.bytes;
            let p = 12 + pos.index(bytes.len() - 12);
            bytes[p] ^= 1 << bit;
            let bad = match BatchHeader::parse(&bytes) {
                Err(_) => true,
                Ok(h) => h.batch_len as usize != bytes.len() || check_crc(&h, &bytes).is_err(),
            };
            prop_assert!(bad);
        }
    }

    #[test]
    fn varint_zigzag_edges() {
        for v in [0i64, 1, -1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
