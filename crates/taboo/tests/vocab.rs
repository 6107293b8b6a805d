//! Vocabulary loaders: GGUF (hand-built files), Hugging Face `tokenizer.json`, tiktoken.
//!
//! The GGUF files are written by the small [`Gguf`] writer below, so every byte of every
//! fixture is visible here; nothing is downloaded.

use proptest::prelude::*;
use taboo::vocab::{check_gguf_bytes, read_gguf_bytes, read_gguf_file};
use taboo::{GgufMetadata, TokenId, VocabError, Vocabulary};

// ---------------------------------------------------------------------------------------------
// A minimal GGUF writer: header, key/value pairs, and (for the tensor check) tensor records and
// zeroed tensor data.

const U8: u32 = 0;
const U32: u32 = 4;
const I32: u32 = 5;
const F32: u32 = 6;
const BOOL: u32 = 7;
const STRING: u32 = 8;
const ARRAY: u32 = 9;
const U64: u32 = 10;
const I64: u32 = 11;

const NORMAL: i32 = 1;
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const UNUSED: i32 = 5;
const BYTE: i32 = 6;

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s);
}

struct Gguf {
    version: u32,
    kv_count: u64,
    kvs: Vec<u8>,
}

impl Gguf {
    fn new() -> Gguf {
        Gguf {
            version: 3,
            kv_count: 0,
            kvs: Vec::new(),
        }
    }

    /// A key with a value already encoded (type tag included in `value`).
    fn raw(mut self, key: &str, ty: u32, value: &[u8]) -> Gguf {
        self.kv_count += 1;
        put_str(&mut self.kvs, key.as_bytes());
        self.kvs.extend(ty.to_le_bytes());
        self.kvs.extend(value);
        self
    }

    fn string(self, key: &str, value: &str) -> Gguf {
        let mut v = Vec::new();
        put_str(&mut v, value.as_bytes());
        self.raw(key, STRING, &v)
    }

    fn u32(self, key: &str, value: u32) -> Gguf {
        self.raw(key, U32, &value.to_le_bytes())
    }

    fn strings(self, key: &str, values: &[&str]) -> Gguf {
        let mut v = Vec::new();
        v.extend(STRING.to_le_bytes());
        v.extend((values.len() as u64).to_le_bytes());
        for s in values {
            put_str(&mut v, s.as_bytes());
        }
        self.raw(key, ARRAY, &v)
    }

    fn i32s(self, key: &str, values: &[i32]) -> Gguf {
        let mut v = Vec::new();
        v.extend(I32.to_le_bytes());
        v.extend((values.len() as u64).to_le_bytes());
        for x in values {
            v.extend(x.to_le_bytes());
        }
        self.raw(key, ARRAY, &v)
    }

    /// Tokens and their types, given as pairs.
    fn tokens(self, model: &str, tokens: &[(&str, i32)]) -> Gguf {
        let texts: Vec<&str> = tokens.iter().map(|t| t.0).collect();
        let types: Vec<i32> = tokens.iter().map(|t| t.1).collect();
        self.string("tokenizer.ggml.model", model)
            .strings("tokenizer.ggml.tokens", &texts)
            .i32s("tokenizer.ggml.token_type", &types)
    }

    fn build(&self) -> Vec<u8> {
        self.build_records(&[], 0)
    }

    /// The file with `tensors` (name, shape, ggml type) laid out the way llama.cpp writes them:
    /// each tensor's data at the next multiple of 32 bytes.
    fn build_with_tensors(&self, tensors: &[(&str, &[u64], u32)]) -> Vec<u8> {
        let mut records = Vec::new();
        let mut offset = 0;
        for &(name, shape, ty) in tensors {
            records.push((name, shape, ty, offset));
            offset = (offset + data_size(ty, shape)).next_multiple_of(32);
        }
        let last = tensors.last().map_or(0, |&(_, shape, ty)| {
            records.last().unwrap().3 + data_size(ty, shape)
        });
        self.build_records(&records, last)
    }

    /// The file with raw tensor records (name, shape, ggml type, data offset), then 32-byte
    /// alignment padding and `data_len` bytes of zeroed tensor data.
    fn build_records(&self, records: &[(&str, &[u64], u32, u64)], data_len: u64) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.to_le_bytes());
        out.extend((records.len() as u64).to_le_bytes());
        out.extend(self.kv_count.to_le_bytes());
        out.extend(&self.kvs);
        for &(name, shape, ty, offset) in records {
            put_str(&mut out, name.as_bytes());
            out.extend((shape.len() as u32).to_le_bytes());
            for d in shape {
                out.extend(d.to_le_bytes());
            }
            out.extend(ty.to_le_bytes());
            out.extend(offset.to_le_bytes());
        }
        if !records.is_empty() {
            out.resize(out.len().next_multiple_of(32), 0);
            out.resize(out.len() + data_len as usize, 0);
        }
        out
    }
}

// ggml tensor types used by the fixtures, with their sizes written out by hand (from
// ggml-common.h) so that the reader's table is checked against an independent copy.
const GGML_F32: u32 = 0;
const GGML_Q4_0: u32 = 2;
const GGML_Q4_K: u32 = 12;

fn data_size(ty: u32, shape: &[u64]) -> u64 {
    let elements: u64 = shape.iter().product();
    match ty {
        GGML_F32 => elements * 4,
        GGML_Q4_0 => elements / 32 * 18,
        GGML_Q4_K => elements / 256 * 144,
        _ => 0,
    }
}

/// Keys a real file carries that the loader must skip over correctly.
fn with_noise(g: Gguf) -> Gguf {
    let mut nested = Vec::new();
    nested.extend(ARRAY.to_le_bytes());
    nested.extend(2u64.to_le_bytes());
    for n in [2u64, 1] {
        nested.extend(U8.to_le_bytes());
        nested.extend(n.to_le_bytes());
        nested.extend(vec![7u8; n as usize]);
    }
    g.string("general.architecture", "llama")
        .string("general.name", "Tiny Test")
        .raw("llama.rope.freq_base", F32, &10000f32.to_le_bytes())
        .raw("general.flag", BOOL, &[1])
        .raw("llama.context_length", U64, &2048u64.to_le_bytes())
        .raw("general.nested", ARRAY, &nested)
        .strings("tokenizer.ggml.merges", &["Ġ c", "a t"])
        .string("tokenizer.chat_template", "{{ messages }}")
}

/// A byte-level BPE (`gpt2`) vocabulary:
///
/// | id | token          | type         | bytes              |
/// |----|----------------|--------------|--------------------|
/// | 0  | `<|endoftext|>`| control      | special, EOS       |
/// | 1  | `Ġcat`         | normal       | ` cat`             |
/// | 2  | `s`            | normal       | `s`                |
/// | 3  | `Ċ`            | normal       | `\n`               |
/// | 4  | `ĠÐºÐ¾`        | normal       | ` ко` (UTF-8)      |
/// | 5  | `<|im_start|>` | control      | special            |
/// | 6  | `<|im_end|>`   | control      | special, EOG       |
/// | 7  | `hello world`  | user-defined | `hello world`      |
/// | 8  | `<unk>`        | unknown      | special            |
/// | 9  | `Ġ`            | normal       | ` `                |
/// | 10 | `Ã`            | normal       | `0xC3` (half char) |
fn gpt2_tokens() -> Vec<(&'static str, i32)> {
    vec![
        ("<|endoftext|>", CONTROL),
        ("Ġcat", NORMAL),
        ("s", NORMAL),
        ("Ċ", NORMAL),
        ("ĠÐºÐ¾", NORMAL),
        ("<|im_start|>", CONTROL),
        ("<|im_end|>", CONTROL),
        ("hello world", USER_DEFINED),
        ("<unk>", UNKNOWN),
        ("Ġ", NORMAL),
        ("Ã", NORMAL),
    ]
}

fn gpt2_file() -> Vec<u8> {
    with_noise(Gguf::new())
        .tokens("gpt2", &gpt2_tokens())
        .string("tokenizer.ggml.pre", "smollm")
        .u32("tokenizer.ggml.bos_token_id", 5)
        .u32("tokenizer.ggml.eos_token_id", 0)
        .build()
}

/// A SentencePiece (`llama`) vocabulary with byte fallback:
///
/// | id | token             | type         | bytes          |
/// |----|-------------------|--------------|----------------|
/// | 0  | `<unk>`           | unknown      | special        |
/// | 1  | `<s>`             | control      | special        |
/// | 2  | `</s>`            | control      | special, EOS   |
/// | 3  | `<0x0A>`          | byte         | `\n`           |
/// | 4  | `<0xE2>`          | byte         | `0xE2`         |
/// | 5  | `▁cat`            | normal       | ` cat`         |
/// | 6  | `▁▁`              | normal       | two spaces     |
/// | 7  | `кошка`           | normal       | `кошка`        |
/// | 8  | `<start_of_turn>` | control      | special        |
/// | 9  | `<end_of_turn>`   | control      | special, EOG   |
/// | 10 | `▁hi▁there`       | user-defined | ` hi there`    |
/// | 11 | `<unused0>`       | unused       | special        |
fn spm_tokens() -> Vec<(&'static str, i32)> {
    vec![
        ("<unk>", UNKNOWN),
        ("<s>", CONTROL),
        ("</s>", CONTROL),
        ("<0x0A>", BYTE),
        ("<0xE2>", BYTE),
        ("▁cat", NORMAL),
        ("▁▁", NORMAL),
        ("кошка", NORMAL),
        ("<start_of_turn>", CONTROL),
        ("<end_of_turn>", CONTROL),
        ("▁hi▁there", USER_DEFINED),
        ("<unused0>", UNUSED),
    ]
}

fn spm_file() -> Vec<u8> {
    Gguf::new()
        .string("general.architecture", "gemma3")
        .tokens("llama", &spm_tokens())
        .u32("tokenizer.ggml.eos_token_id", 2)
        .build()
}

fn bytes_of(v: &Vocabulary, id: TokenId) -> Option<&[u8]> {
    v.token_bytes(id)
}

// ---------------------------------------------------------------------------------------------
// GGUF: decoding rules.

#[test]
fn gguf_gpt2_decodes_byte_level_tokens() {
    let (meta, v) = read_gguf_bytes(&gpt2_file()).unwrap();
    assert_eq!(v.len(), 11);
    assert_eq!(bytes_of(&v, 1), Some(&b" cat"[..]));
    assert_eq!(bytes_of(&v, 2), Some(&b"s"[..]));
    assert_eq!(bytes_of(&v, 3), Some(&b"\n"[..]));
    assert_eq!(bytes_of(&v, 4), Some(" ко".as_bytes()));
    assert_eq!(bytes_of(&v, 7), Some(&b"hello world"[..]));
    assert_eq!(bytes_of(&v, 9), Some(&b" "[..]));
    assert_eq!(bytes_of(&v, 10), Some(&[0xC3][..]));
    for special in [0, 5, 6, 8] {
        assert!(v.is_special(special), "token {special}");
        assert_eq!(bytes_of(&v, special), None);
    }
    assert_eq!(v.special_name(5), Some("<|im_start|>"));
    let mut eog = v.end_of_generation().to_vec();
    eog.sort();
    assert_eq!(eog, [0, 6]);
    assert_eq!(v.decode(&[5, 1, 2, 6]), b" cats");

    assert_eq!(meta.version, 3);
    assert_eq!(meta.architecture.as_deref(), Some("llama"));
    assert_eq!(meta.name.as_deref(), Some("Tiny Test"));
    assert_eq!(meta.tokenizer_model.as_deref(), Some("gpt2"));
    assert_eq!(meta.tokenizer_pre.as_deref(), Some("smollm"));
    assert_eq!(meta.token_count, 11);
    assert_eq!(meta.bos_token_id, Some(5));
    assert_eq!(meta.eos_token_id, Some(0));
    assert_eq!(meta.chat_template.as_deref(), Some("{{ messages }}"));
    assert_eq!(GgufMetadata::from_bytes(&gpt2_file()).unwrap(), meta);
}

#[test]
fn gguf_llama_decodes_sentencepiece_tokens() {
    let v = Vocabulary::from_gguf_bytes(&spm_file()).unwrap();
    assert_eq!(v.len(), 12);
    assert_eq!(bytes_of(&v, 3), Some(&b"\n"[..]));
    assert_eq!(bytes_of(&v, 4), Some(&[0xE2][..]));
    assert_eq!(bytes_of(&v, 5), Some(&b" cat"[..]));
    assert_eq!(bytes_of(&v, 6), Some(&b"  "[..]));
    assert_eq!(bytes_of(&v, 7), Some("кошка".as_bytes()));
    assert_eq!(bytes_of(&v, 10), Some(&b" hi there"[..]));
    for special in [0, 1, 2, 8, 9, 11] {
        assert!(v.is_special(special), "token {special}");
    }
    let mut eog = v.end_of_generation().to_vec();
    eog.sort();
    assert_eq!(eog, [2, 9]);
}

#[test]
fn gguf_llama_without_eos_key_uses_llama_cpp_default() {
    let file = Gguf::new().tokens("llama", &spm_tokens()).build();
    let v = Vocabulary::from_gguf_bytes(&file).unwrap();
    let mut eog = v.end_of_generation().to_vec();
    eog.sort();
    assert_eq!(eog, [2, 9]);
}

#[test]
fn gguf_version_2_and_missing_token_types_mean_normal() {
    let mut g = Gguf::new()
        .string("tokenizer.ggml.model", "gpt2")
        .strings("tokenizer.ggml.tokens", &["Ġa", "b", "<|endoftext|>"]);
    g.version = 2;
    let v = Vocabulary::from_gguf_bytes(&g.build()).unwrap();
    assert_eq!(bytes_of(&v, 0), Some(&b" a"[..]));
    // llama.cpp makes this one control whatever its type says.
    assert!(v.is_special(2));
    assert_eq!(v.end_of_generation(), [2]);
}

#[test]
fn gguf_end_ids_from_every_key() {
    let tokens: Vec<(&str, i32)> = (0..8).map(|_| ("x", CONTROL)).collect();
    let file = Gguf::new()
        .tokens("gpt2", &tokens)
        .u32("tokenizer.ggml.eos_token_id", 1)
        .raw("tokenizer.ggml.eot_token_id", I32, &3i32.to_le_bytes())
        .raw("tokenizer.ggml.eom_token_id", U64, &4u64.to_le_bytes())
        .u32("tokenizer.ggml.fim_pad_token_id", 5)
        .u32("tokenizer.ggml.fim_sep_token_id", 99) // beyond the vocabulary: dropped
        .build();
    let v = Vocabulary::from_gguf_bytes(&file).unwrap();
    let mut eog = v.end_of_generation().to_vec();
    eog.sort();
    assert_eq!(eog, [1, 3, 4, 5]);
}

#[test]
fn gguf_file_round_trip_and_error_names_the_file() {
    let dir = std::env::temp_dir().join(format!("taboo-vocab-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("tiny.gguf");
    std::fs::write(&good, gpt2_file()).unwrap();
    let (meta, v) = read_gguf_file(&good).unwrap();
    assert_eq!(v.len(), 11);
    assert_eq!(meta.token_count, 11);
    assert_eq!(GgufMetadata::from_file(&good).unwrap(), meta);
    assert_eq!(
        bytes_of(&Vocabulary::from_gguf_file(&good).unwrap(), 1),
        Some(&b" cat"[..])
    );

    let bad = dir.join("cut.gguf");
    let full = gpt2_file();
    std::fs::write(&bad, &full[..full.len() - 3]).unwrap();
    let err = Vocabulary::from_gguf_file(&bad).unwrap_err();
    assert_eq!(err.file(), Some(bad.as_path()));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: truncated at byte ", bad.display())),
        "{err}"
    );

    let missing = dir.join("missing.gguf");
    let err = Vocabulary::from_gguf_file(&missing).unwrap_err();
    assert!(
        err.to_string().contains("missing.gguf: cannot read"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// GGUF: errors.

fn gguf_err(bytes: &[u8]) -> VocabError {
    Vocabulary::from_gguf_bytes(bytes).expect_err("must be rejected")
}

#[test]
fn gguf_wrong_magic() {
    assert_eq!(
        gguf_err(b"PK\x03\x04rest").to_string(),
        r#"not a GGUF file (no GGUF magic; it starts with "PK\x03\x04")"#
    );
    assert_eq!(gguf_err(b"").to_string(), "not a GGUF file (it is empty)");
    assert_eq!(
        gguf_err(b"G").to_string().split(" (").next(),
        Some("truncated at byte 0 while reading the magic")
    );
}

#[test]
fn gguf_unsupported_versions() {
    let mut g = Gguf::new();
    g.version = 1;
    assert!(gguf_err(&g.build())
        .to_string()
        .starts_with("unsupported GGUF version 1 "));
    g.version = 3u32.swap_bytes();
    assert!(gguf_err(&g.build()).to_string().contains("big-endian"));
}

#[test]
fn gguf_unsupported_model_and_missing_keys() {
    let file = Gguf::new().tokens("xyz", &[("a", NORMAL)]).build();
    assert!(gguf_err(&file)
        .to_string()
        .starts_with("unsupported tokenizer model 'xyz'"));
    let file = Gguf::new().strings("tokenizer.ggml.tokens", &["a"]).build();
    assert_eq!(
        gguf_err(&file).to_string(),
        "missing key 'tokenizer.ggml.model'"
    );
    let file = Gguf::new().string("tokenizer.ggml.model", "gpt2").build();
    assert_eq!(
        gguf_err(&file).to_string(),
        "missing key 'tokenizer.ggml.tokens'"
    );
    // A file without a tokenizer still has metadata.
    assert_eq!(
        GgufMetadata::from_bytes(&Gguf::new().build())
            .unwrap()
            .token_count,
        0
    );
}

#[test]
fn gguf_token_outside_byte_map_is_named() {
    let file = Gguf::new()
        .tokens("gpt2", &[("a", NORMAL), ("Ġкот", NORMAL)])
        .build();
    let err = gguf_err(&file);
    assert_eq!(err.token_id(), Some(1));
    assert!(
        err.to_string()
            .starts_with("token 1: 'Ġкот': character 'к' (U+043A) is not in the GPT-2 byte map"),
        "{err}"
    );
}

#[test]
fn gguf_bad_byte_token_is_named() {
    let file = Gguf::new()
        .tokens("llama", &[("<0x0A>", BYTE), ("<0xZZ>", BYTE)])
        .build();
    let err = gguf_err(&file);
    assert_eq!(
        err.to_string(),
        "token 1: byte token '<0xZZ>' is not of the form <0xNN>"
    );
}

#[test]
fn gguf_wrong_value_types() {
    let file = Gguf::new().u32("tokenizer.ggml.tokens", 7).build();
    let err = gguf_err(&file);
    assert_eq!(
        err.to_string(),
        "key 'tokenizer.ggml.tokens' at byte 53 holds a value of type u32, expected an array of strings"
    );
    let file = Gguf::new()
        .string("tokenizer.ggml.model", "gpt2")
        .i32s("tokenizer.ggml.tokens", &[1, 2])
        .build();
    assert!(gguf_err(&file)
        .to_string()
        .contains("holds an array of i32, expected an array of strings"));
    let file = Gguf::new()
        .raw("tokenizer.ggml.eos_token_id", I32, &(-1i32).to_le_bytes())
        .build();
    assert!(gguf_err(&file)
        .to_string()
        .contains("holds -1, expected a token id"));
    let file = Gguf::new()
        .tokens("gpt2", &[("a", NORMAL)])
        .i32s("tokenizer.ggml.token_type", &[1, 1])
        .build();
    assert!(gguf_err(&file).to_string().contains("appears twice"));
    let file = Gguf::new()
        .string("tokenizer.ggml.model", "gpt2")
        .strings("tokenizer.ggml.tokens", &["a", "b"])
        .i32s("tokenizer.ggml.token_type", &[1])
        .build();
    assert!(gguf_err(&file).to_string().contains("has 1 entries but"));
    let file = Gguf::new().raw("some.key", 13, &[0; 8]).build();
    assert_eq!(
        gguf_err(&file).to_string(),
        "unknown value type 13 at byte 40 while reading the value of key 'some.key'"
    );
}

#[test]
fn gguf_truncation_message_names_key_and_offset() {
    let full = Gguf::new()
        .string("tokenizer.ggml.model", "gpt2")
        .strings("tokenizer.ggml.tokens", &["abc", "defgh"])
        .build();
    // Cut inside the second token string's bytes.
    let err = gguf_err(&full[..full.len() - 2]);
    let at = full.len() - 5;
    assert_eq!(
        err.to_string(),
        format!(
            "truncated at byte {at} while reading the value of key 'tokenizer.ggml.tokens' \
             (needs 5 bytes, 3 left)"
        )
    );
    assert_eq!(err.byte_offset(), Some(at as u64));
}

#[test]
fn gguf_every_truncation_is_an_error() {
    for full in [gpt2_file(), spm_file()] {
        assert!(Vocabulary::from_gguf_bytes(&full).is_ok());
        for cut in 0..full.len() {
            let prefix = &full[..cut];
            assert!(
                Vocabulary::from_gguf_bytes(prefix).is_err(),
                "prefix of {cut} bytes"
            );
            assert!(
                GgufMetadata::from_bytes(prefix).is_err(),
                "prefix of {cut} bytes"
            );
        }
    }
}

/// A header claiming `count` elements of `elem` type, followed by almost nothing.
fn huge_array(key: &str, elem: u32, count: u64) -> Vec<u8> {
    let mut v = elem.to_le_bytes().to_vec();
    v.extend(count.to_le_bytes());
    v.extend([0u8; 16]);
    Gguf::new().raw(key, ARRAY, &v).build()
}

#[test]
fn gguf_huge_counts_fail_before_allocating() {
    // Each would need petabytes if the count were trusted; they must fail at once.
    let cases = [
        huge_array("tokenizer.ggml.tokens", STRING, u64::MAX),
        huge_array("tokenizer.ggml.tokens", STRING, 1 << 40),
        huge_array("tokenizer.ggml.token_type", I32, u64::MAX / 2),
        huge_array("unknown.key", U8, u64::MAX),
        huge_array("unknown.key", I64, 1 << 61),
        huge_array("unknown.key", STRING, 1 << 50),
        huge_array("unknown.key", ARRAY, 1 << 50),
    ];
    for file in cases {
        let err = gguf_err(&file);
        assert!(err.to_string().starts_with("truncated at byte "), "{err}");
        assert!(GgufMetadata::from_bytes(&file).is_err());
    }
    // A huge string length and a huge key/value count.
    let mut file = Gguf::new().build();
    file[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    file.extend(u64::MAX.to_le_bytes());
    assert_eq!(
        gguf_err(&file).to_string(),
        format!(
            "truncated at byte 32 while reading the key of entry 0 (needs {} bytes, 0 left)",
            u64::MAX
        )
    );
}

#[test]
fn gguf_deeply_nested_arrays_are_rejected() {
    let mut value = Vec::new();
    for _ in 0..20 {
        value.extend(ARRAY.to_le_bytes());
        value.extend(1u64.to_le_bytes());
    }
    value.extend(U8.to_le_bytes());
    value.extend(0u64.to_le_bytes());
    let file = Gguf::new().raw("deep", ARRAY, &value[12..]).build();
    let err = gguf_err(&file);
    assert!(
        err.to_string()
            .starts_with("arrays nested deeper than 8 levels"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// GGUF: the tensor walk of `check_gguf_file`.

/// The byte-level vocabulary with three tensors of three types:
///
/// | tensor                  | shape    | type | bytes | data offset |
/// |-------------------------|----------|------|-------|-------------|
/// | `token_embd.weight`     | 32 × 11  | Q4_0 | 198   | 0           |
/// | `output_norm.weight`    | 32       | F32  | 128   | 224         |
/// | `blk.0.ffn_down.weight` | 256 × 2  | Q4_K | 288   | 352         |
fn tensor_file() -> Vec<u8> {
    with_noise(Gguf::new())
        .tokens("gpt2", &gpt2_tokens())
        .build_with_tensors(TENSORS)
}

const TENSORS: &[(&str, &[u64], u32)] = &[
    ("token_embd.weight", &[32, 11], GGML_Q4_0),
    ("output_norm.weight", &[32], GGML_F32),
    ("blk.0.ffn_down.weight", &[256, 2], GGML_Q4_K),
];

#[test]
fn gguf_check_walks_every_tensor_record() {
    let file = tensor_file();
    let meta = check_gguf_bytes(&file).unwrap();
    assert_eq!((meta.tensor_count, meta.kv_count), (3, 11));
    let start = meta.tensor_data_offset.unwrap();
    assert_eq!(start % 32, 0);
    assert_eq!(meta.tensor_data_size, Some(352 + 288));
    assert_eq!(start + 352 + 288, file.len() as u64);
    // The other readers stop before the tensor records and agree on the rest.
    let plain = GgufMetadata::from_bytes(&file).unwrap();
    assert_eq!(plain.tensor_data_offset, None);
    assert_eq!(plain.token_count, meta.token_count);
    assert_eq!(Vocabulary::from_gguf_bytes(&file).unwrap().len(), 11);
}

#[test]
fn gguf_check_names_the_tensor_a_cut_falls_in() {
    let file = tensor_file();
    let start = check_gguf_bytes(&file).unwrap().tensor_data_offset.unwrap() as usize;
    let ends = [start + 198, start + 224 + 128, start + 352 + 288];
    for cut in 1..file.len() {
        let err = check_gguf_bytes(&file[..cut]).unwrap_err();
        assert!(err.is_truncated(), "cut at {cut}: {err}");
        if cut >= start {
            let tensor = ends.iter().position(|&end| cut < end).unwrap();
            let expected = format!("the data of tensor '{}'", TENSORS[tensor].0);
            assert!(err.to_string().contains(&expected), "cut at {cut}: {err}");
        }
    }
}

#[test]
fn gguf_check_refuses_bad_tensor_records() {
    let g = || Gguf::new().tokens("llama", &spm_tokens());
    let check = |file: Vec<u8>| check_gguf_bytes(&file).unwrap_err().to_string();

    let err = check(g().build_records(&[("w", &[8], 4, 0)], 64));
    assert!(err.starts_with("unknown ggml type 4 at byte "), "{err}");
    assert!(
        err.ends_with("while reading the record of tensor 'w'"),
        "{err}"
    );

    let err = check(g().build_records(&[("w", &[1, 1, 1, 1, 1], GGML_F32, 0)], 4));
    assert!(
        err.starts_with("5 dimensions (ggml allows at most 4)"),
        "{err}"
    );

    let err = check(g().build_records(&[("w", &[33, 2], GGML_Q4_0, 0)], 64));
    assert!(
        err.starts_with("rows of 33 elements do not fill whole Q4_0 blocks of 32 (shape 33 x 2)"),
        "{err}"
    );

    let err = check(g().build_records(&[("w", &[1 << 62, 1 << 62], GGML_F32, 0)], 4));
    assert!(err.contains("takes more than 2^64 bytes"), "{err}");

    let err = check(g().build_records(&[("w", &[u64::MAX], GGML_F32, 0)], 4));
    assert!(err.contains("larger than 2^63 - 1"), "{err}");

    let err = check(g().build_records(&[("w", &[4], GGML_F32, 16)], 32));
    assert!(
        err.starts_with("data offset 16 is not a multiple of the alignment 32"),
        "{err}"
    );

    let err = check(g().build_records(&[("w", &[4], GGML_F32, 1 << 40)], 16));
    assert!(
        err.starts_with("truncated at byte ")
            && err.contains("tensor 'w' (needs 16 bytes, 0 left)"),
        "{err}"
    );

    let err = check(
        g().u32("general.alignment", 24)
            .build_records(&[("w", &[4], GGML_F32, 0)], 16),
    );
    assert!(
        err.contains("'general.alignment'") && err.contains("power of two"),
        "{err}"
    );
    // A power-of-two alignment other than 32 moves where the data starts.
    let file = g().u32("general.alignment", 64).build_records(&[], 0);
    assert_eq!(check_gguf_bytes(&file).unwrap().alignment, Some(64));
}

#[test]
fn gguf_check_file_names_the_file() {
    let dir = std::env::temp_dir().join(format!("taboo-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut.gguf");
    let file = tensor_file();
    std::fs::write(&path, &file[..file.len() - 1]).unwrap();
    let err = taboo::vocab::check_gguf_file(&path).unwrap_err();
    assert_eq!(err.file(), Some(path.as_path()));
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}: truncated at byte ", path.display())),
        "{text}"
    );
    assert!(
        text.contains("tensor 'blk.0.ffn_down.weight' (needs 288 bytes, 287 left)"),
        "{text}"
    );
    std::fs::write(&path, &file).unwrap();
    assert_eq!(
        taboo::vocab::check_gguf_file(&path).unwrap().tensor_count,
        3
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// GGUF: property tests (the same code path as the cargo-fuzz target in fuzz/).

/// What `fuzz/fuzz_targets/gguf.rs` checks: an answer, never a panic, metadata that reads
/// wherever the vocabulary or the full check does, and a passed check whose tensor data lies
/// inside the input.
fn no_panic(bytes: &[u8]) {
    let vocab = Vocabulary::from_gguf_bytes(bytes);
    let meta = GgufMetadata::from_bytes(bytes);
    let checked = check_gguf_bytes(bytes);
    if let Ok(vocab) = vocab {
        assert_eq!(meta.as_ref().unwrap().token_count, vocab.len());
    }
    if let Ok(checked) = checked {
        let meta = meta.expect("metadata reads wherever the check passes");
        assert_eq!(
            (meta.token_count, meta.tensor_count, meta.kv_count),
            (checked.token_count, checked.tensor_count, checked.kv_count)
        );
        let end = checked.tensor_data_offset.unwrap() + checked.tensor_data_size.unwrap();
        assert!(checked.tensor_count == 0 || end <= bytes.len() as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn gguf_random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        no_panic(&tail);
        let mut file = b"GGUF\x03\0\0\0".to_vec();
        file.extend(&tail);
        no_panic(&file);
    }

    #[test]
    fn gguf_mutated_files_never_panic(
        which in 0..3u8,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        cut_it in any::<bool>(),
    ) {
        let mut file = match which {
            0 => spm_file(),
            1 => gpt2_file(),
            _ => tensor_file(),
        };
        for (at, byte) in edits {
            let i = at.index(file.len());
            file[i] = byte;
        }
        if cut_it {
            file.truncate(cut.index(file.len()));
        }
        no_panic(&file);
    }
}

// ---------------------------------------------------------------------------------------------
// Hugging Face tokenizer.json.

#[test]
fn hf_byte_level_bpe() {
    let json = r#"{
      "version": "1.0",
      "added_tokens": [
        {"id": 0, "content": "<|endoftext|>", "special": true},
        {"id": 6, "content": "<|im_end|>", "special": true},
        {"id": 7, "content": "<|im_start|>", "special": true},
        {"id": 8, "content": "my phrase", "special": false}
      ],
      "normalizer": null,
      "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": true},
        {"type": "ByteLevel", "add_prefix_space": false}
      ]},
      "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {
        "<|endoftext|>": 0, "Ġcat": 1, "s": 2, "Ċ": 3, "ĠÐºÐ¾": 4, "Ã": 5
      }, "merges": ["Ġ c", "a t"]}
    }"#;
    let v = Vocabulary::from_hf_tokenizer_json(json).unwrap();
    assert_eq!(v.len(), 9);
    assert!(v.is_special(0) && v.is_special(6) && v.is_special(7));
    assert_eq!(bytes_of(&v, 1), Some(&b" cat"[..]));
    assert_eq!(bytes_of(&v, 3), Some(&b"\n"[..]));
    assert_eq!(bytes_of(&v, 4), Some(" ко".as_bytes()));
    assert_eq!(bytes_of(&v, 5), Some(&[0xC3][..]));
    assert_eq!(bytes_of(&v, 8), Some(&b"my phrase"[..]));
    let mut eog = v.end_of_generation().to_vec();
    eog.sort();
    assert_eq!(eog, [0, 6]);
}

#[test]
fn hf_gaps_become_unused_specials() {
    let json = r#"{
      "added_tokens": [{"id": 5, "content": "</s>", "special": true}],
      "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 2}, "merges": []}
    }"#;
    let v = Vocabulary::from_hf_tokenizer_json(json).unwrap();
    assert_eq!(v.len(), 6);
    assert_eq!(v.special_name(1), Some("<unused:1>"));
    assert_eq!(v.special_name(3), Some("<unused:3>"));
    assert_eq!(v.special_name(4), Some("<unused:4>"));
    assert_eq!(v.end_of_generation(), [5]);
}

#[test]
fn hf_sentencepiece_bpe_with_byte_fallback() {
    // Llama-2 style: no pre-tokenizer, a Replace/ByteFallback decoder sequence.
    let json = r#"{
      "added_tokens": [
        {"id": 0, "content": "<unk>", "special": true},
        {"id": 1, "content": "<s>", "special": true},
        {"id": 2, "content": "</s>", "special": true},
        {"id": 7, "content": "▁custom▁word", "special": false}
      ],
      "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
      ]},
      "pre_tokenizer": null,
      "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"},
        {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}
      ]},
      "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>", "vocab": {
        "<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0xE2>": 4, "▁cat": 5, "кошка": 6
      }, "merges": []}
    }"#;
    let v = Vocabulary::from_hf_tokenizer_json(json).unwrap();
    assert_eq!(v.len(), 8);
    for s in [0, 1, 2] {
        assert!(v.is_special(s));
    }
    assert_eq!(bytes_of(&v, 3), Some(&b"\n"[..]));
    assert_eq!(bytes_of(&v, 4), Some(&[0xE2][..]));
    assert_eq!(bytes_of(&v, 5), Some(&b" cat"[..]));
    assert_eq!(bytes_of(&v, 6), Some("кошка".as_bytes()));
    assert_eq!(bytes_of(&v, 7), Some(&b" custom word"[..]));
    assert_eq!(v.end_of_generation(), [2]);
}

#[test]
fn hf_unigram_metaspace() {
    let json = r#"{
      "added_tokens": [{"id": 1, "content": "<eos>", "special": true}],
      "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"},
      "decoder": {"type": "Metaspace", "replacement": "▁"},
      "model": {"type": "Unigram", "unk_id": 0, "vocab": [
        ["<unk>", 0.0], ["<eos>", 0.0], ["▁cat", -1.5], ["<0x41>", -9.0], ["▁", -2.0]
      ]}
    }"#;
    let v = Vocabulary::from_hf_tokenizer_json(json).unwrap();
    assert_eq!(v.len(), 5);
    assert!(v.is_special(0), "unk_id marks <unk> special");
    assert!(v.is_special(1));
    assert_eq!(bytes_of(&v, 2), Some(&b" cat"[..]));
    // Without byte fallback, <0x41> is just text.
    assert_eq!(bytes_of(&v, 3), Some(&b"<0x41>"[..]));
    assert_eq!(bytes_of(&v, 4), Some(&b" "[..]));
    assert_eq!(v.end_of_generation(), [1]);
}

#[test]
fn hf_errors() {
    let err = |json: &str| {
        Vocabulary::from_hf_tokenizer_json(json)
            .unwrap_err()
            .to_string()
    };
    let wordpiece = r#"{"decoder": {"type": "WordPiece"},
        "model": {"type": "WordPiece", "vocab": {"a": 0}}}"#;
    assert!(
        err(wordpiece).contains("model type 'WordPiece'"),
        "{}",
        err(wordpiece)
    );
    assert!(err("{").starts_with("invalid tokenizer.json: "));
    assert!(err("{}").contains("no \"model\""));
    let no_spelling = r#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#;
    assert!(err(no_spelling).contains("neither a ByteLevel nor a Metaspace"));
    let dup = r#"{"decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}}"#;
    assert!(err(dup).contains("share this id"), "{}", err(dup));
    let huge = r#"{"decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": {"a": 4000000000}, "merges": []}}"#;
    assert!(err(huge).contains("expected an integer below"));
    let file_err =
        Vocabulary::from_hf_tokenizer_json_file("/nonexistent/tokenizer.json").unwrap_err();
    assert!(file_err
        .to_string()
        .starts_with("/nonexistent/tokenizer.json: cannot read"));
}

// ---------------------------------------------------------------------------------------------
// tiktoken.

#[cfg(feature = "tiktoken")]
mod tiktoken {
    use taboo::{TiktokenEncoding, Vocabulary};

    fn find(v: &Vocabulary, text: &[u8]) -> Vec<u32> {
        v.text_tokens()
            .filter(|(_, b)| *b == text)
            .map(|(id, _)| id)
            .collect()
    }

    fn check(encoding: TiktokenEncoding, len: usize, specials: &[(u32, &str)]) -> Vocabulary {
        let v = Vocabulary::tiktoken(encoding).unwrap();
        assert_eq!(v.len(), len, "{encoding:?}");
        for &(id, name) in specials {
            assert_eq!(v.special_name(id), Some(name), "{encoding:?} {id}");
        }
        let eot = specials.iter().find(|s| s.1 == "<|endoftext|>").unwrap().0;
        assert_eq!(v.end_of_generation(), [eot]);
        // Every id is either text or special, and only real special tokens and gaps are special.
        for id in 0..len as u32 {
            if v.is_special(id) {
                let name = v.special_name(id).unwrap();
                assert!(
                    specials.iter().any(|s| s.0 == id) || name == format!("<unused:{id}>"),
                    "{encoding:?}: {id} {name}"
                );
            } else {
                assert!(!v.token_bytes(id).unwrap().is_empty());
            }
        }
        v
    }

    #[test]
    fn r50k() {
        let v = check(
            TiktokenEncoding::R50kBase,
            50_257,
            &[(50_256, "<|endoftext|>")],
        );
        assert_eq!(find(&v, b" hello"), [23_748]);
        assert_eq!(v.text_tokens().count(), 50_256);
    }

    #[test]
    fn cl100k() {
        let v = check(
            TiktokenEncoding::Cl100kBase,
            100_277,
            &[
                (100_257, "<|endoftext|>"),
                (100_258, "<|fim_prefix|>"),
                (100_259, "<|fim_middle|>"),
                (100_260, "<|fim_suffix|>"),
                (100_276, "<|endofprompt|>"),
            ],
        );
        assert_eq!(find(&v, b" hello"), [24_748]);
        assert_eq!(v.token_bytes(24_748), Some(&b" hello"[..]));
        assert_eq!(v.text_tokens().count(), 100_256);
    }

    #[test]
    fn o200k() {
        let v = check(
            TiktokenEncoding::O200kBase,
            200_019,
            &[(199_999, "<|endoftext|>"), (200_018, "<|endofprompt|>")],
        );
        assert_eq!(v.text_tokens().count(), 199_998);
        assert_eq!(find(&v, " бесплатно".as_bytes()).len(), 1);
        // Tokens need not be valid UTF-8 on their own.
        assert!(v
            .text_tokens()
            .any(|(_, b)| std::str::from_utf8(b).is_err()));
    }

    #[test]
    fn names_round_trip() {
        for e in TiktokenEncoding::ALL {
            assert_eq!(TiktokenEncoding::from_name(e.name()), Some(e));
        }
    }
}
