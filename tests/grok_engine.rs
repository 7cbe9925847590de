//! Oniguruma semantics the library relies on (lookarounds, atomic groups), and the verified
//! linear engine agreeing with the backtracking engine on the exact expression.

use proptest::prelude::*;
use sluice::cleaner::grok::expand::expand;
use sluice::cleaner::grok::{EcsCompatibility, EngineKind, GrokConfig, GrokStep, definitions};
use sluice::cleaner::{Step, StepOutcome};
use sluice::event::Event;
use sluice::value;
use sluice::value::Value;

fn step(pattern: &str) -> GrokStep {
    GrokStep::new(GrokConfig {
        patterns: vec![pattern.to_string()],
        ecs_compatibility: EcsCompatibility::Disabled,
        ..GrokConfig::default()
    })
    .unwrap()
}

fn run(pattern: &str, line: &str) -> Option<Event> {
    let mut e = Event::from_message(line);
    step(pattern).apply(&mut e);
    (!e.has_tag("_grokparsefailure")).then_some(e)
}

#[test]
fn ipv4_is_not_found_inside_a_longer_run_of_digits() {
    assert!(run("%{IPV4:ip}", "1234.5.6.7").is_none());
    assert!(run("%{IPV4:ip}", "1.2.3.45678").is_none());
    let e = run("%{IPV4:ip}", "from 10.0.0.1, port").unwrap();
    assert_eq!(e.get("ip"), Some(&value!("10.0.0.1")));
    // Preceded by a letter is fine (the guard is on digits only).
    let e = run("%{IPV4:ip}", "ip10.0.0.1").unwrap();
    assert_eq!(e.get("ip"), Some(&value!("10.0.0.1")));
}

#[test]
fn number_gives_back_no_digits() {
    // With backtracking into NUMBER the first would take "12" and the second "3".
    assert!(run("^%{NUMBER:a}%{NUMBER:b}$", "123").is_none());
    // A number does not start inside another number.
    let e = run("%{NUMBER:n}x", "12.5x").unwrap();
    assert_eq!(e.get("n"), Some(&value!("12.5")));
    assert!(run("^a%{NUMBER:n}$", "a1.2.3").is_none());
    // "1.2" is one number; "3" cannot start a number right after a dot.
    assert!(run("%{NUMBER:a}\\.%{NUMBER:b}", "v 1.2.3").is_none());
    let e = run("%{NUMBER:a}\\.%{NUMBER:b}", "v 1.2. 3").is_none();
    assert!(e);
    let e = run("%{NUMBER:a}x%{NUMBER:b}", "v 1.2x3").unwrap();
    assert_eq!(e.get("b"), Some(&value!("3")));
    assert_eq!(e.get("a"), Some(&value!("1.2")));
}

#[test]
fn time_does_not_end_inside_a_number() {
    assert!(run("^%{TIME:t}", "12:34:567").is_none());
    let e = run("%{TIME:t}", "at 12:34:56.789 ok").unwrap();
    assert_eq!(e.get("t"), Some(&value!("12:34:56.789")));
}

#[test]
fn quoted_strings_honour_escapes_and_a_preceding_backslash() {
    let e = run("%{QS:q}", r#"say "a \"b\" c" now"#).unwrap();
    assert_eq!(e.get("q"), Some(&value!(r#""a \"b\" c""#)));
    let e = run("%{QS:q}", "x 'single' y").unwrap();
    assert_eq!(e.get("q"), Some(&value!("'single'")));
    // An escaped quote does not open a string.
    let e = run("%{QS:q}", r#"\"no" "yes""#).unwrap();
    assert_eq!(e.get("q"), Some(&value!(r#"" ""#)));
}

#[test]
fn possessive_quantifiers_keep_ruby_meaning() {
    assert!(run("^a++a$", "aaa").is_none());
    assert!(run("^(?<x>a++)$", "aaa").is_some());
    assert_eq!(step("a++").engines()[0].1, EngineKind::Backtracking);
}

#[test]
fn engines_are_chosen_per_pattern() {
    assert_eq!(step("%{WORD:w}").engines()[0].1, EngineKind::Linear);
    assert_eq!(
        step("%{COMBINEDAPACHELOG}").engines()[0].1,
        EngineKind::Verified
    );
    assert_eq!(
        step("(?<a>x)\\k<a>").engines()[0].1,
        EngineKind::Backtracking
    );
    assert_eq!(
        step("(?:%{IPV4} )+").engines()[0].1,
        EngineKind::Backtracking
    );
    assert_eq!(
        step("%{SYSLOGPAMSESSION}").engines()[0].1,
        EngineKind::Backtracking
    );
}

/// The captures of the exact expression run by fancy-regex (Oniguruma semantics).
fn exact(pattern: &str, line: &str) -> Option<Vec<(String, Option<String>)>> {
    let defs = definitions(&GrokConfig {
        ecs_compatibility: EcsCompatibility::Disabled,
        ..GrokConfig::default()
    })
    .unwrap();
    let x = expand(pattern, &defs).unwrap();
    let re = fancy_regex::Regex::new(&format!("(?m){}", x.regex)).unwrap();
    let caps = re.captures(line).unwrap()?;
    Some(
        x.captures
            .iter()
            .map(|c| {
                (
                    c.field.clone(),
                    caps.name(&c.group).map(|m| m.as_str().to_string()),
                )
            })
            .collect(),
    )
}

fn via_step(pattern: &str, line: &str) -> Option<Vec<(String, Option<String>)>> {
    let s = GrokStep::new(GrokConfig {
        patterns: vec![pattern.to_string()],
        ecs_compatibility: EcsCompatibility::Disabled,
        keep_empty_captures: true,
        ..GrokConfig::default()
    })
    .unwrap();
    let mut e = Event::from_message(line);
    if s.apply(&mut e) != StepOutcome::Continue || e.has_tag("_grokparsefailure") {
        return None;
    }
    let defs = definitions(&GrokConfig {
        ecs_compatibility: EcsCompatibility::Disabled,
        ..GrokConfig::default()
    })
    .unwrap();
    let x = expand(pattern, &defs).unwrap();
    Some(
        x.captures
            .iter()
            .map(|c| {
                let v = e.get(&c.field).cloned();
                let v = match v {
                    Some(Value::Array(mut a)) => a.remove(0),
                    Some(v) => v,
                    None => Value::Null,
                };
                (c.field.clone(), v.as_str().map(str::to_string))
            })
            .collect(),
    )
}

const PATTERNS: &[&str] = &[
    "%{NUMBER:a}%{NUMBER:b}",
    "%{NUMBER:a}\\.?%{INT:b}",
    "%{IPV4:ip}%{INT:n}",
    "%{IP:ip}:%{NUMBER:p}",
    "%{TIME:t}%{NUMBER:n}",
    "%{QS:q}%{DATA:rest}$",
    "%{BASE16NUM:h}%{WORD:w}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// Whatever the input, the verified linear engine reports what the backtracking engine
    /// reports for the exact (Oniguruma) expression.
    #[test]
    fn verified_engine_agrees_with_backtracking(
        line in "[0-9a-f.:+\\- \"'\\\\x]{0,24}",
        which in 0..PATTERNS.len(),
    ) {
        let p = PATTERNS[which];
        prop_assert_eq!(via_step(p, &line), exact(p, &line), "pattern {} line {:?}", p, line);
    }
}

const APACHE: &str = r#"83.149.9.216 - bob [17/May/2015:10:05:03 +0000] "GET /a/b.png HTTP/1.1" 200 203023 "http://x.com/" "Mozilla/5.0 (X11) Chrome/32.0.1700.77""#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]
    /// The hot pattern, on Apache lines with random edits (digits, dots, quotes, backslashes
    /// inserted or replaced): the verified engine reports what the exact expression does.
    #[test]
    fn combined_apache_log_agrees_with_backtracking(
        edits in proptest::collection::vec((0usize..140, "[0-9.\"\\\\ a-]", proptest::bool::ANY), 1..4),
    ) {
        let mut line = APACHE.to_string();
        for (pos, s, replace) in edits {
            let pos = pos.min(line.len() - 1);
            if replace {
                line.replace_range(pos..pos + 1, &s);
            } else {
                line.insert_str(pos, &s);
            }
        }
        let p = "%{COMBINEDAPACHELOG}";
        prop_assert_eq!(via_step(p, &line), exact(p, &line), "line {:?}", line);
    }
}

/// Lines of many formats, for comparing engines.
const CORPUS: &[&str] = &[
    r#"192.168.1.20 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
    r#"2001:db8::ff00:42:8329 - - [25/Nov/2026:09:00:01 +0000] "POST /api?x=1 HTTP/2.0" 500 - "-" "curl/8.1""#,
    r#"host-1.example.org user@mail.example.com - [01/Jan/2024:00:00:00 +0100] "\"quoted\" request" 404 12 "-" "é ü 漢字""#,
    "Nov 25 09:00:01 web-01 sshd[1234]: Accepted publickey for alice from 10.0.0.5 port 52344 ssh2",
    "<34>1 2026-11-25T09:00:01.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8",
    "2026-11-25 09:00:01,123 ERROR [main] com.example.App - Something failed: java.lang.IllegalStateException: boom",
    "\tat com.example.App.main(App.java:42)",
    "2026/11/25 09:00:01 [error] 1234#0: *5 open() \"/var/www/x\" failed (2: No such file or directory), client: 1.2.3.4",
    "-12.5e3 +7 0x1F 1,234 3.14159 .5 1e9 -0",
    "a.b.c.d 1.2.3.4.5 256.1.1.1 01:23:45:67:89:ab 0123.4567.89ab",
    "level=info msg=\"hello world\" duration=12ms user=bob@example.com",
    "",
    "   ",
    "ÀÉÎÕÜ ñ ß 😀 — “quotes” ‘single’",
    "café naïve résumé 12é 7€ Straße",
    "Tue Nov 25 09:00:01 2026 UTC 2026-11-25T09:00:01+05:30 11/25/2026",
    "GET /index.html?q=%20a&b=c#frag HTTP/1.1",
    "\"unterminated quote and \\\" escaped",
];

/// Every capture span both ways, or None.
fn spans(
    engine: &sluice::cleaner::grok::engine::Engine,
    line: &str,
) -> Option<Vec<Option<(usize, usize)>>> {
    let mut s = engine.scratch();
    engine.find(line, &mut s).then(|| s.spans.clone())
}

/// PCRE2's JIT (which runs first) and the engines that decide without it agree on every
/// library pattern, in both naming sets, over lines of many formats.
#[test]
fn the_jit_agrees_with_the_reference_engines_on_every_library_pattern() {
    use sluice::cleaner::grok::engine::Engine;
    use sluice::cleaner::grok::library::builtin;
    let (mut with_jit, mut total) = (0, 0);
    for ecs in [EcsCompatibility::Disabled, EcsCompatibility::V1] {
        let defs = builtin(ecs);
        for name in defs.keys() {
            let pattern = format!("%{{{name}:x}}");
            let Ok(x) = expand(&pattern, defs) else {
                continue;
            };
            let (Ok(jit), Ok(reference)) = (
                Engine::compile(&pattern, &x),
                Engine::compile_without_jit(&pattern, &x),
            ) else {
                continue;
            };
            with_jit += usize::from(jit.has_jit());
            total += 1;
            for line in CORPUS {
                assert_eq!(
                    spans(&jit, line),
                    spans(&reference, line),
                    "{ecs:?} {name} on {line:?}"
                );
            }
        }
    }
    eprintln!("{with_jit} of {total} library patterns run on the JIT");
    assert!(
        with_jit > 500,
        "only {with_jit} patterns compiled by the JIT"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The same over mutated lines, for the patterns of common logs.
    #[test]
    fn the_jit_agrees_on_mutated_lines(
        line in 0..CORPUS.len(),
        at in any::<prop::sample::Index>(),
        insert in "[ -~]{0,3}|[éü😀\"\\\\:\\[\\]\\-]",
        pattern in prop::sample::select(vec![
            "%{COMBINEDAPACHELOG}", "%{SYSLOGLINE}", "%{HTTPD_ERRORLOG}", "%{NUMBER:n} %{WORD:w}",
            "%{IPORHOST:h} %{DATA:d} %{QS:q}", "%{JAVASTACKTRACEPART}", "%{TIMESTAMP_ISO8601:t}",
            "%{LOGLEVEL:l}", "%{EMAILADDRESS:e}", "%{URI:u}",
        ]),
    ) {
        use sluice::cleaner::grok::engine::Engine;
        let defs = sluice::cleaner::grok::library::builtin(EcsCompatibility::Disabled);
        let x = expand(pattern, defs).unwrap();
        let jit = Engine::compile(pattern, &x).unwrap();
        let reference = Engine::compile_without_jit(pattern, &x).unwrap();
        let base = CORPUS[line];
        let mut cut = at.index(base.len() + 1);
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = format!("{}{insert}{}", &base[..cut], &base[cut..]);
        prop_assert_eq!(spans(&jit, &text), spans(&reference, &text), "{} on {:?}", pattern, text);
    }
}
