//! Throughput of the Elasticsearch sink: the encoder alone, body assembly with gzip, and bulk
//! indexing of 1 KiB documents into the in-memory test server over loopback, with and without
//! gzip.
//!
//! `cargo bench --bench es_sink` (add `-- --docs N` to change the document count).

#[path = "../tests/support/mod.rs"]
mod support;

use bytes::Bytes;
use sluice::event::Event;
use sluice::sink::elasticsearch::encoder::Encoder;
use sluice::sink::elasticsearch::request::{Doc, body};
use sluice::sink::elasticsearch::{Compression, ElasticsearchConfig};
use sluice::sink::{ElasticsearchSink, Sink};
use sluice::value;
use std::time::{Duration, Instant};
use support::EsServer;

/// An event whose source serialises to about 1 KiB, with a unique source id.
fn event(i: usize) -> Event {
    let v = value!({
        "@timestamp": "2024-05-06T07:08:09.123Z",
        "service": "web",
        "host": {"name": "web-01"},
        "log": {"file": {"path": "/var/log/nginx/access.log"}, "offset": i * 1024},
        "http": {"request": {"method": "GET"}, "response": {"status_code": 200, "bytes": 5120}},
        "message": format!(
            "10.0.0.{} - - [06/May/2024:07:08:09 +0000] \"GET /api/v1/items/{i}?session={}&q={} HTTP/1.1\" 200 5120 \"https://example.com/search\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36\"",
            i % 255,
            std::iter::repeat_with(fastrand::alphanumeric).take(160).collect::<String>(),
            "search+terms+".repeat(35)
        ),
        "tags": ["nginx", "access"],
        "@metadata": {"partition": 0, "offset": i},
    });
    Event {
        fields: v.as_object().cloned().unwrap_or_default(),
        source_id: Some(format!("0123456789abcdef:{}", i * 1024)),
    }
}

/// CPU time used so far by this thread (`thread`) or the whole process.
fn cpu_time(thread: bool) -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let who = if thread {
        libc::RUSAGE_THREAD
    } else {
        libc::RUSAGE_SELF
    };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Prints wall-clock and CPU-time rates (the CPU-time rate is what the code does per core
/// second, independent of other load on the machine).
fn report(what: &str, docs: usize, bytes: usize, wall: Duration, cpu: Duration) {
    let s = wall.as_secs_f64();
    let c = cpu.as_secs_f64().max(1e-9);
    println!(
        "{what:<40} {docs:>7} docs  wall {s:>6.3} s {:>9.0} docs/s {:>7.1} MB/s | cpu {c:>6.3} s {:>9.0} docs/cpu-s {:>7.1} MB/cpu-s",
        docs as f64 / s,
        bytes as f64 / s / 1e6,
        docs as f64 / c,
        bytes as f64 / c / 1e6
    );
}

fn encoder_alone(events: &[Event]) -> (Vec<u8>, Vec<Doc>) {
    let cfg = ElasticsearchConfig {
        index: "logs-%{service}-%{+yyyy.MM.dd}".into(),
        ..Default::default()
    };
    let mut enc = Encoder::new(&cfg);
    let mut best = (Duration::MAX, Duration::MAX);
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    for _ in 0..3 {
        buf = Vec::with_capacity(events.len() * 1200);
        ranges.clear();
        let (t, c) = (Instant::now(), cpu_time(true));
        for e in events {
            let start = buf.len();
            enc.encode(e, &mut buf).expect("encodes");
            ranges.push(start..buf.len());
        }
        best = best.min((t.elapsed(), cpu_time(true) - c));
    }
    report(
        "encoder alone (event -> bulk lines)",
        events.len(),
        buf.len(),
        best.0,
        best.1,
    );
    let all = Bytes::from(buf.clone());
    let docs = ranges
        .into_iter()
        .enumerate()
        .map(|(pos, r)| Doc {
            pos,
            bytes: all.slice(r),
            attempts: 0,
        })
        .collect();
    (buf, docs)
}

fn bodies(docs: &[Doc], raw_len: usize) {
    for gzip in [false, true] {
        let (t, c) = (Instant::now(), cpu_time(true));
        let mut wire = 0;
        for chunk in docs.chunks(5000) {
            wire += body(chunk, gzip).expect("body").bytes.len();
        }
        let (e, ce) = (t.elapsed(), cpu_time(true) - c);
        let what = if gzip {
            "body assembly + gzip (fast level)"
        } else {
            "body assembly (plain)"
        };
        report(what, docs.len(), raw_len, e, ce);
        if gzip {
            println!(
                "{:<40} ratio {:.1}x ({} -> {} bytes)",
                "",
                raw_len as f64 / wire as f64,
                raw_len,
                wire
            );
        }
    }
}

/// Bulk indexing through the sink. The test server runs on its own runtime thread; the sink
/// (and its HTTP client) on the calling thread's current-thread runtime, so the calling
/// thread's CPU time is the sink's own cost.
fn end_to_end(events: &[Event], raw_len: usize, compression: Compression) {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let es = server_rt.block_on(EsServer::start());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let cfg = ElasticsearchConfig {
        hosts: vec![es.url()],
        index: "logs-%{service}-%{+yyyy.MM.dd}".into(),
        compression,
        concurrency: 2,
        ..Default::default()
    };
    let mut sink = ElasticsearchSink::new(cfg, "bench").expect("sink");
    // Batches as the pipeline would hand them over (cloned before timing).
    let batches: Vec<Vec<Event>> = events.chunks(20_000).map(<[Event]>::to_vec).collect();
    let (t, c, p) = (Instant::now(), cpu_time(true), cpu_time(false));
    rt.block_on(async {
        for b in batches {
            let ack = sink.send(b).await.expect("send");
            assert!(ack.rejected.is_empty());
        }
    });
    let (e, ce, pe) = (t.elapsed(), cpu_time(true) - c, cpu_time(false) - p);
    assert_eq!(es.total_docs(), events.len());
    let what = match compression {
        Compression::None => "plain",
        Compression::Gzip => "gzip",
    };
    report(
        &format!("bulk over loopback, {what}: sink thread"),
        events.len(),
        raw_len,
        e,
        ce,
    );
    report(
        &format!("bulk over loopback, {what}: sink + server"),
        events.len(),
        raw_len,
        e,
        pe,
    );
    drop(es);
    drop(rt);
    server_rt.shutdown_background();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .iter()
        .position(|a| a == "--docs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000usize);
    let events: Vec<Event> = (0..n).map(event).collect();
    let (buf, docs) = encoder_alone(&events);
    let per_doc = buf.len() / n;
    println!(
        "{:<40} {per_doc} bytes of NDJSON per document (action + source)",
        ""
    );
    if !args.iter().any(|a| a == "--e2e-only") {
        bodies(&docs, buf.len());
    }
    drop(docs);
    end_to_end(&events, buf.len(), Compression::None);
    end_to_end(&events, buf.len(), Compression::Gzip);
}
