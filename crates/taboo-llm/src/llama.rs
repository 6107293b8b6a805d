//! [`Engine`] over llama.cpp, through the `llama-cpp-2` crate. This is the only file that names
//! llama.cpp; everything above it sees token ids, bytes and `&[f32]` logits.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::OnceLock;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;
use taboo::TokenId;

use crate::batch::{BatchEngine, Feed};
use crate::engine::{Engine, TokenPiece, TokenText};
use crate::gguf::check_gguf_file;
use crate::{Error, Result};

/// How to load a model.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EngineOptions {
    /// CPU threads for decoding and prompt processing. Two by default: more threads than cores
    /// makes llama.cpp's spinning workers fight, which was measured to cut speed 4×.
    pub threads: usize,
    /// Context window in tokens (prompt plus output). 2048 by default.
    pub context_size: usize,
    /// Let llama.cpp print its own log to stderr. Off by default.
    pub verbose: bool,
    /// Independent sequences the context holds, for batched decoding ([`BatchEngine`]): each
    /// gets `context_size` tokens of KV cache. 1 by default; [`Engine`] uses sequence 0.
    pub sequences: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            threads: 2,
            context_size: 2048,
            verbose: false,
            sequences: 1,
        }
    }
}

taboo::__settings_setters!(EngineOptions {
    with_threads => threads: usize,
    with_context_size => context_size: usize,
    with_verbose => verbose: bool,
    with_sequences => sequences: usize,
});

/// A GGUF model loaded into llama.cpp with one sequence of KV cache, or several
/// ([`EngineOptions::sequences`]) for batched decoding through [`BatchEngine`].
///
/// ```no_run
/// use taboo_llm::{Engine, EngineOptions, LlamaEngine};
/// let mut engine = LlamaEngine::load("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref(),
///                                    &EngineOptions::default())?;
/// let prompt = engine.tokenize("The capital of France is", true);
/// let logits = engine.feed(&prompt)?;
/// assert_eq!(logits.len(), engine.vocab_size());
/// # Ok::<(), taboo_llm::Error>(())
/// ```
pub struct LlamaEngine {
    /// The model and the inference context that borrows it, owned together.
    loaded: Loaded,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    context_size: usize,
    vocab_size: usize,
    /// Tokens held by each sequence (index = llama.cpp sequence id).
    positions: Vec<usize>,
}

self_cell::self_cell!(
    /// A model and the context that borrows it, in one owner: the context points into the
    /// model's C++ objects, so it must never outlive it, and `self_cell` checks that in safe
    /// code (the context is dropped first, the model is never moved while borrowed).
    struct Loaded {
        owner: LlamaModel,
        #[covariant]
        dependent: LlamaContext,
    }
);

/// Most logits rows one decode call may ask for: llama.cpp keeps an output buffer of
/// rows × vocabulary floats (64 rows of Gemma's 262,144 tokens are 64 MiB).
const MAX_ROWS_PER_DECODE: usize = 64;

/// llama.cpp allows one backend initialisation per process; every engine shares it.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| LlamaBackend::init().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Context(format!("llama.cpp backend: {e}")))
}

/// Routes llama.cpp's log: its default prints every tensor to stderr, which buries the answer.
fn set_logging(verbose: bool) {
    unsafe extern "C" fn discard(
        _level: llama_cpp_sys_2::ggml_log_level,
        _text: *const std::os::raw::c_char,
        _user_data: *mut std::os::raw::c_void,
    ) {
    }
    let callback: llama_cpp_sys_2::ggml_log_callback = if verbose { None } else { Some(discard) };
    // SAFETY: `llama_log_set` stores a plain function pointer (or restores the default for
    // null); `discard` touches nothing and lives for the whole program.
    unsafe { llama_cpp_sys_2::llama_log_set(callback, std::ptr::null_mut()) };
}

impl LlamaEngine {
    /// Loads a GGUF model. The file is checked in Rust first (see [`check_gguf_file`]), so a
    /// missing, foreign or truncated file gives an [`Error`] instead of reaching llama.cpp.
    pub fn load(path: &Path, options: &EngineOptions) -> Result<LlamaEngine> {
        let meta = check_gguf_file(path)?;
        set_logging(options.verbose);
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|_| Error::ModelLoad {
                path: path.to_path_buf(),
                architecture: meta.architecture.clone(),
            })?;
        let context_size = options.context_size.clamp(16, 1 << 20);
        // llama.cpp's LLAMA_MAX_SEQ is 256 (64 in older releases).
        let sequences = options.sequences.clamp(1, 64);
        check_context_fits(
            &model,
            meta.architecture.as_deref(),
            context_size,
            sequences,
        )?;
        let total = (context_size * sequences).min(1 << 22);
        let batch_size = total.min(512);
        let threads = options.threads.clamp(1, 256) as i32;
        // One KV stream per sequence (`kv_unified` off), `context_size` cells each: a
        // sequence's attention then runs over its own contiguous cells exactly as in a
        // one-sequence context, so batching does not change its logits. (A unified cache
        // interleaves the sequences' cells, which reorders the float sums: measured, sampled
        // outputs drifted apart after a few dozen tokens.)
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(total as u32))
            .with_n_seq_max(sequences as u32)
            .with_kv_unified(false)
            .with_n_batch(batch_size as u32)
            .with_n_ubatch(batch_size as u32)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let vocab_size = model.n_vocab().max(0) as usize;
        let loaded = Loaded::try_new(model, |model| model.new_context(backend, params))
            .map_err(|e| Error::Context(e.to_string()))?;
        Ok(LlamaEngine {
            loaded,
            batch: LlamaBatch::new(batch_size, 1),
            batch_size,
            context_size,
            vocab_size,
            positions: vec![0; sequences],
        })
    }

    /// Architecture name from the model's metadata (`llama`, `gemma3` …).
    pub fn architecture(&self) -> Option<String> {
        self.model().meta_val_str("general.architecture").ok()
    }

    fn model(&self) -> &LlamaModel {
        self.loaded.borrow_owner()
    }

    fn ctx(&self) -> &LlamaContext<'_> {
        self.loaded.borrow_dependent()
    }
}

/// Refuses a context the model cannot use or the machine cannot hold, before llama.cpp
/// allocates it: a context longer than the model was trained on gives garbage past that
/// length, and llama.cpp allocates (and clears) the whole KV cache up front, so an oversized
/// request grows the process by gigabytes before anything fails.
fn check_context_fits(
    model: &LlamaModel,
    architecture: Option<&str>,
    context_size: usize,
    sequences: usize,
) -> Result<()> {
    if let Some(trained) = meta_u64(model, architecture, "context_length") {
        if context_size as u64 > trained {
            return Err(Error::ContextTooLong {
                requested: context_size,
                trained: trained as usize,
            });
        }
    }
    let cells = context_size * sequences;
    let bytes = kv_cache_bytes(model, architecture, cells);
    if let Some(memory) = physical_memory() {
        if bytes > memory {
            return Err(Error::ContextMemory {
                tokens: cells,
                bytes,
                memory,
            });
        }
    }
    Ok(())
}

/// `<architecture>.<key>` from the model's metadata, as a number.
fn meta_u64(model: &LlamaModel, architecture: Option<&str>, key: &str) -> Option<u64> {
    let arch = architecture?;
    model
        .meta_val_str(&format!("{arch}.{key}"))
        .ok()?
        .parse()
        .ok()
}

/// Bytes of an f16 KV cache of `cells` cells: per layer and cell, a key and a value vector
/// per KV head. llama.cpp keeps full-size caches for sliding-window layers too, so this is
/// its own count (45 MiB for SmolLM2 at 2048 cells, as its log says).
fn kv_cache_bytes(model: &LlamaModel, architecture: Option<&str>, cells: usize) -> u64 {
    let head_dim = (model.n_embd().max(0) as u64) / u64::from(model.n_head().max(1));
    let key_dim = meta_u64(model, architecture, "attention.key_length").unwrap_or(head_dim);
    let value_dim = meta_u64(model, architecture, "attention.value_length").unwrap_or(head_dim);
    let per_cell =
        u64::from(model.n_layer()) * u64::from(model.n_head_kv()) * (key_dim + value_dim) * 2;
    per_cell.saturating_mul(cells as u64)
}

/// The machine's RAM in bytes (`MemTotal` in /proc/meminfo), where it can be read.
fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl LlamaEngine {
    /// Decodes `feeds` in as few llama.cpp batches as fit (distinct sequence ids in one
    /// batch), calling `rows` with each requested logits row. Leaves the last batch in
    /// `self.batch`, so [`Engine::feed`] can read the final row from the context.
    fn decode_feeds(
        &mut self,
        feeds: &[Feed<'_>],
        rows: &mut dyn FnMut(usize, usize, &[f32]),
    ) -> Result<()> {
        let mut added: Vec<usize> = vec![0; self.positions.len()];
        for f in feeds {
            if f.tokens.is_empty() {
                return Err(Error::Decode("no tokens to feed".into()));
            }
            if f.seq >= self.positions.len() {
                return Err(Error::Decode(format!(
                    "sequence {} does not exist (the context holds {})",
                    f.seq,
                    self.positions.len()
                )));
            }
            added[f.seq] += f.tokens.len();
            if self.positions[f.seq] + added[f.seq] > self.context_size {
                return Err(Error::PromptTooLong {
                    tokens: self.positions[f.seq] + added[f.seq],
                    context: self.context_size,
                });
            }
            if let Some(&t) = f.tokens.iter().find(|&&t| t as usize >= self.vocab_size) {
                return Err(Error::Decode(format!("token id {t} is out of range")));
            }
        }
        let start: Vec<usize> = self.positions.clone();
        // (feed, token index, batch index) of each row asked for in the batch being filled.
        let mut wanted: Vec<(usize, usize, i32)> = Vec::new();
        self.batch.clear();
        for (fi, f) in feeds.iter().enumerate() {
            for (ti, &t) in f.tokens.iter().enumerate() {
                let logits = ti >= f.logits_from;
                let full = self.batch.n_tokens() as usize >= self.batch_size
                    || (logits && wanted.len() >= MAX_ROWS_PER_DECODE);
                if full {
                    self.decode_batch(&start, &wanted, rows)?;
                    wanted.clear();
                    self.batch.clear();
                }
                let pos = self.positions[f.seq];
                let index = self.batch.n_tokens();
                self.batch
                    .add(LlamaToken(t as i32), pos as i32, &[f.seq as i32], logits)
                    .map_err(|e| Error::Decode(e.to_string()))?;
                self.positions[f.seq] += 1;
                if logits {
                    wanted.push((fi, ti, index));
                }
            }
        }
        if self.batch.n_tokens() > 0 {
            self.decode_batch(&start, &wanted, rows)?;
        }
        Ok(())
    }

    /// One `llama_decode` of `self.batch`, then the rows in `wanted` (in batch order). On
    /// failure every sequence is cut back to `start`, so positions stay true.
    fn decode_batch(
        &mut self,
        start: &[usize],
        wanted: &[(usize, usize, i32)],
        rows: &mut dyn FnMut(usize, usize, &[f32]),
    ) -> Result<()> {
        let batch = &mut self.batch;
        let decoded = self.loaded.with_dependent_mut(|_, ctx| ctx.decode(batch));
        if let Err(e) = decoded {
            for (seq, &p) in start.iter().enumerate() {
                if self.positions[seq] != p {
                    self.positions[seq] = p;
                    let _ = self.loaded.with_dependent_mut(|_, ctx| {
                        ctx.kv_cache_seq_rm(seq as i32, Some(p as u32), None)
                    });
                }
            }
            return Err(Error::Decode(e.to_string()));
        }
        for &(fi, ti, index) in wanted {
            rows(fi, ti, self.ctx().get_logits_ith(index));
        }
        Ok(())
    }
}

impl Engine for LlamaEngine {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn context_size(&self) -> usize {
        self.context_size
    }

    fn position(&self) -> usize {
        self.positions[0]
    }

    fn feed(&mut self, tokens: &[TokenId]) -> Result<&[f32]> {
        if tokens.is_empty() {
            return Err(Error::Decode("no tokens to feed".into()));
        }
        self.decode_feeds(&[Feed::last(0, tokens)], &mut |_, _, _| {})?;
        Ok(self.ctx().get_logits_ith(self.batch.n_tokens() - 1))
    }

    fn rewind(&mut self, n: usize) -> Result<()> {
        self.rewind_sequence(0, n)
    }

    fn reset(&mut self) -> Result<()> {
        self.reset_sequence(0)
    }

    fn tokenize(&self, text: &str, special: bool) -> Vec<TokenId> {
        let vocab = self.model().vocab();
        let mut ids: Vec<TokenId> = vocab
            .tokenize(text.as_bytes(), special, special)
            .into_iter()
            .map(|t| t.0 as TokenId)
            .collect();
        // Chat templates that write BOS themselves (Gemma's does) would get a second one from
        // `add_special`; a doubled BOS measurably changes the output.
        let bos = vocab.bos().0 as TokenId;
        if special && ids.len() >= 2 && ids[0] == bos && ids[1] == bos {
            ids.remove(0);
        }
        ids
    }

    fn chat_prompt(&self, user: &str) -> Result<String> {
        self.chat_messages(&[("user", user)])
    }

    fn chat_messages(&self, messages: &[(&str, &str)]) -> Result<String> {
        let template = self.model().chat_template(None).map_err(|_| {
            Error::ChatTemplate("the model has none (base models often don't)".into())
        })?;
        let messages = messages
            .iter()
            .map(|&(role, content)| LlamaChatMessage::new(role.into(), content.into()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| Error::ChatTemplate("a message contains a NUL byte".into()))?;
        self.model()
            .apply_chat_template(&template, &messages, true)
            .map_err(|e| Error::ChatTemplate(format!("llama.cpp does not know it: {e}")))
    }
}

impl TokenText for LlamaEngine {
    fn token_piece(&self, id: TokenId) -> TokenPiece {
        let vocab = self.model().vocab();
        let token = LlamaToken(id as i32);
        let attrs = vocab.attr(token).0;
        let not_text = LlamaTokenAttr::Control | LlamaTokenAttr::Unknown | LlamaTokenAttr::Unused;
        if attrs.is_empty() || attrs.intersects(not_text) {
            let name = vocab
                .text(token)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default();
            TokenPiece::Special(name)
        } else {
            TokenPiece::Text(vocab.token_to_piece(token, false, None))
        }
    }

    fn is_end_of_generation(&self, id: TokenId) -> bool {
        self.model().vocab().is_eog(LlamaToken(id as i32))
    }
}

impl BatchEngine for LlamaEngine {
    fn sequences(&self) -> usize {
        self.positions.len()
    }

    fn sequence_position(&self, seq: usize) -> usize {
        self.positions.get(seq).copied().unwrap_or(0)
    }

    fn decode(
        &mut self,
        feeds: &[Feed<'_>],
        rows: &mut dyn FnMut(usize, usize, &[f32]),
    ) -> Result<()> {
        self.decode_feeds(feeds, rows)
    }

    fn rewind_sequence(&mut self, seq: usize, n: usize) -> Result<()> {
        let held = self.sequence_position(seq);
        if seq >= self.positions.len() || n > held {
            return Err(Error::Rewind(format!(
                "asked for {n} tokens of sequence {seq}, it holds {held}"
            )));
        }
        let keep = held - n;
        self.loaded
            .with_dependent_mut(|_, ctx| ctx.kv_cache_seq_rm(seq as i32, Some(keep as u32), None))
            .map_err(|e| Error::Rewind(e.to_string()))?;
        self.positions[seq] = keep;
        Ok(())
    }

    fn reset_sequence(&mut self, seq: usize) -> Result<()> {
        if seq >= self.positions.len() {
            return Err(Error::Rewind(format!("sequence {seq} does not exist")));
        }
        if self.positions.len() == 1 {
            self.loaded
                .with_dependent_mut(|_, ctx| ctx.clear_kv_cache());
        } else {
            self.loaded
                .with_dependent_mut(|_, ctx| ctx.kv_cache_seq_rm(seq as i32, None, None))
                .map_err(|e| Error::Rewind(e.to_string()))?;
        }
        self.positions[seq] = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The KV cache estimate that guards `--ctx-size` against the machine's memory equals
    /// llama.cpp's own count, as its log prints it (`llama_kv_cache: size = …`).
    #[test]
    fn kv_cache_estimate_matches_llama_cpp() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let backend = backend().unwrap();
        let cases = [
            // 30 layers × 3 KV heads × (64 + 64) × 2 bytes per cell.
            ("SmolLM2-135M-Instruct-Q4_1.gguf", 2048, 45 << 20),
            // 18 layers × 1 KV head × (256 + 256) × 2 bytes: 12 MiB full + 60 MiB sliding.
            ("gemma-3-270m-q4_k_m.gguf", 4096, 72 << 20),
        ];
        for (file, cells, bytes) in cases {
            let path = models.join(file);
            assert!(
                path.is_file(),
                "{} is missing: run scripts/fetch-models.sh",
                path.display()
            );
            let meta = check_gguf_file(&path).unwrap();
            set_logging(false);
            let model =
                LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default()).unwrap();
            let arch = meta.architecture.as_deref();
            assert_eq!(kv_cache_bytes(&model, arch, cells), bytes, "{file}");
            assert_eq!(
                meta_u64(&model, arch, "context_length"),
                Some(model.n_ctx_train().into())
            );
        }
    }
}
