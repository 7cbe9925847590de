//! The cleaner worker's CPU path, phase by phase, on one thread: a log record as the shipper
//! writes it → `Event::decode` → the cleaner steps of the end-to-end benchmark (grok
//! `COMBINEDAPACHELOG` + date + convert + remove) → the Elasticsearch bulk encoder → drop.
//!
//! Run: `cargo bench --bench worker` (optional argument: number of events, default 300000).
//! Events go through in batches of 1,000, as a worker polls them; within a batch each phase
//! runs over all events before the next starts, so each figure is the phase's own cost per
//! event (ns) with the allocator in its steady state. A last figure runs the path as the
//! worker does: one pass per event (decode, steps, then the sink's `Preparer`, which encodes
//! and frees it) before the next event is decoded.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sluice::config::load_str;
use sluice::event::Event;
use sluice::sink::elasticsearch::ElasticsearchConfig;
use sluice::sink::elasticsearch::batch::BulkEncoder;
use sluice::sink::elasticsearch::encoder::Encoder;
use sluice::sink::{Prepared, Preparer};
use sluice::value;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300_000);
    sluice::alloc::tune_allocator();
    let text = "name: bench\nsource: { type: stdin }\ncleaner:\n  ecs_compatibility: disabled\n  steps:\n    - grok: { field: message, patterns: ['%{COMBINEDAPACHELOG}'] }\n    - date: { field: timestamp, formats: ['%d/%b/%Y:%H:%M:%S %z'] }\n    - convert: { response: integer, bytes: integer }\n    - remove: [timestamp]\n";
    let cleaner = load_str(Path::new("bench.yaml"), text, &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
        .cleaner
        .steps;
    let sample = std::fs::read_to_string("samples/access.log").expect("samples/access.log");
    let lines: Vec<&str> = sample.lines().filter(|l| !l.is_empty()).collect();
    let records: Vec<(Vec<u8>, String)> = (0..n)
        .map(|i| {
            let mut e = Event::from_message(lines[i % lines.len()]);
            e.insert("@timestamp", value!("2026-11-25T09:00:00.000Z"));
            e.insert("log.file.path", value!("/var/log/apache2/access.log"));
            e.insert("log.offset", value!(i * 180));
            e.insert("host.name", value!("web-01"));
            (e.encode(), format!("{:016x}-{}", 0xfeed_u64, i * 180))
        })
        .collect();
    let mut encoder = Encoder::new(&ElasticsearchConfig::default());
    // One body, reused: the figure is the encoding, not the kernel zeroing fresh pages.
    let mut body = Vec::with_capacity(n * 700);
    const BATCH: usize = 1000;
    for round in 0..2 {
        let (mut decode, mut clean, mut encode, mut free) = Default::default();
        body.clear();
        for chunk in records.chunks(BATCH) {
            let t = Instant::now();
            let mut events: Vec<Event> = chunk
                .iter()
                .map(|(v, sid)| Event::decode(v, Some(sid.clone())))
                .collect();
            decode += t.elapsed();
            let t = Instant::now();
            for e in &mut events {
                black_box(cleaner.process(e));
            }
            clean += t.elapsed();
            let t = Instant::now();
            for e in &events {
                encoder.encode(e, &mut body).expect("encodable");
            }
            encode += t.elapsed();
            let t = Instant::now();
            drop(black_box(events));
            free += t.elapsed();
        }
        let per = |d: std::time::Duration| d.as_nanos() as f64 / n as f64;
        if round == 1 {
            let total = per(decode) + per(clean) + per(encode) + per(free);
            println!(
                "worker path, {n} events in batches of {BATCH}: decode {:.0} ns, clean {:.0} ns, encode {:.0} ns, drop {:.0} ns = {total:.0} ns/event ({:.0} events per CPU-second); body {} bytes/event",
                per(decode),
                per(clean),
                per(encode),
                per(free),
                1e9 / total,
                body.len() / n
            );
        }
    }
    // As the worker runs it: each event decoded, cleaned and handed to the sink's encoder
    // (which encodes and frees it) before the next is decoded.
    let mut preparer = BulkEncoder::new(&ElasticsearchConfig::default());
    for round in 0..2 {
        let t = Instant::now();
        let mut bytes = 0;
        for chunk in records.chunks(BATCH) {
            preparer.begin(chunk.len());
            for (v, sid) in chunk {
                let mut e = Event::decode(v, Some(sid.clone()));
                black_box(cleaner.process(&mut e));
                preparer.push(e);
            }
            let batch = black_box(preparer.finish());
            bytes += match &batch {
                Prepared::Bulk(b) => b.body_bytes(),
                Prepared::Events(_) => 0,
            };
        }
        let per = t.elapsed().as_nanos() as f64 / n as f64;
        if round == 1 {
            println!(
                "worker path, one pass per event (as the worker runs it): {per:.0} ns/event ({:.0} events per CPU-second); body {} bytes/event",
                1e9 / per,
                bytes / n
            );
        }
    }
}
