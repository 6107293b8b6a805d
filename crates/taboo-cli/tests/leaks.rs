//! Ways out of the guarantee that were found by trying the real binary on real models, each
//! pinned by the command that showed it. The promise: in hard and backtrack modes the text
//! never contains a banned word, whatever ends it — a stop string, Ctrl-C, a dead end in the
//! middle of a character — and whatever the prompt ended with.
//!
//! The checks here share no code with the engine: whole words are found with `char`
//! predicates of the standard library.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// One model process at a time (two 2-thread llama.cpp processes on 2 cores crawl).
static MODEL_LOCK: Mutex<()> = Mutex::new(());

fn model(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(name);
    assert!(
        path.is_file(),
        "model {} is missing: run scripts/fetch-models.sh --gemma first",
        path.display()
    );
    path
}

fn smollm2() -> PathBuf {
    model("SmolLM2-135M-Instruct-Q4_1.gguf")
}

fn gemma() -> PathBuf {
    model("gemma-3-270m-q4_k_m.gguf")
}

/// `taboo generate --json ARGS…` on `model`; the parsed JSON line.
fn generate(model: &PathBuf, args: &[&str]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_taboo"))
        .arg("generate")
        .arg("--model")
        .arg(model)
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stderr: {err}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// True if `word` stands in `text` as a whole word, in any letter case: not preceded or
/// followed by a letter, digit or mark (the end of the text counts as a boundary).
fn has_word(text: &str, word: &str) -> bool {
    let text = text.to_lowercase();
    let word = word.to_lowercase();
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_' || is_mark(c);
    text.match_indices(&word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

/// Combining marks of the scripts these tests use (enough: the outputs are checked for
/// Latin words).
fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

#[test]
fn a_stop_string_that_starts_with_a_letter_never_leaves_a_banned_word_before_it() {
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let m = smollm2();
    // "cats" cut by the stop "s" would end the text on "Cat"; "category" cut by "egory"
    // would end it on "cat".
    for (stop, prompt) in [
        ("s", "Write the word \"cats\" five times."),
        ("egory", "Write the word \"category\" three times."),
    ] {
        for mode in ["hard", "backtrack"] {
            let out = generate(
                &m,
                &["--ban", "cat", "--mode", mode, "--stop", stop, prompt],
            );
            let text = out["text"].as_str().unwrap();
            assert!(
                !has_word(text, "cat"),
                "--stop {stop} --mode {mode}: {text:?}"
            );
            assert_eq!(out["finish_reason"], "stop", "{out}");
        }
    }
}

#[test]
fn a_character_left_half_written_is_never_printed() {
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // Every non-ASCII character is banned; the model wants kanji, writes a first byte, and
    // is cornered: the incomplete bytes used to be printed as U+FFFD, itself non-ASCII.
    let out = generate(
        &smollm2(),
        &[
            "--regex",
            "--substring",
            "--mode",
            "hard",
            "--ban",
            "[^\\x00-\\x7F]",
            "--max-tokens",
            "48",
            "Write the Japanese word for cat in kanji.",
        ],
    );
    let text = out["text"].as_str().unwrap();
    assert!(text.is_ascii(), "{text:?} ({})", out["finish_reason"]);
}

#[test]
fn output_whitespace_after_a_prompt_ending_in_whitespace_is_banned_too() {
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = generate(
        &smollm2(),
        &[
            "--raw",
            "--regex",
            "--substring",
            "--ban",
            "\\n",
            "--max-tokens",
            "24",
            "Line one.\nLine two.\n",
        ],
    );
    let text = out["text"].as_str().unwrap();
    assert!(!text.contains('\n'), "{text:?}");
    assert!(!text.is_empty(), "{out}");
}

/// Sends SIGINT to a running `taboo generate` after `delay`; returns its stdout and exit code.
fn interrupted(args: &[&str], delay: Duration) -> (String, Option<i32>) {
    let child = Command::new(env!("CARGO_BIN_EXE_taboo"))
        .arg("generate")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        o.status.code(),
    )
}

#[test]
fn ctrl_c_never_flushes_a_held_back_banned_word() {
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let g = gemma();
    let g = g.to_str().unwrap();
    let prompt = "cat, ".repeat(30);
    // Gemma wants to go on with ", cat"; the guard holds back " cat" until it knows the
    // word ends differently. Interrupted at any moment, that held-back word must go.
    for (i, millis) in [1500u64, 1900, 2300, 2700, 3100, 3500]
        .into_iter()
        .enumerate()
    {
        let json = i % 2 == 1;
        let mut args = vec!["--model", g, "--raw", "--mode", "hard", "--ban", "cat"];
        if json {
            args.push("--json");
        }
        args.push(&prompt);
        let (stdout, code) = interrupted(&args, Duration::from_millis(millis));
        let text = if json {
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            v["text"].as_str().unwrap().to_string()
        } else {
            stdout
        };
        assert!(!has_word(&text, "cat"), "after {millis} ms: {text:?}");
        assert!(matches!(code, Some(130) | Some(0)), "exit {code:?}");
    }
}

#[test]
fn ctrl_c_stops_a_long_prompt_before_it_is_processed() {
    let _lock = MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let m = smollm2();
    // About 1,900 tokens: seven seconds of prefill on two cores, fed in chunks of 512.
    let prompt = "The quick brown fox jumps over the lazy dog. ".repeat(190);
    let (stdout, code) = interrupted(
        &["--model", m.to_str().unwrap(), "--raw", "--json", &prompt],
        Duration::from_millis(2500),
    );
    assert_eq!(code, Some(130));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["finish_reason"], "interrupted");
    assert_eq!(v["stats"]["generated_tokens"], 0);
    // The prefill never completed: it was cut between chunks, not waited out.
    assert_eq!(v["stats"]["prompt_tokens_per_second"], 0.0, "{v}");
}

#[test]
fn the_word_checker_finds_whole_words_only() {
    assert!(has_word("A Cat.", "cat"));
    assert!(has_word("cat", "cat"));
    assert!(!has_word("category cats", "cat"));
    assert!(!has_word("cat\u{301}", "cat"));
}
