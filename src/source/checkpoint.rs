//! The checkpoint file: per file its identity, path and the offset up to which the log has
//! acknowledged its lines. Byte layout and crash window: `docs/checkpoint-format.md`.

use super::SourceError;
use super::identity::FileKey;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the checkpoint file inside the checkpoint directory.
pub const CHECKPOINT_FILE: &str = "checkpoints";
const TMP_FILE: &str = "checkpoints.tmp";
const MAGIC: &[u8; 8] = b"SLUICECP";
const VERSION: u32 = 1;
const HEADER: usize = 16;
const ENTRY_FIXED: usize = 44;

/// What is known about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Fingerprint of the file's first line.
    pub fp: u64,
    /// Every line before this offset has been acknowledged by the log.
    pub offset: u64,
    /// Last path the file was seen under.
    pub path: String,
    /// When the file was last seen by a scan (ms since the Unix epoch).
    pub last_seen_ms: i64,
}

/// All entries, keyed by device and inode.
pub(crate) type Entries = HashMap<FileKey, Entry>;

fn corrupt(path: &Path, reason: impl Into<String>) -> SourceError {
    SourceError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Encodes entries (see the format doc).
pub(crate) fn encode(entries: &Entries) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + entries.len() * (ENTRY_FIXED + 64) + 4);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&VERSION.to_le_bytes());
    v.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut keys: Vec<_> = entries.keys().collect();
    keys.sort();
    for k in keys {
        let e = &entries[k];
        v.extend_from_slice(&k.0.to_le_bytes());
        v.extend_from_slice(&k.1.to_le_bytes());
        v.extend_from_slice(&e.fp.to_le_bytes());
        v.extend_from_slice(&e.offset.to_le_bytes());
        v.extend_from_slice(&e.last_seen_ms.to_le_bytes());
        v.extend_from_slice(&(e.path.len() as u32).to_le_bytes());
        v.extend_from_slice(e.path.as_bytes());
    }
    let crc = crc32c::crc32c(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Decodes a checkpoint file's bytes; `path` names it in errors.
pub(crate) fn decode(path: &Path, b: &[u8]) -> Result<Entries, SourceError> {
    if b.len() < HEADER + 4 {
        return Err(corrupt(
            path,
            format!("{} bytes, shorter than a header", b.len()),
        ));
    }
    if &b[..8] != MAGIC {
        return Err(corrupt(path, "bad magic (not a sluice checkpoint file)"));
    }
    let version = u32_at(b, 8);
    if version != VERSION {
        return Err(corrupt(path, format!("unsupported version {version}")));
    }
    let body = &b[..b.len() - 4];
    let stored = u32_at(b, b.len() - 4);
    if crc32c::crc32c(body) != stored {
        return Err(corrupt(path, "CRC mismatch"));
    }
    let count = u32_at(b, 12) as usize;
    let mut at = HEADER;
    let mut entries = Entries::with_capacity(count.min(1 << 16));
    for i in 0..count {
        if at + ENTRY_FIXED > body.len() {
            return Err(corrupt(
                path,
                format!("entry {i} at byte {at} is cut short"),
            ));
        }
        let key = (u64_at(b, at), u64_at(b, at + 8));
        let fp = u64_at(b, at + 16);
        let offset = u64_at(b, at + 24);
        let last_seen_ms = u64_at(b, at + 32) as i64;
        let len = u32_at(b, at + 40) as usize;
        at += ENTRY_FIXED;
        if at + len > body.len() {
            return Err(corrupt(
                path,
                format!("path of entry {i} at byte {at} is cut short"),
            ));
        }
        let p = String::from_utf8_lossy(&body[at..at + len]).into_owned();
        at += len;
        entries.insert(
            key,
            Entry {
                fp,
                offset,
                path: p,
                last_seen_ms,
            },
        );
    }
    if at != body.len() {
        return Err(corrupt(path, format!("{} trailing bytes", body.len() - at)));
    }
    Ok(entries)
}

/// Loads the checkpoint of `dir` (creating `dir`). A missing file gives no entries; a corrupt
/// one is an error (the caller decides to start over).
pub(crate) fn load(dir: &Path) -> Result<Entries, SourceError> {
    fs::create_dir_all(dir).map_err(|source| SourceError::Io {
        what: "creating checkpoint directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(CHECKPOINT_FILE);
    match fs::read(&path) {
        Ok(b) => decode(&path, &b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Entries::new()),
        Err(source) => Err(SourceError::Io {
            what: "reading checkpoint",
            path,
            source,
        }),
    }
}

/// Writes the checkpoint atomically: tmp file → fsync → rename → fsync the directory.
pub(crate) fn write(dir: &Path, entries: &Entries) -> Result<(), SourceError> {
    let bytes = encode(entries);
    let tmp: PathBuf = dir.join(TMP_FILE);
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Io { what, path, source }
    };
    let mut f = File::create(&tmp).map_err(io("creating", &tmp))?;
    f.write_all(&bytes).map_err(io("writing", &tmp))?;
    f.sync_all().map_err(io("syncing", &tmp))?;
    drop(f);
    let dst = dir.join(CHECKPOINT_FILE);
    fs::rename(&tmp, &dst).map_err(io("renaming into", &dst))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entries {
        let mut e = Entries::new();
        e.insert(
            (1, 2),
            Entry {
                fp: 0xdead_beef,
                offset: 1234,
                path: "/var/log/a.log".into(),
                last_seen_ms: 1_700_000_000_000,
            },
        );
        e.insert(
            (1, 3),
            Entry {
                fp: 7,
                offset: 0,
                path: "/var/log/é.log".into(),
                last_seen_ms: -1,
            },
        );
        e
    }

    #[test]
    fn round_trip_through_the_file() {
        let dir = tempfile::TempDir::new().unwrap();
        write(dir.path(), &sample()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), sample());
        assert!(!dir.path().join(TMP_FILE).exists());
    }

    #[test]
    fn missing_file_is_empty_and_every_flipped_byte_is_detected() {
        let dir = tempfile::TempDir::new().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        let b = encode(&sample());
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            let err = decode(Path::new("x"), &c).unwrap_err();
            assert!(err.is_corruption(), "byte {i}: {err}");
        }
        assert!(decode(Path::new("x"), &b[..b.len() - 1]).is_err());
    }
}
