//! Finding the files to tail: `paths` globs minus `exclude` globs, by walking the directories
//! below each pattern's literal prefix; `notify` (inotify) events wake the reader early.

use super::SourceError;
use super::identity::FileKey;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// A file found by a scan.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// The path it matched under (a symlink stays a symlink here).
    pub path: PathBuf,
    /// Device and inode of the file itself (symlinks followed).
    pub key: FileKey,
}

/// Compiled `paths` and `exclude`.
#[derive(Debug)]
pub(crate) struct Discovery {
    include: GlobSet,
    exclude: GlobSet,
    /// (literal base directory, how deep below it matches can be).
    roots: Vec<(PathBuf, usize)>,
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// The literal directory prefix of a pattern and the depth its matches can reach below it.
fn root_of(pattern: &str) -> (PathBuf, usize) {
    let p = Path::new(pattern);
    let mut base = PathBuf::new();
    let mut rest = 0usize;
    let mut in_glob = false;
    let mut deep = false;
    for c in p.components() {
        let s = c.as_os_str().to_string_lossy();
        if !in_glob && !has_meta(&s) {
            base.push(c.as_os_str());
            continue;
        }
        in_glob = true;
        if let Component::Normal(_) = c {
            rest += 1;
            if s.contains("**") {
                deep = true;
            }
        }
    }
    if !in_glob {
        // A literal path: its parent is the directory to look in.
        let parent = base.parent().map(Path::to_path_buf).unwrap_or_default();
        return (parent, 1);
    }
    (base, if deep { 32 } else { rest })
}

impl Discovery {
    /// Compiles the patterns; an invalid glob is a configuration error.
    pub fn new(paths: &[String], exclude: &[String]) -> Result<Self, SourceError> {
        let mut inc = GlobSetBuilder::new();
        let mut roots = Vec::new();
        for p in paths {
            let g = GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map_err(|e| SourceError::Config(format!("paths: {p:?}: {e}")))?;
            inc.add(g);
            roots.push(root_of(p));
        }
        let mut exc = GlobSetBuilder::new();
        for p in exclude {
            exc.add(Glob::new(p).map_err(|e| SourceError::Config(format!("exclude: {p:?}: {e}")))?);
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| SourceError::Config(e.to_string()));
        Ok(Discovery {
            include: build(inc)?,
            exclude: build(exc)?,
            roots,
        })
    }

    /// Directories worth watching with inotify (the literal bases that exist).
    pub fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .roots
            .iter()
            .map(|(b, _)| b.clone())
            .filter(|b| b.is_dir())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn excluded(&self, path: &Path) -> bool {
        if self.exclude.is_empty() {
            return false;
        }
        self.exclude.is_match(path) || path.file_name().is_some_and(|n| self.exclude.is_match(n))
    }

    /// Every regular file matching now, one entry per device+inode (the first path wins).
    pub fn scan(&self) -> Vec<Found> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (base, depth) in &self.roots {
            self.walk(base, *depth, &mut out, &mut seen);
        }
        out
    }

    fn walk(&self, dir: &Path, depth: usize, out: &mut Vec<Found>, seen: &mut HashSet<FileKey>) {
        if depth == 0 {
            return;
        }
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let Ok(rd) = fs::read_dir(dir) else { return };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries {
            // metadata() follows symlinks: a symlinked log is identified by its target.
            let Ok(md) = fs::metadata(&path) else {
                continue;
            };
            if md.is_dir() {
                self.walk(&path, depth - 1, out, seen);
            } else if md.is_file()
                && self.include.is_match(&path)
                && !self.excluded(&path)
                && seen.insert((md.dev(), md.ino()))
            {
                out.push(Found {
                    path,
                    key: (md.dev(), md.ino()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_depths() {
        assert_eq!(root_of("/var/log/*.log"), (PathBuf::from("/var/log"), 1));
        assert_eq!(root_of("/var/log/*/x.log"), (PathBuf::from("/var/log"), 2));
        assert_eq!(root_of("/var/**/x.log"), (PathBuf::from("/var"), 32));
        assert_eq!(root_of("/var/log/a.log"), (PathBuf::from("/var/log"), 1));
    }

    #[test]
    fn scan_matches_excludes_and_dedups_symlinks() {
        let d = tempfile::TempDir::new().unwrap();
        let p = d.path();
        fs::write(p.join("a.log"), "x\n").unwrap();
        fs::write(p.join("b.log.gz"), "x\n").unwrap();
        fs::create_dir(p.join("sub")).unwrap();
        fs::write(p.join("sub/c.log"), "x\n").unwrap();
        std::os::unix::fs::symlink(p.join("a.log"), p.join("z.log")).unwrap();
        let pat = format!("{}/*.log*", p.display());
        let disc = Discovery::new(&[pat], &["*.gz".into()]).unwrap();
        let names: Vec<_> = disc
            .scan()
            .into_iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.log"]);
    }
}
