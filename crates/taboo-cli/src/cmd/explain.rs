//! `taboo explain`: how many ways a model can spell each banned word, and how few of them a
//! token-id ban covers.
//!
//! For every entry it counts, exactly (a dynamic programme, never an enumeration), the token
//! sequences whose bytes spell each variant — as written, lower case, Capitalised, UPPER
//! case, each with and without a leading space — and how many of them the naive baseline
//! (`--mode naive`, Hugging Face `bad_words_ids` semantics) bans: only the sequences it was
//! given, the tokenizer's own tokenization of each variant.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use taboo::{
    BanList, EntryOptions, SpellingCount, Spellings, TiktokenEncoding, TokenId, Vocabulary,
};

use crate::hints::context;
use crate::model_args::ModelArgs;
use crate::output::Stdout;
use crate::report::{
    self, CountedEntry, ExplainEntry, ExplainReport, Lattice, LatticeArc, RegexEntry, VariantReport,
};
use crate::show::show_token;
use crate::tiktoken_args::{encoder, parse_vocab};
use crate::CliResult;

/// A tokenizer: text in, the model's own token ids out.
type Tokenizer<'a> = dyn Fn(&str) -> Vec<TokenId> + 'a;

/// Count the token spellings of banned words and how many a token-id ban covers.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo explain cat                         # on the default model (SmolLM2)\n  \
    taboo explain --vocab o200k elephant бесплатно\n  \
    taboo explain --ban-file bans.txt --json\n  \
    taboo explain --vocab r50k --html elephant.html elephant\n  \
    taboo explain --model models/gemma-3-270m-q4_k_m.gguf кошка\n  \
    taboo explain --vocab o200k --forms mouse     # mouse, mice, mouses, moused …\n\n\
    A spelling is a token sequence whose bytes are exactly the variant's bytes. The naive\n\
    column counts the spellings a token-id ban (the tokenizer's own tokenization of each\n\
    variant) blocks; taboo's ban blocks all of them.")]
pub struct Args {
    /// Words or phrases to explain.
    #[arg(value_name = "WORD")]
    words: Vec<String>,
    /// A ban file (see `taboo generate --help`); its plain entries are explained too.
    #[arg(long, value_name = "FILE")]
    ban_file: Option<PathBuf>,
    /// Use a tiktoken vocabulary instead of a model: r50k, cl100k or o200k.
    #[arg(long, value_name = "NAME", value_parser = parse_vocab)]
    vocab: Option<TiktokenEncoding>,
    #[command(flatten)]
    model: ModelArgs,
    /// Spellings shown per variant.
    #[arg(long, value_name = "N", default_value_t = 3)]
    samples: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report (tables and tokenization lattices) to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Explain every inflected form of each word too (what a `forms` ban covers: кошка →
    /// кошки, кошку …). The token-id baseline is given the word as written, as its users
    /// would; its column counts the spellings identical to one of its sequences, so a form
    /// spelled through the word's own token (["mouse", "s"]), which a last-token ban would
    /// also stop, counts as not blocked.
    #[arg(long)]
    forms: bool,
}

/// One text to explain: a list entry, or one form of it (`form_of` names the entry).
struct Item {
    text: String,
    case_sensitive: bool,
    regex: bool,
    form_of: Option<String>,
}

/// The entries to explain, each expanded into its forms when asked.
fn items(list: &BanList, forms: bool) -> CliResult<Vec<Item>> {
    let morphology = taboo::forms::Morphology::new();
    let mut out = Vec::new();
    for entry in list.entries() {
        let case_sensitive = entry.options().case_sensitive;
        let regex = entry.options().regex;
        if regex || !(forms || entry.options().forms) {
            out.push(Item {
                text: entry.text().to_string(),
                case_sensitive,
                regex,
                form_of: None,
            });
            continue;
        }
        for form in morphology
            .phrase_forms(entry.text())
            .map_err(context(format!("{:?}", entry.text())))?
        {
            out.push(Item {
                form_of: (form != entry.text()).then(|| entry.text().to_string()),
                text: form,
                case_sensitive,
                regex,
            });
        }
    }
    Ok(out)
}

/// The arcs of a variant's tokenization lattice: every token on some complete spelling, with
/// whether it belongs to the tokenizer's own spelling (`canonical`, the one a token-id ban
/// knows). At most `limit` arcs, shortest spans first.
fn lattice(
    spellings: &Spellings,
    vocab: &Vocabulary,
    text: &[u8],
    canonical: &[TokenId],
    limit: usize,
) -> Vec<LatticeArc> {
    let mut canon_spans = Vec::new();
    let mut at = 0;
    for &t in canonical {
        let len = vocab.token_bytes(t).map_or(0, <[u8]>::len);
        canon_spans.push((at, at + len, t));
        at += len;
    }
    // An arc lies on a complete spelling when its start can be reached from the text's
    // start and its end can reach the text's end.
    let ways = spellings.suffix_counts(text);
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    let mut arcs = Vec::new();
    for i in 0..text.len() {
        if !reachable[i] {
            continue;
        }
        for t in spellings.tokens_at(&text[i..]) {
            let len = vocab.token_bytes(t).map_or(0, <[u8]>::len);
            if len == 0 {
                continue;
            }
            reachable[i + len] = true;
            if ways[i + len] != 0u128 {
                arcs.push((len, i, t));
            }
        }
    }
    arcs.sort();
    arcs.truncate(limit);
    arcs.into_iter()
        .map(|(len, i, t)| LatticeArc {
            from: i,
            to: i + len,
            token: show_token(vocab.token_bytes(t).unwrap_or(&[])),
            canonical: canon_spans.contains(&(i, i + len, t)),
        })
        .collect()
}

/// The case and space variants of a word, deduplicated, in a fixed order.
pub fn variants(word: &str, case_sensitive: bool) -> Vec<String> {
    let mut forms = vec![word.to_string()];
    if !case_sensitive {
        let lower = word.to_lowercase();
        let mut capital: String = lower.chars().take(1).flat_map(char::to_uppercase).collect();
        capital.extend(lower.chars().skip(1));
        forms.extend([lower, capital, word.to_uppercase()]);
    }
    let mut out: Vec<String> = Vec::new();
    for f in forms {
        for v in [f.clone(), format!(" {f}")] {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// Runs `taboo explain`.
pub fn run(args: Args) -> CliResult {
    let mut list = BanList::new();
    for w in &args.words {
        list.add(w, EntryOptions::default())?;
    }
    if let Some(path) = &args.ban_file {
        let file = BanList::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        list.extend(file);
    }
    if list.is_empty() {
        return Err("nothing to explain: give words or --ban-file (see --help)".into());
    }

    // The vocabulary and the tokenizer that defines the naive baseline's sequences.
    let engine;
    let bpe;
    let (vocab, tokenize, source): (Vocabulary, Box<Tokenizer<'_>>, String) = match args.vocab {
        Some(enc) => {
            bpe = encoder(enc)?;
            let bpe = &bpe;
            (
                Vocabulary::tiktoken(enc)?,
                Box::new(move |t: &str| bpe.encode_ordinary(t)),
                enc.name().to_string(),
            )
        }
        None => {
            engine = args.model.load()?;
            let e = &engine;
            (
                taboo_llm::vocabulary_from_engine(e),
                Box::new(move |t: &str| taboo_llm::Engine::tokenize(e, t, false)),
                args.model.path().display().to_string(),
            )
        }
    };
    let spellings = Spellings::new(&vocab);

    let mut entries = Vec::new();
    let (mut total, mut covered) = (SpellingCount::ZERO, 0u128);
    for item in items(&list, args.forms)? {
        if item.regex {
            entries.push(ExplainEntry::Regex(RegexEntry {
                entry: item.text,
                regex: true,
            }));
            continue;
        }
        // The baseline bans the entry as its user wrote it, not each form.
        let written = item.form_of.clone().unwrap_or_else(|| item.text.clone());
        let naive = taboo::NaiveGuard::spellings(&*tokenize, &[written], true);
        let mut rows = Vec::new();
        let (mut e_total, mut e_covered) = (SpellingCount::ZERO, 0u128);
        for (vi, v) in variants(&item.text, item.case_sensitive)
            .into_iter()
            .enumerate()
        {
            let count = spellings.count(v.as_bytes());
            let blocked = naive
                .iter()
                .filter(|s| vocab.decode(s) == v.as_bytes())
                .count() as u128;
            let samples: Vec<Vec<String>> = spellings
                .sample(v.as_bytes(), args.samples)
                .iter()
                .map(|sp| {
                    sp.iter()
                        .map(|&t| show_token(vocab.token_bytes(t).unwrap_or(&[])))
                        .collect()
                })
                .collect();
            e_total = e_total.saturating_add(count);
            e_covered += blocked;
            // The lattice of the word as written and with a leading space: enough to see
            // how a word comes apart, small enough to draw.
            let lattice = (args.html.is_some() && vi < 2).then(|| {
                let canonical = tokenize(&v);
                Lattice {
                    bytes: v.len(),
                    arcs: lattice(&spellings, &vocab, v.as_bytes(), &canonical, 400),
                }
            });
            rows.push(VariantReport {
                variant: v,
                spellings: count.to_string(),
                naive_blocks: blocked.to_string(),
                samples,
                lattice,
            });
        }
        total = total.saturating_add(e_total);
        covered += e_covered;
        entries.push(ExplainEntry::Counted(CountedEntry {
            entry: item.text,
            form_of: item.form_of,
            spellings: e_total.to_string(),
            naive_blocks: e_covered.to_string(),
            variants: rows,
        }));
    }

    let report = ExplainReport {
        vocabulary: source,
        tokens: vocab.len(),
        entries,
        spellings: total.to_string(),
        naive_blocks: covered.to_string(),
    };
    if let Some(path) = &args.html {
        std::fs::write(path, crate::html::explain_page(&report))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let mut stdout = Stdout::lock();
    if args.json {
        writeln!(stdout, "{}", report::to_json(&report)?)?;
        stdout.finish()?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        stdout,
        "vocabulary: {} ({} tokens)",
        report.vocabulary, report.tokens
    )?;
    for e in &report.entries {
        writeln!(stdout)?;
        let e = match e {
            ExplainEntry::Regex(r) => {
                // Quoted as a JSON string, as the entry reads in `--json`.
                let quoted = serde_json::Value::from(r.entry.as_str());
                writeln!(stdout, "{quoted}  (regex: spellings are not counted)")?;
                continue;
            }
            ExplainEntry::Counted(e) => e,
        };
        match &e.form_of {
            Some(of) => writeln!(stdout, "{}  (a form of {of})", e.entry)?,
            None => writeln!(stdout, "{}", e.entry)?,
        }
        writeln!(
            stdout,
            "  {:<24} {:>14} {:>12}  e.g.",
            "variant", "spellings", "naive bans"
        )?;
        for r in &e.variants {
            let sample: Vec<String> = r
                .samples
                .iter()
                .map(|sp| format!("[{}]", sp.join(" ")))
                .collect();
            writeln!(
                stdout,
                "  {:<24} {:>14} {:>12}  {}",
                show_token(r.variant.as_bytes()),
                r.spellings,
                r.naive_blocks,
                sample.join(" ")
            )?;
        }
        writeln!(
            stdout,
            "  {:<24} {:>14} {:>12}",
            "all variants", e.spellings, e.naive_blocks
        )?;
    }
    let share = if total.value() > 0 {
        covered as f64 / total.value() as f64 * 100.0
    } else {
        0.0
    };
    writeln!(stdout,
        "\n{} entries: {total} spellings; a token-id ban blocks {covered} of them ({share:.2}%), taboo blocks all",
        report.entries.len()
    )?;
    stdout.finish()?;
    Ok(ExitCode::SUCCESS)
}
