//! Cleaner throughput: `%{COMBINEDAPACHELOG}` + `date` + `convert` (the step list of
//! pipelines/apache.yaml, built from YAML like `sluice run` builds it) over 1M Apache lines
//! taken round-robin from samples/access.log, on one thread: events/s per core.
//!
//! Run: `cargo bench --bench cleaner` (optional argument: number of lines, default 1000000).
//! Each configuration runs twice; the best run is reported (the machine is shared).

/// The allocator the binary uses (src/main.rs): events are many small maps and strings.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use sluice::cleaner::grok::{EcsCompatibility, GrokConfig, GrokStep};
use sluice::cleaner::{Cleaner, Processed};
use sluice::config::load_str;
use sluice::event::Event;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Runs per configuration; the best is reported (the machine is shared).
const RUNS: usize = 2;

fn chain(ecs: &str, steps: &str) -> Arc<Cleaner> {
    let text = format!(
        "name: bench\nsource: {{ type: stdin }}\ncleaner:\n  ecs_compatibility: {ecs}\n  steps:\n{steps}"
    );
    load_str(Path::new("bench.yaml"), &text, &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
        .cleaner
        .steps
}

fn run(name: &str, cleaner: &Cleaner, lines: &[String], n: usize) {
    let events: Vec<Event> = lines
        .iter()
        .map(|l| Event::from_message(l.as_str()))
        .collect();
    run_events(name, cleaner, &events, n);
}

/// Runs `cleaner` over clones of `events` (cloning stands for decoding the record).
fn run_events(name: &str, cleaner: &Cleaner, events: &[Event], n: usize) {
    let mut best = f64::MAX;
    let mut kept = 0;
    for _ in 0..RUNS {
        kept = 0;
        let start = Instant::now();
        for i in 0..n {
            // As a worker does: the event arrives decoded, the steps run on it.
            let mut e = events[i % events.len()].clone();
            if cleaner.process(&mut e) == Processed::Keep && !e.has_tag("_grokparsefailure") {
                kept += 1;
            }
            black_box(&e);
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{name:<44} {n} events in {best:>6.3}s = {:>9.0} events/s ({kept} parsed)",
        n as f64 / best
    );
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(root.join("samples/access.log")).expect("samples/access.log");
    let lines: Vec<String> = String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();

    let grok = "    - grok: { patterns: ['%{COMBINEDAPACHELOG}'] }\n";
    let date = "    - date: { field: timestamp, formats: ['%d/%b/%Y:%H:%M:%S %z'] }\n";
    let convert_legacy = "    - convert: { response: integer, bytes: integer }\n";
    let convert_ecs =
        "    - convert: { \"http.response.status_code\": integer, \"http.version\": float }\n";

    for ecs in [EcsCompatibility::Disabled, EcsCompatibility::V1] {
        let step = GrokStep::new(GrokConfig {
            patterns: vec!["%{COMBINEDAPACHELOG}".into()],
            ecs_compatibility: ecs,
            ..Default::default()
        })
        .expect("COMBINEDAPACHELOG compiles");
        println!("grok engines ({ecs:?}): {:?}", step.engines());
    }
    run(
        "no steps (event clone only)",
        &chain("v1", "    []\n"),
        &lines,
        n,
    );

    // The date + convert steps alone, on events as legacy grok leaves them.
    let parser = chain("disabled", grok);
    let parsed: Vec<Event> = lines
        .iter()
        .map(|l| {
            let mut e = Event::from_message(l.as_str());
            parser.process(&mut e);
            e
        })
        .collect();
    run_events(
        "date + convert (on grok's output)",
        &chain("disabled", &format!("{date}{convert_legacy}")),
        &parsed,
        n,
    );
    run("grok (legacy)", &chain("disabled", grok), &lines, n);
    run(
        "grok + date + convert (legacy)",
        &chain("disabled", &format!("{grok}{date}{convert_legacy}")),
        &lines,
        n,
    );
    run(
        "grok + date + convert (ecs v1)",
        &chain("v1", &format!("{grok}{date}{convert_ecs}")),
        &lines,
        n,
    );
}
