//! Pipeline configuration: YAML files → validated, compiled plans.
//!
//! [`load`] reads `--config` (a directory: every `*.yaml`/`*.yml` in it, sorted, not its
//! sub-directories; or one file), parses each file into a tree of positioned nodes
//! ([`yaml`]), substitutes `${VAR}` / `${VAR:-default}`, deserializes the tree into the raw
//! serde structs ([`raw`]) through a deserializer that collects every error ([`de`]), then
//! validates and compiles them into [`plan::PipelinePlan`]s (durations, sizes, regexes, the
//! step chain). All errors of all files come back at once, each with file:line:column.

pub mod de;
pub mod error;
pub mod units;
pub mod yaml;

pub use error::{ConfigError, ConfigErrors, Location};
pub mod build;
pub mod grok;
pub mod load;
pub mod plan;
pub mod raw;
pub mod steps;

pub use load::{load, load_str, load_with_env};
pub use plan::PipelinePlan;
