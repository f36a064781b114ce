//! The results table, the DESIGN section 4 bars, RESULTS.md and the ratio chart (plain SVG).

use std::fmt::Write as _;

/// The three runtimes, in column order.
pub const RUNTIMES: [&str; 3] = ["lamina-mio", "lamina-std", "official"];

/// One measured figure for one runtime.
#[derive(Debug, Clone)]
pub enum Cell {
    Val(f64),
    /// The runtime crashed, stalled, answered wrongly, or its build failed.
    Fail(String),
    /// Not measured in this run (quick mode, no valgrind, no nightly).
    Skip(String),
    /// Does not apply to this runtime.
    Na,
}

impl Cell {
    pub fn val(&self) -> Option<f64> {
        match self {
            Cell::Val(v) => Some(*v),
            _ => None,
        }
    }
}

impl<E: ToString> From<Result<f64, E>> for Cell {
    fn from(r: Result<f64, E>) -> Cell {
        match r {
            Ok(v) => Cell::Val(v),
            Err(e) => Cell::Fail(e.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Ms,
    Us,
    PerSec,
    Count,
    Kib,
    Pct,
}

/// A row of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub key: &'static str,
    pub label: String,
    pub unit: Unit,
    pub cells: [Cell; 3],
    pub note: String,
    pub higher_better: bool,
}

impl Row {
    pub fn new(key: &'static str, label: impl Into<String>, unit: Unit, cells: [Cell; 3]) -> Row {
        Row {
            key,
            label: label.into(),
            unit,
            cells,
            note: String::new(),
            higher_better: false,
        }
    }

    pub fn higher(mut self) -> Row {
        self.higher_better = true;
        self
    }

    pub fn note(mut self, n: impl Into<String>) -> Row {
        self.note = n.into();
        self
    }

    /// lamina (`i` = 0 mio, 1 std) / official.
    pub fn ratio(&self, i: usize) -> Option<f64> {
        let a = self.cells[i].val()?;
        let b = self.cells[2].val()?;
        (b != 0.0).then(|| a / b)
    }
}

pub fn fmt_val(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Bytes => format!("{:.1} KB ({})", v / 1000.0, group(v as u64)),
        Unit::Ms => format!("{v:.2} ms"),
        Unit::Us => format!("{v:.1} µs"),
        Unit::PerSec => format!("{}/s", group(v.round() as u64)),
        Unit::Count => {
            if v.abs() >= 1000.0 {
                group(v.round() as u64)
            } else if v.fract().abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        }
        Unit::Kib => {
            if v.abs() >= 10_240.0 {
                format!("{:.1} MB", v * 1024.0 / 1e6)
            } else {
                format!("{} KiB", group(v.round().max(0.0) as u64))
            }
        }
        Unit::Pct => format!("{v:.0} %"),
    }
}

/// 1234567 -> "1,234,567".
pub fn group(n: u64) -> String {
    let digits = n.to_string().into_bytes();
    let groups: Vec<&str> = digits
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    groups.join(",")
}

fn cell_text(unit: Unit, c: &Cell) -> String {
    match c {
        Cell::Val(v) => fmt_val(unit, *v),
        Cell::Fail(e) => format!("**failed**: {}", md_escape(e)),
        Cell::Skip(why) => format!("not measured ({})", md_escape(why)),
        Cell::Na => "n/a".into(),
    }
}

/// One table cell: one line, pipes escaped, cut at `max` characters.
fn md_escape(s: &str) -> String {
    md_cell(s, 300)
}

fn md_cell(s: &str, max: usize) -> String {
    let one_line: String = s.replace(['\n', '\r'], " ");
    let cut: String = one_line.chars().take(max).collect();
    cut.replace('|', "\\|")
}

/// Met, not met, or not measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    NotMet,
    Unknown,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Met => "**met**",
            Verdict::NotMet => "**not met**",
            Verdict::Unknown => "not measured",
        }
    }

    fn of(b: Option<bool>) -> Verdict {
        match b {
            Some(true) => Verdict::Met,
            Some(false) => Verdict::NotMet,
            None => Verdict::Unknown,
        }
    }
}

/// A DESIGN section 4 bar, judged for lamina-mio (and lamina-std for information).
#[derive(Debug, Clone)]
pub struct Bar {
    pub bar: String,
    pub figures: [String; 2],
    pub verdicts: [Verdict; 2],
    pub note: String,
}

fn get<'a>(rows: &'a [Row], key: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.key == key)
}

fn v(rows: &[Row], key: &str, i: usize) -> Option<f64> {
    get(rows, key)?.cells[i].val()
}

/// Judges every bar of DESIGN section 4 from the rows. `misses` gives, per bar key, what would
/// close a miss (written by the caller, who knows the evidence).
pub fn bars(
    rows: &[Row],
    null: Option<f64>,
    cold_floor: Option<f64>,
    misses: &dyn Fn(&str) -> String,
) -> Vec<Bar> {
    let mut out = Vec::new();
    let mut push = |key: &str, bar: &str, fig: [Option<String>; 2], ok: [Option<bool>; 2]| {
        let verdicts = [Verdict::of(ok[0]), Verdict::of(ok[1])];
        // A miss gets what would close it; a bar met gets its caveat, if any ("KEY:met").
        let note = if verdicts.contains(&Verdict::NotMet) {
            misses(key)
        } else {
            misses(&format!("{key}:met"))
        };
        out.push(Bar {
            bar: bar.into(),
            figures: fig.map(|f| f.unwrap_or_else(|| "not measured".into())),
            verdicts,
            note,
        });
    };
    let kb = |x: f64| format!("{:.1} KB", x / 1000.0);
    // Size, release-size: lean at most 360 KB, default features at most 400 KB (issue 14; the
    // .ci/run size gate checks the same two figures).
    for (key, label, bar) in [
        ("size-rs-lean", "lean (--no-default-features)", 360_000.0),
        ("size-rs", "default features", 400_000.0),
    ] {
        let f = [0, 1].map(|i| v(rows, key, i));
        push(
            key,
            &format!(
                "hello, release-size, stripped, {label}: at most {:.0} KB",
                bar / 1000.0
            ),
            f.map(|x| x.map(kb)),
            f.map(|x| x.map(|x| x <= bar)),
        );
    }
    // Size, nightly min-size: <= 1/5 of official.
    for (key, label) in [
        ("size-nightly-lean", "lean"),
        ("size-nightly", "default features"),
    ] {
        let off = v(rows, key, 2);
        let f = [0, 1].map(|i| v(rows, key, i));
        push(
            key,
            &format!(
                "hello, nightly min-size, {label}: at most 1/5 of official ({})",
                off.map(|o| kb(o / 5.0))
                    .unwrap_or("official not measured".into())
            ),
            [0, 1].map(|i| {
                f[i].map(|x| match off {
                    Some(o) => format!("{} ({:.2}× official)", kb(x), x / o),
                    None => kb(x),
                })
            }),
            f.map(|x| Some(x? <= off? / 5.0)),
        );
    }
    // Instructions per warm invocation: hello at most 10,000, raw echo at most 8,000.
    for (key, label, bar) in [
        ("instr-hello", "hello", 10_000.0),
        ("instr-echo", "raw echo", 8_000.0),
    ] {
        let off = v(rows, "instr-hello", 2);
        let f = [0, 1].map(|i| v(rows, key, i));
        push(
            key,
            &format!(
                "user-space instructions per warm invocation, {label}: at most {}",
                group(bar as u64)
            ),
            [0, 1].map(|i| {
                f[i].map(|x| match off {
                    Some(o) => format!("{} (official hello: {:.2}×)", group(x as u64), x / o),
                    None => group(x as u64),
                })
            }),
            f.map(|x| Some(x? <= bar)),
        );
    }
    // Syscalls per warm invocation: lamina-mio at most 6, lamina-std at most 4.
    {
        let f = [0, 1].map(|i| v(rows, "syscalls", i));
        let bar = [6.0, 4.0];
        push(
            "syscalls",
            "syscalls per warm invocation (strace): lamina-mio at most 6, lamina-std at most 4",
            f.map(|x| x.map(|x| format!("{x:.2}"))),
            [0, 1].map(|i| Some(f[i]? <= bar[i] + 0.05)),
        );
    }
    // Heap allocations per warm invocation with a raw-bytes handler: 0.
    {
        let counting = v(rows, "alloc-counting", 0);
        let vg = [0, 1].map(|i| v(rows, "allocs-echo", i));
        let fig = [0, 1].map(|i| {
            let mut parts = Vec::new();
            if i == 0
                && let Some(c) = counting
            {
                parts.push(format!("counting allocator {c:.3}"));
            }
            if let Some(x) = vg[i] {
                parts.push(format!("valgrind {x:.3}"));
            }
            (!parts.is_empty()).then(|| parts.join(", "))
        });
        let ok = [0, 1].map(|i| {
            let a = if i == 0 { counting } else { None };
            match (a, vg[i]) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) < 0.5 && b.unwrap_or(0.0) < 0.5),
            }
        });
        push(
            "allocs-echo",
            "heap allocations per warm invocation, raw-bytes handler (echo): 0",
            fig,
            ok,
        );
    }
    // Cold start to first /next: at most 0.1 ms over the bare std loop built the same way.
    {
        let off = v(rows, "cold-next", 2);
        let f = [0, 1].map(|i| v(rows, "cold-next", i));
        push(
            "cold-next",
            &format!(
                "cold start, exec to first GET /next (median): at most 0.10 ms over the bare std TCP loop (official: {})",
                off.map(|o| format!("{o:.2} ms"))
                    .unwrap_or("not measured".into())
            ),
            f.map(|x| {
                x.map(|x| match cold_floor {
                    Some(fl) => {
                        format!("{x:.2} ms (bare-loop floor {fl:.2} ms, {:+.2} ms)", x - fl)
                    }
                    None => format!("{x:.2} ms"),
                })
            }),
            f.map(|x| Some(x? <= cold_floor? + 0.10)),
        );
    }
    // Throughput: >= official and within 10% of the null client.
    {
        let off = v(rows, "ips", 2);
        let f = [0, 1].map(|i| v(rows, "ips", i));
        push(
            "ips",
            &format!(
                "invocations/s: at least official's ({}) and within 10% of the null client ({})",
                off.map(|o| format!("{}/s", group(o as u64)))
                    .unwrap_or("not measured".into()),
                null.map(|o| format!("{}/s", group(o as u64)))
                    .unwrap_or("not measured".into())
            ),
            [0, 1].map(|i| {
                f[i].map(|x| match null {
                    Some(n) => format!("{}/s ({:.0} % of null)", group(x as u64), 100.0 * x / n),
                    None => format!("{}/s", group(x as u64)),
                })
            }),
            f.map(|x| {
                let x = x?;
                Some(off.is_none_or(|o| x >= o) && x >= 0.9 * null?)
            }),
        );
    }
    // Peak RSS echoing 6 MB: <= 3x event size.
    {
        let f = [0, 1].map(|i| v(rows, "rss-6mb", i));
        push(
            "rss-6mb",
            "peak RSS echoing a 6 MB event: at most 3× the event (18 MB)",
            f.map(|x| x.map(|x| fmt_val(Unit::Kib, x))),
            f.map(|x| Some(x? * 1024.0 <= 3.0 * 6_000_000.0)),
        );
    }
    // RSS flat over 100,000 invocations.
    {
        let f = [0, 1].map(|i| v(rows, "rss-growth", i));
        let series = [0, 1].map(|i| {
            let a = v(rows, "rss-1k", i)?;
            let b = v(rows, "rss-100k", i)?;
            Some((a, b))
        });
        push(
            "rss-growth",
            "RSS flat over 100,000 invocations (distinct trace ids): VmHWM grows at most 100 KiB from 1,000 to 100,000",
            [0, 1].map(|i| {
                let g = f[i]?;
                let (a, b) = series[i]?;
                Some(format!(
                    "+{} KiB ({} → {})",
                    g as i64,
                    fmt_val(Unit::Kib, a),
                    fmt_val(Unit::Kib, b)
                ))
            }),
            f.map(|x| Some(x? <= 100.0)),
        );
    }
    out
}

/// Everything the report says besides the rows.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub date: String,
    pub command: String,
    pub cpu: String,
    pub cores: usize,
    /// /proc/loadavg at the start and the end of the run.
    pub load: String,
    pub git: String,
    pub toolchains: String,
    pub official_versions: String,
    pub duration: String,
    pub quick: bool,
    pub method: Vec<String>,
    pub builds: Vec<String>,
    pub notes: Vec<String>,
}

pub fn markdown(meta: &Meta, rows: &[Row], bars: &[Bar]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# lamina benchmarks\n");
    if meta.quick {
        let _ = writeln!(
            s,
            "**Quick mode**: few invocations and spawns, no valgrind, no nightly or release-size builds. \
             It proves the runner works end to end; its figures are not results.\n"
        );
    }
    let _ = writeln!(
        s,
        "Written by the runner itself: `{}` (took {}).\n",
        meta.command, meta.duration
    );
    let _ = writeln!(s, "- Date: {} (UTC)", meta.date);
    let _ = writeln!(
        s,
        "- Machine: {}, {} cores, shared with other work while this ran ({}): figures are noisy, \
         so medians are reported and runtimes are measured in interleaved rounds",
        meta.cpu, meta.cores, meta.load
    );
    let _ = writeln!(s, "- Tree: {}", meta.git);
    let _ = writeln!(s, "- Toolchains: {}", meta.toolchains);
    let _ = writeln!(s, "- Official runtime: {}", meta.official_versions);
    let _ = writeln!(s);
    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(
        s,
        "| figure | lamina-mio | lamina-std | official | lamina-mio / official | notes |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
    for r in rows {
        let ratio = r
            .ratio(0)
            .map(|x| format!("{x:.2}"))
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.label,
            cell_text(r.unit, &r.cells[0]),
            cell_text(r.unit, &r.cells[1]),
            cell_text(r.unit, &r.cells[2]),
            ratio,
            md_cell(&r.note, 2000)
        );
    }
    let _ = writeln!(s, "\n![lamina / official ratios](ratios.svg)\n");
    let _ = writeln!(s, "## DESIGN section 4 bars\n");
    let _ = writeln!(
        s,
        "Judged for lamina-mio, the production bootstrap; lamina-std is shown for information.\n"
    );
    let _ = writeln!(
        s,
        "| bar | lamina-mio | | lamina-std | | what would close a miss |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for b in bars {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            b.bar,
            b.figures[0],
            b.verdicts[0].text(),
            b.figures[1],
            b.verdicts[1].text(),
            md_cell(&b.note, 2000)
        );
    }
    if !meta.notes.is_empty() {
        let _ = writeln!(s, "\n## Notes\n");
        for n in &meta.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    let _ = writeln!(s, "\n## How each figure is measured\n");
    for m in &meta.method {
        let _ = writeln!(s, "- {m}");
    }
    let _ = writeln!(s, "\n## Builds\n");
    for b in &meta.builds {
        let _ = writeln!(s, "- {b}");
    }
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A horizontal bar chart of lamina/official ratios for the chosen rows, written by hand.
pub fn svg(rows: &[Row], keys: &[(&str, &str)]) -> String {
    let picked: Vec<(&Row, &str)> = keys
        .iter()
        .filter_map(|(k, label)| Some((get(rows, k)?, *label)))
        .collect();
    let left = 360.0;
    let plot = 440.0;
    let row_h = 46.0;
    let top = 70.0;
    let width = left + plot + 90.0;
    let height = top + row_h * picked.len() as f64 + 50.0;
    let max_ratio = picked
        .iter()
        .flat_map(|(r, _)| [r.ratio(0), r.ratio(1)])
        .flatten()
        .fold(1.0f64, f64::max);
    let scale_max = (max_ratio * 1.1).clamp(1.5, 4.0);
    let x = |r: f64| left + plot * (r.min(scale_max) / scale_max);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="Helvetica, Arial, sans-serif" font-size="13">"##
    );
    let _ = writeln!(
        s,
        r##"<rect width="100%" height="100%" fill="white"/>
<text x="{:.0}" y="24" font-size="16" font-weight="bold" text-anchor="middle">lamina / official lambda_runtime (1.0 = official)</text>
<rect x="{left:.0}" y="36" width="12" height="12" fill="#2b6cb0"/><text x="{:.0}" y="46">lamina-mio</text>
<rect x="{:.0}" y="36" width="12" height="12" fill="#9ac1e8"/><text x="{:.0}" y="46">lamina-std</text>"##,
        width / 2.0,
        left + 18.0,
        left + 120.0,
        left + 138.0
    );
    // Grid: 0, 0.5, 1 (marked), ... up to scale_max.
    let mut g = 0.0;
    while g <= scale_max + 1e-9 {
        let gx = x(g);
        let (stroke, w) = if (g - 1.0).abs() < 1e-9 {
            ("#c53030", 2)
        } else {
            ("#dddddd", 1)
        };
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{:.0}" x2="{gx:.1}" y2="{:.0}" stroke="{stroke}" stroke-width="{w}"/><text x="{gx:.1}" y="{:.0}" text-anchor="middle" fill="#555">{g:.1}</text>"##,
            top - 8.0,
            height - 40.0,
            height - 24.0
        );
        g += 0.5;
    }
    for (i, (r, label)) in picked.iter().enumerate() {
        let y = top + row_h * i as f64;
        let dir = if r.higher_better {
            "higher is better"
        } else {
            "lower is better"
        };
        let _ = writeln!(
            s,
            r##"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text><text x="{:.0}" y="{:.1}" text-anchor="end" fill="#777" font-size="11">{dir}</text>"##,
            left - 8.0,
            y + 16.0,
            xml(label),
            left - 8.0,
            y + 31.0
        );
        for (j, color) in [(0usize, "#2b6cb0"), (1, "#9ac1e8")] {
            let by = y + 4.0 + 17.0 * j as f64;
            match r.ratio(j) {
                Some(q) => {
                    let w = (x(q) - left).max(0.0);
                    let clipped = if q > scale_max { " ▸" } else { "" };
                    let _ = writeln!(
                        s,
                        r##"<rect x="{left:.0}" y="{by:.1}" width="{w:.1}" height="14" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="11">{q:.2}{clipped}</text>"##,
                        left + w + 4.0,
                        by + 11.0
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#999">not measured</text>"##,
                        left + 4.0,
                        by + 11.0
                    );
                }
            }
        }
    }
    let _ = writeln!(s, "</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1234), "1,234");
        assert_eq!(group(1_234_567), "1,234,567");
    }

    #[test]
    fn svg_is_well_formed_enough() {
        let rows = vec![Row::new(
            "a",
            "size (x)",
            Unit::Bytes,
            [Cell::Val(1.0), Cell::Val(2.0), Cell::Val(4.0)],
        )];
        let s = svg(&rows, &[("a", "size"), ("missing", "m")]);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains("0.25") && s.contains("0.50"));
    }
}
