//! fsck: checks every batch's CRC and sequence and every index entry (`sluice topics --verify`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::index::{Index, IndexCheck, OpenMode};
use super::segment::{self, SEGMENT_HEADER_LEN};
use super::topic::Topic;

/// One problem found by [`Topic::verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Partition.
    pub partition: u32,
    /// The file.
    pub path: PathBuf,
    /// Byte position in the file.
    pub position: u64,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.path.display(),
            self.position,
            self.reason
        )
    }
}

/// Result of [`Topic::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Segments checked.
    pub segments: u64,
    /// Batches whose CRC matched.
    pub batches: u64,
    /// Records in those batches.
    pub records: u64,
    /// Bytes of those batches.
    pub bytes: u64,
    /// Index entries checked.
    pub index_entries: u64,
    /// Everything wrong, with file and position.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Topic {
    /// Reads every batch of every segment, checking CRC and offsets, and every index entry
    /// against the batches; lists problems with file and position. Never modifies anything.
    pub fn verify(&self) -> VerifyReport {
        let mut rep = VerifyReport::default();
        let parts = self.partitions.read().clone();
        for p in parts {
            let segs = p.segments.read().clone();
            let last = segs.len().saturating_sub(1);
            for (si, seg) in segs.into_iter().enumerate() {
                rep.segments += 1;
                let mut problem = |path: &PathBuf, position: u64, reason: String| {
                    rep.problems.push(Problem {
                        partition: p.id,
                        path: path.clone(),
                        position,
                        reason,
                    })
                };
                if let Err(reason) = segment::check_header(&seg.file, seg.base) {
                    problem(&seg.log_path, 0, reason);
                    continue;
                }
                let len = seg.len.load(Ordering::Acquire);
                // Index entries from disk, checked structurally.
                // The active segment may grow (another process writing) after `len` was taken:
                // its index entries past `len` are not errors.
                let idx_limit = if si == last { u64::MAX } else { len };
                let on_disk = match Index::open(
                    &seg.index_path,
                    seg.base,
                    SEGMENT_HEADER_LEN,
                    idx_limit,
                    OpenMode::Copy,
                ) {
                    Ok((idx, check)) => {
                        match check {
                            IndexCheck::Valid => {}
                            IndexCheck::Missing => {
                                problem(&seg.index_path, 0, "index file missing".into())
                            }
                            IndexCheck::Invalid(r) => problem(&seg.index_path, 0, r),
                        }
                        idx.entries()
                    }
                    Err(e) => {
                        problem(&seg.index_path, 0, e.to_string());
                        Vec::new()
                    }
                };
                let entries = if on_disk.is_empty() {
                    seg.index.read().entries()
                } else {
                    on_disk
                };
                let mut j = 0usize;
                let (mut pos, mut expect) = (SEGMENT_HEADER_LEN, seg.base);
                let mut batch_problems = Vec::new();
                let mut ok = (0u64, 0u64, 0u64);
                let mut clean_end = (pos >= len).then_some(expect);
                while pos < len {
                    let scan = segment::scan(
                        &seg.file,
                        &seg.log_path,
                        pos,
                        len,
                        expect,
                        true,
                        |at, h| {
                            ok.0 += 1;
                            ok.1 += u64::from(h.record_count);
                            ok.2 += u64::from(h.batch_len);
                            while j < entries.len() && u64::from(entries[j].position) <= at {
                                let e = entries[j];
                                if u64::from(e.position) < at
                                    || seg.base + u64::from(e.rel_offset) != h.base_offset
                                {
                                    batch_problems.push((seg.index_path.clone(), (j * 16 + 16) as u64,
                                    format!("index entry {j} (offset {}, position {}) does not point at a batch", seg.base + u64::from(e.rel_offset), e.position)));
                                }
                                j += 1;
                            }
                        },
                    );
                    let scan = match scan {
                        Ok(s) => s,
                        Err(e) => {
                            batch_problems.push((seg.log_path.clone(), pos, e.to_string()));
                            break;
                        }
                    };
                    let Some((at, reason)) = scan.problem else {
                        clean_end = Some(scan.next_offset);
                        break;
                    };
                    batch_problems.push((seg.log_path.clone(), at, reason));
                    // Resume at the next index entry after the problem, if any.
                    match entries.iter().find(|e| u64::from(e.position) > at) {
                        Some(e) => {
                            pos = u64::from(e.position);
                            expect = seg.base + u64::from(e.rel_offset);
                            j = entries.iter().position(|x| x == e).unwrap_or(entries.len());
                        }
                        None => break,
                    }
                }
                let seg_end = seg.end_offset.load(std::sync::atomic::Ordering::Acquire);
                if let Some(end) = clean_end.filter(|&e| e != seg_end) {
                    let what = if si == last {
                        "the partition's end"
                    } else {
                        "the next segment"
                    };
                    batch_problems.push((
                        seg.log_path.clone(),
                        len,
                        format!("segment ends at offset {end} but {what} is at offset {seg_end}"),
                    ));
                }
                rep.index_entries += entries.len() as u64;
                rep.batches += ok.0;
                rep.records += ok.1;
                rep.bytes += ok.2;
                for (path, position, reason) in batch_problems {
                    problem(&path, position, reason);
                }
            }
        }
        rep
    }
}
