//! The committed-offsets file of one (group, topic): `groups/<group>/<topic>.offsets`.
//!
//! Byte layout (little-endian):
//!
//! | field          | size | meaning                                              |
//! |----------------|------|------------------------------------------------------|
//! | magic          | 8    | `SLCGROFS`                                           |
//! | version        | 2    | `1`                                                  |
//! | flags          | 2    | `0` (reserved)                                       |
//! | topic length   | 2    | bytes of the topic name                              |
//! | topic          | n    | UTF-8 topic name (must match the file name)          |
//! | count          | 4    | number of entries                                    |
//! | entries        | 20×c | partition `u32`, next offset `u64`, commit time `i64` ms |
//! | crc            | 4    | CRC-32C of every byte before it                      |
//!
//! Written tmp → fsync → rename → fsync the directory, so a crash leaves either the old or the
//! new file, never a mix. A leftover `.tmp` is ignored (and removed by a writer).

use super::error::GroupError;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The magic at the start of every offsets file.
pub const OFFSETS_MAGIC: &[u8; 8] = b"SLCGROFS";
/// The current format version of offsets files.
pub const OFFSETS_VERSION: u16 = 1;
const ENTRY_LEN: usize = 20;

/// One committed offset: the next offset the group reads in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset to read.
    pub offset: u64,
    /// When it was committed (ms since the Unix epoch).
    pub committed_at_ms: i64,
}

/// The `groups/` directory of a data directory.
pub fn groups_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("groups")
}

/// The offsets file of `group` on `topic`.
pub fn offsets_path(data_dir: &Path, group: &str, topic: &str) -> PathBuf {
    groups_dir(data_dir)
        .join(group)
        .join(format!("{topic}.offsets"))
}

/// Encodes the offsets file of `topic`.
pub fn encode(topic: &str, offsets: &BTreeMap<u32, CommittedOffset>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(22 + topic.len() + offsets.len() * ENTRY_LEN);
    buf.extend_from_slice(OFFSETS_MAGIC);
    buf.extend_from_slice(&OFFSETS_VERSION.to_le_bytes());
    buf.extend_from_slice(&0u16.to_le_bytes());
    buf.extend_from_slice(&(topic.len() as u16).to_le_bytes());
    buf.extend_from_slice(topic.as_bytes());
    buf.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
    for (partition, c) in offsets {
        buf.extend_from_slice(&partition.to_le_bytes());
        buf.extend_from_slice(&c.offset.to_le_bytes());
        buf.extend_from_slice(&c.committed_at_ms.to_le_bytes());
    }
    let crc = crc32c::crc32c(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

/// Decodes an offsets file; returns the topic name and the entries. `path` is for errors.
pub fn decode(
    path: &Path,
    bytes: &[u8],
) -> Result<(String, BTreeMap<u32, CommittedOffset>), GroupError> {
    let corrupt = |reason: String| GroupError::CorruptOffsets {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 8 + 2 + 2 + 2 + 4 + 4 {
        return Err(corrupt(format!("file too short ({} bytes)", bytes.len())));
    }
    if &bytes[..8] != OFFSETS_MAGIC {
        return Err(corrupt("bad magic (not a sluice offsets file)".into()));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != OFFSETS_VERSION {
        return Err(GroupError::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
        });
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let actual = crc32c::crc32c(body);
    if stored != actual {
        return Err(corrupt(format!(
            "CRC mismatch (stored {stored:#010x}, computed {actual:#010x})"
        )));
    }
    let topic_len = u16::from_le_bytes([body[12], body[13]]) as usize;
    let mut pos = 14;
    if body.len() < pos + topic_len + 4 {
        return Err(corrupt("truncated topic name".into()));
    }
    let topic = std::str::from_utf8(&body[pos..pos + topic_len])
        .map_err(|_| corrupt("topic name is not UTF-8".into()))?
        .to_string();
    pos += topic_len;
    let count = u32::from_le_bytes([body[pos], body[pos + 1], body[pos + 2], body[pos + 3]]);
    pos += 4;
    if body.len() - pos != count as usize * ENTRY_LEN {
        return Err(corrupt(format!(
            "{count} entries announced, {} bytes of entries present",
            body.len() - pos
        )));
    }
    let mut offsets = BTreeMap::new();
    for chunk in body[pos..].chunks_exact(ENTRY_LEN) {
        let partition = u32::from_le_bytes(chunk[0..4].try_into().unwrap_or_default());
        let offset = u64::from_le_bytes(chunk[4..12].try_into().unwrap_or_default());
        let committed_at_ms = i64::from_le_bytes(chunk[12..20].try_into().unwrap_or_default());
        offsets.insert(
            partition,
            CommittedOffset {
                offset,
                committed_at_ms,
            },
        );
    }
    Ok((topic, offsets))
}

/// Reads the offsets file at `path`: `Ok(None)` if it does not exist.
pub fn read(path: &Path) -> Result<Option<BTreeMap<u32, CommittedOffset>>, GroupError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(GroupError::Io {
                path: path.to_path_buf(),
                op: "read",
                source,
            });
        }
    };
    let (_topic, offsets) = decode(path, &bytes)?;
    Ok(Some(offsets))
}

/// Writes the offsets file atomically: tmp → fsync → rename → fsync the directory.
pub fn write(
    path: &Path,
    topic: &str,
    offsets: &BTreeMap<u32, CommittedOffset>,
) -> Result<(), GroupError> {
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| GroupError::Io {
            path: p,
            op,
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io("create directory", dir))?;
    let tmp = tmp_path(path);
    let bytes = encode(topic, offsets);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    f.write_all(&bytes).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("fsync", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io("rename", path))?;
    sync_dir(dir)
}

/// fsyncs a directory so a rename or a new entry in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), GroupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| GroupError::Io {
            path: dir.to_path_buf(),
            op: "fsync directory",
            source,
        })
}

/// The temporary file an offsets write goes through.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Every offsets file on disk: `(group, topic, path)`, sorted. Leftover temp files are skipped.
pub fn list(data_dir: &Path) -> Result<Vec<(String, String, PathBuf)>, GroupError> {
    let root = groups_dir(data_dir);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| GroupError::Io {
            path: p,
            op: "list",
            source,
        }
    };
    let entries = match fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&root)(e)),
    };
    let mut out = Vec::new();
    for group in entries {
        let group = group.map_err(io(&root))?;
        if !group.path().is_dir() {
            continue;
        }
        let Some(group_name) = group.file_name().to_str().map(str::to_string) else {
            continue;
        };
        for file in fs::read_dir(group.path()).map_err(io(&group.path()))? {
            let file = file.map_err(io(&group.path()))?;
            let name = file.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(topic) = name.strip_suffix(".offsets") {
                out.push((group_name.clone(), topic.to_string(), file.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<u32, CommittedOffset> {
        (0..5)
            .map(|p| {
                (
                    p,
                    CommittedOffset {
                        offset: u64::from(p) * 1000 + 7,
                        committed_at_ms: 1_700_000_000_000 + i64::from(p),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn round_trip() {
        let bytes = encode("nginx.dead", &sample());
        let (topic, offsets) = decode(Path::new("x"), &bytes).unwrap();
        assert_eq!(topic, "nginx.dead");
        assert_eq!(offsets, sample());
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let bytes = encode("t", &sample());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(
                decode(Path::new("x"), &b).is_err(),
                "flip at {i} not detected"
            );
        }
    }

    #[test]
    fn truncations_are_detected() {
        let bytes = encode("t", &sample());
        for len in 0..bytes.len() {
            let err = decode(Path::new("x"), &bytes[..len]).unwrap_err();
            assert!(err.is_corruption(), "{err}");
        }
    }

    #[test]
    fn write_read_and_leftover_tmp() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = offsets_path(dir.path(), "g", "t");
        assert_eq!(read(&path).unwrap(), None);
        write(&path, "t", &sample()).unwrap();
        // A crash between tmp write and rename leaves a tmp file: it is ignored.
        std::fs::write(tmp_path(&path), b"garbage").unwrap();
        assert_eq!(read(&path).unwrap(), Some(sample()));
        let listed = list(dir.path()).unwrap();
        assert_eq!(listed, vec![("g".into(), "t".into(), path.clone())]);
        // The next write replaces the leftover tmp.
        write(&path, "t", &BTreeMap::new()).unwrap();
        assert_eq!(read(&path).unwrap(), Some(BTreeMap::new()));
    }
}
