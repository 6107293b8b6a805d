//! GGUF metadata: the tokenizer a llama.cpp model file carries, read without any GGUF library.
//!
//! A GGUF file starts with `GGUF`, a little-endian version (2 or 3), the tensor count, the
//! key/value count, and then the key/value pairs; the tensor records (name, shape, ggml type,
//! data offset) follow, then the tensor data, aligned to `general.alignment`. Only a handful of
//! keys are kept (see [`GgufMetadata`] and the tokenizer keys below); every other value is
//! skipped without being stored, so a model file costs no more memory than its token list.
//!
//! Loading a vocabulary stops after the key/value section. [`check_gguf_file`] goes on through
//! the tensor records and checks that every tensor's data lies inside the file, which is what a
//! runtime wants before it hands the file to llama.cpp: a truncated download then ends in an
//! error naming the tensor that is cut, not in whatever the C++ loader does.
//!
//! Model files come from anywhere, so the reader treats every length as hostile: a length or an
//! element count is checked against the bytes left in the file *before* anything is allocated,
//! nested arrays are bounded in depth, and every failure is a [`VocabError`] naming the byte
//! offset and the key being read — never a panic.
//!
//! Token strings are turned into bytes the way llama.cpp's `token_to_piece` does (without
//! rendering special tokens):
//!
//! | token type            | `gpt2` (byte-level BPE)        | `llama` (SentencePiece)     |
//! |-----------------------|--------------------------------|-----------------------------|
//! | 1 normal              | GPT-2 byte map (`Ġ` → space)   | `▁` → space                 |
//! | 4 user-defined        | raw UTF-8 text                 | raw text, `▁` → space       |
//! | 6 byte                | `<0xNN>` → byte NN             | `<0xNN>` → byte NN          |
//! | 2, 3, 5, other        | special                        | special                     |
//!
//! Tokens whose text llama.cpp recognises as ending generation (`<|im_end|>`, `<end_of_turn>`,
//! `</s>`, the fill-in-the-middle markers …) are special and end generation whatever their
//! declared type, because llama.cpp overrides their type to "control" when it loads the model;
//! the rules are in `end_of_generation.rs`.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::byte_level::{decode_byte_level, decode_metaspace, parse_byte_piece};
use super::end_of_generation::{EndOfGeneration, Forced, EOS_KEY, ROLES};
use super::error::{Kind, VocabError};
use super::ggml_type::GgmlType;
use super::{TokenId, Vocabulary};

const MAGIC: &[u8; 4] = b"GGUF";

// Value type tags of the GGUF format.
const T_U8: u32 = 0;
const T_I8: u32 = 1;
const T_U16: u32 = 2;
const T_I16: u32 = 3;
const T_U32: u32 = 4;
const T_I32: u32 = 5;
const T_F32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_U64: u32 = 10;
const T_I64: u32 = 11;
const T_F64: u32 = 12;

/// Where tensor data starts when the file has no `general.alignment` key (ggml's default).
const DEFAULT_ALIGNMENT: u64 = 32;

/// ggml tensors have at most four dimensions (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;

/// Real files never nest arrays; the bound only keeps hostile input from recursing deeply.
const MAX_ARRAY_DEPTH: u32 = 8;

// Token types (llama.cpp's `llama_token_type`).
const TOKEN_NORMAL: i32 = 1;
const TOKEN_CONTROL: i32 = 3;
const TOKEN_USER_DEFINED: i32 = 4;
const TOKEN_BYTE: i32 = 6;

/// What a GGUF file says about itself, beyond the token list.
///
/// Read with [`GgufMetadata::from_file`] (only the key/value section is read), together with
/// the vocabulary by [`read_gguf_file`], or by [`check_gguf_file`], which also walks the tensor
/// records and checks that the file holds all their data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GgufMetadata {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// Number of tensors the file declares; [`check_gguf_file`] walks all their records.
    pub tensor_count: u64,
    /// Number of key/value entries in the metadata section.
    pub kv_count: u64,
    /// `general.alignment`: tensor data starts at a multiple of it (32 when absent).
    pub alignment: Option<u64>,
    /// Byte offset where the tensor data starts; known only after [`check_gguf_file`] or
    /// [`check_gguf_bytes`].
    pub tensor_data_offset: Option<u64>,
    /// Bytes from the start of the tensor data to the end of the last tensor; known only after
    /// [`check_gguf_file`] or [`check_gguf_bytes`].
    pub tensor_data_size: Option<u64>,
    /// `general.architecture`, such as `llama` or `gemma3`.
    pub architecture: Option<String>,
    /// `general.name`, the model's display name.
    pub name: Option<String>,
    /// `tokenizer.ggml.model`: `gpt2` (byte-level BPE), `llama` (SentencePiece) or another.
    pub tokenizer_model: Option<String>,
    /// `tokenizer.ggml.pre`: the pre-tokenizer llama.cpp uses, such as `smollm`.
    pub tokenizer_pre: Option<String>,
    /// Number of entries in `tokenizer.ggml.tokens` (0 when the file has no tokenizer).
    pub token_count: usize,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_token_id: Option<TokenId>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_token_id: Option<TokenId>,
    /// `tokenizer.chat_template`, the Jinja chat template, if the model has one.
    pub chat_template: Option<String>,
}

impl GgufMetadata {
    /// Reads the metadata of a GGUF file; the token list is counted, not stored.
    ///
    /// ```no_run
    /// let meta = taboo::GgufMetadata::from_file("models/smollm2.gguf")?;
    /// println!("{:?} with {} tokens", meta.architecture, meta.token_count);
    /// # Ok::<(), taboo::VocabError>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<GgufMetadata, VocabError> {
        let path = path.as_ref();
        read_file(path, Mode::Metadata)
            .map(|parsed| parsed.meta)
            .map_err(|e| e.in_file(path))
    }

    /// Reads the metadata from the bytes of a GGUF file (or at least its key/value section).
    ///
    /// ```
    /// let err = taboo::GgufMetadata::from_bytes(b"GGUF\x01\0\0\0").unwrap_err();
    /// assert!(err.to_string().starts_with("unsupported GGUF version 1"));
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<GgufMetadata, VocabError> {
        parse(bytes, bytes.len() as u64, Mode::Metadata).map(|parsed| parsed.meta)
    }
}

/// Reads a GGUF file's metadata and vocabulary in one pass over its key/value section.
///
/// ```no_run
/// let (meta, vocab) = taboo::vocab::read_gguf_file("models/smollm2.gguf")?;
/// assert_eq!(meta.token_count, vocab.len());
/// # Ok::<(), taboo::VocabError>(())
/// ```
pub fn read_gguf_file(path: impl AsRef<Path>) -> Result<(GgufMetadata, Vocabulary), VocabError> {
    let path = path.as_ref();
    read_file(path, Mode::Vocabulary)
        .and_then(Parsed::into_vocabulary)
        .map_err(|e| e.in_file(path))
}

/// Reads metadata and vocabulary from the bytes of a GGUF file (at least its key/value section).
///
/// ```
/// let err = taboo::vocab::read_gguf_bytes(b"GGUF\x03\0\0\0\0\0").unwrap_err();
/// assert!(err.to_string().starts_with("truncated at byte 8 while reading the tensor count"));
/// ```
pub fn read_gguf_bytes(bytes: &[u8]) -> Result<(GgufMetadata, Vocabulary), VocabError> {
    parse(bytes, bytes.len() as u64, Mode::Vocabulary).and_then(Parsed::into_vocabulary)
}

/// Checks that a GGUF file is complete: header, every key/value entry and every tensor record
/// readable, every tensor of a known ggml type, and every tensor's data inside the file.
///
/// The token list is counted, not stored. A file cut short fails with a "truncated" error
/// ([`VocabError::is_truncated`]) that names the byte offset and, when the cut falls in the
/// tensor data, the first tensor that is cut.
///
/// ```no_run
/// let meta = taboo::vocab::check_gguf_file("models/SmolLM2-135M-Instruct-Q4_1.gguf")?;
/// println!("{} tensors, data from byte {:?}", meta.tensor_count, meta.tensor_data_offset);
/// # Ok::<(), taboo::VocabError>(())
/// ```
pub fn check_gguf_file(path: impl AsRef<Path>) -> Result<GgufMetadata, VocabError> {
    let path = path.as_ref();
    read_file(path, Mode::Check)
        .map(|parsed| parsed.meta)
        .map_err(|e| e.in_file(path))
}

/// Checks the bytes of a whole GGUF file the way [`check_gguf_file`] checks a file.
///
/// ```
/// // A header that declares one tensor, and then ends.
/// let mut file = b"GGUF\x03\0\0\0".to_vec();
/// file.extend(1u64.to_le_bytes()); // tensors
/// file.extend(0u64.to_le_bytes()); // key/value entries
/// let err = taboo::vocab::check_gguf_bytes(&file).unwrap_err();
/// assert!(err.is_truncated());
/// assert!(err.to_string().contains("the name of tensor 0"), "{err}");
/// ```
pub fn check_gguf_bytes(bytes: &[u8]) -> Result<GgufMetadata, VocabError> {
    parse(bytes, bytes.len() as u64, Mode::Check).map(|parsed| parsed.meta)
}

/// What a path that is not a regular file is, for the error message.
fn file_type_name(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "neither a file nor a directory"
    }
}

/// How far to read and what to keep.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The key/value section, without storing the token list.
    Metadata,
    /// The key/value section with the token list.
    Vocabulary,
    /// The key/value section and the tensor records, checking the tensor data's extent.
    Check,
}

fn read_file(path: &Path, mode: Mode) -> Result<Parsed, VocabError> {
    let io_err = |e| VocabError::new(Kind::Io(e));
    // Before opening: opening a FIFO blocks until someone writes to it, and a device such as
    // /dev/zero has no length, so it would be reported as an empty file.
    let file_type = std::fs::metadata(path).map_err(io_err)?.file_type();
    if !file_type.is_file() {
        return Err(VocabError::new(Kind::NotAFile(file_type_name(file_type))));
    }
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    // Token strings are short, so reads are many and small: buffer them.
    parse(BufReader::with_capacity(1 << 16, file), len, mode)
}

/// Everything kept from the key/value section.
#[derive(Default)]
struct Parsed {
    meta: GgufMetadata,
    tokens: Option<TokenTexts>,
    token_types: Option<Vec<i32>>,
    /// The ids the metadata gives for EOS and for each of llama.cpp's token roles (EOT, EOM, the
    /// fill-in-the-middle markers), by key.
    key_ids: Vec<(&'static str, TokenId)>,
    /// Where the `general.alignment` value starts, for an error about it.
    alignment_at: u64,
}

/// Strings back to back (token texts, tensor names), so that a 200k-token list is two
/// allocations, not 200k.
#[derive(Default)]
struct TokenTexts {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl TokenTexts {
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// A low-level read failure, before it knows which key it belongs to.
enum Fail {
    Truncated { at: u64, needed: u64, left: u64 },
    Malformed { at: u64, reason: String },
    Io(io::Error),
}

impl Fail {
    fn reading(self, context: impl FnOnce() -> String) -> VocabError {
        VocabError::new(match self {
            Fail::Truncated { at, needed, left } => Kind::Truncated {
                at,
                needed,
                left,
                context: context(),
            },
            Fail::Malformed { at, reason } => Kind::Malformed {
                at,
                reason,
                context: context(),
            },
            Fail::Io(e) => Kind::Io(e),
        })
    }
}

/// A `Read` that knows how many bytes the input has in total, so that every length can be
/// checked before it is trusted.
struct Reader<R> {
    src: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Reader<R> {
    fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn need(&self, needed: u64) -> Result<(), Fail> {
        if needed > self.left() {
            return Err(Fail::Truncated {
                at: self.pos,
                needed,
                left: self.left(),
            });
        }
        Ok(())
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Fail> {
        let needed = buf.len() as u64;
        self.need(needed)?;
        self.src.read_exact(buf).map_err(|e| match e.kind() {
            // The file shrank after its size was taken: still a truncation.
            io::ErrorKind::UnexpectedEof => Fail::Truncated {
                at: self.pos,
                needed,
                left: 0,
            },
            _ => Fail::Io(e),
        })?;
        self.pos += needed;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Fail> {
        let mut b = [0; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, Fail> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, Fail> {
        self.array().map(u64::from_le_bytes)
    }

    fn skip(&mut self, n: u64) -> Result<(), Fail> {
        self.need(n)?;
        let skipped = io::copy(&mut (&mut self.src).take(n), &mut io::sink()).map_err(Fail::Io)?;
        if skipped < n {
            return Err(Fail::Truncated {
                at: self.pos + skipped,
                needed: n - skipped,
                left: 0,
            });
        }
        self.pos += n;
        Ok(())
    }

    /// Reads a length that must fit in the rest of the input, `unit` bytes per counted item.
    /// A failure is reported where the counted bytes would start.
    fn count(&mut self, unit: u64) -> Result<u64, Fail> {
        let n = self.u64()?;
        match n.checked_mul(unit) {
            Some(bytes) if bytes <= self.left() => Ok(n),
            _ => Err(Fail::Truncated {
                at: self.pos,
                needed: n.saturating_mul(unit),
                left: self.left(),
            }),
        }
    }

    /// Appends a GGUF string (u64 length + bytes) to `out`.
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), Fail> {
        let n = self.count(1)?;
        let n = usize::try_from(n).map_err(|_| Fail::Malformed {
            at: self.pos,
            reason: format!("string of {n} bytes does not fit in memory"),
        })?;
        let start = out.len();
        out.resize(start + n, 0);
        let read = self.fill(&mut out[start..]);
        if read.is_err() {
            out.truncate(start);
        }
        read
    }

    fn skip_value(&mut self, ty: u32, depth: u32) -> Result<(), Fail> {
        if let Some(size) = fixed_size(ty) {
            return self.skip(size);
        }
        match ty {
            T_STRING => {
                let n = self.count(1)?;
                self.skip(n)
            }
            T_ARRAY => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(Fail::Malformed {
                        at: self.pos,
                        reason: format!("arrays nested deeper than {MAX_ARRAY_DEPTH} levels"),
                    });
                }
                let elem_at = self.pos;
                let elem = self.u32()?;
                if let Some(size) = fixed_size(elem) {
                    let n = self.count(size)?;
                    return self.skip(n * size);
                }
                match elem {
                    T_STRING => {
                        for _ in 0..self.count(8)? {
                            let n = self.count(1)?;
                            self.skip(n)?;
                        }
                        Ok(())
                    }
                    // An element array is at least its type (4 bytes) and its count (8 bytes).
                    T_ARRAY => {
                        for _ in 0..self.count(12)? {
                            self.skip_value(T_ARRAY, depth + 1)?;
                        }
                        Ok(())
                    }
                    other => Err(unknown_type(elem_at, other)),
                }
            }
            other => Err(unknown_type(self.pos.saturating_sub(4), other)),
        }
    }

    /// Reads an integer of any integer type.
    fn integer(&mut self, ty: u32) -> Result<Option<i128>, Fail> {
        Ok(Some(match ty {
            T_U8 => u8::from_le_bytes(self.array()?).into(),
            T_I8 => i8::from_le_bytes(self.array()?).into(),
            T_U16 => u16::from_le_bytes(self.array()?).into(),
            T_I16 => i16::from_le_bytes(self.array()?).into(),
            T_U32 => u32::from_le_bytes(self.array()?).into(),
            T_I32 => i32::from_le_bytes(self.array()?).into(),
            T_U64 => u64::from_le_bytes(self.array()?).into(),
            T_I64 => i64::from_le_bytes(self.array()?).into(),
            _ => return Ok(None),
        }))
    }
}

fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        T_U8 | T_I8 | T_BOOL => Some(1),
        T_U16 | T_I16 => Some(2),
        T_U32 | T_I32 | T_F32 => Some(4),
        T_U64 | T_I64 | T_F64 => Some(8),
        _ => None,
    }
}

fn unknown_type(at: u64, ty: u32) -> Fail {
    Fail::Malformed {
        at,
        reason: format!("unknown value type {ty}"),
    }
}

fn type_name(ty: u32) -> &'static str {
    match ty {
        T_U8 => "u8",
        T_I8 => "i8",
        T_U16 => "u16",
        T_I16 => "i16",
        T_U32 => "u32",
        T_I32 => "i32",
        T_F32 => "f32",
        T_BOOL => "bool",
        T_STRING => "string",
        T_ARRAY => "array",
        T_U64 => "u64",
        T_I64 => "i64",
        T_F64 => "f64",
        _ => "unknown",
    }
}

/// Keys whose values are kept; everything else is skipped.
#[derive(Clone, Copy)]
enum Wanted {
    Architecture,
    Name,
    TokenizerModel,
    TokenizerPre,
    ChatTemplate,
    Tokens,
    TokenTypes,
    Bos,
    Alignment,
    /// EOS, or the id of one of llama.cpp's token roles; named by its key.
    KeyId(&'static str),
}

fn wanted(key: &[u8]) -> Option<Wanted> {
    Some(match key {
        b"general.architecture" => Wanted::Architecture,
        b"general.name" => Wanted::Name,
        b"tokenizer.ggml.model" => Wanted::TokenizerModel,
        b"tokenizer.ggml.pre" => Wanted::TokenizerPre,
        b"tokenizer.chat_template" => Wanted::ChatTemplate,
        b"tokenizer.ggml.tokens" => Wanted::Tokens,
        b"tokenizer.ggml.token_type" => Wanted::TokenTypes,
        b"tokenizer.ggml.bos_token_id" => Wanted::Bos,
        b"general.alignment" => Wanted::Alignment,
        _ if key == EOS_KEY.as_bytes() => Wanted::KeyId(EOS_KEY),
        _ => {
            let role = ROLES.iter().find(|r| r.key.as_bytes() == key)?;
            Wanted::KeyId(role.key)
        }
    })
}

fn parse(src: impl Read, len: u64, mode: Mode) -> Result<Parsed, VocabError> {
    let mut r = Reader { src, pos: 0, len };

    let mut magic = [0u8; 4];
    let have = len.min(4) as usize;
    r.fill(&mut magic[..have])
        .map_err(|f| f.reading(|| "the magic".into()))?;
    if magic[..have] != MAGIC[..have] || have == 0 {
        return Err(VocabError::new(Kind::NotGguf {
            start: magic[..have].to_vec(),
        }));
    }
    if have < 4 {
        return Err(Fail::Truncated {
            at: 0,
            needed: 4,
            left: have as u64,
        }
        .reading(|| "the magic".into()));
    }

    let mut parsed = Parsed::default();
    let version = r.u32().map_err(|f| f.reading(|| "the version".into()))?;
    if !matches!(version, 2 | 3) {
        return Err(VocabError::new(Kind::UnsupportedGgufVersion(version)));
    }
    parsed.meta.version = version;
    parsed.meta.tensor_count = r
        .u64()
        .map_err(|f| f.reading(|| "the tensor count".into()))?;
    let kv_count = r
        .u64()
        .map_err(|f| f.reading(|| "the key/value count".into()))?;
    parsed.meta.kv_count = kv_count;
    let keep_tokens = mode == Mode::Vocabulary;

    let mut key = Vec::new();
    // No allocation depends on kv_count: a lying count just runs into the end of the input.
    for entry in 0..kv_count {
        key.clear();
        r.string_into(&mut key)
            .map_err(|f| f.reading(|| format!("the key of entry {entry}")))?;
        let key_text = || String::from_utf8_lossy(&key).into_owned();
        let type_at = r.pos;
        let ty = r
            .u32()
            .map_err(|f| f.reading(|| format!("the type of key '{}'", key_text())))?;
        let value_context = || format!("the value of key '{}'", key_text());
        match wanted(&key) {
            None => r.skip_value(ty, 0).map_err(|f| f.reading(value_context))?,
            Some(w) => {
                read_wanted(&mut r, &mut parsed, w, ty, keep_tokens).map_err(|e| match e {
                    KeepError::Fail(f) => f.reading(value_context),
                    KeepError::Type(expected) => VocabError::new(Kind::WrongType {
                        key: key_text(),
                        at: type_at,
                        found: format!("a value of type {}", type_name(ty)),
                        expected,
                    }),
                    KeepError::Duplicate => VocabError::new(Kind::DuplicateKey {
                        key: key_text(),
                        at: type_at,
                    }),
                    KeepError::Value(found, expected) => VocabError::new(Kind::WrongType {
                        key: key_text(),
                        at: type_at,
                        found,
                        expected,
                    }),
                })?
            }
        }
    }
    if mode == Mode::Check {
        walk_tensors(&mut r, &mut parsed)?;
    }
    Ok(parsed)
}

/// Reads the tensor records that follow the key/value section and checks that each tensor's
/// data lies inside the input.
///
/// The data section starts after the last record, so no extent can be checked before all
/// records are read: each record's offset and size are kept (16 bytes for a record of at least
/// 24 input bytes) with its name, and memory stays below the input's size.
fn walk_tensors<R: Read>(r: &mut Reader<R>, parsed: &mut Parsed) -> Result<(), VocabError> {
    let alignment = match parsed.meta.alignment {
        None => DEFAULT_ALIGNMENT,
        Some(a) if a.is_power_of_two() && a <= u64::from(u32::MAX) => a,
        Some(a) => {
            return Err(VocabError::new(Kind::WrongType {
                key: "general.alignment".into(),
                at: parsed.alignment_at,
                found: format!("{a}"),
                expected: "a power of two that fits in 32 bits",
            }))
        }
    };
    let mut names = TokenTexts::default();
    let mut extents: Vec<(u64, u64)> = Vec::new();
    for index in 0..parsed.meta.tensor_count {
        r.string_into(&mut names.bytes)
            .map_err(|f| f.reading(|| format!("the name of tensor {index}")))?;
        names.ends.push(names.bytes.len());
        let name = String::from_utf8_lossy(names.get(names.len() - 1)).into_owned();
        let of_tensor = |what: &str| format!("{what} of tensor '{name}'");
        let bad = |at: u64, reason: String| {
            Fail::Malformed { at, reason }.reading(|| of_tensor("the record"))
        };

        let dims_at = r.pos;
        let n_dims = r
            .u32()
            .map_err(|f| f.reading(|| of_tensor("the dimension count")))?;
        if n_dims > MAX_DIMS {
            return Err(bad(
                dims_at,
                format!("{n_dims} dimensions (ggml allows at most {MAX_DIMS})"),
            ));
        }
        let mut shape = [1u64; MAX_DIMS as usize];
        for d in shape.iter_mut().take(n_dims as usize) {
            let at = r.pos;
            *d = r.u64().map_err(|f| f.reading(|| of_tensor("the shape")))?;
            // ggml keeps dimensions as i64.
            if i64::try_from(*d).is_err() {
                return Err(bad(at, format!("dimension {d} larger than 2^63 - 1")));
            }
        }
        let shape_text = || {
            let dims: Vec<String> = shape[..n_dims as usize]
                .iter()
                .map(u64::to_string)
                .collect();
            dims.join(" x ")
        };
        let type_at = r.pos;
        let type_id = r
            .u32()
            .map_err(|f| f.reading(|| of_tensor("the ggml type")))?;
        let ty = GgmlType::from_id(type_id)
            .ok_or_else(|| bad(type_at, format!("unknown ggml type {type_id}")))?;
        if shape[0] % ty.block != 0 {
            return Err(bad(
                dims_at,
                format!(
                    "rows of {} elements do not fill whole {} blocks of {} (shape {})",
                    shape[0],
                    ty.name,
                    ty.block,
                    shape_text()
                ),
            ));
        }
        let size = shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .and_then(|elements| ty.data_size(elements))
            .ok_or_else(|| {
                bad(
                    dims_at,
                    format!(
                        "{} shape {} takes more than 2^64 bytes",
                        ty.name,
                        shape_text()
                    ),
                )
            })?;
        let offset_at = r.pos;
        let offset = r
            .u64()
            .map_err(|f| f.reading(|| of_tensor("the data offset")))?;
        if offset % alignment != 0 {
            return Err(bad(
                offset_at,
                format!("data offset {offset} is not a multiple of the alignment {alignment}"),
            ));
        }
        extents.push((offset, size));
    }

    let data_start = r.pos.div_ceil(alignment).saturating_mul(alignment);
    let mut data_end = data_start;
    // Report the tensor where the cut falls, the first one in the file that is not whole.
    let mut cut: Option<(usize, u64, u64)> = None;
    for (i, &(offset, size)) in extents.iter().enumerate() {
        let start = data_start.saturating_add(offset);
        let end = start.saturating_add(size);
        data_end = data_end.max(end);
        if end > r.len && cut.is_none_or(|(_, first, _)| start < first) {
            cut = Some((i, start, size));
        }
    }
    if let Some((i, start, size)) = cut {
        return Err(Fail::Truncated {
            at: start,
            needed: size,
            left: r.len.saturating_sub(start),
        }
        .reading(|| {
            format!(
                "the data of tensor '{}'",
                String::from_utf8_lossy(names.get(i))
            )
        }));
    }
    parsed.meta.tensor_data_offset = Some(data_start);
    parsed.meta.tensor_data_size = Some(data_end - data_start);
    Ok(())
}

/// Why a kept key could not be read.
enum KeepError {
    Fail(Fail),
    /// The value has another type than the key requires.
    Type(&'static str),
    /// The value's type is right but the value is not (e.g. a negative token id).
    Value(String, &'static str),
    Duplicate,
}

impl From<Fail> for KeepError {
    fn from(f: Fail) -> KeepError {
        KeepError::Fail(f)
    }
}

fn read_wanted<R: Read>(
    r: &mut Reader<R>,
    parsed: &mut Parsed,
    w: Wanted,
    ty: u32,
    keep_tokens: bool,
) -> Result<(), KeepError> {
    let meta = &mut parsed.meta;
    let text_slot = match w {
        Wanted::Architecture => Some(&mut meta.architecture),
        Wanted::Name => Some(&mut meta.name),
        Wanted::TokenizerModel => Some(&mut meta.tokenizer_model),
        Wanted::TokenizerPre => Some(&mut meta.tokenizer_pre),
        Wanted::ChatTemplate => Some(&mut meta.chat_template),
        _ => None,
    };
    if let Some(slot) = text_slot {
        if ty != T_STRING {
            return Err(KeepError::Type("a string"));
        }
        if slot.is_some() {
            return Err(KeepError::Duplicate);
        }
        let mut buf = Vec::new();
        r.string_into(&mut buf)?;
        *slot = Some(String::from_utf8_lossy(&buf).into_owned());
        return Ok(());
    }
    match w {
        Wanted::Alignment => {
            if meta.alignment.is_some() {
                return Err(KeepError::Duplicate);
            }
            parsed.alignment_at = r.pos;
            let a = r.integer(ty)?.ok_or(KeepError::Type("an integer"))?;
            // Checked (power of two) only by the tensor walk, the one reader that needs it.
            meta.alignment = Some(u64::try_from(a).unwrap_or(0));
            Ok(())
        }
        Wanted::Bos | Wanted::KeyId(_) => {
            let id = r
                .integer(ty)?
                .ok_or(KeepError::Type("an integer token id"))?;
            let id = TokenId::try_from(id)
                .map_err(|_| KeepError::Value(format!("{id}"), "a token id (0 to 2^32 - 1)"))?;
            match w {
                Wanted::Bos if meta.bos_token_id.is_some() => return Err(KeepError::Duplicate),
                Wanted::Bos => meta.bos_token_id = Some(id),
                Wanted::KeyId(key) => {
                    if parsed.key_ids.iter().any(|(k, _)| *k == key) {
                        return Err(KeepError::Duplicate);
                    }
                    if key == EOS_KEY {
                        meta.eos_token_id = Some(id);
                    }
                    parsed.key_ids.push((key, id));
                }
                _ => {}
            }
            Ok(())
        }
        Wanted::Tokens => {
            if ty != T_ARRAY {
                return Err(KeepError::Type("an array of strings"));
            }
            if parsed.tokens.is_some() || meta.token_count > 0 {
                return Err(KeepError::Duplicate);
            }
            let elem = r.u32()?;
            if elem != T_STRING {
                return Err(KeepError::Value(
                    format!("an array of {}", type_name(elem)),
                    "an array of strings",
                ));
            }
            // Each string takes at least its 8-byte length, which bounds the count by the input.
            let n = r.count(8)?;
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= TokenId::MAX as usize)
                .ok_or(KeepError::Value(
                    format!("{n} tokens"),
                    "at most 2^32 tokens",
                ))?;
            meta.token_count = n;
            if !keep_tokens {
                for _ in 0..n {
                    let len = r.count(1)?;
                    r.skip(len)?;
                }
                return Ok(());
            }
            let mut texts = TokenTexts {
                bytes: Vec::new(),
                // n * 8 bytes of ends for at least n * 8 bytes of input.
                ends: Vec::with_capacity(n),
            };
            for _ in 0..n {
                r.string_into(&mut texts.bytes)?;
                texts.ends.push(texts.bytes.len());
            }
            parsed.tokens = Some(texts);
            Ok(())
        }
        Wanted::TokenTypes => {
            if ty != T_ARRAY {
                return Err(KeepError::Type("an array of i32"));
            }
            if parsed.token_types.is_some() {
                return Err(KeepError::Duplicate);
            }
            let elem = r.u32()?;
            if elem != T_I32 && elem != T_U32 {
                return Err(KeepError::Value(
                    format!("an array of {}", type_name(elem)),
                    "an array of i32",
                ));
            }
            let n = r.count(4)?;
            if !keep_tokens {
                return Ok(r.skip(n * 4)?);
            }
            // n * 4 bytes for n * 4 bytes of input.
            let mut types = Vec::with_capacity(n as usize);
            for _ in 0..n {
                types.push(i32::from_le_bytes(r.array()?));
            }
            parsed.token_types = Some(types);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// How normal tokens spell their bytes.
#[derive(Clone, Copy, PartialEq)]
enum Spelling {
    ByteLevel,
    SentencePiece,
}

impl Parsed {
    fn into_vocabulary(self) -> Result<(GgufMetadata, Vocabulary), VocabError> {
        let model = self
            .meta
            .tokenizer_model
            .as_deref()
            .ok_or(VocabError::new(Kind::MissingKey("tokenizer.ggml.model")))?;
        let spelling = match model {
            "gpt2" => Spelling::ByteLevel,
            "llama" => Spelling::SentencePiece,
            other => return Err(VocabError::new(Kind::UnsupportedModel(other.into()))),
        };
        let tokens = self
            .tokens
            .as_ref()
            .ok_or(VocabError::new(Kind::MissingKey("tokenizer.ggml.tokens")))?;
        let n = tokens.ends.len();
        if let Some(types) = &self.token_types {
            if types.len() != n {
                return Err(VocabError::unsupported(format!(
                    "key 'tokenizer.ggml.token_type' has {} entries but 'tokenizer.ggml.tokens' has {n}",
                    types.len()
                )));
            }
        }
        // The vocabulary addresses its byte arena with u32 offsets.
        if u32::try_from(tokens.bytes.len()).is_err() {
            return Err(VocabError::unsupported(format!(
                "the token list holds {} bytes, more than the 4 GiB a vocabulary can address",
                tokens.bytes.len()
            )));
        }

        let eog = EndOfGeneration::decide(tokens.iter(), &self.key_ids);
        let mut b = Vocabulary::builder();
        let mut buf = Vec::new();
        for i in 0..n {
            let text = tokens.get(i);
            let id = i as u64;
            // Without token types llama.cpp takes every token as normal.
            let ty = match eog.forced.get(&(i as TokenId)) {
                Some(Forced::Control) => TOKEN_CONTROL,
                Some(Forced::UserDefined) => TOKEN_USER_DEFINED,
                Some(Forced::Normal) => TOKEN_NORMAL,
                None => self.token_types.as_ref().map_or(TOKEN_NORMAL, |t| t[i]),
            };
            buf.clear();
            match ty {
                TOKEN_NORMAL => match spelling {
                    Spelling::ByteLevel => {
                        let s = std::str::from_utf8(text)
                            .map_err(|_| VocabError::token(id, "text is not valid UTF-8"))?;
                        decode_byte_level(s, &mut buf).map_err(|c| {
                            VocabError::token(
                                id,
                                format!(
                                    "'{}': character {c:?} (U+{:04X}) is not in the GPT-2 byte map",
                                    s.escape_debug(),
                                    c as u32
                                ),
                            )
                        })?;
                    }
                    Spelling::SentencePiece => decode_metaspace(text, &mut buf),
                },
                // llama.cpp prints user-defined SentencePiece tokens raw, but its converter
                // already writes their `▁` as spaces ("pre-normalize user-defined spaces");
                // undoing `▁` here agrees with both on current files and with Hugging Face on
                // older ones.
                TOKEN_USER_DEFINED => match spelling {
                    Spelling::ByteLevel => buf.extend_from_slice(text),
                    Spelling::SentencePiece => decode_metaspace(text, &mut buf),
                },
                TOKEN_BYTE => buf.push(parse_byte_piece(text).ok_or_else(|| {
                    VocabError::token(
                        id,
                        format!(
                            "byte token '{}' is not of the form <0xNN>",
                            String::from_utf8_lossy(text).escape_debug()
                        ),
                    )
                })?),
                // Unknown, control, unused and undefined tokens print nothing in llama.cpp.
                _ => {
                    b.special(String::from_utf8_lossy(text));
                    continue;
                }
            }
            b.text(&buf);
        }

        let mut end_ids = eog.ids;
        // llama.cpp's default for SentencePiece models without an EOS key is `</s>` at id 2.
        // (Its byte-level default, id 11, is a comma in GPT-2 and not worth copying.)
        if spelling == Spelling::SentencePiece && self.meta.eos_token_id.is_none() && n > 2 {
            end_ids.push(2);
        }
        for id in end_ids {
            b.end_of_generation(id);
        }
        Ok((self.meta, b.build()))
    }
}
