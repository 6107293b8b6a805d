//! Hand-written SVG charts for the eval report (inline SVG, system font, no script): scatter
//! plots with error bars and line charts, each panel with its axes, tick labels, axis titles
//! and a legend, so a plot reads without the JSON.

use std::fmt::Write as _;

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Colours for series, in order (colour-blind-safe Okabe–Ito palette).
pub const PALETTE: [&str; 10] = [
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#8C6D31",
    "#999999", "#F0E442",
];

/// One series: points (x, y) with optional vertical error bars (y_lo, y_hi).
pub struct Series {
    pub name: String,
    pub colour: String,
    pub points: Vec<(f64, f64)>,
    pub bars: Vec<Option<(f64, f64)>>,
    /// Join the points with a line (line chart) or not (scatter).
    pub line: bool,
}

/// One chart panel.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub series: Vec<Series>,
}

const PW: f64 = 460.0;
const PH: f64 = 330.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 48.0;

/// Several panels side by side as one SVG document.
pub fn figure(panels: &[Panel]) -> String {
    let w = PW * panels.len().max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{PH}\" \
         viewBox=\"0 0 {w} {PH}\" font-family=\"system-ui,sans-serif\" font-size=\"11\">\
         <rect width=\"{w}\" height=\"{PH}\" fill=\"#ffffff\"/>"
    );
    for (i, p) in panels.iter().enumerate() {
        let _ = write!(
            svg,
            "<g transform=\"translate({},0)\">{}</g>",
            i as f64 * PW,
            panel(p)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// "Nice" tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let s = format!("{v:.0}");
        // Thousands separators: 10000 → 10,000.
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 && c != '-' {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v == v.round() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

fn panel(p: &Panel) -> String {
    let tx = |x: f64| if p.log_x { x.max(1e-12).log10() } else { x };
    let finite = |v: f64| v.is_finite();
    let xs: Vec<f64> = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(x, _)| tx(x)))
        .filter(|v| finite(*v))
        .collect();
    let ys: Vec<f64> = p
        .series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .map(|&(_, y)| y)
                .chain(s.bars.iter().flatten().flat_map(|&(a, b)| [a, b]))
        })
        .filter(|v| finite(*v))
        .collect();
    let (mut x0, mut x1) = min_max(&xs);
    let (mut y0, mut y1) = min_max(&ys);
    y0 = y0.min(0.0);
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    y1 += (y1 - y0) * 0.05;
    if x1 <= x0 {
        x0 -= 0.5;
        x1 += 0.5;
    } else {
        let pad = (x1 - x0) * 0.06;
        x0 -= pad;
        x1 += pad;
    }
    let (pw, ph) = (PW - LEFT - RIGHT, PH - TOP - BOTTOM);
    let sx = |x: f64| LEFT + (tx(x) - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
    let mut g = String::new();
    let _ = write!(
        g,
        "<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{}</text>\
         <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>",
        LEFT + pw / 2.0,
        esc(&p.title)
    );
    for t in ticks(y0, y1) {
        let y = sy(t);
        let _ = write!(
            g,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 4.0,
            y + 4.0,
            fmt_tick(t)
        );
    }
    let xticks: Vec<f64> = if p.log_x {
        (x0.ceil() as i64..=x1.floor() as i64)
            .map(|e| 10f64.powi(e as i32))
            .collect()
    } else {
        ticks(x0, x1)
    };
    for t in xticks {
        let x = sx(t);
        let _ = write!(
            g,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 14.0,
            fmt_tick(t)
        );
    }
    let _ = write!(
        g,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        LEFT + pw / 2.0,
        PH - 12.0,
        esc(&p.x_label),
        TOP + ph / 2.0,
        esc(&p.y_label)
    );
    for (k, s) in p.series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|&(x, y)| finite(tx(x)) && finite(y))
            .collect();
        if s.line && pts.len() > 1 {
            let path: Vec<String> = pts
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let _ = write!(
                g,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"/>",
                path.join(" "),
                s.colour
            );
        }
        for (i, &(x, y)) in s.points.iter().enumerate() {
            if !(finite(tx(x)) && finite(y)) {
                continue;
            }
            if let Some(Some((lo, hi))) = s.bars.get(i) {
                if lo.is_finite() && hi.is_finite() {
                    let _ = write!(
                        g,
                        "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"{3}\"/>",
                        sx(x),
                        sy(*lo),
                        sy(*hi),
                        s.colour
                    );
                }
            }
            let _ = write!(
                g,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{}\"><title>{}: ({}, {})</title></circle>",
                sx(x),
                sy(y),
                if s.line { 2.5 } else { 4.0 },
                s.colour,
                esc(&s.name),
                fmt_tick(x),
                fmt_tick(y)
            );
        }
        let ly = TOP + 8.0 + k as f64 * 16.0;
        let lx = LEFT + pw + 10.0;
        let _ = write!(
            g,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\" dominant-baseline=\"middle\">{}</text>",
            ly - 5.0,
            s.colour,
            lx + 14.0,
            esc(&s.name)
        );
    }
    g
}

fn min_max(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(ticks(0.0, 47.0), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(fmt_tick(10000.0), "10,000");
        assert_eq!(fmt_tick(0.25), "0.25");
    }

    #[test]
    fn figure_escapes_and_labels() {
        let f = figure(&[Panel {
            title: "a < b".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: true,
            series: vec![Series {
                name: "B4 \"hard\"".into(),
                colour: PALETTE[0].into(),
                points: vec![(1.0, 0.0), (10.0, f64::NAN), (100.0, 0.5)],
                bars: vec![Some((0.0, 0.1)), None, None],
                line: true,
            }],
        }]);
        assert!(f.contains("a &lt; b") && f.contains("B4 &quot;hard&quot;"));
        assert!(!f.contains("NaN"));
        assert!(f.starts_with("<svg") && f.ends_with("</svg>\n"));
    }
}
