//! `%{COMBINEDAPACHELOG}` on 1M Apache combined lines: the grok step (ecs-v1 and legacy) next
//! to the bare `regex` crate running the same expanded expression (the ceiling).
//!
//! Run: `cargo bench --bench grok` (env `GROK_BENCH_LINES` to change the line count).

/// The allocator the binary uses (src/main.rs): events are many small maps and strings.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::{Duration, Instant};

use regex::Regex;
use sluice::cleaner::Step;
use sluice::cleaner::grok::expand::expand;
use sluice::cleaner::grok::{EcsCompatibility, GrokConfig, GrokStep, definitions};
use sluice::event::Event;

/// Events per batch, as a cleaner worker sees them (a batch of records from the log).
const CHUNK: usize = 1_000;

fn lines(n: usize) -> Vec<String> {
    let verbs = ["GET", "POST", "GET", "HEAD", "PUT", "GET"];
    let paths = [
        "/",
        "/index.html",
        "/images/kibana-search.png",
        "/api/v1/orders?id=",
        "/blog/2024/03/05/a-long-article-title",
        "/static/js/app.min.js",
        "/favicon.ico",
    ];
    let agents = [
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "curl/8.5.0",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let r = x as usize;
            let status = [200, 200, 200, 304, 404, 500][r % 6];
            let bytes = if status == 304 { "-".to_string() } else { (r % 500_000).to_string() };
            format!(
                r#"{}.{}.{}.{} - {} [{:02}/May/2015:{:02}:{:02}:{:02} +0000] "{} {}{} HTTP/1.1" {} {} "{}" "{}""#,
                10 + r % 200, (r >> 8) % 256, (r >> 16) % 256, (r >> 24) % 256,
                if r.is_multiple_of(5) { "alice" } else { "-" },
                1 + i % 28, (r >> 3) % 24, (r >> 5) % 60, (r >> 7) % 60,
                verbs[r % verbs.len()], paths[(r >> 4) % paths.len()], r % 1000, status, bytes,
                if r.is_multiple_of(3) { "-" } else { "http://example.com/start" },
                agents[(r >> 9) % agents.len()],
            )
        })
        .collect()
}

/// The expanded expression with lookarounds removed and atomic groups made plain: what the
/// bare `regex` crate can run.
fn bare(ecs: EcsCompatibility) -> Regex {
    let defs = definitions(&GrokConfig {
        ecs_compatibility: ecs,
        ..GrokConfig::default()
    })
    .unwrap();
    let x = expand("%{COMBINEDAPACHELOG}", &defs).unwrap();
    let s = x
        .regex
        .replace("(?<![0-9.+-])", "")
        .replace("(?<![0-9])", "")
        .replace("(?![0-9])", "")
        .replace("(?<!\\\\)", "")
        .replace("(?>", "(?:");
    Regex::new(&format!("(?m){s}")).unwrap()
}

fn run_step(step: &GrokStep, lines: &[String]) -> (Duration, usize) {
    let mut total = Duration::ZERO;
    let mut ok = 0;
    for chunk in lines.chunks(CHUNK) {
        let mut events: Vec<Event> = chunk
            .iter()
            .map(|l| Event::from_message(l.as_str()))
            .collect();
        let t = Instant::now();
        for e in events.iter_mut() {
            step.apply(e);
        }
        total += t.elapsed();
        ok += events
            .iter()
            .filter(|e| !e.has_tag("_grokparsefailure"))
            .count();
        drop(black_box(events));
    }
    (total, ok)
}

fn run_bare(re: &Regex, lines: &[String]) -> (Duration, usize) {
    let mut locs = re.capture_locations();
    let t = Instant::now();
    let mut ok = 0;
    for l in lines {
        if re.captures_read(&mut locs, black_box(l)).is_some() {
            ok += 1;
        }
        black_box(&locs);
    }
    (t.elapsed(), ok)
}

/// The bare regex plus one `String` per captured group: the allocation the step cannot avoid
/// (captured values), without building an event.
fn run_bare_alloc(re: &Regex, lines: &[String]) -> (Duration, usize) {
    let mut locs = re.capture_locations();
    let mut values: Vec<String> = Vec::with_capacity(locs.len());
    let names: Vec<bool> = re
        .capture_names()
        .map(|n| n.is_some_and(|n| n.starts_with('g')))
        .collect();
    let t = Instant::now();
    let mut ok = 0;
    for l in lines {
        if re.captures_read(&mut locs, black_box(l)).is_some() {
            ok += 1;
            for (i, named) in names.iter().enumerate() {
                if let (true, Some((s, e))) = (*named, locs.get(i)) {
                    values.push(l[s..e].to_string());
                }
            }
            black_box(&values);
            values.clear();
        }
    }
    (t.elapsed(), ok)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs with few lines.
    let testing = !std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("GROK_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if testing { 2_000 } else { 1_000_000 });
    let lines = lines(n);
    println!("grok bench: {n} Apache combined lines");
    for (name, ecs) in [
        ("ecs-v1", EcsCompatibility::V1),
        ("legacy", EcsCompatibility::Disabled),
    ] {
        let step = GrokStep::new(GrokConfig {
            patterns: vec!["%{COMBINEDAPACHELOG}".into()],
            ecs_compatibility: ecs,
            ..GrokConfig::default()
        })
        .unwrap();
        let re = bare(ecs);
        // Warm up, then take the best of three.
        run_bare(&re, &lines[..lines.len().min(10_000)]);
        run_step(&step, &lines[..lines.len().min(10_000)]);
        // Interleaved, best of three each: the machine is shared, so drift hits both alike.
        let (mut tb, mut okb, mut ts, mut oks) = (Duration::MAX, 0, Duration::MAX, 0);
        let mut ta = Duration::MAX;
        for _ in 0..3 {
            let (t, ok) = run_bare(&re, &lines);
            if t < tb {
                (tb, okb) = (t, ok);
            }
            ta = ta.min(run_bare_alloc(&re, &lines).0);
            let (t, ok) = run_step(&step, &lines);
            if t < ts {
                (ts, oks) = (t, ok);
            }
        }
        assert_eq!(okb, n, "bare regex must match every line");
        assert_eq!(oks, n, "grok must match every line");
        let eps = |d: Duration| n as f64 / d.as_secs_f64();
        println!(
            "{name:7} engine={:?} fallbacks={}\n  grok step:                        {:>9.0} events/s\n  bare regex captures_read:         {:>9.0} events/s (step ratio {:.2}x)\n  bare regex + captured strings:    {:>9.0} events/s (step ratio {:.2}x)",
            step.engines()[0].1,
            step.fallbacks(),
            eps(ts),
            eps(tb),
            ts.as_secs_f64() / tb.as_secs_f64(),
            eps(ta),
            ts.as_secs_f64() / ta.as_secs_f64()
        );
    }
}
