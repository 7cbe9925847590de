//! Every pattern of the shipped library compiles, in both naming sets, and the engine chosen
//! for each is the documented one.

use sluice::cleaner::grok::{
    EcsCompatibility, EngineKind, GrokConfig, GrokStep, library_pattern_names,
};

fn step(ecs: EcsCompatibility, pattern: &str) -> GrokStep {
    GrokStep::new(GrokConfig {
        patterns: vec![pattern.to_string()],
        ecs_compatibility: ecs,
        ..GrokConfig::default()
    })
    .unwrap_or_else(|e| panic!("{ecs:?} {pattern}: {e}"))
}

#[test]
fn every_library_pattern_compiles_in_both_naming_sets() {
    for ecs in [EcsCompatibility::V1, EcsCompatibility::Disabled] {
        let names = library_pattern_names(ecs);
        assert!(names.len() > 300, "{ecs:?}: only {} patterns", names.len());
        let mut backtracking = Vec::new();
        for name in &names {
            let s = step(ecs, &format!("%{{{name}}}"));
            if s.engines()[0].1 == EngineKind::Backtracking {
                backtracking.push(name.clone());
            }
        }
        if std::env::var_os("GROK_ENGINES").is_some() {
            for name in &names {
                let s = step(ecs, &format!("%{{{name}}}"));
                println!("{ecs:?} {name} {:?}", s.engines()[0].1);
            }
        }
        // The patterns documented in docs/grok.md as needing the backtracking engine.
        let expected: &[&str] = &[
            "SYSLOGPAMSESSION",
            "EXIM_NAMED_FIELDS",
            "EXIM_MESSAGE_ARRIVAL",
            "EXIM",
        ];
        for b in &backtracking {
            assert!(
                expected.contains(&b.as_str()),
                "{ecs:?}: {b} needs backtracking"
            );
        }
    }
}

#[test]
fn the_naming_sets_have_the_same_core_names() {
    let v1 = library_pattern_names(EcsCompatibility::V1);
    let legacy = library_pattern_names(EcsCompatibility::Disabled);
    for name in [
        "COMBINEDAPACHELOG",
        "HTTPD_ERRORLOG",
        "SYSLOGLINE",
        "SYSLOG5424LINE",
        "JAVASTACKTRACEPART",
        "HAPROXYHTTP",
        "HAPROXYTCP",
        "POSTGRESQL",
        "REDISLOG",
        "MONGO3_LOG",
        "RUBY_LOGGER",
        "RAILS3",
        "MAVEN_VERSION",
        "SQUID3",
        "ELB_ACCESS_LOG",
        "S3_ACCESS_LOG",
        "CLOUDFRONT_ACCESS_LOG",
        "BIND9",
        "BRO_CONN",
        "ZEEK_CONN",
        "EXIM_MSGID",
        "RT_FLOW1",
        "NAGIOSLOGLINE",
        "BACULA_LOGLINE",
        "CISCOFW106023",
        "SHOREWALL",
        "SFW2",
        "NETSCREENSESSIONLOG",
        "MCOLLECTIVEAUDIT",
        "IPV4",
        "IPV6",
        "NUMBER",
        "QS",
        "URI",
    ] {
        assert!(v1.iter().any(|n| n == name), "ecs-v1 lacks {name}");
        assert!(legacy.iter().any(|n| n == name), "legacy lacks {name}");
    }
}
