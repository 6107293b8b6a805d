//! The `taboo` binary, run for real: bad input must end in a clear message and a non-zero exit
//! (never a panic or a C++ abort), and bans must hold on the real SmolLM2 model.
//!
//! Tests that load a model take `MODEL_LOCK` so that only one model runs at a time (two
//! 2-thread llama.cpp processes on 2 cores slow each other down 4×). A missing model fails
//! with instructions; nothing is skipped silently.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

static MODEL_LOCK: Mutex<()> = Mutex::new(());

const MEOW: &str = "What animal says \"meow\"? Answer in one sentence.";

fn taboo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_taboo"));
    c.stdin(Stdio::null());
    c
}

fn smollm2() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct-Q4_1.gguf");
    assert!(
        path.is_file(),
        "model {} is missing: run scripts/fetch-models.sh first",
        path.display()
    );
    path
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("taboo-cli-{}-{name}", std::process::id()));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `taboo ARGS`, requires success, and parses its standard output as one JSON value.
fn taboo_json(args: &[&str]) -> serde_json::Value {
    let o = taboo().args(args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Fails unless the run ended with exit code 1 and one `taboo: ` line naming `needle`.
fn assert_clean_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with("taboo: "), "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
}

fn json_run(args: &[&str]) -> serde_json::Value {
    let model = smollm2();
    let o = taboo()
        .arg("generate")
        .arg("--model")
        .arg(&model)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON line: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Case-insensitive whole-word search, the way the ban is defined.
fn has_word(text: &str, word: &str) -> bool {
    let text = text.to_lowercase();
    let word = word.to_lowercase();
    let bytes = text.as_bytes();
    text.match_indices(&word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let _ = bytes;
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[test]
fn help_has_examples_on_every_command() {
    for args in [
        &["--help"][..],
        &["generate", "--help"],
        &["bench-generate", "--help"],
        &["compare-modes", "--help"],
        &["forms", "--help"],
        &["explain", "--help"],
        &["trace", "--help"],
        &["bench", "--help"],
        &["eval", "--help"],
    ] {
        let o = taboo().args(args).output().unwrap();
        assert!(o.status.success());
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("Examples:"), "{args:?}: {out}");
    }
}

#[test]
fn missing_model_says_how_to_fetch_it() {
    let o = taboo()
        .args(["generate", "--model", "/nonexistent/model.gguf", "hi"])
        .output()
        .unwrap();
    assert_clean_failure(&o, "scripts/fetch-models.sh");
}

#[test]
fn a_text_file_is_not_a_model() {
    let path = temp_file("text.gguf", b"this is a text file, not a model\n");
    let o = taboo()
        .arg("generate")
        .arg("--model")
        .arg(&path)
        .arg("hi")
        .output()
        .unwrap();
    assert_clean_failure(&o, "GGUF magic");
}

#[test]
fn a_device_a_directory_or_a_fifo_is_not_a_model() {
    let fifo = std::env::temp_dir().join(format!("taboo-cli-{}-fifo", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo {}", fifo.display());
    let dir = std::env::temp_dir();
    let cases: [(&std::path::Path, &str); 3] = [
        (
            "/dev/zero".as_ref(),
            "it is a character device, not a regular file",
        ),
        (&dir, "it is a directory, not a regular file"),
        // Opening a FIFO for reading would block until a writer came: it must not be opened.
        (&fifo, "it is a FIFO (named pipe), not a regular file"),
    ];
    for (path, why) in cases {
        for command in ["generate", "explain"] {
            let o = taboo()
                .arg(command)
                .arg("--model")
                .arg(path)
                .arg("hi")
                .output()
                .unwrap();
            assert_clean_failure(&o, &format!("{}: not a GGUF file: {why}", path.display()));
        }
    }
    std::fs::remove_file(&fifo).unwrap();
}

#[test]
fn out_of_range_numbers_are_refused_at_parsing() {
    // Refused before any model is loaded: the model path does not even exist.
    let cases: [(&[&str], &str); 14] = [
        (
            &["--temperature", "-0.5"],
            "'--temperature <T>': expected a number of at least 0",
        ),
        (&["--temperature", "NaN"], "'--temperature <T>'"),
        (&["--temperature", "inf"], "'--temperature <T>'"),
        (
            &["--top-p", "0"],
            "'--top-p <P>': expected a number in (0, 1]",
        ),
        (&["--top-p", "1.01"], "'--top-p <P>'"),
        (
            &["--min-p", "-0.1"],
            "'--min-p <P>': expected a number in [0, 1]",
        ),
        (&["--min-p", "2"], "'--min-p <P>'"),
        (
            &["--repeat-penalty", "0"],
            "'--repeat-penalty <X>': expected a number above 0",
        ),
        (&["--repeat-penalty", "NaN"], "'--repeat-penalty <X>'"),
        (&["--penalty", "-inf"], "'--penalty <X>'"),
        (
            &["--backtrack-below", "1.5"],
            "'--backtrack-below <MASS>': expected a number in [0, 1]",
        ),
        (
            &["--threads", "0"],
            "'--threads <N>': expected a whole number from 1 to 256",
        ),
        (&["--threads", "100000"], "'--threads <N>'"),
        (
            &["--ctx-size", "0"],
            "'--ctx-size <N>': expected a whole number from 16",
        ),
    ];
    for (flag, needle) in cases {
        let o = taboo()
            .args(["generate", "--model", "/nonexistent/model.gguf"])
            .args(flag)
            .arg("hi")
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{flag:?}: {err}");
        assert!(
            err.contains(needle),
            "{flag:?}: expected {needle:?} in {err}"
        );
    }
    let o = taboo()
        .args(["bench-generate", "--rounds", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("'--rounds <N>'"), "{}", stderr(&o));
    // The bounds themselves are accepted: the run gets as far as the missing model.
    let o = taboo()
        .args(["generate", "--model", "/nonexistent/model.gguf"])
        .args(["--temperature", "0", "--top-p", "1", "--min-p", "1"])
        .args([
            "--backtrack-below",
            "0",
            "--threads",
            "256",
            "--ctx-size",
            "16",
            "hi",
        ])
        .output()
        .unwrap();
    assert_clean_failure(&o, "not found");
}

#[test]
fn a_truncated_model_is_refused() {
    let full = std::fs::read(smollm2()).unwrap();
    for keep in [10, full.len() / 50, full.len() / 2, full.len() - 1] {
        let path = temp_file("cut.gguf", &full[..keep]);
        let o = taboo()
            .arg("generate")
            .arg("--model")
            .arg(&path)
            .arg("hi")
            .output()
            .unwrap();
        assert_clean_failure(&o, "truncated");
        assert!(
            stderr(&o).contains("run scripts/fetch-models.sh again, or pass --model PATH"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn an_unknown_architecture_is_named() {
    // A well-formed GGUF whose architecture llama.cpp has never heard of.
    let mut v = b"GGUF".to_vec();
    v.extend_from_slice(&3u32.to_le_bytes());
    v.extend_from_slice(&0u64.to_le_bytes());
    v.extend_from_slice(&1u64.to_le_bytes());
    let key = "general.architecture";
    v.extend_from_slice(&(key.len() as u64).to_le_bytes());
    v.extend_from_slice(key.as_bytes());
    v.extend_from_slice(&8u32.to_le_bytes());
    let arch = "nosucharch";
    v.extend_from_slice(&(arch.len() as u64).to_le_bytes());
    v.extend_from_slice(arch.as_bytes());
    let path = temp_file("arch.gguf", &v);
    let o = taboo()
        .arg("generate")
        .arg("--model")
        .arg(&path)
        .arg("hi")
        .output()
        .unwrap();
    assert_clean_failure(&o, "architecture 'nosucharch'");
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let prompt = "word ".repeat(200);
    let o = taboo()
        .arg("generate")
        .arg("--model")
        .arg(smollm2())
        .args(["--ctx-size", "64", &prompt])
        .output()
        .unwrap();
    assert_clean_failure(&o, "--ctx-size");
}

#[test]
fn a_context_longer_than_the_model_was_trained_on_is_refused() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SmolLM2 was trained on 8192 tokens; a million-token context used to be allocated (and
    // grew the process past 10 GB) before anything failed.
    let o = taboo()
        .arg("generate")
        .arg("--model")
        .arg(smollm2())
        .args(["--ctx-size", "1000000", "hi"])
        .output()
        .unwrap();
    assert_clean_failure(
        &o,
        "a context of 1000000 tokens is longer than the model's training context of 8192 \
         tokens; pass --ctx-size 8192 or less",
    );
    // The training context itself is allowed.
    let o = taboo()
        .arg("generate")
        .arg("--model")
        .arg(smollm2())
        .args(["--ctx-size", "8192", "--max-tokens", "1", "hi"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unwritable_output_is_an_error_and_a_closed_pipe_is_not() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let model = smollm2();
    let full = std::fs::File::create("/dev/full").unwrap();
    let o = taboo()
        .arg("generate")
        .arg("--model")
        .arg(&model)
        .args(["--max-tokens", "8", MEOW])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_clean_failure(&o, "cannot write output");

    // `taboo generate … | head -c0`: the reader is gone before the first token.
    let mut child = taboo()
        .arg("generate")
        .arg("--model")
        .arg(&model)
        .args(["--max-tokens", "8", MEOW])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(stderr(&o).is_empty(), "stderr: {}", stderr(&o));
}

/// The write end of a pipe whose reader has already exited: any write to it fails with
/// EPIPE, as `taboo … | head -1` does once `head` is done (without the race of closing the
/// reader while the child runs).
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Stdio::from(write_end)
}

/// Runs `taboo <args>` into a full disk (`/dev/full`): exit 1 with "cannot write output", and
/// into a closed pipe: exit 0 and nothing on stderr but what the command prints there anyway
/// (`stderr_ok` lines, e.g. `taboo bench`'s table), never a panic.
fn assert_write_failures_handled(args: &[&str], stderr_ok: &dyn Fn(&str) -> bool) {
    let full = std::fs::File::create("/dev/full").unwrap();
    let o = taboo()
        .args(args)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?} into /dev/full: {err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("taboo: cannot write output: ") && last.contains("No space left"),
        "{args:?} into /dev/full: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");

    let o = taboo()
        .args(args)
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?} into a closed pipe: {err}"
    );
    assert!(
        err.lines().all(stderr_ok),
        "{args:?} into a closed pipe: {err}"
    );
}

#[test]
fn forms_explain_and_bench_exit_quietly_on_a_closed_pipe_and_fail_on_a_full_disk() {
    let nothing = |_: &str| false;
    assert_write_failures_handled(&["forms", "кошка", "run"], &nothing);
    assert_write_failures_handled(&["forms", "--json", "кошка"], &nothing);
    assert_write_failures_handled(&["forms", "--lists"], &nothing);
    assert_write_failures_handled(&["explain", "--vocab", "r50k", "cat"], &nothing);
    assert_write_failures_handled(&["explain", "--vocab", "r50k", "--json", "cat"], &nothing);
    // `taboo bench` prints its table on stderr whatever happens to stdout.
    let table = |l: &str| l.starts_with("list ") || l.starts_with("en ");
    assert_write_failures_handled(
        &[
            "bench",
            "--vocab",
            "r50k",
            "--words",
            "10",
            "--languages",
            "en",
        ],
        &table,
    );
}

#[test]
fn bench_reports_cold_and_warm_states_with_percentiles() {
    let v = taboo_json(&[
        "bench",
        "--vocab",
        "r50k",
        "--words",
        "50",
        "--languages",
        "en,ru",
    ]);
    let lists = v["lists"].as_array().unwrap();
    assert_eq!(lists.len(), 2);
    for l in lists {
        for key in [
            "cold_state_us",
            "new_state_us",
            "guard_cold_us_per_token",
            "guard_us_per_token",
            "guard_mass_us_per_token",
            "batch64_cold_us",
            "batch64_us",
        ] {
            let p = |q: &str| {
                l[key][q]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{key}.{q}: {l}"))
            };
            assert!(p("p50") > 0.0, "{key}: {l}");
            assert!(p("p50") <= p("p99") && p("p99") <= p("max"), "{key}: {l}");
        }
        assert_eq!(l["new_state_us_median"], l["new_state_us"]["p50"], "{l}");
        assert_eq!(
            l["guard_us_per_token_median"], l["guard_us_per_token"]["p50"],
            "{l}"
        );
        assert!(l["distinct_states"].as_u64().unwrap() > 1, "{l}");
    }
}

#[test]
fn bench_generate_runs_hard_and_default_modes_and_prints_lengths() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let model = smollm2();
    let o = taboo()
        .args(["bench-generate", "--model"])
        .arg(&model)
        .args(["--words", "0,20", "--rounds", "1", "--max-tokens", "6"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|r: &Vec<&str>| r.first().is_some_and(|w| w.parse::<usize>().is_ok()))
        .collect();
    let modes: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(
        modes,
        [("0", "none"), ("20", "hard"), ("20", "default")],
        "{out}"
    );
    for r in &rows {
        // The tokens column: every run generated something, at most --max-tokens.
        let tokens: f64 = r[3].parse().unwrap();
        assert!(tokens > 0.0 && tokens <= 6.0, "{out}");
    }
    assert!(out.lines().nth(1).unwrap().contains("tokens"), "{out}");
}

#[test]
fn trace_and_bench_generate_exit_quietly_on_a_closed_pipe_and_fail_on_a_full_disk() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let model = smollm2();
    let model = model.to_str().unwrap();
    let nothing = |_: &str| false;
    for json in [false, true] {
        let mut args = vec![
            "trace",
            "--model",
            model,
            "--max-tokens",
            "2",
            "--ban",
            "cat",
        ];
        if json {
            args.push("--json");
        }
        args.push(MEOW);
        assert_write_failures_handled(&args, &nothing);
    }
    assert_write_failures_handled(
        &[
            "bench-generate",
            "--model",
            model,
            "--words",
            "0",
            "--rounds",
            "1",
            "--max-tokens",
            "2",
        ],
        &nothing,
    );
    assert_write_failures_handled(
        &[
            "generate",
            "--model",
            model,
            "--max-tokens",
            "2",
            "--json",
            MEOW,
        ],
        &nothing,
    );
}

#[test]
fn prompt_from_stdin_and_json_shape() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut child = taboo()
        .arg("generate")
        .arg("--model")
        .arg(smollm2())
        .args(["--json", "--max-tokens", "5", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(MEOW.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["finish_reason"], "length");
    assert_eq!(v["tokens"].as_array().unwrap().len(), 5);
    for key in [
        "prompt_tokens",
        "generated_tokens",
        "masked_steps",
        "removed_mass",
        "tokens_per_second",
        "guard_us_per_token",
        "guard_us_median",
        "backtracks",
        "rewound_tokens",
    ] {
        assert!(v["stats"][key].is_number(), "stats.{key} missing: {v}");
    }
}

#[test]
fn banning_cat_removes_it_and_keeps_an_answer() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let free = json_run(&["--max-tokens", "60", MEOW]);
    let free_text = free["text"].as_str().unwrap();
    assert!(has_word(free_text, "cat"), "unconstrained: {free_text:?}");

    let banned = json_run(&["--max-tokens", "60", "--ban", "cat", MEOW]);
    let text = banned["text"].as_str().unwrap();
    assert!(!has_word(text, "cat"), "banned run leaked: {text:?}");
    assert!(text.split_whitespace().count() >= 3, "banned run: {text:?}");
    assert!(text.is_ascii(), "expected English: {text:?}");
    assert!(banned["stats"]["masked_steps"].as_u64().unwrap() > 0);
    assert_eq!(banned["stats"]["violations"], 0);
}

#[test]
fn naive_token_bans_leak_where_hard_bans_hold() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // Banning "Cat": the naive baseline bans the token spellings of "Cat", " Cat", "CAT",
    // " CAT" and the model simply writes " cat"; the automaton bans every letter case.
    let run = |mode: &str| {
        let v = json_run(&["--max-tokens", "60", "--ban", "Cat", "--mode", mode, MEOW]);
        v["text"].as_str().unwrap().to_string()
    };
    let naive = run("naive");
    assert!(
        has_word(&naive, "cat"),
        "naive was expected to leak: {naive:?}"
    );
    for mode in ["hard", "backtrack"] {
        let text = run(mode);
        assert!(!has_word(&text, "cat"), "{mode} leaked: {text:?}");
        assert!(!text.trim().is_empty());
    }
}

#[test]
fn backtracking_keeps_the_banned_word_out_without_gluing_words() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // Hard mode alone writes "catmongoose": " cat" is allowed (it might become " cats"),
    // then every word ending is banned. Backtracking rewinds " cat" instead.
    let glued = |text: &str| {
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w.starts_with("cat"))
    };
    let hard = json_run(&["--max-tokens", "60", "--ban", "cat", "--mode", "hard", MEOW]);
    let hard_text = hard["text"].as_str().unwrap();
    assert!(
        glued(hard_text),
        "hard mode was expected to glue: {hard_text:?}"
    );
    assert_eq!(hard["stats"]["backtracks"], 0);
    let v = json_run(&[
        "--max-tokens",
        "60",
        "--ban",
        "cat",
        "--mode",
        "backtrack",
        MEOW,
    ]);
    let text = v["text"].as_str().unwrap();
    assert!(!glued(text), "{text:?}");
    assert!(v["stats"]["backtracks"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["stats"]["rewound_tokens"].as_u64().unwrap() >= 1, "{v}");

    // What is streamed is never taken back: the printed text is the final text.
    let model = smollm2();
    let o = taboo()
        .arg("generate")
        .arg("--model")
        .arg(&model)
        .args(["--max-tokens", "60", "--ban", "cat", MEOW])
        .output()
        .unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim_end(), text);
}

#[test]
fn explain_counts_the_spellings_a_token_ban_misses() {
    // 169 spellings of " elephant" in GPT-2's vocabulary (docs/ENGINE.md §7).
    let v = taboo_json(&["explain", "--vocab", "r50k", "--json", "elephant"]);
    let variants = v["entries"][0]["variants"].as_array().unwrap();
    let spaced = variants
        .iter()
        .find(|r| r["variant"] == " elephant")
        .unwrap();
    assert_eq!(spaced["spellings"], "169");
    assert_eq!(spaced["naive_blocks"], "1");
    assert_eq!(spaced["samples"][0][0], "\" elephant\"");
    // The table form ends with the summary line.
    let o = taboo()
        .args(["explain", "--vocab", "r50k", "elephant"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("a token-id ban blocks 6 of them"), "{out}");
    // Nothing to explain is an error, not an empty report.
    let o = taboo()
        .args(["explain", "--vocab", "r50k"])
        .output()
        .unwrap();
    assert_clean_failure(&o, "nothing to explain");
}

/// Renders `page` in headless Chromium (no network, a fresh profile) and returns the
/// screenshot's pixels and every console message the page produced.
fn render_in_chromium(page: &std::path::Path) -> (Vec<[u8; 4]>, Vec<String>) {
    let chromium = PathBuf::from("/usr/bin/chromium");
    assert!(
        chromium.is_file(),
        "headless Chromium is needed to check the HTML reports: apt-get install chromium \
         (scripts/setup.sh installs it)"
    );
    let profile = std::env::temp_dir().join(format!("taboo-chromium-{}", std::process::id()));
    let shot = page.with_extension("png");
    let o = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1100,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(shot.is_file(), "no screenshot; chromium said: {log}");
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let decoder = png::Decoder::new(std::fs::File::open(&shot).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let pixels = buf[..info.buffer_size()]
        .chunks(step)
        .map(|p| {
            [
                p[0],
                p[1 % step],
                p[2 % step],
                if step == 4 { p[3] } else { 255 },
            ]
        })
        .collect();
    let _ = std::fs::remove_dir_all(&profile);
    (pixels, console)
}

/// A page is "not blank" when its screenshot has many colours and no single colour covers
/// nearly all of it.
fn assert_not_blank(pixels: &[[u8; 4]], what: &str) {
    let mut counts = std::collections::HashMap::new();
    for p in pixels {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let top = counts.values().max().copied().unwrap_or(0);
    assert!(counts.len() >= 20, "{what}: only {} colours", counts.len());
    assert!(
        (top as f64) < 0.995 * pixels.len() as f64,
        "{what}: one colour covers {top} of {} pixels",
        pixels.len()
    );
}

#[test]
fn html_reports_render_in_headless_chromium() {
    let dir = std::env::temp_dir();
    // The checks themselves must be able to fail: a broken page is caught.
    let bad = dir.join(format!("taboo-bad-{}.html", std::process::id()));
    std::fs::write(
        &bad,
        "<html><body><script>undefinedFn()</script></body></html>",
    )
    .unwrap();
    let (pixels, console) = render_in_chromium(&bad);
    assert!(
        !console.is_empty(),
        "a script error must show in the console log"
    );
    assert!(
        std::panic::catch_unwind(|| assert_not_blank(&pixels, "empty page")).is_err(),
        "an empty page must count as blank"
    );

    let explain = dir.join(format!("taboo-explain-{}.html", std::process::id()));
    let o = taboo()
        .args(["explain", "--vocab", "r50k", "--html"])
        .arg(&explain)
        .arg("elephant")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&explain).unwrap();
    // Self-contained: an inline chart, and no URL at all except the SVG namespace name
    // (an identifier the browser never fetches).
    assert!(html.contains("<svg"), "no chart");
    let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for scheme in ["http://", "https://", " src=", "url("] {
        assert!(
            !without_namespace.contains(scheme),
            "the report loads {scheme}…"
        );
    }
    assert!(!html.contains("<script"), "reports carry no script");
    let (pixels, console) = render_in_chromium(&explain);
    assert!(console.is_empty(), "console: {console:?}");
    assert_not_blank(&pixels, "explain report");

    let trace = dir.join(format!("taboo-trace-{}.html", std::process::id()));
    let model = smollm2();
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let o = taboo()
        .args(["trace", "--max-tokens", "24", "--ban", "cat", "--model"])
        .arg(&model)
        .arg("--html")
        .arg(&trace)
        .arg(MEOW)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (pixels, console) = render_in_chromium(&trace);
    assert!(console.is_empty(), "console: {console:?}");
    assert_not_blank(&pixels, "trace report");
}

#[test]
fn trace_is_consistent_with_generation() {
    let model = smollm2();
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for mode in ["hard", "backtrack", "soft"] {
        let args = [
            "--mode",
            mode,
            "--ban",
            "cat",
            "--temperature",
            "0.8",
            "--seed",
            "11",
            "--max-tokens",
            "40",
        ];
        let o = taboo()
            .arg("trace")
            .arg("--json")
            .arg("--model")
            .arg(&model)
            .args(args)
            .arg(MEOW)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let trace: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let o = taboo()
            .arg("generate")
            .arg("--json")
            .arg("--model")
            .arg(&model)
            .args(args)
            .arg(MEOW)
            .output()
            .unwrap();
        let generated: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // The trace of a seeded run reproduces its text exactly.
        assert_eq!(trace["text"], generated["text"], "{mode}");
        assert_eq!(trace["tokens"], generated["tokens"], "{mode}");
        let mut kept: Vec<serde_json::Value> = Vec::new();
        for step in trace["steps"].as_array().unwrap() {
            if let Some(n) = step.get("rewind") {
                let n = n.as_u64().unwrap() as usize;
                kept.truncate(kept.len() - n);
                continue;
            }
            let sum = step["p_after_sum"].as_f64().unwrap();
            assert!(
                (sum - 1.0).abs() < 1e-3,
                "{mode}: probabilities after sum to {sum}"
            );
            if step["chosen"].is_object() {
                let p = step["chosen"]["p_after"].as_f64().unwrap();
                assert!(
                    p > 0.0,
                    "{mode}: chosen token has probability {p} after the edit"
                );
                kept.push(step["chosen"]["token"].clone());
            }
        }
        assert_eq!(serde_json::Value::from(kept), generated["tokens"], "{mode}");
    }
}

#[test]
fn a_cornered_generation_ends_cleanly_without_the_banned_word() {
    // Regression: with "Tokyo" banned, this seed writes "Tokyo" and then the first byte of a
    // character that can only be punctuation; every continuation then completes the ban.
    // That once ended in an error that lost the text; now the unfinished word is dropped.
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let v = json_run(&[
        "--mode",
        "hard",
        "--ban",
        "Tokyo",
        "--temperature",
        "0.7",
        "--seed",
        "1",
        "--max-tokens",
        "60",
        "What is the capital of Japan? Answer in one sentence.",
    ]);
    let text = v["text"].as_str().unwrap();
    assert!(!has_word(text, "tokyo"), "{text:?}");
    assert!(!text.contains('\u{FFFD}'), "{text:?}");
    assert!(text.starts_with("The capital of Japan"), "{text:?}");
    assert_eq!(v["stats"]["violations"], 0);
    // Whatever way it ended, it ended cleanly.
    let reason = v["finish_reason"].as_str().unwrap();
    assert!(["dead_end", "eos", "length"].contains(&reason), "{reason}");
}

#[test]
fn forms_lists_the_lexemes_and_the_bundled_lists() {
    let v = taboo_json(&[
        "forms",
        "--json",
        "кошка",
        "mouse",
        "стали",
        "zorblax",
        "42",
    ]);
    let forms = |i: usize| -> Vec<String> {
        v["words"][i]["forms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect()
    };
    assert!(forms(0).contains(&"кошкой".to_string()), "{v}");
    assert!(forms(1).contains(&"mice".to_string()), "{v}");
    let lemmas: Vec<&str> = v["words"][2]["lexemes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lemma"].as_str().unwrap())
        .collect();
    assert!(
        lemmas.contains(&"стать") && lemmas.contains(&"сталь"),
        "{v}"
    );
    assert_eq!(forms(3), ["zorblax", "zorblaxes"]);
    assert_eq!(forms(4), ["42"]);
    assert_eq!(v["words"][4]["known"], false);

    let v = taboo_json(&["forms", "--lists", "--json"]);
    let lists = v["lists"].as_array().unwrap();
    assert_eq!(lists.len(), 2);
    for l in lists {
        assert!(
            l["expanded_entries"].as_u64() > l["entries"].as_u64().map(|n| n / 2),
            "{l}"
        );
        assert_eq!(l["unknown_words"].as_u64(), Some(0), "{l}");
    }
}

#[test]
fn a_missing_dictionary_or_list_is_a_clear_error() {
    let empty = std::env::temp_dir().join(format!("taboo-cli-{}-no-data", std::process::id()));
    let o = taboo()
        .env("TABOO_DATA_DIR", &empty)
        .args(["explain", "--vocab", "r50k", "--forms", "кошка"])
        .output()
        .unwrap();
    assert_clean_failure(&o, "fetch-models.sh");
    assert!(stderr(&o).contains("Russian dictionary"), "{}", stderr(&o));
    // English forms are built in: no dictionary needed.
    let o = taboo()
        .env("TABOO_DATA_DIR", &empty)
        .args(["forms", "mouse"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("mice"));

    let o = taboo()
        .args(["generate", "--ban-list", "no-such-list", "x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("en-profanity, ru-obscene"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_forms_ban_keeps_out_the_forms_a_word_ban_lets_through() {
    let _one_model = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    const PROMPT: &str = "What do cats catch? Answer in one sentence.";
    let free = json_run(&["--max-tokens", "30", PROMPT]);
    let free_text = free["text"].as_str().unwrap();
    assert!(has_word(free_text, "mice"), "unconstrained: {free_text:?}");
    // "mouse" alone is not "mice".
    let word = json_run(&["--max-tokens", "30", "--ban", "mouse", PROMPT]);
    assert!(has_word(word["text"].as_str().unwrap(), "mice"), "{word}");
    let forms = json_run(&["--max-tokens", "30", "--ban", "mouse", "--forms", PROMPT]);
    let text = forms["text"].as_str().unwrap();
    for f in ["mouse", "mice", "mouses"] {
        assert!(!has_word(text, f), "{f} in {text:?}");
    }
    assert!(text.split_whitespace().count() >= 3, "{text:?}");
    // The bundled lists load, expand and ban on the real model.
    let listed = json_run(&[
        "--max-tokens",
        "8",
        "--ban-list",
        "en-profanity",
        "--ban-list",
        "ru-obscene",
        PROMPT,
    ]);
    assert_eq!(listed["stats"]["violations"], 0, "{listed}");
}

#[test]
fn a_moved_binary_still_finds_its_lists_and_the_dictionary() {
    // Nothing the forms need may point into the source tree: copy the binary elsewhere and
    // run it from the root directory.
    let dir = std::env::temp_dir().join(format!("taboo-cli-{}-moved", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let moved = dir.join("taboo");
    std::fs::copy(env!("CARGO_BIN_EXE_taboo"), &moved).unwrap();
    let o = Command::new(&moved)
        .current_dir("/")
        .args(["forms", "--json", "кошка", "mouse"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("кошкой") && out.contains("mice"), "{out}");
    let o = Command::new(&moved)
        .current_dir("/")
        .args(["forms", "--lists"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}
