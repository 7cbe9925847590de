//! A pipeline with every key set, and one with none but the required ones: the plan holds the
//! given values and the documented defaults.

use sluice::config::plan::*;
use sluice::config::{load, load_str};
use std::path::Path;
use std::time::Duration;

fn env(name: &str) -> Option<String> {
    (name == "ES_PASSWORD").then(|| "s3cret".to_string())
}

#[test]
fn defaults() {
    let p = load_str(
        Path::new("min.yaml"),
        "name: min\nsource: { paths: ['/var/log/*.log'] }\n",
        &env,
    )
    .unwrap();
    let s = &p.source;
    assert_eq!(s.kind, SourceKind::File);
    assert_eq!(s.start_at, StartAt::Beginning);
    assert!(s.multiline.is_none());
    assert_eq!(s.max_line_bytes, 1024 * 1024);
    assert_eq!(s.close_inactive, Duration::from_secs(300));
    assert_eq!(s.clean_removed, Duration::from_secs(72 * 3600));
    assert_eq!(s.scan_interval, Duration::from_secs(1));
    assert_eq!(s.checkpoint_interval, Duration::from_secs(1));
    let b = &p.buffer;
    assert_eq!(b.topic, "min");
    assert_eq!(b.dead_letter_topic, "min.dead");
    assert_eq!(b.partitions, 1);
    assert_eq!(b.partition_by, PartitionBy::RoundRobin);
    assert_eq!(b.acks, Acks::All);
    assert_eq!(b.linger, Duration::from_millis(5));
    assert_eq!(b.batch_size, 1 << 20);
    assert_eq!(b.compression, Compression::None);
    assert_eq!(b.segment_bytes, 128 << 20);
    assert_eq!(b.segment_age, Duration::from_secs(3600));
    assert_eq!(b.retention.max_bytes, 10 << 30);
    assert_eq!(b.retention.max_age, Duration::from_secs(7 * 86400));
    assert_eq!(b.retention.when_full, WhenFull::Block);
    assert_eq!(b.retention.block_timeout, Duration::from_secs(30));
    let c = &p.cleaner;
    assert_eq!(c.group, "min-cleaners");
    assert_eq!(c.workers, 2);
    assert_eq!(c.ecs_compatibility, EcsMode::V1);
    assert_eq!(c.batch_size, 1000);
    assert_eq!(c.session_timeout, Duration::from_secs(10));
    assert_eq!(c.max_poll_interval, Duration::from_secs(300));
    assert_eq!(c.commit_interval, Duration::from_secs(1));
    assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
    assert!(c.steps.is_empty());
    assert!(matches!(p.sink, SinkPlan::Stdout));
    assert!(p.test_input.is_empty() && p.tests.is_empty());
}

#[test]
fn every_key() {
    let text = r#"
name: full
description: every key
source:
  type: file
  paths: ["/var/log/app/*.log"]
  exclude: ["*.gz"]
  start_at: end
  multiline: { pattern: '^\s', negate: true, match: before, max_lines: 50, max_bytes: 64KiB, timeout: 250ms }
  fields: { service: app, team: { name: core } }
  tags: [prod]
  max_line_bytes: 2MiB
  close_inactive: 10m
  clean_removed: 1d
  scan_interval: 2s
  checkpoint_interval: 500ms
buffer:
  type: embedded
  topic: app-logs
  partitions: 8
  partition_by: { key: "{{ log.file.path }}" }
  acks: 1
  linger: 20ms
  batch_size: 512KiB
  compression: gzip
  segment_bytes: 64MiB
  segment_age: 30m
  retention: { max_bytes: 1GiB, max_age: 2d, when_full: drop_oldest, block_timeout: 5s }
cleaner:
  group: app-group
  workers: 4
  ecs_compatibility: disabled
  batch_size: 500
  session_timeout: 20s
  max_poll_interval: 1m
  commit_interval: 0s
  auto_offset_reset: latest
  steps:
    - json: { field: message, target: doc }
    - set: { env: prod }
      id: mark-prod
sink:
  type: opensearch
  hosts: ["https://os1:9200", "https://os2:9200"]
  index: "logs-%{service}-%{+yyyy.MM.dd}"
  op_type: create
  document_id: "%{[doc][id]}"
  bulk: { max_bytes: 2MiB, max_docs: 1000, flush: 2s, filter_response: false }
  concurrency: 4
  compression: gzip
  auth: { user: elastic, password: "${ES_PASSWORD}" }
  tls: { ca_file: /etc/ssl/ca.pem, insecure_skip_verify: false }
  retry: { initial: 50ms, max: 10s, max_attempts: 7 }
  timeout: 15s
  healthcheck: required
test_input: ['{"id": 1}']
tests:
  - input: '{"id": 1}'
    expect: { doc.id: 1, env: prod }
"#;
    let p = load_str(Path::new("full.yaml"), text, &env).unwrap();
    assert_eq!(p.description.as_deref(), Some("every key"));
    let s = &p.source;
    assert_eq!(s.exclude, ["*.gz"]);
    assert_eq!(s.start_at, StartAt::End);
    let m = s.multiline.as_ref().unwrap();
    assert!(m.pattern.is_match("  at Foo"));
    assert!(m.negate);
    assert_eq!(m.match_mode, MultilineMatch::Before);
    assert_eq!((m.max_lines, m.max_bytes), (50, 64 * 1024));
    assert_eq!(m.timeout, Duration::from_millis(250));
    assert_eq!(s.fields["team"]["name"], "core");
    assert_eq!(s.tags, ["prod"]);
    assert_eq!(s.max_line_bytes, 2 << 20);
    assert_eq!(s.close_inactive, Duration::from_secs(600));
    assert_eq!(s.clean_removed, Duration::from_secs(86400));
    assert_eq!(s.checkpoint_interval, Duration::from_millis(500));
    let b = &p.buffer;
    assert_eq!((b.topic.as_str(), b.partitions), ("app-logs", 8));
    assert_eq!(b.dead_letter_topic, "app-logs.dead");
    assert_eq!(b.partition_by, PartitionBy::Key("log.file.path".into()));
    assert_eq!(b.acks, Acks::Written);
    assert_eq!(b.batch_size, 512 * 1024);
    assert_eq!(b.compression, Compression::Gzip);
    assert_eq!(b.retention.when_full, WhenFull::DropOldest);
    assert_eq!(b.retention.max_age, Duration::from_secs(2 * 86400));
    let c = &p.cleaner;
    assert_eq!(
        (c.group.as_str(), c.workers, c.batch_size),
        ("app-group", 4, 500)
    );
    assert_eq!(c.ecs_compatibility, EcsMode::Disabled);
    assert_eq!(c.commit_interval, Duration::ZERO);
    assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
    assert_eq!(
        c.steps.step_names().collect::<Vec<_>>(),
        ["json#0", "mark-prod"]
    );
    let SinkPlan::Search(k) = &p.sink else {
        panic!("{:?}", p.sink)
    };
    assert_eq!(k.kind, SinkKind::Opensearch);
    assert_eq!(k.hosts.len(), 2);
    assert_eq!(k.op_type, OpType::Create);
    assert_eq!(k.document_id, DocumentId::Template("%{[doc][id]}".into()));
    assert_eq!((k.bulk_max_bytes, k.bulk_max_docs), (2 << 20, 1000));
    assert_eq!(k.bulk_flush, Duration::from_secs(2));
    assert!(!k.bulk_filter_response);
    assert_eq!(
        k.auth,
        AuthPlan::Basic {
            user: "elastic".into(),
            password: "s3cret".into()
        }
    );
    assert_eq!(k.tls_ca_file.as_deref(), Some(Path::new("/etc/ssl/ca.pem")));
    assert_eq!(k.retry_max_attempts, 7);
    assert_eq!(k.retry_initial, Duration::from_millis(50));
    assert_eq!(k.timeout, Duration::from_secs(15));
    assert_eq!(k.healthcheck, Healthcheck::Required);
    assert_eq!(p.tests[0].expect["doc.id"], 1);
}

#[test]
fn shipped_pipelines_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plans = load(&root.join("pipelines")).unwrap();
    assert_eq!(plans.len(), 1, "sub-directories are not scanned");
    assert_eq!(plans[0].name, "apache");
    let es = load(&root.join("pipelines/examples/elasticsearch.yaml")).unwrap();
    let SinkPlan::Search(s) = &es[0].sink else {
        panic!()
    };
    assert!(s.hosts[0].starts_with("http"));
}
