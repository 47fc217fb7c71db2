//! The latency chart written beside the JSON report: p50, p99 and max per kind as SVG bars.

use std::fmt::Write as _;

/// One kind's latency for the chart: name, p50, p99 and max in milliseconds.
pub struct ChartRow {
    pub name: String,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// A bar chart of each kind's p50, p99 and max latency (log scale, so that a 2 ms p50 and a
/// 900 ms max both read), as a standalone SVG written beside the JSON report.
pub fn latency_svg(label: &str, rows: &[ChartRow]) -> String {
    const LEFT: f64 = 110.0;
    const WIDTH: f64 = 520.0;
    const ROW_H: f64 = 54.0;
    const TOP: f64 = 48.0;
    let top_ms = rows
        .iter()
        .map(|r| r.max)
        .fold(1.0f64, f64::max)
        .log10()
        .ceil()
        .max(1.0);
    // 0.1 ms at the left edge, the next power of ten above the slowest max at the right.
    let x = |ms: f64| LEFT + WIDTH * ((ms.max(0.1).log10() + 1.0) / (top_ms + 1.0));
    let height = TOP + ROW_H * rows.len() as f64 + 40.0;
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="12" role="img" aria-label="Latency per operation kind, {label}">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="20" font-size="14" font-weight="bold">Latency per kind ({label}), ms, log scale</text>
<text x="{LEFT}" y="36" fill="#444">bars: p50 (dark), p99 (mid), max (light)</text>
"##,
        w = LEFT + WIDTH + 60.0,
        label = escape(label),
    );
    for p in -1..=(top_ms as i32) {
        let ms = 10f64.powi(p);
        let gx = x(ms);
        let _ = writeln!(
            svg,
            r##"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{y2:.1}" stroke="#ddd"/><text x="{gx:.1}" y="{ty:.1}" text-anchor="middle" fill="#444">{ms}</text>"##,
            y2 = height - 30.0,
            ty = height - 14.0,
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64 + 6.0;
        let _ = writeln!(
            svg,
            r##"<text x="{tx}" y="{ly:.1}" text-anchor="end">{name}</text>"##,
            tx = LEFT - 8.0,
            ly = y + 26.0,
            name = escape(&r.name),
        );
        for (j, (value, colour)) in [(r.p50, "#1f4e79"), (r.p99, "#4f8fcf"), (r.max, "#b7d3ee")]
            .into_iter()
            .enumerate()
        {
            let by = y + 14.0 * j as f64;
            let _ = writeln!(
                svg,
                r##"<rect x="{LEFT}" y="{by:.1}" width="{bw:.1}" height="12" fill="{colour}"><title>{value:.1} ms</title></rect><text x="{lx:.1}" y="{ty:.1}" fill="#222">{value:.1}</text>"##,
                bw = (x(value) - LEFT).max(1.0),
                lx = x(value) + 4.0,
                ty = by + 10.0,
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latency_chart_has_a_bar_per_percentile_and_escapes_names() {
        let rows = [
            ChartRow {
                name: "deposit".into(),
                p50: 2.0,
                p99: 30.0,
                max: 900.0,
            },
            ChartRow {
                name: "<all>".into(),
                p50: 0.05,
                p99: 1.0,
                max: 1.5,
            },
        ];
        let svg = latency_svg("C=64 & more", &rows);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<rect x=").count(), 6, "three bars per kind");
        assert!(svg.contains("&lt;all&gt;") && svg.contains("C=64 &amp; more"));
        assert!(!svg.contains("<all>"));
        // Log scale up to the next power of ten above the slowest max (900 ms -> 1000 ms).
        assert!(svg.contains(">1000</text>") && !svg.contains(">10000</text>"));
    }
}
