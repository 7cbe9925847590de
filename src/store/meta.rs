//! `topics/<topic>/topic.meta`: the topic's configuration, written tmp → fsync → rename →
//! fsync directory. Header: `SLTM`, version u32, body length u32, CRC-32C u32; body: JSON.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::config::{Compression, Retention, TopicConfig, WhenFull};
use super::error::StoreError;

/// Magic of the topic meta file.
pub const META_MAGIC: [u8; 4] = *b"SLTM";
/// Meta format version.
pub const META_VERSION: u32 = 1;
/// File name of the topic meta file.
pub const META_FILE: &str = "topic.meta";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaV1 {
    name: String,
    partitions: u32,
    segment_bytes: u64,
    segment_age_ms: u64,
    index_interval_bytes: u32,
    compression: String,
    max_bytes: Option<u64>,
    max_age_ms: Option<u64>,
    when_full: String,
    block_timeout_ms: u64,
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// Encodes the meta file bytes.
pub fn encode(name: &str, c: &TopicConfig) -> Vec<u8> {
    let m = MetaV1 {
        name: name.to_string(),
        partitions: c.partitions,
        segment_bytes: c.segment_bytes,
        segment_age_ms: ms(c.segment_age),
        index_interval_bytes: c.index_interval_bytes,
        compression: match c.compression {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
        .into(),
        max_bytes: c.retention.max_bytes,
        max_age_ms: c.retention.max_age.map(ms),
        when_full: match c.retention.when_full {
            WhenFull::Block => "block",
            WhenFull::DropOldest => "drop_oldest",
        }
        .into(),
        block_timeout_ms: ms(c.retention.block_timeout),
    };
    let body = serde_json::to_vec_pretty(&m).unwrap_or_default();
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&META_MAGIC);
    out.extend_from_slice(&META_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Decodes meta file bytes; `Err` says what is wrong.
pub fn decode(bytes: &[u8]) -> Result<(String, TopicConfig), String> {
    if bytes.len() < 16 {
        return Err(format!("{} bytes, shorter than the header", bytes.len()));
    }
    if bytes[0..4] != META_MAGIC {
        return Err("bad magic".into());
    }
    let u = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    if u(4) != META_VERSION {
        return Err(format!("unknown version {}", u(4)));
    }
    let len = u(8) as usize;
    let body = bytes.get(16..16 + len).ok_or_else(|| {
        format!(
            "body of {len} bytes announced, {} present",
            bytes.len() - 16
        )
    })?;
    if crc32c::crc32c(body) != u(12) {
        return Err("CRC mismatch".into());
    }
    let m: MetaV1 = serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))?;
    let compression = match m.compression.as_str() {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        o => return Err(format!("unknown compression {o:?}")),
    };
    let when_full = match m.when_full.as_str() {
        "block" => WhenFull::Block,
        "drop_oldest" => WhenFull::DropOldest,
        o => return Err(format!("unknown when_full {o:?}")),
    };
    let c = TopicConfig {
        partitions: m.partitions,
        segment_bytes: m.segment_bytes,
        segment_age: Duration::from_millis(m.segment_age_ms),
        index_interval_bytes: m.index_interval_bytes,
        compression,
        retention: Retention {
            max_bytes: m.max_bytes,
            max_age: m.max_age_ms.map(Duration::from_millis),
            when_full,
            block_timeout: Duration::from_millis(m.block_timeout_ms),
        },
    };
    c.validate()?;
    Ok((m.name, c))
}

/// A decoded meta file (name and configuration) or what is wrong with it.
pub type Decoded = Result<(String, TopicConfig), String>;

/// Reads `dir/topic.meta`: `Ok(None)` when absent, `Ok(Some(Err(reason)))` when damaged.
pub fn read(dir: &Path) -> Result<Option<Decoded>, StoreError> {
    let p = dir.join(META_FILE);
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(decode(&b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("read", &p, e)),
    }
}

/// Writes `dir/topic.meta` atomically: tmp → fsync → rename → fsync the directory.
pub fn write(dir: &Path, name: &str, c: &TopicConfig) -> Result<(), StoreError> {
    let p = dir.join(META_FILE);
    let tmp = dir.join(format!("{META_FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| StoreError::io("create", &tmp, e))?;
        f.write_all(&encode(name, c))
            .map_err(|e| StoreError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| StoreError::io("fsync", &tmp, e))?;
    }
    std::fs::rename(&tmp, &p).map_err(|e| StoreError::io("rename", &tmp, e))?;
    super::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let c = TopicConfig {
            partitions: 3,
            compression: Compression::Gzip,
            retention: Retention {
                max_bytes: Some(1 << 30),
                when_full: WhenFull::DropOldest,
                ..Retention::default()
            },
            ..TopicConfig::default()
        };
        let b = encode("t", &c);
        assert_eq!(decode(&b).unwrap(), ("t".to_string(), c));
        let mut bad = b.clone();
        let last = bad.len() - 2;
        bad[last] ^= 1;
        assert!(decode(&bad).unwrap_err().contains("CRC"));
        assert!(decode(&b[..10]).is_err());
    }
}
