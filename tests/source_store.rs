//! The shipper into the real durable log: lines land as records with the source id header,
//! and a restart continues from the checkpoint without loss or repeats.

mod source_common;

use sluice::source::{ShipperOutput, run_file_source};
use sluice::store::{Acks, Producer, ProducerConfig, Store, TopicConfig};
use source_common::store_output::{StoreOutput, message_and_sid, read_all};
use source_common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

async fn ship_until(dir: &std::path::Path, store: &Store, n: u64, encoded: bool) {
    let topic = store.create_topic("logs", TopicConfig::default()).unwrap();
    let producer = Producer::new(
        topic.clone(),
        ProducerConfig {
            acks: Acks::Fsync,
            ..Default::default()
        },
    );
    let out: Arc<dyn ShipperOutput> = Arc::new(StoreOutput { producer, encoded });
    let cancel = CancellationToken::new();
    let cfg = fast_config(vec![glob(&dir.join("logs"), "*.log")]);
    let task = tokio::spawn(run_file_source(
        "real",
        cfg,
        dir.join("ck"),
        out,
        cancel.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    while topic.end_offset(0) < n {
        assert!(
            Instant::now() < deadline,
            "only {} records",
            topic.end_offset(0)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn lines_land_in_the_log_and_a_restart_continues_exactly() {
    let d = TempDir::new().unwrap();
    std::fs::create_dir(d.path().join("logs")).unwrap();
    let f = d.path().join("logs/app.log");
    append(&f, &lines("s", 0..500));
    {
        let store = Store::open(d.path().join("data")).unwrap();
        ship_until(d.path(), &store, 500, false).await;
    }
    append(&f, &lines("s", 500..800));
    let store = Store::open(d.path().join("data")).unwrap();
    ship_until(d.path(), &store, 800, true).await;
    let topic = store.topic("logs").unwrap().unwrap();
    let recs = read_all(&topic);
    let got: Vec<_> = recs.iter().map(|r| message_and_sid(r).0).collect();
    assert_eq!(got, expected("s", 0..800), "no line lost or repeated");
    let (_, sid) = message_and_sid(&recs[1]);
    assert!(sid.ends_with("-9"), "{sid}");
    // The first 500 went through `send` (events), the rest through `send_written` (built in
    // place in the producer's batches): the records decode to the same shape either way.
    let a = sluice::event::Event::decode(&recs[499].value, None);
    let b = sluice::event::Event::decode(&recs[500].value, None);
    let keys = |e: &sluice::event::Event| {
        let mut k: Vec<_> = e.fields.keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(b.get("log.offset"), Some(&sluice::value!(5390)));
}
