//! Runtime configuration of the file and stdin sources (the `source:` block of a pipeline).
//!
//! Plain Rust structs; `config/` maps the YAML keys onto them. Every field documents its
//! default, which is what [`Default`] returns.

use crate::value::Map;
use std::time::Duration;

/// Where to start reading a file that has no checkpoint yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// Read from the first byte (YAML `beginning`). The default.
    #[default]
    Beginning,
    /// Skip the complete lines the file holds when the shipper first sees it (YAML `end`; a
    /// last line still being written is read once complete). Applies only to
    /// files found by the first scan after start; files that appear later are always read from
    /// their beginning (they are new, so skipping would lose lines).
    End,
}

/// How lines that belong to one multiline event are recognised (Filebeat semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultilineMatch {
    /// A line for which `pattern` matches (inverted by `negate`) is appended to the line
    /// before it (YAML `after`). The default.
    #[default]
    After,
    /// A line for which `pattern` matches (inverted by `negate`) is joined with the line after
    /// it (YAML `before`).
    Before,
}

/// Multiline joining (`source.multiline`).
#[derive(Debug, Clone, PartialEq)]
pub struct MultilineConfig {
    /// Regular expression (Rust `regex` syntax) tested on every line. Required; no default.
    pub pattern: String,
    /// Inverts the pattern: lines that do NOT match are the continuation lines.
    /// Default: `false`.
    pub negate: bool,
    /// Whether continuation lines join the line before (`after`) or after (`before`).
    /// Default: `after`.
    pub match_: MultilineMatch,
    /// At most this many lines per event; further lines of the same event are left out and the
    /// event is tagged `_multiline_truncated`. Default: 500.
    pub max_lines: usize,
    /// At most this many bytes per event; the rest is left out and the event tagged
    /// `_multiline_truncated`. Default: 1 MiB.
    pub max_bytes: usize,
    /// An incomplete event is emitted after this long without a new line. Default: 5 s.
    pub timeout: Duration,
}

impl Default for MultilineConfig {
    fn default() -> Self {
        MultilineConfig {
            pattern: String::new(),
            negate: false,
            match_: MultilineMatch::After,
            max_lines: 500,
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Configuration of a `type: file` source.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSourceConfig {
    /// Glob patterns of the files to tail (`*`, `?`, `[..]`, `{a,b}`, `**`; `*` does not cross
    /// `/`). Symlinks are followed. Default: empty (nothing is read).
    pub paths: Vec<String>,
    /// Glob patterns of files to leave out, tested on the full path and on the file name (so
    /// `*.gz` works). Default: empty.
    pub exclude: Vec<String>,
    /// Where files without a checkpoint start. Default: `beginning`.
    pub start_at: StartAt,
    /// Multiline joining. Default: none (one event per line).
    pub multiline: Option<MultilineConfig>,
    /// Extra fields added to every event at the top level (like Filebeat's
    /// `fields_under_root: true`); dotted keys create nested objects. Default: none.
    pub fields: Map,
    /// Tags added to every event's `tags`. Default: none.
    pub tags: Vec<String>,
    /// Longest line kept; longer lines are cut at this many bytes (at a character boundary),
    /// tagged `_line_truncated`, and the rest of the line is skipped while reading (never
    /// buffered). Default: 1 MiB.
    pub max_line_bytes: usize,
    /// A file read to its end and not growing for this long is closed (its descriptor
    /// released) and reopened when it grows; a held final line without newline is emitted then.
    /// Files renamed out of `paths` are closed after this long too. Default: 5 min.
    pub close_inactive: Duration,
    /// The checkpoint of a file not seen for this long is forgotten. Default: 24 h.
    pub clean_removed: Duration,
    /// Period of the full rescan of `paths`, the fallback for file systems without inotify
    /// events (NFS, some container mounts). Default: 10 s.
    pub scan_interval: Duration,
    /// Longest wait before open files are polled again for new data when no inotify event
    /// arrives. Default: 250 ms.
    pub poll_interval: Duration,
    /// Use inotify (through `notify`) to notice new and growing files at once. Default: `true`.
    pub use_notify: bool,
    /// How often the checkpoint file is written (it is also written on shutdown). Default: 1 s.
    pub checkpoint_interval: Duration,
    /// Most events per `send` to the log. Default: 4096.
    pub batch_events: usize,
    /// Most message bytes per `send` to the log. Default: 2 MiB.
    pub batch_bytes: usize,
    /// `host.name` of the events. Default: the machine's host name.
    pub host_name: Option<String>,
}

impl Default for FileSourceConfig {
    fn default() -> Self {
        FileSourceConfig {
            paths: Vec::new(),
            exclude: Vec::new(),
            start_at: StartAt::Beginning,
            multiline: None,
            fields: Map::new(),
            tags: Vec::new(),
            max_line_bytes: 1024 * 1024,
            close_inactive: Duration::from_secs(300),
            clean_removed: Duration::from_secs(24 * 3600),
            scan_interval: Duration::from_secs(10),
            poll_interval: Duration::from_millis(250),
            use_notify: true,
            checkpoint_interval: Duration::from_secs(1),
            batch_events: 4096,
            batch_bytes: 2 * 1024 * 1024,
            host_name: None,
        }
    }
}

/// Configuration of a `type: stdin` source: lines from standard input until it closes.
#[derive(Debug, Clone, PartialEq)]
pub struct StdinSourceConfig {
    /// Multiline joining. Default: none.
    pub multiline: Option<MultilineConfig>,
    /// Extra top-level fields (see [`FileSourceConfig::fields`]). Default: none.
    pub fields: Map,
    /// Tags added to every event. Default: none.
    pub tags: Vec<String>,
    /// Longest line kept (see [`FileSourceConfig::max_line_bytes`]). Default: 1 MiB.
    pub max_line_bytes: usize,
    /// Most events per `send`. Default: 4096.
    pub batch_events: usize,
    /// A partial batch is sent after this long without new input. Default: 200 ms.
    pub flush_interval: Duration,
    /// `host.name` of the events. Default: the machine's host name.
    pub host_name: Option<String>,
}

impl Default for StdinSourceConfig {
    fn default() -> Self {
        StdinSourceConfig {
            multiline: None,
            fields: Map::new(),
            tags: Vec::new(),
            max_line_bytes: 1024 * 1024,
            batch_events: 4096,
            flush_interval: Duration::from_millis(200),
            host_name: None,
        }
    }
}
