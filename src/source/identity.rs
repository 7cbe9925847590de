//! File identity: device + inode, plus a fingerprint of the first line so that a new file that
//! reuses an inode is recognised as new.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes hashed at most for the fingerprint (the first line, or this many bytes of it).
pub const FINGERPRINT_BYTES: usize = 1024;

/// Device and inode of a file.
pub(crate) type FileKey = (u64, u64);

/// FNV-1a, 64 bit: stable across Rust versions and platforms (source ids depend on it).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The fingerprint of an open file: the hash of its first line (including the `\n`), or of its
/// first [`FINGERPRINT_BYTES`] bytes when the first line is longer. `None` while the file holds
/// neither a complete first line nor that many bytes (it is then not read yet).
pub(crate) fn fingerprint(file: &File) -> io::Result<Option<u64>> {
    let mut buf = [0u8; FINGERPRINT_BYTES];
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = &buf[..n];
    Ok(match memchr::memchr(b'\n', head) {
        Some(nl) => Some(fnv1a64(&head[..=nl])),
        None if n == FINGERPRINT_BYTES => Some(fnv1a64(head)),
        None => None,
    })
}

/// The source id of the line at `offset` of the file with fingerprint `fp`.
pub fn source_id(fp: u64, offset: u64) -> String {
    format!("{fp:016x}-{offset}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fingerprint_needs_a_complete_first_line() {
        let dir = tempfile::TempDir::new().unwrap();
        let p = dir.path().join("f");
        let mut f = File::create(&p).unwrap();
        f.write_all(b"hello").unwrap();
        let r = File::open(&p).unwrap();
        assert_eq!(fingerprint(&r).unwrap(), None);
        f.write_all(b" world\nmore").unwrap();
        let a = fingerprint(&r).unwrap().unwrap();
        f.write_all(b" and more\n").unwrap();
        assert_eq!(
            fingerprint(&r).unwrap(),
            Some(a),
            "later lines do not change it"
        );
        assert_eq!(a, fnv1a64(b"hello world\n"));
    }

    #[test]
    fn source_id_format_is_stable() {
        assert_eq!(source_id(0xab, 42), "00000000000000ab-42");
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    }
}
