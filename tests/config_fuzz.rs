//! Whatever the text, loading a pipeline never panics, and a refused file always explains
//! itself with a position inside the file.

use proptest::prelude::*;
use sluice::config::load_str;
use std::path::Path;

/// Fragments that make plausible (and implausible) pipeline files when glued together.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name: p\n".to_string()),
        Just("source: { type: stdin }\n".to_string()),
        Just("source:\n  paths: [a]\n".to_string()),
        Just("buffer: { partitions: 3, linger: 5ms }\n".to_string()),
        Just("cleaner:\n  steps:\n".to_string()),
        Just("    - grok: { patterns: ['%{IP:ip}'] }\n".to_string()),
        Just("    - date: { field: t, formats: [ISO8601] }\n".to_string()),
        Just("      if: { exists: x }\n".to_string()),
        Just("    - drop: {}\n".to_string()),
        Just("sink: { type: file, path: o }\n".to_string()),
        Just("tests:\n  - input: x\n    expect: { a: 1 }\n".to_string()),
        Just("  - ${X}\n".to_string()),
        Just("&a [\n".to_string()),
        Just("*a\n".to_string()),
        Just("---\n".to_string()),
        Just(": :\n".to_string()),
        "[ -~]{0,20}\n",
        "[a-z_]{1,8}: [ -~]{0,12}\n",
        "  [a-z_]{1,8}: [ -~]{0,12}\n",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn loading_never_panics_and_errors_are_located(parts in proptest::collection::vec(fragment(), 0..10)) {
        let text: String = parts.concat();
        let lines = text.lines().count().max(1);
        if let Err(errors) = load_str(Path::new("f.yaml"), &text, &|_| None) {
            prop_assert!(!errors.is_empty());
            for e in errors.errors() {
                let at = e.location().expect("every error in a file has a location");
                prop_assert!(at.line >= 1 && at.line <= lines + 1, "{e} (text has {lines} lines)");
                prop_assert!(at.column >= 1, "{e}");
            }
        }
    }
}

proptest! {
    #[test]
    fn durations_and_sizes_round_trip(n in 0u64..1_000_000, unit in 0usize..5) {
        use sluice::config::units::{parse_duration, parse_size};
        use std::time::Duration;
        let (suffix, secs) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0)][unit];
        let d = parse_duration(&format!("{n}{suffix}")).unwrap();
        prop_assert!((d.as_secs_f64() - n as f64 * secs).abs() < 1e-6);
        prop_assert_eq!(parse_duration(&format!("{n}s{n}ms")).unwrap(),
            Duration::from_secs(n) + Duration::from_millis(n));
        let (suffix, mult) = [("", 1u64), ("KiB", 1024), ("MiB", 1 << 20), ("KB", 1000), ("GiB", 1 << 30)][unit];
        prop_assert_eq!(parse_size(&format!("{n}{suffix}")).unwrap(), n * mult);
    }

    #[test]
    fn substitution_replaces_exactly_the_references(
        prefix in "[a-z /:]{0,10}",
        value in "[a-zA-Z0-9._-]{0,12}",
        suffix in "[a-z /:]{0,10}",
    ) {
        use sluice::config::yaml::substitute;
        let env = |name: &str| (name == "V").then(|| value.clone());
        let s = format!("{prefix}${{V}}{suffix}");
        prop_assert_eq!(substitute(&s, &env).unwrap(), format!("{prefix}{value}{suffix}"));
        let s = format!("{prefix}${{W:-{value}}}{suffix}");
        prop_assert_eq!(substitute(&s, &env).unwrap(), format!("{prefix}{value}{suffix}"));
        let s = format!("{prefix}$${{V}}{suffix}");
        prop_assert_eq!(substitute(&s, &env).unwrap(), format!("{prefix}${{V}}{suffix}"));
    }
}
