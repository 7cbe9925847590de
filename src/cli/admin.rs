//! Helpers shared by the store commands: opening the data directory, tables, sizes.

use crate::store::{Store, StoreError};
use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// Opens the data directory read-write (takes its lock). If another process holds it, the
/// error names the lock file and the holder's pid, and says why this command needs the lock.
/// With `must_exist`, a missing directory is an error instead of being created.
pub(crate) fn open_locked(dir: &Path, command: &str, must_exist: bool) -> anyhow::Result<Store> {
    if must_exist && !dir.exists() {
        anyhow::bail!("data directory {} does not exist", dir.display());
    }
    match Store::open(dir) {
        Ok(s) => Ok(s),
        Err(e @ StoreError::Locked { .. }) => Err(anyhow::Error::new(e).context(format!(
            "`sluice {command}` writes to {} and needs its lock; stop the process holding it first",
            dir.display()
        ))),
        Err(e) => Err(anyhow::Error::new(e))
            .with_context(|| format!("cannot open data directory {}", dir.display())),
    }
}

/// Opens the data directory read-only (no lock; safe while `sluice run` writes it).
pub(crate) fn open_read_only(dir: &Path) -> anyhow::Result<Store> {
    if !dir.exists() {
        anyhow::bail!("data directory {} does not exist", dir.display());
    }
    Store::open_read_only(dir)
        .with_context(|| format!("cannot open data directory {} read-only", dir.display()))
}

/// Writes a left-aligned table with a header row; numbers are right-aligned.
pub(crate) fn write_table(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let numeric: Vec<bool> = (0..headers.len())
        .map(|i| {
            !rows.is_empty()
                && rows.iter().all(|r| {
                    r.get(i).is_some_and(|c| {
                        c == "-" || c.chars().next().is_some_and(|ch| ch.is_ascii_digit())
                    })
                })
        })
        .collect();
    let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                s.push_str("  ");
            }
            let pad = w.saturating_sub(cell.chars().count());
            if numeric.get(i).copied().unwrap_or(false) && i > 0 {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    let head: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    line(out, &head)?;
    for row in rows {
        line(out, row)?;
    }
    Ok(())
}

/// Formats a byte count for humans (`1.5 MiB`).
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &["TOPIC", "PARTITION", "END"],
            &[
                vec!["a".into(), "0".into(), "10".into()],
                vec!["long-name".into(), "1".into(), "2000".into()],
            ],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "TOPIC      PARTITION   END\na                  0    10\nlong-name          1  2000\n"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
