//! Splitting a byte stream into lines: `\n`-terminated, a trailing `\r` removed, a partial last
//! line held until completed, over-long lines cut while reading (the rest is skipped, never
//! buffered whole).

use memchr::memchr_iter;

/// Flag: the line was longer than `max_line_bytes` and was cut.
pub(crate) const FLAG_LINE_TRUNCATED: u8 = 1;
/// Flag: a multiline event reached `max_lines`/`max_bytes` and lines were left out.
pub(crate) const FLAG_MULTILINE_TRUNCATED: u8 = 2;

/// One complete line, borrowed from the read buffer or the splitter's pending buffer.
#[derive(Debug)]
pub(crate) struct Line<'a> {
    /// Byte offset of the line's first byte in the file.
    pub offset: u64,
    /// Byte offset just past the line's terminator (where the next line starts).
    pub end: u64,
    /// The line without `\n` (and without a trailing `\r`), at most `max_line_bytes` long.
    pub bytes: &'a [u8],
    /// `FLAG_*` bits.
    pub flags: u8,
}

/// Incremental line splitter for one file.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    max: usize,
    /// Bytes of the current unfinished line (at most `max`).
    pending: Vec<u8>,
    /// Offset of the unfinished line's first byte.
    pending_start: u64,
    /// True while a line has started but its `\n` has not been seen.
    partial: bool,
    /// The unfinished line has exceeded `max`: further bytes are skipped.
    truncated: bool,
    /// Offset of the next byte to be fed.
    pos: u64,
}

/// Removes one trailing `\r`.
fn strip_cr(b: &[u8]) -> &[u8] {
    match b.last() {
        Some(b'\r') => &b[..b.len() - 1],
        _ => b,
    }
}

impl LineSplitter {
    /// A splitter whose next fed byte sits at file offset `pos`.
    pub fn new(max_line_bytes: usize, pos: u64) -> Self {
        LineSplitter {
            max: max_line_bytes.max(1),
            pending: Vec::new(),
            pending_start: pos,
            partial: false,
            truncated: false,
            pos,
        }
    }

    /// Forgets any partial line; the next fed byte sits at `pos`.
    pub fn reset(&mut self, pos: u64) {
        self.pending.clear();
        if self.pending.capacity() > 64 * 1024 {
            self.pending.shrink_to(0);
        }
        self.partial = false;
        self.truncated = false;
        self.pos = pos;
        self.pending_start = pos;
    }

    /// Offset of the next byte to be fed.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// True if a line without terminator is held.
    #[cfg(test)]
    pub fn has_partial(&self) -> bool {
        self.partial
    }

    fn append(&mut self, seg: &[u8]) {
        let room = self.max - self.pending.len();
        if seg.len() > room {
            self.pending.extend_from_slice(&seg[..room]);
            self.truncated = true;
        } else {
            self.pending.extend_from_slice(seg);
        }
    }

    /// Feeds the next bytes of the stream; calls `out` for every completed line.
    pub fn feed(&mut self, chunk: &[u8], out: &mut impl FnMut(Line<'_>)) {
        let mut start = 0usize;
        for nl in memchr_iter(b'\n', chunk) {
            let seg = &chunk[start..nl];
            let end = self.pos + nl as u64 + 1;
            if !self.partial {
                let offset = self.pos + start as u64;
                if seg.len() > self.max {
                    out(Line {
                        offset,
                        end,
                        bytes: &seg[..self.max],
                        flags: FLAG_LINE_TRUNCATED,
                    });
                } else {
                    out(Line {
                        offset,
                        end,
                        bytes: strip_cr(seg),
                        flags: 0,
                    });
                }
            } else {
                if !self.truncated {
                    self.append(seg);
                }
                let (bytes, flags) = if self.truncated {
                    (&self.pending[..], FLAG_LINE_TRUNCATED)
                } else {
                    (strip_cr(&self.pending), 0)
                };
                out(Line {
                    offset: self.pending_start,
                    end,
                    bytes,
                    flags,
                });
                self.pending.clear();
                if self.pending.capacity() > 64 * 1024 {
                    self.pending.shrink_to(0);
                }
                self.partial = false;
                self.truncated = false;
            }
            start = nl + 1;
        }
        if start < chunk.len() {
            if !self.partial {
                self.partial = true;
                self.pending_start = self.pos + start as u64;
            }
            if !self.truncated {
                self.append(&chunk[start..]);
            }
        }
        self.pos += chunk.len() as u64;
    }

    /// Emits the held partial line (file inactive, rotated or deleted), if any.
    pub fn flush_partial(&mut self, out: &mut impl FnMut(Line<'_>)) {
        if !self.partial {
            return;
        }
        let flags = if self.truncated {
            FLAG_LINE_TRUNCATED
        } else {
            0
        };
        out(Line {
            offset: self.pending_start,
            end: self.pos,
            bytes: if self.truncated {
                &self.pending
            } else {
                strip_cr(&self.pending)
            },
            flags,
        });
        let pos = self.pos;
        self.reset(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<(u64, u64, Vec<u8>, u8)> {
        let mut s = LineSplitter::new(max, 10);
        let mut v = Vec::new();
        for c in chunks {
            s.feed(c, &mut |l| {
                v.push((l.offset, l.end, l.bytes.to_vec(), l.flags))
            });
        }
        s.flush_partial(&mut |l| v.push((l.offset, l.end, l.bytes.to_vec(), l.flags)));
        v
    }

    #[test]
    fn lines_across_chunks_keep_offsets_and_drop_cr() {
        let v = split(100, &[b"ab\r\ncd", b"e\nf", b"g\r\n", b"tail"]);
        assert_eq!(
            v,
            vec![
                (10, 14, b"ab".to_vec(), 0),
                (14, 18, b"cde".to_vec(), 0),
                (18, 22, b"fg".to_vec(), 0),
                (22, 26, b"tail".to_vec(), 0),
            ]
        );
    }

    #[test]
    fn long_lines_are_cut_in_both_paths() {
        let v = split(3, &[b"abcdef\nxy", b"zzzz", b"zz\nok\n"]);
        assert_eq!(v[0], (10, 17, b"abc".to_vec(), FLAG_LINE_TRUNCATED));
        assert_eq!(v[1], (17, 26, b"xyz".to_vec(), FLAG_LINE_TRUNCATED));
        assert_eq!(v[2], (26, 29, b"ok".to_vec(), 0));
    }

    #[test]
    fn partial_line_is_held_until_completed() {
        let mut s = LineSplitter::new(100, 0);
        let mut n = 0;
        s.feed(b"abc", &mut |_| n += 1);
        assert_eq!(n, 0);
        assert!(s.has_partial());
        s.feed(b"\n", &mut |l| {
            assert_eq!(l.bytes, b"abc");
            n += 1
        });
        assert_eq!(n, 1);
        assert!(!s.has_partial());
    }
}
