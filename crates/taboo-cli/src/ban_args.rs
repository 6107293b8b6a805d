//! The ban flags (`--ban`, `--ban-file`, `--mode` …) and the one place where they become a
//! guard from the core crate, so that every subcommand bans words the same way.

use std::path::PathBuf;
use std::sync::Arc;

use taboo::{Ban, BanBuilder, GuardConfig, LogitsGuard, NaiveGuard};
use taboo_llm::{Backtrack, Engine};

use crate::numbers;
use crate::CliResult;

/// How banned words are kept out of the output.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Hard, plus rewinding out of dead ends: when the ban leaves the model cornered (" cat"
    /// written, every ending of the word banned), the text is taken back to where the banned
    /// word began and that token is forbidden there. Same guarantee as hard, more fluent text.
    Backtrack,
    /// Banned continuations get probability 0, in every tokenization and letter case.
    Hard,
    /// Tokens that would complete a banned word get a finite logit penalty (`--penalty`).
    Soft,
    /// Baseline: ban the last token of the word's own tokenizations, as Hugging Face
    /// `bad_words_ids` does. Leaks through other tokenizations.
    Naive,
    /// No ban at all (for comparison).
    Off,
}

/// The settings of backtrack mode, shared by `generate` and `compare-modes`.
#[derive(clap::Args, Debug, Clone)]
pub struct BacktrackArgs {
    /// Backtrack mode: rewind when a banned word is half-written and the ban leaves less than
    /// this share of the probability (0.5: the model wanted to end the word more than to go
    /// on with any allowed continuation). In [0, 1]: 0 never rewinds; 1 rewinds at any edit.
    #[arg(
        long,
        value_name = "MASS",
        default_value_t = Backtrack::default().min_mass_left,
        allow_hyphen_values = true,
        value_parser = numbers::share,
    )]
    pub backtrack_below: f32,
    /// Backtrack mode: most rewinds to one position (each forbids one more token there);
    /// then that position is left to hard masking.
    #[arg(long, value_name = "N", default_value_t = Backtrack::default().retries_per_position)]
    pub backtrack_retries: usize,
    /// Backtrack mode: most rewinds in one generation; then it goes on in hard mode.
    #[arg(long, value_name = "N", default_value_t = Backtrack::default().max_backtracks)]
    pub backtrack_budget: usize,
}

impl BacktrackArgs {
    /// The options the generation loop takes.
    pub fn options(&self) -> Backtrack {
        Backtrack::default()
            .with_min_mass_left(self.backtrack_below)
            .with_retries_per_position(self.backtrack_retries)
            .with_max_backtracks(self.backtrack_budget)
    }
}

/// Which words to ban and how.
#[derive(clap::Args, Debug, Clone)]
pub struct BanArgs {
    /// A word or phrase to ban; repeat for more.
    #[arg(long = "ban", value_name = "WORD")]
    pub ban: Vec<String>,
    /// A file of banned entries, one per line; `#` starts a comment line, and a line may
    /// start with options in brackets: `[regex] colou?r`, `[case substring] NASA`,
    /// `[forms disguise] кошка`.
    #[arg(long, value_name = "FILE")]
    pub ban_file: Option<PathBuf>,
    /// A ban list carried inside taboo, by name; repeat for more. en-profanity: English
    /// profanity (naughty-words, CC BY 4.0); ru-obscene: Russian obscene vocabulary
    /// (slaviclean, MIT). Both ban every form and disguise of their words.
    #[arg(long, value_name = "NAME", value_parser = parse_list_name)]
    pub ban_list: Vec<&'static taboo::lists::BundledList>,
    /// How the ban is enforced.
    #[arg(long, value_enum, default_value_t = Mode::Backtrack)]
    pub mode: Mode,
    /// Logit penalty of soft mode, at least 0.
    #[arg(
        long,
        value_name = "X",
        default_value_t = 10.0,
        allow_hyphen_values = true,
        value_parser = numbers::penalty,
    )]
    pub penalty: f32,
    #[command(flatten)]
    pub backtrack: BacktrackArgs,
    /// Ban only the exact letter case given (default: every case).
    #[arg(long)]
    pub case_sensitive: bool,
    /// Ban the text anywhere, also inside longer words (default: whole words only, so
    /// banning "cat" keeps "category").
    #[arg(long)]
    pub substring: bool,
    /// Treat each --ban as a regular expression.
    #[arg(long)]
    pub regex: bool,
    /// Also ban disguised spellings of every plain entry (--ban, --ban-file, --ban-list):
    /// look-alike letters ("сat" with a Cyrillic с), invisible characters ("c\u{200B}at",
    /// accents) and full-width forms.
    #[arg(long)]
    pub disguise: bool,
    /// Also ban every inflected form of every plain entry (--ban, --ban-file, --ban-list):
    /// кошка → кошки, кошку, кошкой …; cat → cats; run → runs, ran, running. Russian forms
    /// come from the OpenCorpora dictionary that scripts/fetch-models.sh installs; English
    /// ones are built in. `taboo forms WORD` shows them.
    #[arg(long)]
    pub forms: bool,
}

/// Looks a `--ban-list` name up among the bundled lists.
fn parse_list_name(name: &str) -> Result<&'static taboo::lists::BundledList, String> {
    taboo::lists::find(name).ok_or_else(|| {
        format!(
            "no bundled list called {name:?}; the lists are: {}",
            taboo::lists::names().join(", ")
        )
    })
}

impl BanArgs {
    /// The flags as a [`taboo::BanBuilder`]: the lines of `--ban-file`, the `--ban-list`s,
    /// and every `--ban` with the options the flags give; `--forms` and `--disguise` widen
    /// every plain entry.
    pub fn builder(&self) -> BanBuilder {
        let mut builder = Ban::builder();
        if let Some(path) = &self.ban_file {
            builder.file(path);
        }
        for bundled in &self.ban_list {
            builder.list(bundled.name);
        }
        builder
            .words(&self.ban)
            .regex(self.regex)
            .case_sensitive(self.case_sensitive)
            .substring(self.substring)
            .forms(self.forms)
            .disguise(self.disguise);
        builder
    }

    /// The compiled ban. Words the Russian dictionary does not know are named on stderr
    /// (they are banned as written).
    pub fn ban(&self) -> CliResult<Ban> {
        let ban = self.builder().build()?;
        let unknown = &ban.forms_report().unknown;
        if !unknown.is_empty() {
            let shown: Vec<&str> = unknown.iter().take(10).map(String::as_str).collect();
            let more = unknown.len().saturating_sub(shown.len());
            eprintln!(
                "taboo: not in the Russian dictionary, banned as written only: {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        Ok(ban)
    }

    /// Backtracking settings: on in backtrack mode (and only when something is banned).
    pub fn backtrack(&self) -> Option<Backtrack> {
        (self.mode == Mode::Backtrack).then(|| self.backtrack.options())
    }

    /// Builds the guard for `engine`'s vocabulary, or `None` when nothing is banned.
    pub fn guard(&self, engine: &dyn Engine) -> CliResult<Option<Box<dyn LogitsGuard>>> {
        if self.mode == Mode::Off {
            return Ok(None);
        }
        let ban = self.ban()?;
        if ban.is_empty() {
            return Ok(None);
        }
        let vocab = Arc::new(taboo_llm::vocabulary_from_engine(engine));
        if self.mode == Mode::Naive {
            // The baseline knows words, not patterns: regex entries are passed as written.
            let words: Vec<String> = ban
                .expanded_list()?
                .entries()
                .iter()
                .map(|e| e.text().to_string())
                .collect();
            let tokenize = |text: &str| engine.tokenize(text, false);
            return Ok(Some(Box::new(NaiveGuard::from_words(
                vocab, &words, &tokenize, true,
            ))));
        }
        let mode = match self.mode {
            Mode::Soft => taboo::Mode::Soft {
                penalty: self.penalty,
                partial_penalty: 0.0,
            },
            _ => taboo::Mode::Hard,
        };
        let config = GuardConfig::default().with_mode(mode);
        Ok(Some(Box::new(ban.guard_with(&vocab, config))))
    }
}
