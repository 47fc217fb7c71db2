//! The results: the table and conservation line on standard output (scripts read them), and
//! with `--json` the same as a JSON file with a latency chart beside it.

use crate::audit::Conservation;
use crate::chart::{latency_svg, ChartRow};
use crate::options::Args;
use crate::shared::Shared;
use crate::stats::{percentile, KindStats, KINDS};
use crate::workload::Workload;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// One line of the table: a kind's counts, rate of successes and latencies (ms).
struct Row {
    name: String,
    ok: u64,
    refused: u64,
    unavailable: u64,
    errors: u64,
    resends: u64,
    rate: f64,
    p50: f64,
    p99: f64,
    max: f64,
    /// The five most frequent reasons, most frequent first.
    top_reasons: Vec<(String, u64)>,
}

impl Row {
    /// The row for `s` (whose latencies it sorts) over a workload of `elapsed` seconds.
    fn of(name: &str, s: &mut KindStats, elapsed: f64) -> Row {
        s.latencies_us.sort_unstable();
        let ms = |us: u64| us as f64 / 1_000.0;
        let mut top_reasons: Vec<_> = s.reasons.iter().map(|(k, v)| (k.clone(), *v)).collect();
        top_reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        top_reasons.truncate(5);
        Row {
            name: name.to_string(),
            ok: s.ok,
            refused: s.refused,
            unavailable: s.unavailable,
            errors: s.errors,
            resends: s.resends,
            rate: s.ok as f64 / elapsed,
            p50: ms(percentile(&s.latencies_us, 50.0)),
            p99: ms(percentile(&s.latencies_us, 99.0)),
            max: ms(s.latencies_us.last().copied().unwrap_or(0)),
            top_reasons,
        }
    }

    fn json(&self) -> Value {
        json!({
            "ok": self.ok, "refused": self.refused, "unavailable_503": self.unavailable, "errors": self.errors,
            "resends": self.resends, "ok_per_s": self.rate, "p50_ms": self.p50, "p99_ms": self.p99, "max_ms": self.max,
            "top_reasons": self.top_reasons.iter().map(|(k, v)| json!({"reason": k, "count": v})).collect::<Vec<_>>(),
        })
    }

    fn chart(&self) -> ChartRow {
        ChartRow {
            name: self.name.clone(),
            p50: self.p50,
            p99: self.p99,
            max: self.max,
        }
    }
}

/// A row per kind and one for all of them, and the sum of every kind's stats.
fn rows(mut stats: Vec<KindStats>, elapsed: f64) -> (Vec<Row>, KindStats) {
    let mut all = KindStats::default();
    let mut rows = Vec::new();
    for (k, name) in KINDS.iter().enumerate() {
        let mut s = std::mem::take(&mut stats[k]);
        rows.push(Row::of(name, &mut s, elapsed));
        all.merge(s);
    }
    rows.push(Row::of("all", &mut all, elapsed));
    (rows, all)
}

/// Prints the table, the conservation line and the most frequent reasons; writes the JSON
/// report and its chart when `--json` asks for them.
pub fn report(
    shared: &Shared,
    label: &str,
    workload: Workload,
    audit: &Conservation,
) -> Result<(), String> {
    let elapsed = workload.elapsed_s;
    let (rows, all) = rows(workload.stats, elapsed);
    print!("{}", table(&shared.args, label, elapsed, &rows, audit));
    let mut reasons: Vec<_> = all.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1));
    for (why, n) in reasons.iter().take(5) {
        println!("  {n:>6} x {why}");
    }
    if let Some(path) = &shared.args.json {
        let report = json_report(shared, label, elapsed, &rows, audit);
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{path}: {e}"))?;
        // The latency chart beside it: bench-c64.json -> bench-c64.svg.
        let svg_path = std::path::Path::new(path).with_extension("svg");
        let chart: Vec<ChartRow> = rows.iter().map(Row::chart).collect();
        std::fs::write(&svg_path, latency_svg(label, &chart))
            .map_err(|e| format!("{}: {e}", svg_path.display()))?;
    }
    Ok(())
}

/// The table the benchmark script reads (`^all `, `^conservation: PASS`), conservation last.
fn table(args: &Args, label: &str, elapsed: f64, rows: &[Row], audit: &Conservation) -> String {
    let mut table = String::new();
    let _ = writeln!(
        table,
        "loadgen [{label}]: {} clients, {:.1} s, {} accounts per bank",
        args.clients, elapsed, args.accounts
    );
    let _ = writeln!(
        table,
        "{:<10} {:>8} {:>8} {:>6} {:>6} {:>7} {:>9} {:>8} {:>8} {:>8}",
        "kind",
        "ok",
        "refused",
        "503",
        "errors",
        "resends",
        "ok ops/s",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    for r in rows {
        let (name, rate, p50, p99, max) = (&r.name, r.rate, r.p50, r.p99, r.max);
        let _ = writeln!(
            table,
            "{name:<10} {:>8} {:>8} {:>6} {:>6} {:>7} {rate:>9.1} {p50:>8.1} {p99:>8.1} {max:>8.1}",
            r.ok, r.refused, r.unavailable, r.errors, r.resends
        );
    }
    table.push_str(&conservation_line(audit));
    table
}

fn conservation_line(c: &Conservation) -> String {
    let verdict = if c.pass { "PASS" } else { "FAIL" };
    format!(
        "conservation: {verdict}: R$ {} available at the banks; expected R$ {} (R$ {} before + R$ {} in {} deposits){}{}\n",
        c.after.available.to_input(),
        c.expected.to_input(),
        c.before.to_input(),
        c.deposited.to_input(),
        c.deposits_ok,
        if c.after.settled { "" } else { "; banks NOT settled (blocked/incoming/prepared left)" },
        if c.unresolved > 0 { format!("; {} deposits without a sure answer", c.unresolved) } else { String::new() },
    )
}

fn json_report(
    shared: &Shared,
    label: &str,
    elapsed: f64,
    rows: &[Row],
    c: &Conservation,
) -> Value {
    let args = &shared.args;
    let mut kinds = serde_json::Map::new();
    for r in rows {
        kinds.insert(r.name.clone(), r.json());
    }
    json!({
        "label": label,
        "config": {
            "banks": args.banks, "accounts_per_bank": args.accounts, "clients": args.clients,
            "duration_secs": args.duration.map(|d| d.as_secs_f64()), "ops": args.ops,
            "mix": { "deposit": args.mix[0], "pix_intra": args.mix[1], "pix_inter": args.mix[2], "packet": args.mix[3] },
            "retries": args.retries, "seed": args.seed, "run_tag": shared.ids.tag,
        },
        "elapsed_s": elapsed,
        "kinds": kinds,
        "conservation": {
            "pass": c.pass, "settled": c.after.settled, "unresolved_deposits": c.unresolved,
            "available_before_cents": c.before, "deposited_cents": c.deposited, "deposits_ok": c.deposits_ok,
            "expected_cents": c.expected, "available_after_cents": c.after.available, "banks": c.after.per_bank,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Totals;
    use crate::operations::Outcome;
    use domain::Cents;
    use std::time::Duration;

    #[test]
    fn the_table_keeps_the_format_scripts_read() {
        let mut stats = KindStats::per_kind();
        stats[0].record(Outcome::Ok, 0, Duration::from_micros(2_500));
        stats[0].record(Outcome::Ok, 1, Duration::from_micros(1_500));
        stats[3].record(Outcome::Refused("LIMIT".into()), 2, Duration::ZERO);
        let (rows, all) = rows(stats, 2.0);
        assert_eq!(all.ok, 2);
        let audit = Conservation {
            before: Cents::new(10_000),
            after: Totals {
                available: Cents::new(10_150),
                settled: true,
                per_bank: Vec::new(),
            },
            deposited: Cents::new(150),
            deposits_ok: 2,
            expected: Cents::new(10_150),
            unresolved: 0,
            pass: true,
        };
        let args = Args {
            clients: 3,
            accounts: 4,
            ..Args::default()
        };
        let table = table(&args, "C=3", 2.0, &rows, &audit);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "loadgen [C=3]: 3 clients, 2.0 s, 4 accounts per bank"
        );
        assert_eq!(
            lines[1],
            "kind             ok  refused    503 errors resends  ok ops/s   p50 ms   p99 ms   max ms"
        );
        assert_eq!(
            lines[2],
            "deposit           2        0      0      0       1       1.0      1.5      2.5      2.5"
        );
        assert_eq!(
            lines[6],
            "all               2        1      0      0       3       1.0      1.5      2.5      2.5"
        );
        assert_eq!(
            lines[7],
            "conservation: PASS: R$ 101,50 available at the banks; expected R$ 101,50 (R$ 100,00 before + R$ 1,50 in 2 deposits)"
        );
        assert_eq!(lines.len(), 8);
        assert_eq!(rows[3].top_reasons, [("refused: LIMIT".to_string(), 1)]);
    }
}
