//! Self-contained HTML reports for `taboo trace --html` and `taboo explain --html`: one file,
//! inline CSS and SVG, no script and no network asset, so it opens anywhere and can be
//! archived with the results it shows.

use std::fmt::Write as _;

use crate::report::{
    Edit, ExplainEntry, ExplainReport, Lattice, TraceEvent, TraceReport, TraceStep,
};
use crate::show::show_token;

/// Escapes text for HTML content and attributes (the eval's SVG plots escape the same way).
pub use taboo_eval::plot::esc;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;\
color:#222;padding:0 1em}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}\
.text{white-space:pre-wrap;border:1px solid #ddd;border-radius:6px;padding:1em;background:#fafafa}\
.tok{border-bottom:1px dotted #bbb}.acted{background:#ffe3e3;border-bottom:2px solid #d33}\
.meta{color:#666}table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #eee;\
text-align:right}td:first-child,th:first-child{text-align:left}code{background:#f3f3f3;padding:0 .2em}\
svg text{font:11px system-ui,sans-serif}.legend span{display:inline-block;width:12px;height:12px;\
margin:0 .3em 0 1em;vertical-align:middle}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        esc(title)
    )
}

/// The steps that survived (not rewound), in order.
fn kept_steps(steps: &[TraceEvent]) -> Vec<&TraceStep> {
    let mut kept: Vec<&TraceStep> = Vec::new();
    for event in steps {
        match event {
            TraceEvent::Rewind { rewind } => {
                // Only steps with a chosen token occupy a position.
                let keep = kept.len().saturating_sub(*rewind);
                kept.truncate(keep);
            }
            TraceEvent::Step(s) if s.chosen.is_some() => kept.push(s),
            TraceEvent::Step(_) => {}
        }
    }
    kept
}

/// The steps proper, rewinds left out.
fn steps_only(steps: &[TraceEvent]) -> impl Iterator<Item = &TraceStep> {
    steps.iter().filter_map(|e| match e {
        TraceEvent::Step(s) => Some(s),
        TraceEvent::Rewind { .. } => None,
    })
}

/// Bar chart of the removed mass at every step (rewound steps included, in grey).
fn removed_mass_chart(steps: &[TraceEvent]) -> String {
    let points: Vec<(f64, bool)> = steps_only(steps)
        .map(|s| (f64::from(s.removed_mass), s.chosen.is_some()))
        .collect();
    let (w, h, pad) = (1000.0, 160.0, 30.0);
    let n = points.len().max(1) as f64;
    let bw = ((w - 2.0 * pad) / n).min(24.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"removed probability mass per step\">"
    );
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#999\"/>\
         <text x=\"2\" y=\"{t}\">1.0</text><text x=\"2\" y=\"{y}\">0</text>",
        y = h - pad,
        x2 = w - pad,
        t = pad + 4.0
    );
    for (i, (m, kept)) in points.iter().enumerate() {
        let bh = m * (h - 2.0 * pad);
        let x = pad + i as f64 * bw;
        let colour = if *kept { "#d33" } else { "#bbb" };
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\">\
             <title>step {i}: removed {m:.4}</title></rect>",
            h - pad - bh,
            (bw - 1.0).max(1.0)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{pad}\" y=\"{}\">step →</text></svg>",
        h - 8.0
    );
    svg
}

/// Grouped bars: each candidate's probability before (grey) and after (blue) the edit.
fn step_chart(step: &TraceStep) -> String {
    let cands = &step.candidates;
    let (w, h, pad) = (520.0, 190.0, 24.0);
    let slot = (w - 2.0 * pad) / cands.len().max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"candidate probabilities before and after the edit\">\
         <line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#999\"/>",
        y = h - 50.0,
        x2 = w - pad
    );
    let top = h - 50.0 - pad;
    for (i, c) in cands.iter().enumerate() {
        let (before, after) = (f64::from(c.p_before), f64::from(c.p_after));
        let x = pad + i as f64 * slot;
        let bw = (slot / 2.0 - 3.0).max(2.0);
        let masked = c.edit == Edit::Masked;
        let chosen = step.is_chosen(c);
        let label_colour = if masked {
            "#d33"
        } else if chosen {
            "#1a7f37"
        } else {
            "#333"
        };
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#bbb\">\
             <title>before: {before:.4}</title></rect>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#2f6fdf\">\
             <title>after: {after:.4}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{label_colour}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#666\" text-anchor=\"middle\">{}</text>",
            h - 50.0 - before * top,
            before * top,
            x + bw + 2.0,
            h - 50.0 - after * top,
            after * top,
            x + slot / 2.0 - 2.0,
            h - 34.0,
            esc(&c.text),
            x + slot / 2.0 - 2.0,
            h - 20.0,
            if masked {
                "masked"
            } else if chosen {
                "chosen"
            } else {
                ""
            }
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The `taboo trace --html` page.
pub fn trace_page(report: &TraceReport) -> String {
    let steps = &report.steps;
    let mut body = String::new();
    let banned: Vec<String> = report.banned.iter().map(|b| esc(b)).collect();
    let _ = write!(
        body,
        "<h1>taboo trace</h1><p class=\"meta\">mode <code>{}</code> · banned: {} · \
         finish: {}</p><h2>Prompt</h2><div class=\"text\">{}</div>",
        esc(&report.mode),
        if banned.is_empty() {
            "nothing".to_string()
        } else {
            banned.join(", ")
        },
        esc(&report.finish_reason),
        esc(&report.prompt)
    );
    body.push_str(
        "<h2>Output</h2><p class=\"meta\">Tokens where the ban removed probability are \
         highlighted; hover for details.</p><div class=\"text\">",
    );
    for s in kept_steps(steps) {
        let Some(c) = &s.chosen else { continue };
        let removed = f64::from(s.removed_mass);
        let text = c.text.as_str();
        if !text.starts_with('"') {
            continue; // a special token such as <|im_end|> is not text
        }
        // Token texts are shown quoted; strip the quotes and unescape the common escapes.
        let shown = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text)
            .replace("\\n", "\n")
            .replace("\\\"", "\"");
        let _ = write!(
            body,
            "<span class=\"tok{}\" title=\"step {}: p {:.3} → {:.3}; removed {:.4}\">{}</span>",
            if removed > 0.0 { " acted" } else { "" },
            s.position,
            f64::from(c.p_before),
            f64::from(c.p_after),
            removed,
            esc(&shown)
        );
    }
    body.push_str("</div>");
    let _ = write!(
        body,
        "<h2>Probability mass removed by the ban, per step</h2>{}\
         <p class=\"meta\">Red: kept steps; grey: steps later rewound by backtracking.</p>",
        removed_mass_chart(steps)
    );
    body.push_str(
        "<h2>Steps where the ban acted</h2><p class=\"legend meta\">\
         <span style=\"background:#bbb\"></span>probability before the edit\
         <span style=\"background:#2f6fdf\"></span>after (softmax at temperature 1)</p>",
    );
    let acted: Vec<&TraceStep> = steps_only(steps)
        .filter(|s| s.removed_mass > 0.0)
        .take(24)
        .collect();
    if acted.is_empty() {
        body.push_str("<p>The ban never removed probability in this run.</p>");
    }
    for s in acted {
        let _ = write!(
            body,
            "<h3>step {} — removed {:.4}, chosen {}</h3>{}",
            s.position,
            f64::from(s.removed_mass),
            esc(s
                .chosen
                .as_ref()
                .map_or("none: the step was rewound", |c| c.text.as_str())),
            step_chart(s)
        );
    }
    page("taboo trace", &body)
}

/// The tokenization lattice of one variant: byte offsets on a line, one arc per token that
/// belongs to some complete spelling.
fn lattice_chart(variant: &str, lattice: &Lattice) -> String {
    let len = lattice.bytes.max(1) as f64;
    let (w, h, pad) = (900.0, 280.0, 30.0);
    let unit = (w - 2.0 * pad) / len;
    let base = h - 50.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"tokenization lattice\">\
         <line x1=\"{pad}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#999\"/>",
        w - pad
    );
    for i in 0..=(len as usize) {
        let x = pad + i as f64 * unit;
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{base}\" r=\"3\" fill=\"#555\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#666\">{i}</text>",
            base + 16.0
        );
    }
    let mut at = 0usize;
    for c in variant.chars() {
        let n = c.len_utf8();
        let mid = pad + (at as f64 + n as f64 / 2.0) * unit;
        let glyph = if c == ' ' {
            "␣".to_string()
        } else {
            c.to_string()
        };
        let _ = write!(
            svg,
            "<text x=\"{mid:.1}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            base + 32.0,
            esc(&glyph)
        );
        at += n;
    }
    for e in &lattice.arcs {
        let (from, to) = (e.from as f64, e.to as f64);
        let (x1, x2) = (pad + from * unit, pad + to * unit);
        let rise = ((to - from) * unit * 0.5).min(base - 20.0);
        let canonical = e.canonical;
        let _ = write!(
            svg,
            "<path d=\"M{x1:.1},{base} Q{:.1},{:.1} {x2:.1},{base}\" fill=\"none\" \
             stroke=\"{}\" stroke-width=\"{}\"><title>{}</title></path>",
            (x1 + x2) / 2.0,
            base - 2.0 * rise,
            if canonical { "#d33" } else { "#2f6fdf" },
            if canonical { 2.5 } else { 1.0 },
            esc(&e.token)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The `taboo explain --html` page.
pub fn explain_page(report: &ExplainReport) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>taboo explain</h1><p class=\"meta\">vocabulary: {} ({} tokens) · {} spellings in \
         all; a token-id ban blocks {}</p>",
        esc(&report.vocabulary),
        report.tokens,
        esc(&report.spellings),
        esc(&report.naive_blocks)
    );
    for e in &report.entries {
        let e = match e {
            ExplainEntry::Regex(r) => {
                let _ = write!(body, "<h2>{}</h2>", esc(&r.entry));
                body.push_str("<p>A regex entry: spellings are not counted.</p>");
                continue;
            }
            ExplainEntry::Counted(e) => e,
        };
        let _ = write!(body, "<h2>{}</h2>", esc(&e.entry));
        body.push_str(
            "<table><tr><th>variant</th><th>spellings</th><th>token-id ban blocks</th>\
             <th>examples</th></tr>",
        );
        for v in &e.variants {
            let samples: Vec<String> = v
                .samples
                .iter()
                .map(|sp| {
                    let toks: Vec<String> = sp.iter().map(|t| esc(t)).collect();
                    format!("<code>{}</code>", toks.join(" · "))
                })
                .collect();
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&show_token(v.variant.as_bytes())),
                esc(&v.spellings),
                esc(&v.naive_blocks),
                samples.join(" ")
            );
        }
        body.push_str("</table>");
        for v in &e.variants {
            if let Some(lattice) = &v.lattice {
                let _ = write!(
                    body,
                    "<h3>Tokenization lattice of <code>{}</code></h3>\
                     <p class=\"meta\">Byte offsets along the line; every arc is a token on \
                     some spelling; the red arcs are the tokenizer's own spelling, the only one \
                     a token-id ban knows.</p>{}",
                    esc(&show_token(v.variant.as_bytes())),
                    lattice_chart(&v.variant, lattice)
                );
            }
        }
    }
    page("taboo explain", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{TraceCandidate, TraceStep};

    fn step(t: u32) -> TraceEvent {
        let c = TraceCandidate {
            token: t,
            text: format!("\"{t}\""),
            logit: 0.0,
            p_before: 1.0,
            p_after: 1.0,
            edit: Edit::Kept,
        };
        TraceEvent::Step(TraceStep {
            position: 0,
            chosen: Some(c.clone()),
            candidates: vec![c],
            forbidden: 0,
            penalized: 0,
            removed_mass: 0.0,
            p_after_sum: 1.0,
            violation: false,
        })
    }

    #[test]
    fn rewound_steps_are_not_in_the_output() {
        let steps = vec![step(1), step(2), TraceEvent::Rewind { rewind: 1 }, step(3)];
        let kept: Vec<u32> = kept_steps(&steps)
            .iter()
            .map(|s| s.chosen.as_ref().unwrap().token)
            .collect();
        assert_eq!(kept, vec![1, 3]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let page = trace_page(&TraceReport {
            prompt: "<script>".into(),
            text: String::new(),
            tokens: vec![],
            finish_reason: String::new(),
            mode: String::new(),
            banned: vec![],
            steps: vec![],
        });
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
    }
}
