//! An Elasticsearch-compatible server in memory, to try sluice pipelines without Elasticsearch.
//!
//! ```text
//! cargo run --example es-test-server -- --listen 127.0.0.1:9200
//! curl -s 127.0.0.1:9200/logs-web-2024.05.06/_count
//! ```
//!
//! It speaks `GET /`, `POST /_bulk`, `POST /{index}/_bulk` (gzip too), `GET /{index}/_count`,
//! `GET /{index}/_doc/{id}`, and can inject faults (see `--help`). It prints what it holds every
//! few seconds and stops on Ctrl-C.

#[path = "../tests/support/mod.rs"]
mod support;

use clap::Parser;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use support::{EsServer, ItemFault, RequiredAuth};

/// Command-line options.
#[derive(Parser, Debug)]
#[command(
    name = "es-test-server",
    about = "An in-memory Elasticsearch-compatible server for trying sluice"
)]
struct Opts {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9200")]
    listen: String,
    /// Answer each bulk request with a whole-request failure with this probability (0..1).
    #[arg(long, default_value_t = 0.0)]
    fail_probability: f64,
    /// Status of whole-request failures (429 or 503).
    #[arg(long, default_value_t = 429)]
    fail_status: u16,
    /// Answer each bulk item 429 with this probability (0..1) on its first sight.
    #[arg(long, default_value_t = 0.0)]
    item_429_probability: f64,
    /// `Retry-After` seconds sent with whole-request failures.
    #[arg(long)]
    retry_after: Option<u64>,
    /// Delay every bulk answer by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Answer 413 to bulk bodies larger than this many bytes.
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// Require basic auth, as USER:PASSWORD.
    #[arg(long)]
    basic: Option<String>,
    /// Require `Authorization: ApiKey KEY`.
    #[arg(long)]
    api_key: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key; listens on a free port).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long)]
    tls_key: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let opts = Opts::parse();
    let es = match (&opts.tls_cert, &opts.tls_key) {
        (Some(c), Some(k)) => EsServer::start_tls(c, k).await?,
        _ => EsServer::bind(&opts.listen).await?,
    };
    {
        let mut f = es.faults();
        f.fail_probability = opts.fail_probability;
        f.fail_status = opts.fail_status;
        f.retry_after = opts.retry_after;
        f.delay = Duration::from_millis(opts.delay_ms);
        f.max_body_bytes = opts.max_body_bytes;
        if opts.item_429_probability > 0.0 {
            let p = opts.item_429_probability;
            f.item_rule(move |ctx| {
                (ctx.seen == 0 && fastrand::f64() < p).then_some(ItemFault::TooManyRequests)
            });
        }
    }
    if let Some(b) = &opts.basic {
        let (u, p) = b.split_once(':').unwrap_or((b, ""));
        es.require_auth(RequiredAuth::Basic(u.to_string(), p.to_string()));
    } else if let Some(k) = &opts.api_key {
        es.require_auth(RequiredAuth::ApiKey(k.clone()));
    }
    println!("es-test-server listening on {}", es.url());
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last = u64::MAX;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let items = es.stats().bulk_items.load(Relaxed);
                if items != last {
                    last = items;
                    let per_index: Vec<String> = es.indices().iter().map(|i| format!("{i}={}", es.count(i))).collect();
                    println!(
                        "bulk requests {} · items {} · item errors {} · documents {} [{}]",
                        es.stats().bulk_requests.load(Relaxed),
                        items,
                        es.stats().item_errors.load(Relaxed),
                        es.total_docs(),
                        per_index.join(", ")
                    );
                }
            }
        }
    }
    println!(
        "stopping; {} documents were held in memory",
        es.total_docs()
    );
    Ok(())
}
