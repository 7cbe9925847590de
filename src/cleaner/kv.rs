//! The `kv` step: `key=value key2="quoted value"` pairs into fields.

use super::field::FieldPath;
use super::{Step, StepOutcome};
use crate::event::Event;
use crate::value::Value;
use std::collections::HashSet;

/// Configuration of a `kv` step.
#[derive(Debug, Clone)]
pub struct KvConfig {
    /// The field to split. Default `message`.
    pub field: String,
    /// Characters that separate pairs (any of them). Default `" "` (space).
    pub field_split: String,
    /// Characters that separate a key from its value (the first one found). Default `"="`.
    pub value_split: String,
    /// Characters removed from both ends of keys and values. Default: none.
    pub trim: String,
    /// Only these keys are kept (before `prefix`). Default: all.
    pub include_keys: Vec<String>,
    /// These keys are dropped (before `prefix`). Default: none.
    pub exclude_keys: Vec<String>,
    /// Object the fields are written under. Default: the event root.
    pub target: Option<String>,
    /// Prefix added to every key. Default: none.
    pub prefix: String,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            field: "message".into(),
            field_split: " ".into(),
            value_split: "=".into(),
            trim: String::new(),
            include_keys: Vec::new(),
            exclude_keys: Vec::new(),
            target: None,
            prefix: String::new(),
        }
    }
}

/// The compiled `kv` step.
pub struct KvStep {
    field: FieldPath,
    field_split: Vec<char>,
    value_split: Vec<char>,
    trim: Vec<char>,
    include: HashSet<String>,
    exclude: HashSet<String>,
    target: Option<FieldPath>,
    prefix: String,
}

impl KvStep {
    /// Builds the step.
    pub fn new(config: KvConfig) -> Self {
        KvStep {
            field: FieldPath::new(&config.field),
            field_split: config.field_split.chars().collect(),
            value_split: config.value_split.chars().collect(),
            trim: config.trim.chars().collect(),
            include: config.include_keys.into_iter().collect(),
            exclude: config.exclude_keys.into_iter().collect(),
            target: config
                .target
                .filter(|t| !t.is_empty())
                .map(|t| FieldPath::new(&t)),
            prefix: config.prefix,
        }
    }

    /// Splits `text` into (key, value) pairs. A value that starts with `"` or `'` runs to the
    /// matching quote (field separators inside are kept) and is unquoted.
    fn pairs<'t>(&self, text: &'t str) -> Vec<(&'t str, &'t str)> {
        let mut out = Vec::new();
        let mut rest = text;
        loop {
            rest = rest.trim_start_matches(&self.field_split[..]);
            if rest.is_empty() {
                break;
            }
            // The key runs to the value separator or the next field separator.
            let key_end = rest
                .find(|c| self.value_split.contains(&c) || self.field_split.contains(&c))
                .unwrap_or(rest.len());
            let key = &rest[..key_end];
            let after = &rest[key_end..];
            let Some(sep) = after
                .chars()
                .next()
                .filter(|c| self.value_split.contains(c))
            else {
                // A bare word without a value: skipped.
                rest = after;
                continue;
            };
            let vstart = &after[sep.len_utf8()..];
            let (value, next) = match vstart.chars().next() {
                Some(q @ ('"' | '\'')) => match vstart[1..].find(q) {
                    Some(end) => (&vstart[1..1 + end], &vstart[end + 2..]),
                    None => split_at_any(vstart, &self.field_split),
                },
                _ => split_at_any(vstart, &self.field_split),
            };
            out.push((key, value));
            rest = next;
        }
        out
    }
}

fn split_at_any<'t>(s: &'t str, seps: &[char]) -> (&'t str, &'t str) {
    match s.find(seps) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

impl Step for KvStep {
    fn name(&self) -> &str {
        "kv"
    }

    fn apply(&self, event: &mut Event) -> StepOutcome {
        let Some(Value::String(text)) = self.field.get(event) else {
            return StepOutcome::Continue;
        };
        let mut found: Vec<(String, String)> = Vec::new();
        for (k, v) in self.pairs(text) {
            let k = k.trim_matches(&self.trim[..]);
            let v = v.trim_matches(&self.trim[..]);
            if k.is_empty()
                || (!self.include.is_empty() && !self.include.contains(k))
                || self.exclude.contains(k)
            {
                continue;
            }
            let mut key = String::with_capacity(self.prefix.len() + k.len());
            key.push_str(&self.prefix);
            key.push_str(k);
            found.push((key, v.to_string()));
        }
        if found.is_empty() {
            return StepOutcome::Continue;
        }
        // One bulk insert (repeats resolved once, by sorting when there are many), so a line
        // of many pairs costs n log n, not a scan of the map per pair.
        let pairs = found.into_iter().map(|(k, v)| (k, Value::from(v)));
        match &self.target {
            None => event.fields.extend(pairs),
            Some(path) => match path.get_mut(event) {
                Some(Value::Object(m)) => m.extend(pairs),
                _ => {
                    path.insert(event, Value::Object(pairs.collect()));
                }
            },
        }
        StepOutcome::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn pairs_with_quotes_and_options() {
        let mut e = Event::from_message(r#"user=ann  action="log in" id='7' bare x=1"#);
        KvStep::new(KvConfig::default()).apply(&mut e);
        assert_eq!(e.fields["user"], value!("ann"));
        assert_eq!(e.fields["action"], value!("log in"));
        assert_eq!(e.fields["id"], value!("7"));
        assert_eq!(e.fields["x"], value!("1"));
        assert!(!e.contains("bare"));

        let mut e = Event::from_message("a:1;b: 2 ;c:3");
        KvStep::new(KvConfig {
            field_split: ";".into(),
            value_split: ":".into(),
            trim: " ".into(),
            exclude_keys: vec!["c".into()],
            target: Some("kv".into()),
            prefix: "p_".into(),
            ..Default::default()
        })
        .apply(&mut e);
        assert_eq!(e.fields["kv"], value!({"p_a": "1", "p_b": "2"}));

        let mut e = Event::from_message("a=1 b=2");
        KvStep::new(KvConfig {
            include_keys: vec!["b".into()],
            ..Default::default()
        })
        .apply(&mut e);
        assert!(!e.contains("a") && e.contains("b"));
    }

    #[test]
    fn unterminated_quote_and_missing_field_are_harmless() {
        let mut e = Event::from_message(r#"a="open b=2"#);
        KvStep::new(KvConfig::default()).apply(&mut e);
        assert_eq!(e.fields["a"], value!("\"open"));
        assert_eq!(e.fields["b"], value!("2"));
        let mut e = Event::default();
        assert_eq!(
            KvStep::new(KvConfig::default()).apply(&mut e),
            StepOutcome::Continue
        );
    }

    #[test]
    fn no_pairs_leave_the_target_alone_and_repeats_keep_the_last_value() {
        let with_target = KvStep::new(KvConfig {
            target: Some("kv".into()),
            ..Default::default()
        });
        let mut e = Event::from_message("nothing to split here");
        with_target.apply(&mut e);
        assert!(!e.contains("kv"), "{:?}", e.fields);
        let mut e = Event::from_message("a=1 b=2 a=3");
        with_target.apply(&mut e);
        assert_eq!(e.fields["kv"], value!({"a": "3", "b": "2"}));
    }
}
