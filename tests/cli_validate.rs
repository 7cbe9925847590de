//! `sluice validate`, driving the real binary.

use std::process::Command;
use tempfile::TempDir;

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

#[test]
fn valid_config_prints_a_summary_and_exits_0() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = sluice()
        .args(["validate", "--config"])
        .arg(format!("{root}/pipelines"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 pipeline(s) OK"), "{stdout}");
    assert!(stdout.contains("apache"), "{stdout}");
    assert!(stdout.contains("topic apache (2 partition(s))"), "{stdout}");
    assert!(stdout.contains("file out/apache.ndjson"), "{stdout}");
}

#[test]
fn every_error_with_its_position_and_exit_2() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "name: a\nsource: { type: stdin }\nbuffer:\n  partitons: 2\n  linger: soon\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "name: b\nsource: { type: stdin }\ncleaner:\n  steps:\n    - grok: { patterns: ['%{NOPE}'] }\nsink: { type: file, path: out.ndjson, hosts: [] }\n",
    )
    .unwrap();
    let out = sluice()
        .args(["validate", "-c"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    for expected in [
        format!(
            "{}:4:3: buffer: unknown key `partitons` (did you mean `partitions`?)",
            a.display()
        ),
        format!("{}:5:11: buffer.linger:", a.display()),
        format!(
            "{}:5:26: cleaner.steps[0].grok.patterns[0]: grok pattern `%{{NOPE}}`: unknown pattern name `NOPE`",
            b.display()
        ),
        format!(
            "{}:6:39: sink.hosts: `hosts` does not apply to sink type `file`",
            b.display()
        ),
        "4 error(s) in the configuration".to_string(),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn unset_variable_is_named_and_a_default_or_the_environment_fills_it() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "name: p\nsource: { type: stdin }\nsink:\n  type: elasticsearch\n  hosts: ['${SLUICE_TEST_ES}']\n  index: '${SLUICE_TEST_INDEX:-logs}'\n",
    )
    .unwrap();
    let out = sluice()
        .args(["validate", "-c"])
        .arg(&file)
        .env_remove("SLUICE_TEST_ES")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":5:11: sink.hosts[0]: environment variable `SLUICE_TEST_ES` is not set"),
        "{stderr}"
    );
    let out = sluice()
        .args(["validate", "-c"])
        .arg(&file)
        .env("SLUICE_TEST_ES", "http://es:9200")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("elasticsearch http://es:9200 index logs")
    );
}

#[test]
fn missing_config_directory_is_a_config_error() {
    let dir = TempDir::new().unwrap();
    let out = sluice()
        .args(["validate", "-c"])
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
