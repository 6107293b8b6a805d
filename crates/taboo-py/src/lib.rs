//! The `taboo._taboo` extension module: Python classes over the `taboo` core.
//!
//! `Vocabulary`, `Ban` and `Guard` mirror the core's easy path; `Rows` is the per-batch state
//! the transformers processor (`taboo.hf`) drives with one call per generation step, so that
//! a step costs one crossing into Rust whatever the batch size. The Python package
//! (`python/taboo`) adds the tokenizer adapters and the transformers and vLLM processors.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use rayon::prelude::*;

use taboo::{Applied as CoreApplied, GuardConfig, LogitsGuard, Mode, TokenId};

mod rows;
mod tensor;

use tensor::{Matrix, Scratch, Want};

pyo3::create_exception!(
    _taboo,
    BanError,
    PyValueError,
    "A ban could not be read, parsed or compiled. The message names the entry (and the line, \
     for ban files); the attributes `line` and `entry` hold them (or None)."
);

pyo3::create_exception!(
    _taboo,
    VocabularyError,
    PyValueError,
    "A vocabulary could not be read (a malformed or unsupported tokenizer or GGUF file)."
);

/// One entry in ban-file syntax: its options in brackets, then its text (escaped where the
/// text would read as a comment or an option prefix).
fn ban_file_line(e: &taboo::BanEntry) -> String {
    let o = e.options();
    let mut opts = Vec::new();
    if o.regex {
        opts.push("regex");
    }
    if o.case_sensitive {
        opts.push("case");
    }
    if !o.whole_word {
        opts.push("substring");
    }
    if o.disguise {
        opts.push("disguise");
    }
    if o.forms {
        opts.push("forms");
    }
    let text = e.text();
    let escaped = if text.starts_with('#') || text.starts_with('[') || text.starts_with('\\') {
        format!("\\{text}")
    } else {
        text.to_string()
    };
    if opts.is_empty() {
        escaped
    } else {
        format!("[{}] {escaped}", opts.join(" "))
    }
}

fn ban_error(py: Python<'_>, e: taboo::BanError) -> PyErr {
    let err = BanError::new_err(e.to_string());
    let value = err.value(py);
    // Attribute errors cannot happen on a fresh exception instance; ignore them anyway
    // rather than replace the real error.
    let _ = value.setattr("line", e.line());
    let _ = value.setattr("entry", e.entry());
    err
}

fn vocab_error(e: taboo::VocabError) -> PyErr {
    VocabularyError::new_err(e.to_string())
}

/// A `str` or a sequence of them.
fn strings(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    if obj.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(vec![s.to_string()]);
    }
    obj.extract::<Vec<String>>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a str or a list of str")))
}

/// A path or a sequence of them.
fn paths(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<PathBuf>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    if obj.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(p) = obj.extract::<PathBuf>() {
        return Ok(vec![p]);
    }
    obj.extract::<Vec<PathBuf>>().map_err(|_| {
        PyTypeError::new_err("file must be a path (str or os.PathLike) or a list of paths")
    })
}

pub(crate) fn guard_config(
    mode: &str,
    penalty: f32,
    partial_penalty: f32,
    max_rollback: usize,
    measure_mass: bool,
) -> PyResult<GuardConfig> {
    let mode = match mode {
        "hard" => Mode::Hard,
        "soft" => {
            if !(penalty.is_finite() && penalty >= 0.0) {
                return Err(PyValueError::new_err(format!(
                    "penalty must be a finite number >= 0, not {penalty}"
                )));
            }
            if !(partial_penalty.is_finite() && partial_penalty >= 0.0) {
                return Err(PyValueError::new_err(format!(
                    "partial_penalty must be a finite number >= 0, not {partial_penalty}"
                )));
            }
            Mode::Soft {
                penalty,
                partial_penalty,
            }
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "mode must be \"hard\" or \"soft\", not {other:?} (backtracking needs the \
                 model's KV cache, which a logits processor cannot rewind)"
            )))
        }
    };
    Ok(GuardConfig::default()
        .with_mode(mode)
        .with_max_rollback(max_rollback)
        .with_measure_mass(measure_mass))
}

/// A model's vocabulary reduced to what the ban engine needs: the bytes of every token,
/// which tokens are special (never text), and which end generation.
///
/// Build one per model and share it: every ban compiles its mask table once per vocabulary
/// object. Use :func:`taboo.vocabulary_from_tokenizer` for a Hugging Face tokenizer.
#[pyclass(frozen, module = "taboo")]
pub struct Vocabulary {
    pub(crate) inner: Arc<taboo::Vocabulary>,
}

#[pymethods]
impl Vocabulary {
    /// Reads the text of a Hugging Face ``tokenizer.json`` (what
    /// ``tokenizer.backend_tokenizer.to_str()`` returns for a fast tokenizer).
    #[staticmethod]
    fn from_tokenizer_json(py: Python<'_>, json: String) -> PyResult<Vocabulary> {
        let v = py
            .detach(|| taboo::Vocabulary::from_hf_tokenizer_json(&json))
            .map_err(vocab_error)?;
        Ok(Vocabulary { inner: Arc::new(v) })
    }

    /// Reads a Hugging Face ``tokenizer.json`` file.
    #[staticmethod]
    fn from_tokenizer_file(py: Python<'_>, path: PathBuf) -> PyResult<Vocabulary> {
        let v = py
            .detach(|| taboo::Vocabulary::from_hf_tokenizer_json_file(&path))
            .map_err(vocab_error)?;
        Ok(Vocabulary { inner: Arc::new(v) })
    }

    /// Reads the vocabulary of a GGUF model file (only its metadata section is read).
    #[staticmethod]
    fn from_gguf(py: Python<'_>, path: PathBuf) -> PyResult<Vocabulary> {
        let v = py
            .detach(|| taboo::Vocabulary::from_gguf_file(&path))
            .map_err(vocab_error)?;
        Ok(Vocabulary { inner: Arc::new(v) })
    }

    /// One of the tiktoken encodings built in: ``"r50k_base"``, ``"cl100k_base"`` or
    /// ``"o200k_base"``.
    #[staticmethod]
    fn tiktoken(py: Python<'_>, name: &str) -> PyResult<Vocabulary> {
        let encoding = taboo::TiktokenEncoding::from_name(name).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown tiktoken encoding {name:?}; known: r50k_base, cl100k_base, o200k_base"
            ))
        })?;
        let v = py
            .detach(|| taboo::Vocabulary::tiktoken(encoding))
            .map_err(vocab_error)?;
        Ok(Vocabulary { inner: Arc::new(v) })
    }

    /// Builds a vocabulary from token pieces as a tokenizer spells them.
    ///
    /// ``pieces[i]`` is token ``i``'s piece; ``spelling`` says how pieces encode bytes:
    /// ``"byte_level"`` (GPT-2's byte map, ``Ġ`` = space), ``"metaspace"`` (SentencePiece:
    /// ``▁`` = space, ``<0xNN>`` = one byte) or ``"raw"`` (the piece's UTF-8 is the text).
    /// Ids in ``special`` are control tokens (never text), named by their piece;
    /// ``end_of_generation`` lists the ids that end generation.
    #[staticmethod]
    #[pyo3(signature = (pieces, *, spelling, special=Vec::new(), end_of_generation=Vec::new()))]
    fn from_pieces(
        pieces: Vec<String>,
        spelling: &str,
        special: Vec<TokenId>,
        end_of_generation: Vec<TokenId>,
    ) -> PyResult<Vocabulary> {
        use taboo::vocab::byte_level::{decode_byte_level, decode_metaspace, parse_byte_piece};
        if !matches!(spelling, "byte_level" | "metaspace" | "raw") {
            return Err(PyValueError::new_err(format!(
                "spelling must be \"byte_level\", \"metaspace\" or \"raw\", not {spelling:?}"
            )));
        }
        let special: std::collections::HashSet<TokenId> = special.into_iter().collect();
        let mut b = taboo::Vocabulary::builder();
        let mut bytes = Vec::new();
        for (id, piece) in pieces.iter().enumerate() {
            if special.contains(&(id as TokenId)) {
                b.special(piece.clone());
                continue;
            }
            bytes.clear();
            match spelling {
                "byte_level" => {
                    if decode_byte_level(piece, &mut bytes).is_err() {
                        bytes.clear();
                        bytes.extend_from_slice(piece.as_bytes());
                    }
                }
                "metaspace" => match parse_byte_piece(piece.as_bytes()) {
                    Some(byte) => bytes.push(byte),
                    None => decode_metaspace(piece.as_bytes(), &mut bytes),
                },
                _ => bytes.extend_from_slice(piece.as_bytes()),
            }
            b.text(&bytes);
        }
        for &t in &end_of_generation {
            if t as usize >= pieces.len() {
                return Err(PyValueError::new_err(format!(
                    "end_of_generation id {t} is past the vocabulary ({} tokens)",
                    pieces.len()
                )));
            }
            b.end_of_generation(t);
        }
        Ok(Vocabulary {
            inner: Arc::new(b.build()),
        })
    }

    /// Number of token ids (text and special).
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The bytes of a text token; ``None`` for special tokens and ids out of range.
    fn token_bytes<'py>(&self, py: Python<'py>, token: i64) -> Option<Bound<'py, PyBytes>> {
        let id = TokenId::try_from(token).ok()?;
        self.inner.token_bytes(id).map(|b| PyBytes::new(py, b))
    }

    /// True for special (control) tokens.
    fn is_special(&self, token: TokenId) -> bool {
        self.inner.is_special(token)
    }

    /// The special tokens' ids, ascending.
    #[getter]
    fn special_tokens(&self) -> Vec<TokenId> {
        self.inner.special_tokens()
    }

    /// The ids that end generation (the guard treats them as the end of the text).
    #[getter]
    fn end_of_generation(&self) -> Vec<TokenId> {
        self.inner.end_of_generation().to_vec()
    }

    /// The bytes of a token sequence, special tokens skipped.
    fn decode<'py>(&self, py: Python<'py>, tokens: Vec<i64>) -> Bound<'py, PyBytes> {
        let ids: Vec<TokenId> = tokens
            .iter()
            .map(|&t| TokenId::try_from(t).unwrap_or(TokenId::MAX))
            .collect();
        PyBytes::new(py, &self.inner.decode(&ids))
    }

    fn __repr__(&self) -> String {
        format!(
            "Vocabulary({} tokens, {} special, end of generation {:?})",
            self.inner.len(),
            self.inner.special_tokens().len(),
            self.inner.end_of_generation()
        )
    }
}

/// A compiled ban: what to keep out of the text.
///
/// ``Ban(words, *, entries=..., file=..., text=..., lists=..., forms=False, disguise=False,
/// case_sensitive=False, substring=False, regex=False)``: ``words`` are plain words (whole
/// words, any case unless the options say otherwise), ``entries`` lines in ban-file syntax
/// (``"[forms] кошка"``, ``"[regex] colou?r"``), ``file`` ban files, ``text`` a whole ban file
/// as a string, ``lists`` bundled lists by name (``"en-profanity"``, ``"ru-obscene"``).
/// ``forms`` and ``disguise`` widen every plain entry; ``case_sensitive``, ``substring`` and
/// ``regex`` apply to ``words``. Raises :class:`taboo.BanError` naming the entry and line.
/// Immutable and thread-safe: share one between sequences.
#[pyclass(frozen, module = "taboo")]
pub struct Ban {
    pub(crate) inner: Arc<taboo::Ban>,
}

#[pymethods]
impl Ban {
    #[new]
    #[pyo3(signature = (words=None, *, entries=None, file=None, text=None, lists=None,
                        forms=false, disguise=false, case_sensitive=false, substring=false,
                        regex=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        words: Option<&Bound<'_, PyAny>>,
        entries: Option<&Bound<'_, PyAny>>,
        file: Option<&Bound<'_, PyAny>>,
        text: Option<String>,
        lists: Option<&Bound<'_, PyAny>>,
        forms: bool,
        disguise: bool,
        case_sensitive: bool,
        substring: bool,
        regex: bool,
    ) -> PyResult<Ban> {
        let words = strings(words, "words")?;
        let entries = strings(entries, "entries")?;
        let lists = strings(lists, "lists")?;
        let files = paths(file)?;
        let mut b = taboo::Ban::builder();
        b.words(&words)
            .case_sensitive(case_sensitive)
            .substring(substring)
            .regex(regex)
            .forms(forms)
            .disguise(disguise);
        for e in &entries {
            b.entry(e);
        }
        for f in &files {
            b.file(f);
        }
        if let Some(t) = &text {
            b.file_text(t);
        }
        for l in &lists {
            b.list(l);
        }
        let ban = py.detach(|| b.build()).map_err(|e| ban_error(py, e))?;
        Ok(Ban {
            inner: Arc::new(ban),
        })
    }

    /// The entries that were compiled, after word forms were expanded, in ban-file syntax
    /// (expanded again on each call: the compiled ban keeps no entry per form).
    #[getter]
    fn entries(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let inner = Arc::clone(&self.inner);
        let list = py
            .detach(move || inner.expanded_list())
            .map_err(|e| ban_error(py, e))?;
        Ok(list.entries().iter().map(ban_file_line).collect())
    }

    /// Russian words the dictionary did not know while expanding ``forms`` (banned as
    /// written only).
    #[getter]
    fn unknown_words(&self) -> Vec<String> {
        self.inner.forms_report().unknown.clone()
    }

    /// Number of compiled entries.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Builds (once) the mask table of this ban for ``vocab``, so that the first step of
    /// the first sequence does not pay for it. Later calls return at once.
    fn prepare(&self, py: Python<'_>, vocab: &Vocabulary) {
        let (ban, v) = (Arc::clone(&self.inner), Arc::clone(&vocab.inner));
        py.detach(|| {
            ban.table(&v);
        });
    }

    /// A guard for one new sequence on ``vocab``.
    ///
    /// ``mode="hard"`` gives banned continuations probability 0; ``"soft"`` subtracts
    /// ``penalty`` from the logits of tokens that would complete a banned word (and
    /// ``partial_penalty`` from those that open or extend one). ``max_rollback`` is how many
    /// tokens ``rollback`` can undo; ``measure_mass`` computes ``Applied.removed_mass``
    /// (one softmax pass over the row per step).
    #[pyo3(signature = (vocab, *, mode="hard", penalty=10.0, partial_penalty=0.0,
                        max_rollback=64, measure_mass=true))]
    #[allow(clippy::too_many_arguments)]
    fn guard(
        &self,
        py: Python<'_>,
        vocab: &Vocabulary,
        mode: &str,
        penalty: f32,
        partial_penalty: f32,
        max_rollback: usize,
        measure_mass: bool,
    ) -> PyResult<Guard> {
        let config = guard_config(mode, penalty, partial_penalty, max_rollback, measure_mass)?;
        let (ban, v) = (Arc::clone(&self.inner), Arc::clone(&vocab.inner));
        let inner = py.detach(|| ban.guard_with(&v, config));
        Ok(Guard {
            inner,
            vocab: Arc::clone(&vocab.inner),
            scratch: Scratch::default(),
        })
    }

    /// The first entries as written (a ``forms`` entry once, marked so) and how many
    /// entries were compiled.
    fn __repr__(&self) -> String {
        let written = self.inner.list().entries();
        let shown: Vec<String> = written.iter().take(5).map(ban_file_line).collect();
        let more = if written.len() > 5 {
            format!(", … {} more", written.len() - 5)
        } else {
            String::new()
        };
        format!("Ban({shown:?}{more}; {} compiled)", self.inner.len())
    }
}

/// What one ``apply`` did to a row of logits.
#[pyclass(frozen, get_all, skip_from_py_object, module = "taboo")]
#[derive(Clone, Copy)]
pub struct Applied {
    /// Tokens set to ``-inf`` (hard mode).
    forbidden: usize,
    /// Tokens given a finite penalty (soft mode).
    penalized: usize,
    /// Probability mass moved away from the edited tokens (0 when not measured).
    removed_mass: f32,
}

impl From<CoreApplied> for Applied {
    fn from(a: CoreApplied) -> Applied {
        Applied {
            forbidden: a.forbidden,
            penalized: a.penalized,
            removed_mass: a.removed_mass,
        }
    }
}

#[pymethods]
impl Applied {
    fn __repr__(&self) -> String {
        format!(
            "Applied(forbidden={}, penalized={}, removed_mass={})",
            self.forbidden, self.penalized, self.removed_mass
        )
    }
}

/// Edits one row: the guard's edit, then (hard mode) ids past the vocabulary, which are not
/// text, get `-inf`.
///
/// # Safety
/// No other thread may touch row `r` of `m` meanwhile.
pub(crate) unsafe fn edit_row(
    guard: &mut taboo::Guard,
    vocab_len: usize,
    m: &Matrix,
    r: usize,
    scratch: &mut Scratch,
    last: bool,
) -> CoreApplied {
    let hard = guard.config().mode == Mode::Hard;
    let mut applied = m.edit_row(r, scratch, |row| {
        if hard && row.len() > vocab_len {
            for l in &mut row[vocab_len..] {
                *l = f32::NEG_INFINITY;
            }
        }
        if last {
            guard.apply_final(row)
        } else {
            guard.apply(row)
        }
    });
    if hard && m.cols > vocab_len {
        applied.forbidden += m.cols - vocab_len;
    }
    applied
}

/// The ban guard of one sequence: call ``apply(logits)`` before sampling and
/// ``advance(token)`` after (or ``sync_to(tokens)`` with the whole generated history).
#[pyclass(module = "taboo")]
pub struct Guard {
    inner: taboo::Guard,
    vocab: Arc<taboo::Vocabulary>,
    scratch: Scratch,
}

fn text_bytes(text: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = text.cast::<PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = text.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err("text must be str or bytes"))
}

fn token_list(tokens: &Bound<'_, PyAny>) -> PyResult<Vec<TokenId>> {
    if let Ok(m) = Matrix::from_object(tokens, Want::TokenIds) {
        if m.rows != 1 {
            return Err(PyValueError::new_err("token ids must be one row"));
        }
        let mut out = Vec::new();
        m.tokens_into(0, 0, &mut out);
        return Ok(out);
    }
    let ids: Vec<i64> = tokens
        .extract()
        .map_err(|_| PyTypeError::new_err("tokens must be a sequence of ints"))?;
    Ok(ids
        .into_iter()
        .map(|t| TokenId::try_from(t).unwrap_or(TokenId::MAX))
        .collect())
}

#[pymethods]
impl Guard {
    /// Feeds the prompt's tail as text (``str`` or ``bytes``), so that a word straddling the
    /// prompt and the output is seen. Matches inside the prompt are not violations.
    fn prime(&mut self, text: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = text_bytes(text)?;
        self.inner.prime(&bytes);
        Ok(())
    }

    /// Feeds prompt tokens as text (their bytes in this vocabulary; special tokens and
    /// padding are not text). Processors pass the prompt's last 32 tokens.
    fn prime_tokens(&mut self, tokens: &Bound<'_, PyAny>) -> PyResult<()> {
        let ids = token_list(tokens)?;
        let bytes = self.vocab.decode(&ids);
        self.inner.prime(&bytes);
        Ok(())
    }

    /// Edits ``logits`` in place for the next position and says what it did.
    ///
    /// ``logits``: a NumPy array or CPU torch tensor, 1-D or of shape ``(1, width)``,
    /// float32 (edited without a copy), float16, bfloat16 or float64. ``width`` may differ
    /// from the vocabulary's size: in hard mode ids past the vocabulary (padding rows of the
    /// model's output layer) are set to ``-inf``. ``last=True`` marks the last position
    /// before a length limit: tokens that would leave a banned word complete at the end are
    /// forbidden too.
    #[pyo3(signature = (logits, *, last=false))]
    fn apply(
        &mut self,
        py: Python<'_>,
        logits: &Bound<'_, PyAny>,
        last: bool,
    ) -> PyResult<Applied> {
        let m = Matrix::from_object(logits, Want::Logits)?;
        if m.rows != 1 {
            return Err(PyValueError::new_err(format!(
                "Guard.apply takes one row of logits, got {} rows; use taboo.apply_batch(guards, \
                 logits) for a batch",
                m.rows
            )));
        }
        let n = self.vocab.len();
        let Guard { inner, scratch, .. } = self;
        let applied = py.detach(|| unsafe { edit_row(inner, n, &m, 0, scratch, last) });
        Ok(applied.into())
    }

    /// Records a sampled token. Returns ``False`` if it completed a banned match (a
    /// violation: the guard still advances past it), else ``True``.
    fn advance(&mut self, token: i64) -> bool {
        let id = TokenId::try_from(token).unwrap_or(TokenId::MAX);
        self.inner.advance(id).is_ok()
    }

    /// Forgets the last ``n`` advanced tokens. Raises ``ValueError`` past ``max_rollback``.
    fn rollback(&mut self, n: usize) -> PyResult<()> {
        self.inner
            .rollback(n)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Brings the guard to the generated-token history ``tokens`` (a list, NumPy array or
    /// tensor of ids): keeps the common prefix with what it has advanced, rolls back the
    /// rest, advances the new tokens. Returns how many advanced tokens completed a banned
    /// match.
    fn sync_to(&mut self, tokens: &Bound<'_, PyAny>) -> PyResult<usize> {
        let ids = token_list(tokens)?;
        Ok(self.inner.sync_to(&ids))
    }

    /// Writes the allowed tokens of the next position as a packed bitmask (bit ``t % 32`` of
    /// word ``t // 32`` set = allowed; the llguidance/xgrammar layout) into ``mask``, a
    /// writable contiguous int32/uint32 array of at least ``ceil(len(vocab) / 32)`` words.
    /// Always hard-mode semantics. Returns the number of forbidden tokens.
    #[pyo3(signature = (mask, *, last=false))]
    fn fill_bitmask(&self, mask: &Bound<'_, PyAny>, last: bool) -> PyResult<usize> {
        let m = Matrix::from_object(mask, Want::Bitmask)?;
        m.check_bitmask_alignment()?;
        let words = unsafe { m.words_mut() };
        self.inner
            .fill_bitmask(words, last)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The token ids forbidden at the next position (hard-mode semantics), ascending.
    #[pyo3(signature = (*, last=false))]
    fn forbidden_tokens(&self, last: bool) -> PyResult<Vec<TokenId>> {
        let n = self.vocab.len();
        let mut words = vec![0u32; n.div_ceil(32)];
        self.inner
            .fill_bitmask(&mut words, last)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((0..n as TokenId)
            .filter(|&t| words[t as usize / 32] & (1 << (t % 32)) == 0)
            .collect())
    }

    /// Number of tokens advanced so far (after rollbacks).
    #[getter]
    fn position(&self) -> usize {
        self.inner.position()
    }

    /// The tokens advanced so far, after rollbacks.
    #[getter]
    fn tokens(&self) -> Vec<TokenId> {
        self.inner.tokens().to_vec()
    }

    /// True while a banned match is partially written.
    #[getter]
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }

    /// True when a banned word's letters are complete and only a boundary is missing.
    #[getter]
    fn is_pending(&self) -> bool {
        self.inner.is_pending()
    }

    /// The position of the token that opened the banned match now partially written, if it
    /// is still within the rollback history.
    #[getter]
    fn open_since(&self) -> Option<usize> {
        self.inner.open_since()
    }

    /// An independent copy (for a beam that forks).
    fn copy(&self) -> Guard {
        Guard {
            inner: self.inner.clone(),
            vocab: Arc::clone(&self.vocab),
            scratch: Scratch::default(),
        }
    }

    fn __copy__(&self) -> Guard {
        self.copy()
    }

    fn __repr__(&self) -> String {
        format!(
            "Guard(position={}, open={}, mode={:?})",
            self.inner.position(),
            self.inner.is_open(),
            self.inner.config().mode
        )
    }
}

/// Edits a batch of logits, one guard per row, rows in parallel with the GIL released.
///
/// ``guards[i]`` edits row ``i`` (``None`` leaves the row alone); ``logits`` has shape
/// ``(len(guards), width)``. Returns one :class:`Applied` (or ``None``) per row.
#[pyfunction]
#[pyo3(signature = (guards, logits, *, last=false))]
fn apply_batch(
    py: Python<'_>,
    guards: Vec<Option<Bound<'_, Guard>>>,
    logits: &Bound<'_, PyAny>,
    last: bool,
) -> PyResult<Vec<Option<Applied>>> {
    let m = Matrix::from_object(logits, Want::Logits)?;
    if m.rows != guards.len() || m.one_dim && guards.len() != 1 {
        return Err(PyValueError::new_err(format!(
            "{} guards for logits of {} rows",
            guards.len(),
            m.rows
        )));
    }
    let mut borrowed = Vec::with_capacity(guards.len());
    for g in &guards {
        borrowed.push(match g {
            Some(g) => Some(g.try_borrow_mut().map_err(|_| {
                PyValueError::new_err("the same Guard appears twice in the batch; one per row")
            })?),
            None => None,
        });
    }
    let mut work: Vec<(usize, &mut Guard)> = borrowed
        .iter_mut()
        .enumerate()
        .filter_map(|(r, g)| g.as_mut().map(|g| (r, &mut **g)))
        .collect();
    let m = &m;
    let results: Vec<(usize, CoreApplied)> = py.detach(|| {
        let run = |(r, g): &mut (usize, &mut Guard)| {
            let n = g.vocab.len();
            let Guard { inner, scratch, .. } = &mut **g;
            (*r, unsafe { edit_row(inner, n, m, *r, scratch, last) })
        };
        if work.len() > 1 {
            work.par_iter_mut().map(run).collect()
        } else {
            work.iter_mut().map(run).collect()
        }
    });
    let mut out = vec![None; guards.len()];
    for (r, a) in results {
        out[r] = Some(a.into());
    }
    Ok(out)
}

/// The names of the ban lists built in (``Ban(lists=[...])``).
#[pyfunction]
fn bundled_lists() -> Vec<&'static str> {
    taboo::lists::names()
}

#[pymodule]
fn _taboo(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Vocabulary>()?;
    m.add_class::<Ban>()?;
    m.add_class::<Guard>()?;
    m.add_class::<Applied>()?;
    m.add_class::<rows::Rows>()?;
    m.add_function(wrap_pyfunction!(apply_batch, m)?)?;
    m.add_function(wrap_pyfunction!(bundled_lists, m)?)?;
    m.add("BanError", m.py().get_type::<BanError>())?;
    m.add("VocabularyError", m.py().get_type::<VocabularyError>())?;
    Ok(())
}
