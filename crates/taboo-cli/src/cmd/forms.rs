//! `taboo forms`: the word forms a `forms` ban stands for, and the bundled lists.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::json;
use taboo::forms::{Language, Morphology};
use taboo::lists::LISTS;

use crate::hints::context;
use crate::output::Stdout;
use crate::CliResult;

/// Print every inflected form a `forms` ban of each word covers.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo forms кошка                 # кошки, кошке, кошку, кошкой, кошкою, кошек …\n  \
    taboo forms run mouse good        # ran, running; mice; better, best\n  \
    taboo forms стали                 # a form of two lexemes: стать and сталь, both banned\n  \
    taboo forms 'чёрная кошка'        # a phrase: every combination of its words' forms\n  \
    taboo forms --json кошка\n  \
    taboo forms --lists               # the bundled lists and how many forms they ban\n\n\
    Russian forms come from the OpenCorpora dictionary (as compiled for pymorphy3), which\n\
    scripts/fetch-models.sh installs into $TABOO_DATA_DIR, else $XDG_DATA_HOME/taboo, else\n\
    ~/.local/share/taboo. A word form that belongs to several lexemes bans all of them; ё and\n\
    е are interchangeable. English forms (plurals, verb forms, comparatives, with WordNet's\n\
    irregular forms) are built in; derivations such as runner or category are not forms.")]
pub struct Args {
    /// Words or phrases.
    #[arg(value_name = "WORD", required_unless_present = "lists")]
    words: Vec<String>,
    /// Print one JSON object instead of the listing.
    #[arg(long)]
    json: bool,
    /// Show the bundled ban lists (`--ban-list NAME`) with their size after expansion.
    #[arg(long)]
    lists: bool,
}

/// Runs `taboo forms`.
pub fn run(args: Args) -> CliResult {
    let morphology = Morphology::new();
    if args.lists {
        return lists(&morphology, args.json);
    }
    let mut out = Vec::new();
    for word in &args.words {
        let word = word.trim();
        if word.is_empty() {
            return Err("an empty word has no forms".into());
        }
        let is_phrase = taboo::forms::split_words(word)
            .iter()
            .filter(|(w, _)| *w)
            .count()
            != 1;
        if is_phrase {
            let forms = morphology
                .phrase_forms(word)
                .map_err(context(format!("{word:?}")))?;
            out.push(json!({"word": word, "phrase": true, "forms": forms}));
            continue;
        }
        let wf = morphology.word_forms(word)?;
        let language = match Language::of(word) {
            Language::Russian => "ru",
            Language::English => "en",
            Language::Other => "other",
        };
        let lexemes: Vec<_> = wf
            .lexemes
            .iter()
            .map(|l| json!({"lemma": l.lemma, "pos": l.pos, "forms": l.forms}))
            .collect();
        out.push(json!({
            "word": word,
            "language": language,
            "known": !wf.lexemes.is_empty(),
            "lexemes": lexemes,
            "forms": wf.forms,
        }));
    }
    let mut stdout = Stdout::lock();
    if args.json {
        writeln!(stdout, "{}", json!({ "words": out }))?;
        stdout.finish()?;
        return Ok(ExitCode::SUCCESS);
    }
    for (i, w) in out.iter().enumerate() {
        if i > 0 {
            writeln!(stdout)?;
        }
        let word = w["word"].as_str().unwrap_or("");
        let forms = strings(&w["forms"]);
        if w["phrase"] == true {
            writeln!(
                stdout,
                "{word}: {} forms (every combination of its words' forms)",
                forms.len()
            )?;
            writeln!(stdout, "  {}", forms.join(", "))?;
            continue;
        }
        if w["known"] == false {
            let why = if w["language"] == "ru" {
                "not in the Russian dictionary: only the word as written is banned"
            } else {
                "no letters to inflect: only the word as written is banned"
            };
            writeln!(stdout, "{word}: {why}")?;
            continue;
        }
        writeln!(stdout, "{word}: {} forms", forms.len())?;
        for l in w["lexemes"].as_array().into_iter().flatten() {
            writeln!(
                stdout,
                "  {} ({}): {}",
                l["lemma"].as_str().unwrap_or(""),
                l["pos"].as_str().unwrap_or(""),
                strings(&l["forms"]).join(", ")
            )?;
        }
        let extra: Vec<&str> = forms
            .iter()
            .copied()
            .filter(|f| {
                !w["lexemes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|l| strings(&l["forms"]).contains(f))
            })
            .collect();
        if !extra.is_empty() {
            writeln!(
                stdout,
                "  also (ё written as е, or as asked): {}",
                extra.join(", ")
            )?;
        }
    }
    stdout.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn strings(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .collect()
}

fn lists(morphology: &Morphology, as_json: bool) -> CliResult {
    let mut rows = Vec::new();
    for list in LISTS {
        let parsed = list.parse()?;
        let start = Instant::now();
        let (expanded, report) = parsed.expand_forms(morphology)?;
        rows.push(json!({
            "name": list.name,
            "description": list.description,
            "entries": parsed.len(),
            "expanded_entries": expanded.len(),
            "unknown_words": report.unknown.len(),
            "expand_ms": start.elapsed().as_secs_f64() * 1e3,
        }));
    }
    let mut stdout = Stdout::lock();
    if as_json {
        writeln!(stdout, "{}", json!({ "lists": rows }))?;
        stdout.finish()?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        stdout,
        "{:<14} {:>8} {:>10}  description",
        "name", "entries", "with forms"
    )?;
    for r in &rows {
        writeln!(
            stdout,
            "{:<14} {:>8} {:>10}  {}",
            r["name"].as_str().unwrap_or(""),
            r["entries"].as_u64().unwrap_or(0),
            r["expanded_entries"].as_u64().unwrap_or(0),
            r["description"].as_str().unwrap_or("")
        )?;
    }
    writeln!(stdout, "\nUse one with: taboo generate --ban-list NAME …")?;
    stdout.finish()?;
    Ok(ExitCode::SUCCESS)
}
