//! Every bank's palette passes WCAG 2.1 AA: the contrast ratio of each pair of colours a page puts
//! together, computed from `style/main.css` itself (so a palette edit that breaks contrast fails
//! here, not in a client's eyes).

use std::collections::BTreeMap;

const CSS: &str = include_str!("../../style/main.css");

/// Text on its background: 4.5:1. Parts of controls (borders, focus rings): 3:1.
const TEXT: f64 = 4.5;
const UI: f64 = 3.0;

/// The custom properties (`--name: #rrggbb`) of the first rule whose selector is `selector`.
fn rule(selector: &str) -> BTreeMap<String, String> {
    let start = CSS
        .find(&format!("{selector} {{"))
        .unwrap_or_else(|| panic!("no rule {selector} in main.css"));
    let body = &CSS[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    body.split(';')
        .filter_map(|decl| decl.trim().split_once(':'))
        .filter_map(|(name, value)| {
            let (name, value) = (name.trim().strip_prefix("--")?, value.trim());
            (value.len() == 7 && value.starts_with('#')).then(|| (name.into(), value.into()))
        })
        .collect()
}

/// WCAG relative luminance of `#rrggbb`.
fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

fn ratio(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn the_contrast_formula_matches_known_values() {
    assert!((ratio("#000000", "#ffffff") - 21.0).abs() < 1e-9);
    assert!((ratio("#777777", "#ffffff") - 4.48).abs() < 0.01);
    assert!(
        (ratio("#ffffff", "#FD7014") - 2.80).abs() < 0.01,
        "the issue's Titanium button"
    );
}

#[test]
fn every_palette_passes_wcag_aa() {
    let root = rule(":root");
    let mut failures = Vec::new();
    for bank in 1..=5 {
        // A bank's rule overrides the root's properties on the same element (<html>).
        let mut p = root.clone();
        p.extend(rule(&format!("html[data-bank=\"{bank}\"]")));
        // `--accent-line: var(--accent)` at the root: the bank's accent unless it sets its own.
        if !p.contains_key("accent-line") {
            let accent = p["accent"].clone();
            p.insert("accent-line".into(), accent);
        }
        let mut tile = rule(&format!("[data-palette=\"{bank}\"]"));
        if !tile.contains_key("tile-accent-line") {
            let accent = tile["tile-accent"].clone();
            tile.insert("tile-accent-line".into(), accent);
        }
        let pairs: Vec<(&str, &str, &BTreeMap<String, String>, f64)> = vec![
            ("text", "bg", &p, TEXT),
            ("text", "surface", &p, TEXT),
            ("muted", "bg", &p, TEXT),
            ("muted", "surface", &p, TEXT),
            ("accent-text", "accent", &p, TEXT),
            ("ok", "ok-bg", &p, TEXT),
            ("ok", "surface", &p, TEXT),
            ("err", "err-bg", &p, TEXT),
            ("err", "surface", &p, TEXT),
            ("pending", "pending-bg", &p, TEXT),
            ("accent-line", "surface", &p, UI),
            ("accent-line", "bg", &p, UI),
            ("tile-text", "tile-bg", &tile, TEXT),
            ("tile-accent-text", "tile-accent", &tile, TEXT),
            ("tile-accent-line", "tile-bg", &tile, UI),
        ];
        for (fg, bg, colours, min) in pairs {
            let (Some(a), Some(b)) = (colours.get(fg), colours.get(bg)) else {
                failures.push(format!("bank {bank}: --{fg} or --{bg} missing"));
                continue;
            };
            let r = ratio(a, b);
            if r < min {
                failures.push(format!(
                    "bank {bank}: --{fg} {a} on --{bg} {b} is {r:.2}:1, below {min}:1"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
