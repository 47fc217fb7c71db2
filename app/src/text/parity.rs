//! The two locale files say the same things: every key is in both, and each sentence takes the
//! same `{{ placeholders }}` (leptos_i18n's interpolation) in both languages.

use leptos::serde_json::{self, Value};
use std::collections::{BTreeMap, BTreeSet};

const PT_BR: &str = include_str!("../../locales/pt-BR.json");
const EN: &str = include_str!("../../locales/en.json");

/// Every sentence of a locale file by its dotted key (`err.busy`), with the names of the
/// placeholders it takes.
fn sentences(file: &str, json: &str) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, BTreeSet<String>>) {
        match value {
            Value::Object(entries) => {
                for (key, value) in entries {
                    let path = match prefix {
                        "" => key.clone(),
                        _ => format!("{prefix}.{key}"),
                    };
                    walk(&path, value, out);
                }
            }
            leaf => {
                let mut names = BTreeSet::new();
                strings(leaf, &mut |s| names.extend(placeholders(s)));
                out.insert(prefix.to_string(), names);
            }
        }
    }
    let root: Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    let mut out = BTreeMap::new();
    walk("", &root, &mut out);
    out
}

/// Every string in `value` (a sentence, or the forms of a plural).
fn strings(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, f)),
        Value::Object(entries) => entries.values().for_each(|v| strings(v, f)),
        _ => {}
    }
}

/// The names in `{{ name }}` (or `{{ name, formatter }}`) of a sentence.
fn placeholders(sentence: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = sentence;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = &after[..end];
        let name = inner.split(',').next().unwrap_or("").trim();
        names.push(name.to_string());
        rest = &after[end + 2..];
    }
    names
}

/// What differs between two locale files, one line each.
fn differences(a: (&str, &str), b: (&str, &str)) -> Vec<String> {
    let (a_name, a) = (a.0, sentences(a.0, a.1));
    let (b_name, b) = (b.0, sentences(b.0, b.1));
    let mut out = Vec::new();
    for key in a.keys().filter(|k| !b.contains_key(*k)) {
        out.push(format!("{key}: in {a_name}, not in {b_name}"));
    }
    for key in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("{key}: in {b_name}, not in {a_name}"));
    }
    for (key, a_names) in &a {
        if let Some(b_names) = b.get(key).filter(|b_names| *b_names != a_names) {
            out.push(format!(
                "{key}: placeholders {a_names:?} in {a_name}, {b_names:?} in {b_name}"
            ));
        }
    }
    out
}

#[test]
fn both_languages_have_the_same_keys_and_placeholders() {
    let problems = differences(("pt-BR.json", PT_BR), ("en.json", EN));
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn a_missing_key_and_a_changed_placeholder_are_named() {
    let a = r#"{"err": {"busy": "Ocupado.", "limit": "Até {{ n }}.", "only_a": "x"}}"#;
    let b = r#"{"err": {"busy": "Busy.", "limit": "Up to {{ max }}.", "only_b": "y"}}"#;
    assert_eq!(
        differences(("a", a), ("b", b)),
        [
            "err.only_a: in a, not in b",
            "err.only_b: in b, not in a",
            r#"err.limit: placeholders {"n"} in a, {"max"} in b"#,
        ]
    );
}

#[test]
fn placeholders_are_read_with_or_without_spaces_and_formatters() {
    assert_eq!(
        placeholders("{{a}} and {{ b }} and {{ c, number }}; {{ unclosed"),
        ["a", "b", "c"]
    );
}
