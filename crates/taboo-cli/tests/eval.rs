//! `taboo eval --quick`, run for real on SmolLM2 and Gemma 3 270M: the CI subset of the
//! evaluation must finish, hold its invariants (the guaranteed tiers leak nothing,
//! perplexities are finite) and write a report, a CSV, JSON and SVG plots that parse. It runs
//! a copy of the binary outside the source tree, from `/`, as an installed `taboo` would.
//!
//! Model tests hold `MODEL_LOCK` (see tests/cli.rs): two llama.cpp processes on two cores
//! slow each other down 4×. Missing models fail with instructions; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use serde_json::Value;

static MODEL_LOCK: Mutex<()> = Mutex::new(());

fn taboo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_taboo"));
    c.stdin(Stdio::null());
    c
}

fn model(file: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(file);
    assert!(
        path.is_file(),
        "model {} is missing: run scripts/fetch-models.sh --gemma first",
        path.display()
    );
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small well-formedness check of XML: balanced, properly nested tags, quoted attributes,
/// known entities, one root element. Enough to catch a broken SVG writer.
fn check_xml(text: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = text;
    let check_entities = |s: &str| -> Result<(), String> {
        for (i, _) in s.match_indices('&') {
            let tail = &s[i..];
            let end = tail.find(';').ok_or(format!("bare & in {s:?}"))?;
            let name = &tail[1..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                || name.strip_prefix('#').is_some_and(|n| {
                    n.parse::<u32>().is_ok()
                        || n.strip_prefix('x')
                            .is_some_and(|h| u32::from_str_radix(h, 16).is_ok())
                });
            if !ok {
                return Err(format!("unknown entity &{name};"));
            }
        }
        Ok(())
    };
    while let Some(open) = rest.find('<') {
        let text_part = &rest[..open];
        if stack.is_empty() && !text_part.trim().is_empty() {
            return Err(format!("text outside the root: {text_part:?}"));
        }
        check_entities(text_part)?;
        rest = &rest[open..];
        if let Some(r) = rest.strip_prefix("<?") {
            rest = &r[r.find("?>").ok_or("unclosed <?")? + 2..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->").ok_or("unclosed comment")? + 3..];
            continue;
        }
        // Find the tag's end outside quoted attribute values.
        let mut in_quote = None;
        let mut end = None;
        for (i, c) in rest.char_indices().skip(1) {
            match (in_quote, c) {
                (None, '"' | '\'') => in_quote = Some(c),
                (Some(q), c) if c == q => in_quote = None,
                (Some(_), '<') => return Err("< inside an attribute value".into()),
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unclosed tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if top != name.trim() {
                return Err(format!("</{name}> closes <{top}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || ":-_".contains(c))
        {
            return Err(format!("bad tag name in <{tag}>"));
        }
        // Attributes: name="value" pairs.
        let mut attrs = body[name.len()..].trim();
        while !attrs.is_empty() {
            let eq = attrs
                .find('=')
                .ok_or(format!("attribute without value in <{tag}>"))?;
            let after = attrs[eq + 1..].trim_start();
            let q = after.chars().next().ok_or("attribute without value")?;
            if q != '"' && q != '\'' {
                return Err(format!("unquoted attribute in <{tag}>"));
            }
            let close = after[1..].find(q).ok_or("unclosed attribute value")?;
            check_entities(&after[1..1 + close])?;
            attrs = after[close + 2..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    if !rest.trim().is_empty() {
        return Err(format!("text after the root: {rest:?}"));
    }
    if !stack.is_empty() {
        return Err(format!("unclosed <{}>", stack.join("> <")));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

#[test]
fn the_xml_checker_catches_broken_svg() {
    assert!(check_xml("<svg a=\"1\"><g><text>a &amp; b</text></g><rect/></svg>\n").is_ok());
    for bad in [
        "<svg><g></svg></g>",
        "<svg>",
        "<svg a=1></svg>",
        "<svg>a & b</svg>",
        "<svg></svg><svg></svg>",
        "<svg a=\"<\"></svg>",
        "<svg><text>&nbsp;</text></svg>",
    ] {
        assert!(check_xml(bad).is_err(), "{bad}");
    }
}

fn assert_clean_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with("taboo: ") && err.contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_flags_get_clear_errors() {
    let out = std::env::temp_dir().join(format!("taboo-eval-bad-{}", std::process::id()));
    for (args, needle) in [
        (&["--suite", "nope"][..], "unknown suite \"nope\""),
        (&["--seeds", "0"], "--seeds"),
        (&["--batch", "0"], "--batch"),
        (&["--batch", "65"], "--batch"),
    ] {
        let o = taboo()
            .arg("eval")
            .arg("--out")
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        assert_clean_failure(&o, needle);
    }
    let o = taboo()
        .args(["eval", "--suite", "en-chat", "--suites-dir", "/nonexistent"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_clean_failure(&o, "cannot read suite");
    let o = taboo().args(["eval", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Examples:"));
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn quick_eval_holds_its_invariants_and_writes_a_readable_report() {
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = std::env::temp_dir().join(format!("taboo-eval-quick-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // The suites ship inside the binary: a copy elsewhere, run from `/`, finds them.
    let bin_dir = std::env::temp_dir().join(format!("taboo-eval-bin-{}", std::process::id()));
    std::fs::create_dir_all(&bin_dir).unwrap();
    let moved = bin_dir.join("taboo");
    std::fs::copy(env!("CARGO_BIN_EXE_taboo"), &moved).unwrap();
    let o = Command::new(&moved)
        .current_dir("/")
        .stdin(Stdio::null())
        .args(["eval", "--quick", "--out"])
        .arg(&out)
        .arg("--chat-model")
        .arg(model("SmolLM2-135M-Instruct-Q4_1.gguf"))
        .arg("--base-model")
        .arg(model("gemma-3-270m-q4_k_m.gguf"))
        .output()
        .unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    std::fs::remove_dir_all(&bin_dir).unwrap();

    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["invariant_violations"].as_array().unwrap().len(), 0);
    let summary = results["summary"].as_array().unwrap();
    let suites: Vec<&str> = summary.iter().filter_map(|s| s["suite"].as_str()).collect();
    for suite in ["en-chat", "en-open", "en-gemma", "ru-gemma"] {
        assert!(suites.contains(&suite), "{suite} missing");
    }
    for s in summary {
        let cond = s["condition"].as_str().unwrap();
        let leak = |tier: &str| number(&s["leak"][tier]["value"]);
        let guaranteed: &[&str] = match cond {
            "hard" | "backtrack" => &["exact", "normalised"],
            "full" => &["exact", "normalised", "disguised"],
            _ => &[],
        };
        for tier in guaranteed {
            assert_eq!(leak(tier), 0.0, "{} / {cond} leaks at {tier}", s["suite"]);
        }
        let ppl = number(&s["perplexity"]["value"]);
        assert!(
            ppl.is_finite() && ppl >= 1.0,
            "{} / {cond}: perplexity {ppl}",
            s["suite"]
        );
        assert!(number(&s["tokens_per_second"]) > 0.0);
    }
    // The unconstrained model does say the elicited words, or the suite measures nothing.
    let off_chat = summary
        .iter()
        .find(|s| s["suite"] == "en-chat" && s["condition"] == "off")
        .unwrap();
    assert!(number(&off_chat["leak"]["normalised"]["value"]) > 0.2);
    // Every output is checked: a guaranteed condition's outputs carry no guaranteed tier.
    let outputs = results["outputs"].as_array().unwrap();
    assert!(outputs.len() > 100);
    for o in outputs {
        if matches!(o["condition"].as_str(), Some("hard" | "backtrack" | "full")) {
            assert!(o["exact"] == false && o["normalised"] == false, "{o}");
        }
    }
    let sweep = results["sweep"]["points"].as_array().unwrap();
    assert_eq!(sweep.len(), 6, "3 sizes × naive, hard");

    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(csv.starts_with("suite,condition,kind,"));
    // One schema: the CSV header names exactly the fields of each JSON output record.
    let mut header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    header.sort_unstable();
    let keys: Vec<&str> = outputs[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(header, keys);
    // Intervals: a rate of exactly 0 has a Clopper–Pearson interval that is not [0, 0].
    let hard = summary
        .iter()
        .find(|s| s["suite"] == "en-chat" && s["condition"] == "hard")
        .unwrap();
    let normalised = &hard["leak"]["normalised"];
    assert_eq!(normalised["method"], "clopper-pearson");
    assert!(number(&normalised["hi"]) > 0.0, "{normalised}");
    // Control prompts decode alone in every condition: an unguarded-looking control output
    // of a ban condition (no step masked, no rewind) is exactly B0's.
    for o in outputs {
        if o["kind"] == "control"
            && o["condition"] != "instruct"
            && o["masked_steps"] == 0
            && o["backtracks"] == 0
        {
            assert_eq!(o["changed_vs_off"], false, "{o}");
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "## en-chat",
        "## ru-gemma",
        "## Ban-list size sweep",
        "All hold.",
        "pareto.svg",
    ] {
        assert!(report.contains(needle), "report lacks {needle:?}");
    }
    for svg in [
        "pareto.svg",
        "removed_mass.svg",
        "leak_vs_size.svg",
        "overhead_vs_size.svg",
    ] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap();
        check_xml(&text).unwrap_or_else(|e| panic!("{svg}: {e}"));
        assert!(
            text.contains("<text") && text.contains("<circle"),
            "{svg} has no data"
        );
    }
    assert!(Path::new(&out).join("report.md").is_file());
    let _ = std::fs::remove_dir_all(&out);
}
