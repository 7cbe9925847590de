//! sluice: tail log files, buffer them in an embedded durable partitioned log, clean them with
//! grok/regex workers in consumer groups, and bulk-index them into Elasticsearch — in one binary.
//!
//! Stages and their modules: [`source`] (shipper) → [`store`] (durable log) → [`cleaner`]
//! (steps) → [`sink`] (outputs), wired by [`pipeline`] from the YAML in [`config`]; [`server`]
//! serves HTTP; [`cli`] is the command line.

pub mod alloc;
pub mod cleaner;
pub mod cli;
pub mod config;
pub mod event;
pub mod json;
pub mod pipeline;
pub mod server;
pub mod sink;
pub mod source;
pub mod store;
pub mod value;
