//! Shared test support: an Elasticsearch-compatible test server with fault injection.
//!
//! Use from an integration test with `mod support;` and `support::EsServer::start().await`;
//! from the command line with `cargo run --example es-test-server -- --listen 127.0.0.1:9200`.
#![allow(dead_code, unused_imports)]

pub mod es_faults;
pub mod es_server;
pub mod es_store;
pub mod sink_fixtures;

pub use es_faults::{Faults, RequiredAuth, SeenRequest, Stats};
pub use es_server::EsServer;
pub use es_store::{ItemCtx, ItemFault, StoredDoc};
