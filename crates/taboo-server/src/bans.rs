//! From a request's ban fields to the guard of its sequence.
//!
//! A request's `banned_words` and `ban_lists` are normalised into a [`BanKey`] (ban-file
//! lines and list names, sorted and deduplicated), so that the same ban asked for twice, in
//! any order, is compiled once: [`BanCompiler`] keeps the compiled [`MaskTable`]s in a
//! bounded LRU cache. The server-wide bans are added to every compile — one automaton over
//! both lists — so a request can add bans but never lift one. Compiling runs on tokio's
//! blocking pool, never on the decode thread.
//!
//! `logit_bias` is added by [`RequestGuard`] before the ban guard sees the logits: a bias
//! can make a token likelier, but a banned token still gets `-inf` after it.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use taboo::forms::Morphology;
use taboo::{
    Applied, Ban, BanError, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable,
    RollbackError, TokenId, Violation, Vocabulary,
};

/// How a request's bans are enforced (the request field `ban_mode`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BanMode {
    /// Banned continuations get probability 0, and the model is rewound out of dead ends.
    Backtrack,
    /// Banned continuations get probability 0.
    Hard,
    /// Tokens that would complete a banned word lose `penalty` from their logit.
    Soft {
        /// The logit penalty.
        penalty: f32,
    },
}

impl BanMode {
    /// The guard settings of this mode.
    pub fn guard_config(self) -> GuardConfig {
        let mode = match self {
            BanMode::Soft { penalty } => taboo::Mode::Soft {
                penalty,
                partial_penalty: 0.0,
            },
            BanMode::Backtrack | BanMode::Hard => taboo::Mode::Hard,
        };
        GuardConfig::default().with_mode(mode)
    }

    /// The name used in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            BanMode::Backtrack => "backtrack",
            BanMode::Hard => "hard",
            BanMode::Soft { .. } => "soft",
        }
    }
}

/// A request's own bans, normalised: ban-file lines and bundled list names, each sorted and
/// without repeats. Two requests that ban the same entries share one compiled table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BanKey {
    /// One ban-file line per entry (`[regex case] colou?r`, `\cat`).
    pub lines: Vec<String>,
    /// Names of bundled lists.
    pub lists: Vec<String>,
}

impl BanKey {
    /// A key from entries in any order, with repeats.
    pub fn new(mut lines: Vec<String>, mut lists: Vec<String>) -> BanKey {
        lines.sort_unstable();
        lines.dedup();
        lists.sort_unstable();
        lists.dedup();
        BanKey { lines, lists }
    }

    /// True when the request bans nothing of its own.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.lists.is_empty()
    }
}

/// The ban-file line for one entry: its options in brackets, or a `\` that keeps a text
/// starting with `#` or `[` from being read as a comment or options. Parsing the line gives
/// the entry back.
///
/// ```
/// use taboo::EntryOptions;
/// use taboo_server::entry_line;
/// assert_eq!(entry_line("cat", EntryOptions::default()), "\\cat");
/// let regex = EntryOptions::default().with_regex(true).with_whole_word(false);
/// assert_eq!(entry_line("colou?r", regex), "[regex substring] colou?r");
/// ```
pub fn entry_line(text: &str, options: EntryOptions) -> String {
    let mut flags = Vec::new();
    if options.regex {
        flags.push("regex");
    }
    if options.case_sensitive {
        flags.push("case");
    }
    if !options.whole_word {
        flags.push("substring");
    }
    if options.forms {
        flags.push("forms");
    }
    if options.disguise {
        flags.push("disguise");
    }
    if flags.is_empty() {
        format!("\\{text}")
    } else {
        format!("[{}] {text}", flags.join(" "))
    }
}

/// Compiles bans (server-wide plus a request's) into mask tables for the model's
/// vocabulary, and keeps the most recently used ones.
pub struct BanCompiler {
    server_lines: Vec<String>,
    vocab: Arc<Vocabulary>,
    morphology: Arc<Morphology>,
    /// `None` values: the combined ban is empty (no server bans, none asked for).
    cache: Mutex<LruCache<BanKey, Option<Arc<MaskTable>>>>,
}

impl BanCompiler {
    /// A compiler whose every ban includes `server` (the `taboo serve --ban …` list, as
    /// written: word forms not yet expanded), keeping up to `capacity` compiled bans. The
    /// server-wide ban alone is compiled now, so a bad entry fails at start-up.
    pub fn new(
        server: &BanList,
        vocab: Arc<Vocabulary>,
        capacity: usize,
    ) -> Result<BanCompiler, BanError> {
        let compiler = BanCompiler {
            server_lines: server
                .entries()
                .iter()
                .map(|e| entry_line(e.text(), e.options()))
                .collect(),
            vocab,
            morphology: Arc::new(Morphology::new()),
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity.max(1)).expect("at least 1"),
            )),
        };
        compiler.compile(&BanKey::default())?;
        Ok(compiler)
    }

    /// True when the server bans something on its own.
    pub fn has_server_bans(&self) -> bool {
        !self.server_lines.is_empty()
    }

    /// The compiled table for `key`, if it is in the cache (marked as recently used).
    pub fn cached(&self, key: &BanKey) -> Option<Option<Arc<MaskTable>>> {
        self.lock().get(key).cloned()
    }

    /// Builds, compiles and warms up the table of the server bans plus `key`'s, caches it
    /// and returns it (`None` when the combined ban is empty). Slow for long lists: call it
    /// off the decode thread.
    pub fn compile(&self, key: &BanKey) -> Result<Option<Arc<MaskTable>>, BanError> {
        let mut builder = Ban::builder();
        builder.morphology(Arc::clone(&self.morphology));
        for line in self.server_lines.iter().chain(&key.lines) {
            builder.entry(line);
        }
        for name in &key.lists {
            builder.list(name);
        }
        let ban = builder.build()?;
        let table = (!ban.is_empty()).then(|| ban.table(&self.vocab));
        self.lock().put(key.clone(), table.clone());
        Ok(table)
    }

    /// Compiled bans in the cache.
    pub fn cached_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<BanKey, Option<Arc<MaskTable>>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The guard of one request: its `logit_bias` added to the logits, then its ban guard (if it
/// bans anything). Token ids in `bias` are checked against the vocabulary by the caller.
pub struct RequestGuard {
    bias: Vec<(TokenId, f32)>,
    ban: Option<Guard>,
    /// Tokens advanced, for when there is no ban guard to count them.
    position: usize,
}

impl RequestGuard {
    /// `None` when there is nothing to do (no bias, no ban), so the sequence runs unguarded.
    pub fn new(bias: Vec<(TokenId, f32)>, ban: Option<Guard>) -> Option<RequestGuard> {
        if bias.is_empty() && ban.is_none() {
            return None;
        }
        Some(RequestGuard {
            bias,
            ban,
            position: 0,
        })
    }

    fn add_bias(&self, logits: &mut [f32]) {
        for &(token, bias) in &self.bias {
            if let Some(l) = logits.get_mut(token as usize) {
                *l += bias;
            }
        }
    }
}

impl LogitsGuard for RequestGuard {
    fn prime(&mut self, text: &[u8]) {
        if let Some(g) = &mut self.ban {
            g.prime(text);
        }
    }

    fn apply(&mut self, logits: &mut [f32]) -> Applied {
        self.add_bias(logits);
        match &mut self.ban {
            Some(g) => g.apply(logits),
            None => Applied::default(),
        }
    }

    fn apply_final(&mut self, logits: &mut [f32]) -> Applied {
        self.add_bias(logits);
        match &mut self.ban {
            Some(g) => g.apply_final(logits),
            None => Applied::default(),
        }
    }

    fn advance(&mut self, token: TokenId) -> Result<(), Violation> {
        self.position += 1;
        match &mut self.ban {
            Some(g) => g.advance(token),
            None => Ok(()),
        }
    }

    fn rollback(&mut self, n: usize) -> Result<(), RollbackError> {
        if let Some(g) = &mut self.ban {
            g.rollback(n)?;
        }
        self.position = self.position.saturating_sub(n);
        Ok(())
    }

    fn position(&self) -> usize {
        match &self.ban {
            Some(g) => g.position(),
            None => self.position,
        }
    }

    fn open_since(&self) -> Option<usize> {
        self.ban.as_ref().and_then(|g| g.open_since())
    }

    fn ends_in_match(&self) -> bool {
        self.ban.as_ref().is_some_and(|g| g.ends_in_match())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> (Arc<Vocabulary>, TokenId, TokenId, TokenId) {
        let mut b = Vocabulary::builder();
        let cat = b.text(" cat");
        let dot = b.text(".");
        let s = b.text("s");
        (Arc::new(b.build()), cat, dot, s)
    }

    #[test]
    fn entry_lines_parse_back_to_the_entry() {
        let cases = [
            ("cat", EntryOptions::default()),
            ("#hashtag", EntryOptions::default()),
            ("[bracket", EntryOptions::default()),
            ("colou?r", EntryOptions::default().with_regex(true)),
            (
                "NASA",
                EntryOptions::default()
                    .with_case_sensitive(true)
                    .with_whole_word(false)
                    .with_disguise(true)
                    .with_forms(true),
            ),
        ];
        for (text, options) in cases {
            let line = entry_line(text, options);
            let list = BanList::parse(&line).unwrap();
            assert_eq!(list.len(), 1, "{line}");
            assert_eq!(list.entries()[0].text(), text, "{line}");
            assert_eq!(list.entries()[0].options(), options, "{line}");
        }
    }

    #[test]
    fn keys_ignore_order_and_repeats() {
        let a = BanKey::new(vec!["\\dog".into(), "\\cat".into(), "\\dog".into()], vec![]);
        let b = BanKey::new(vec!["\\cat".into(), "\\dog".into()], vec![]);
        assert_eq!(a, b);
    }

    #[test]
    fn server_bans_are_in_every_table_and_tables_are_cached() {
        let (vocab, cat, dot, _) = vocab();
        let server = BanList::from_words(["cat"], EntryOptions::default()).unwrap();
        let compiler = BanCompiler::new(&server, vocab, 2).unwrap();
        assert!(compiler.has_server_bans());
        let key = BanKey::new(vec!["\\dog".into()], vec![]);
        assert!(compiler.cached(&key).is_none());
        let table = compiler
            .compile(&key)
            .unwrap()
            .expect("something is banned");
        let again = compiler.cached(&key).unwrap().unwrap();
        assert!(Arc::ptr_eq(&table, &again));
        // The request banned only "dog"; the server's "cat" is still banned.
        let mut guard = Guard::new(table, GuardConfig::default());
        guard.advance(cat).unwrap();
        let mut logits = vec![0.0; 3];
        guard.apply(&mut logits);
        assert_eq!(logits[dot as usize], f32::NEG_INFINITY);
        // Bounded: a third key evicts the least recently used.
        compiler
            .compile(&BanKey::new(vec!["\\cow".into()], vec![]))
            .unwrap();
        compiler
            .compile(&BanKey::new(vec!["\\hen".into()], vec![]))
            .unwrap();
        assert_eq!(compiler.cached_count(), 2);
        assert!(compiler.cached(&key).is_none());
    }

    #[test]
    fn no_bans_compile_to_no_table() {
        let (vocab, ..) = vocab();
        let compiler = BanCompiler::new(&BanList::new(), vocab, 4).unwrap();
        assert!(!compiler.has_server_bans());
        assert!(compiler.compile(&BanKey::default()).unwrap().is_none());
    }

    #[test]
    fn a_bias_never_lifts_a_ban() {
        let (vocab, cat, dot, s) = vocab();
        let compiler = BanCompiler::new(
            &BanList::from_words(["cat"], EntryOptions::default()).unwrap(),
            vocab,
            1,
        )
        .unwrap();
        let table = compiler.compile(&BanKey::default()).unwrap().unwrap();
        let guard = Guard::new(table, GuardConfig::default());
        let mut g = RequestGuard::new(vec![(dot, 100.0), (s, -100.0)], Some(guard)).unwrap();
        g.advance(cat).unwrap();
        let mut logits = vec![0.0; 3];
        g.apply(&mut logits);
        assert_eq!(logits[dot as usize], f32::NEG_INFINITY);
        assert_eq!(logits[s as usize], -100.0);
        assert_eq!(logits[cat as usize], f32::NEG_INFINITY);
    }

    #[test]
    fn a_bias_alone_is_added_and_counts_positions() {
        let (_, cat, dot, _) = vocab();
        assert!(RequestGuard::new(vec![], None).is_none());
        let mut g = RequestGuard::new(vec![(cat, 2.5)], None).unwrap();
        let mut logits = vec![1.0; 3];
        let applied = g.apply_final(&mut logits);
        assert_eq!(applied, Applied::default());
        assert_eq!(logits, vec![3.5, 1.0, 1.0]);
        g.advance(dot).unwrap();
        g.advance(cat).unwrap();
        assert_eq!(g.position(), 2);
        g.rollback(1).unwrap();
        assert_eq!(g.position(), 1);
        assert_eq!(g.open_since(), None);
    }
}
