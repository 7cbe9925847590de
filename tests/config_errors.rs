//! Every kind of configuration error, with its file, line and column checked, and all errors
//! reported at once.

use sluice::config::{ConfigError, ConfigErrors, load_with_env};
use std::path::Path;
use tempfile::TempDir;

fn env(name: &str) -> Option<String> {
    match name {
        "ES_HOST" => Some("es.internal".into()),
        _ => None,
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn errors_of(text: &str) -> ConfigErrors {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "p.yaml", text);
    load_with_env(dir.path(), &env).expect_err("the config should be refused")
}

/// The single error whose message contains `needle`, and its (line, column).
fn find<'a>(errors: &'a ConfigErrors, needle: &str) -> (&'a ConfigError, usize, usize) {
    let hits: Vec<&ConfigError> = errors
        .errors()
        .iter()
        .filter(|e| e.to_string().contains(needle))
        .collect();
    assert_eq!(hits.len(), 1, "`{needle}` in:\n{errors}");
    let at = hits[0].location().expect("a location");
    assert!(at.file.ends_with("p.yaml"), "{}", at.file.display());
    (hits[0], at.line, at.column)
}

const HEAD: &str = "name: web\nsource:\n  paths: [\"/var/log/*.log\"]\n";

#[test]
fn unknown_keys_with_did_you_mean() {
    let e = errors_of(&format!(
        "{HEAD}bufer:\n  topic: x\nsink:\n  type: stdout\n  hots: []\n"
    ));
    let (err, line, col) = find(&e, "`bufer`");
    assert_eq!((line, col), (4, 1));
    assert!(err.to_string().contains("did you mean `buffer`?"), "{err}");
    let (err, line, col) = find(&e, "`hots`");
    assert_eq!((line, col), (8, 3));
    assert!(matches!(err, ConfigError::UnknownKey { path, .. } if path == "sink"));
    assert_eq!(e.len(), 2, "{e}");
}

#[test]
fn wrong_types() {
    let e = errors_of(&format!(
        "{HEAD}cleaner:\n  workers: two\n  steps: {{ grok: x }}\nsource_x: 1\n"
    ));
    let (err, line, col) = find(&e, "cleaner.workers");
    assert_eq!((line, col), (5, 12));
    assert!(matches!(err, ConfigError::WrongType { expected, found, .. }
        if expected.contains("integer") && found.contains("two")));
    let (_, line, col) = find(&e, "cleaner.steps: expected a list");
    assert_eq!((line, col), (6, 10));
}

#[test]
fn bad_durations_and_sizes() {
    let e = errors_of(&format!(
        "{HEAD}buffer:\n  linger: 5 parsecs\n  batch_size: 1 MiBs\n  retention:\n    max_age: forever\n"
    ));
    let (_, line, col) = find(&e, "buffer.linger");
    assert_eq!((line, col), (5, 11));
    let (err, line, col) = find(&e, "buffer.batch_size");
    assert_eq!((line, col), (6, 15));
    assert!(err.to_string().contains("5MiB"), "{err}");
    let (_, line, col) = find(&e, "buffer.retention.max_age");
    assert_eq!((line, col), (8, 14));
}

#[test]
fn bad_regexes_everywhere() {
    let e = errors_of(
        "name: web\nsource:\n  paths: [a]\n  multiline: { pattern: '^(\\s' }\ncleaner:\n  steps:\n    - regex: { patterns: ['(?P<ok>x)', '(?P<a>[a-'] }\n    - drop: { if: { matches: { message: '*oops' } } }\n",
    );
    let (err, line, col) = find(&e, "source.multiline.pattern");
    assert_eq!((line, col), (4, 25));
    assert!(err.to_string().contains("unclosed group"), "{err}");
    let (_, line, col) = find(&e, "cleaner.steps[0].regex.patterns[1]");
    assert_eq!((line, col), (7, 40));
    let (_, line, col) = find(&e, "cleaner.steps[1].drop.if.matches.message");
    assert_eq!((line, col), (8, 41));
}

#[test]
fn grok_errors_point_at_the_pattern() {
    let e = errors_of(&format!(
        "{HEAD}cleaner:\n  steps:\n    - grok:\n        patterns:\n          - '%{{COMBINEDAPACHELOG}}'\n          - '%{{IPORHOSTT:client}} %{{NUMBER:n:integer}}'\n    - grok: {{ patterns: ['%{{NUMBER:n:decimal}}'] }}\n"
    ));
    let (err, line, col) = find(&e, "IPORHOSTT");
    assert_eq!((line, col), (9, 13));
    assert!(
        err.to_string().contains("did you mean `IPORHOST`?"),
        "{err}"
    );
    let (_, line, col) = find(&e, "decimal");
    assert_eq!((line, col), (10, 26));
}

#[test]
fn step_kind_and_condition_mistakes() {
    let e = errors_of(&format!(
        "{HEAD}cleaner:\n  steps:\n    - dat: {{ field: ts, formats: [ISO8601] }}\n    - date: {{ field: ts, formats: ['dd/MMM/yyyy'] }}\n    - convert: {{ n: integr }}\n      if: {{ exsts: n }}\n    - if: {{ exists: n }}\n"
    ));
    let (_, line, col) = find(&e, "unknown key `dat`");
    assert_eq!((line, col), (6, 7));
    let (err, line, col) = find(&e, "Joda");
    assert_eq!((line, col), (7, 36));
    assert!(err.to_string().contains("cleaner.steps[1].date.formats[0]"));
    let (_, line, col) = find(&e, "`integr`");
    assert_eq!((line, col), (8, 21));
    let (err, line, col) = find(&e, "`exsts`");
    assert_eq!((line, col), (9, 13));
    assert!(err.to_string().contains("did you mean `exists`?"));
    let (_, line, col) = find(&e, "missing required key `a step kind`");
    assert_eq!((line, col), (10, 7));
}

#[test]
fn unset_variables_and_unsupported_kafka() {
    let e = errors_of(&format!(
        "{HEAD}buffer:\n  type: kafka\n  brokers: [k1]\nsink:\n  type: elasticsearch\n  hosts: ['http://${{ES_HOST}}:9200', 'http://${{ES_OTHER}}:9200', 'https://${{ES_X:-es2}}']\n"
    ));
    let (err, line, col) = find(&e, "ES_OTHER");
    assert_eq!((line, col), (9, 37));
    assert!(matches!(err, ConfigError::UnsetVariable { path, .. } if path == "sink.hosts[1]"));
    let (err, line, col) = find(&e, "kafka");
    assert_eq!((line, col), (5, 9));
    assert!(matches!(err, ConfigError::Unsupported { .. }));
    assert_eq!(e.len(), 2, "{e}");
}

#[test]
fn keys_of_another_sink_type_and_missing_keys() {
    let e = errors_of(
        "name: web\nsource:\n  type: stdin\n  paths: [a]\nsink:\n  type: file\n  index: x\n",
    );
    let (_, line, col) = find(&e, "`paths` does not apply to source type `stdin`");
    assert_eq!((line, col), (4, 3));
    let (_, line, col) = find(&e, "`index` does not apply to sink type `file`");
    assert_eq!((line, col), (7, 3));
    let (_, line, col) = find(&e, "missing required key `path`");
    assert_eq!((line, col), (6, 3));
    let e = errors_of("description: no name\nsource: { type: stdin }\n");
    let (_, line, col) = find(&e, "missing required key `name`");
    assert_eq!((line, col), (1, 1));
}

#[test]
fn yaml_syntax_and_duplicate_keys() {
    let e = errors_of("name: web\nsource: { paths: [a, b }\n");
    assert!(matches!(e.errors()[0], ConfigError::Syntax { .. }), "{e}");
    assert_eq!(e.errors()[0].location().unwrap().line, 2);
    let e = errors_of(&format!("{HEAD}sink:\n  type: stdout\n  type: file\n"));
    let (err, line, col) = find(&e, "duplicate key `type`");
    assert_eq!((line, col), (6, 3));
    assert!(matches!(
        err,
        ConfigError::DuplicateKey { first_line: 5, .. }
    ));
}

#[test]
fn a_file_that_is_not_utf8() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("p.yaml"),
        b"name: web\nsource: { type: st\xffdin }\n",
    )
    .unwrap();
    let e = load_with_env(dir.path(), &env).unwrap_err();
    let (err, line, col) = find(&e, "not valid UTF-8");
    assert_eq!((line, col), (2, 19));
    assert!(matches!(err, ConfigError::Syntax { .. }));
}

#[test]
fn empty_lists_may_be_left_blank() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "p.yaml",
        "name: web\nsource:\n  type: stdin\n  tags:\ncleaner:\n  steps:\n",
    );
    let plans = load_with_env(dir.path(), &env).unwrap();
    assert!(plans[0].cleaner.steps.is_empty() && plans[0].source.tags.is_empty());
}

#[test]
fn duplicate_names_and_claimed_topics_across_files() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "a.yaml", "name: web\nsource: { type: stdin }\n");
    write(dir.path(), "b.yml", "name: web\nsource: { type: stdin }\n");
    write(
        dir.path(),
        "c.yaml",
        "name: api\nsource: { type: stdin }\nbuffer:\n  topic: shared\n",
    );
    write(
        dir.path(),
        "d.yaml",
        "# comment first\nname: shared\nsource: { type: stdin }\n",
    );
    let e = load_with_env(dir.path(), &env).unwrap_err();
    assert_eq!(e.len(), 2, "{e}");
    let dup = &e.errors()[0];
    assert!(
        matches!(dup, ConfigError::DuplicatePipeline { name, first, .. }
        if name == "web" && first.file.ends_with("a.yaml"))
    );
    let at = dup.location().unwrap();
    assert!(at.file.ends_with("b.yml") && at.line == 1 && at.column == 7);
    let claimed = &e.errors()[1];
    assert!(
        matches!(claimed, ConfigError::TopicClaimed { topic, other, first, .. }
        if topic == "shared" && other == "api" && first.line == 4 && first.column == 10)
    );
    let at = claimed.location().unwrap();
    assert!(at.file.ends_with("d.yaml") && (at.line, at.column) == (2, 7));
}

#[test]
fn all_errors_of_all_files_at_once() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "a.yaml",
        "name: a\nsource: { type: stdin, tagz: [] }\n",
    );
    write(
        dir.path(),
        "b.yaml",
        "name: b\nsource: { type: stdin }\nbuffer: { partitions: 0, linger: x }\n",
    );
    let e = load_with_env(dir.path(), &env).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.len(), 3, "{text}");
    assert!(text.contains("a.yaml:2:24: source: unknown key `tagz` (did you mean `tags`?)"));
    assert!(text.contains("b.yaml:3:23: buffer.partitions: 0 is out of range"));
    assert!(text.contains("b.yaml:3:34: buffer.linger"));
}

#[test]
fn directory_loading_rules() {
    let dir = TempDir::new().unwrap();
    let e = load_with_env(dir.path(), &env).unwrap_err();
    assert!(matches!(e.errors()[0], ConfigError::NoPipelines { .. }));
    write(dir.path(), "b.yaml", "name: b\nsource: { type: stdin }\n");
    write(dir.path(), "a.yml", "name: a\nsource: { type: stdin }\n");
    write(dir.path(), "notes.txt", "not yaml: [");
    std::fs::create_dir(dir.path().join("examples")).unwrap();
    write(&dir.path().join("examples"), "broken.yaml", "name: [");
    let plans = load_with_env(dir.path(), &env).unwrap();
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let one = load_with_env(&dir.path().join("b.yaml"), &env).unwrap();
    assert_eq!(one.len(), 1);
    let missing = load_with_env(&dir.path().join("nope.yaml"), &env).unwrap_err();
    assert!(matches!(missing.errors()[0], ConfigError::Io { .. }));
}
