//! Hugging Face `tokenizer.json`: the vocabulary, read with serde_json alone (no `tokenizers`).
//!
//! Two model types are understood: `BPE` (`vocab` maps piece → id) and `Unigram` (`vocab` is a
//! list of `[piece, score]`, the id being the position). How a piece spells its bytes is not
//! stored in the model but in the pipeline around it, so the loader looks for:
//!
//! * a `ByteLevel` step (decoder, pre-tokenizer or normalizer, also inside a `Sequence`): pieces
//!   use the GPT-2 byte map;
//! * otherwise a `Metaspace` step or a `Replace` of `▁`: SentencePiece spelling, where `▁` is a
//!   space and, with byte fallback (`"byte_fallback": true` or a `ByteFallback` decoder), pieces
//!   `<0xNN>` are single bytes.
//!
//! `added_tokens` override the model's entries: `"special": true` ones are special tokens, the
//! others are raw text. Ids the file never mentions become special tokens named `<unused:N>`,
//! so that ids stay dense and match the model's logits.
//!
//! `tokenizer.json` does not say which token ends generation; special tokens whose text is a
//! known end marker (`</s>`, `<eos>`, `<|endoftext|>`, `<|im_end|>`, `<end_of_turn>` …) are
//! taken as end of generation.

use std::collections::BTreeMap;

use serde_json::Value;

use super::byte_level::{decode_byte_level, decode_metaspace, parse_byte_piece, METASPACE};
use super::end_of_generation::END_OF_GENERATION_TEXTS;
use super::error::{Kind, VocabError};
use super::Vocabulary;

/// Ids beyond this are taken as a broken file rather than a vocabulary with huge gaps, which
/// would otherwise be filled with millions of `<unused:N>` tokens.
const MAX_TOKEN_ID: u64 = 1 << 24;

#[derive(Clone, Copy, PartialEq)]
enum Spelling {
    ByteLevel,
    Metaspace { byte_fallback: bool },
}

enum Entry {
    Text(Vec<u8>),
    Special(String),
}

pub(crate) fn from_json(json: &str) -> Result<Vocabulary, VocabError> {
    let root: Value = serde_json::from_str(json).map_err(|e| VocabError::new(Kind::Json(e)))?;
    let model = root
        .get("model")
        .filter(|m| m.is_object())
        .ok_or_else(|| VocabError::unsupported("tokenizer.json has no \"model\" object"))?;
    let vocab = model.get("vocab");
    let model_type = match model.get("type").and_then(Value::as_str) {
        Some(t) => t.to_owned(),
        // Files written before `type` existed: tell the model by the shape of its vocabulary.
        None if vocab.is_some_and(Value::is_array) => "Unigram".to_owned(),
        None if model.get("merges").is_some() => "BPE".to_owned(),
        None => "unknown".to_owned(),
    };

    let is_bpe = match model_type.as_str() {
        "BPE" => true,
        "Unigram" => false,
        other => {
            return Err(VocabError::unsupported(format!(
                "unsupported tokenizer.json model type '{other}' (supported: BPE, Unigram)"
            )))
        }
    };
    let spelling = spelling(&root, model)?;
    let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
    let piece_bytes = |piece: &str| -> Entry {
        let mut out = Vec::new();
        match spelling {
            // Hugging Face's ByteLevel decoder keeps a piece with a character outside the map
            // as its UTF-8 text; do the same so that decoding agrees with `tokenizers`.
            Spelling::ByteLevel => {
                if decode_byte_level(piece, &mut out).is_err() {
                    out.clear();
                    out.extend_from_slice(piece.as_bytes());
                }
            }
            Spelling::Metaspace { byte_fallback } => {
                match parse_byte_piece(piece.as_bytes()).filter(|_| byte_fallback) {
                    Some(byte) => out.push(byte),
                    None => decode_metaspace(piece.as_bytes(), &mut out),
                }
            }
        }
        Entry::Text(out)
    };

    if is_bpe {
        let map = vocab.and_then(Value::as_object).ok_or_else(|| {
            VocabError::unsupported("BPE model: \"vocab\" is not an object of piece → id")
        })?;
        for (piece, id) in map {
            let id = token_id(id, piece)?;
            let entry = piece_bytes(piece);
            if entries.insert(id, entry).is_some() {
                return Err(VocabError::token(id, "two vocabulary pieces share this id"));
            }
        }
        // BPE names its unknown token by text.
        if let Some(unk) = model.get("unk_token").and_then(Value::as_str) {
            if let Some(id) = map.get(unk).and_then(Value::as_u64) {
                entries.insert(id, Entry::Special(unk.to_owned()));
            }
        }
    } else {
        let list = vocab.and_then(Value::as_array).ok_or_else(|| {
            VocabError::unsupported("Unigram model: \"vocab\" is not a list of [piece, score]")
        })?;
        if list.len() as u64 > MAX_TOKEN_ID {
            return Err(VocabError::unsupported(format!(
                "Unigram model: {} pieces is more than the {MAX_TOKEN_ID} supported",
                list.len()
            )));
        }
        for (id, item) in list.iter().enumerate() {
            let id = id as u64;
            let piece = item
                .get(0)
                .and_then(Value::as_str)
                .ok_or_else(|| VocabError::token(id, "vocab entry is not [piece, score]"))?;
            entries.insert(id, piece_bytes(piece));
        }
        // Unigram names its unknown token by id.
        if let Some(id) = model.get("unk_id").and_then(Value::as_u64) {
            let piece = usize::try_from(id)
                .ok()
                .and_then(|i| list.get(i)?.get(0)?.as_str());
            if let Some(piece) = piece {
                entries.insert(id, Entry::Special(piece.to_owned()));
            }
        }
    }

    if let Some(added) = root.get("added_tokens") {
        let added = added
            .as_array()
            .ok_or_else(|| VocabError::unsupported("\"added_tokens\" is not a list"))?;
        for token in added {
            let content = token.get("content").and_then(Value::as_str);
            let (Some(content), Some(id)) = (content, token.get("id")) else {
                return Err(VocabError::unsupported(format!(
                    "added token {token} lacks \"id\" or \"content\""
                )));
            };
            let id = token_id(id, content)?;
            let entry = if token.get("special").and_then(Value::as_bool) == Some(true) {
                Entry::Special(content.to_owned())
            } else {
                let mut bytes = Vec::new();
                match spelling {
                    Spelling::ByteLevel => bytes.extend_from_slice(content.as_bytes()),
                    // Same reading as llama.cpp's converter, which writes the `▁` of
                    // user-defined SentencePiece tokens as spaces.
                    Spelling::Metaspace { .. } => decode_metaspace(content.as_bytes(), &mut bytes),
                }
                Entry::Text(bytes)
            };
            entries.insert(id, entry);
        }
    }

    let len = entries.last_key_value().map_or(0, |(&id, _)| id + 1);
    let mut b = Vocabulary::builder();
    let mut ends = Vec::new();
    for id in 0..len {
        match entries.remove(&id) {
            Some(Entry::Text(bytes)) => {
                b.text(bytes);
            }
            Some(Entry::Special(name)) => {
                let is_end = END_OF_GENERATION_TEXTS.iter().any(|t| *t == name);
                let id = b.special(name);
                if is_end {
                    ends.push(id);
                }
            }
            None => {
                b.special(format!("<unused:{id}>"));
            }
        }
    }
    for id in ends {
        b.end_of_generation(id);
    }
    Ok(b.build())
}

fn token_id(value: &Value, piece: &str) -> Result<u64, VocabError> {
    match value.as_u64() {
        Some(id) if id < MAX_TOKEN_ID => Ok(id),
        _ => Err(VocabError::unsupported(format!(
            "piece {piece:?} has id {value}, expected an integer below {MAX_TOKEN_ID}"
        ))),
    }
}

/// Finds how pieces spell bytes; the decoder is asked first because it is what turns pieces
/// back into text.
fn spelling(root: &Value, model: &Value) -> Result<Spelling, VocabError> {
    let byte_fallback = model.get("byte_fallback").and_then(Value::as_bool) == Some(true)
        || has_step(root.get("decoder"), &|s| {
            step_type(s) == Some("ByteFallback")
        });
    let metaspace = Spelling::Metaspace { byte_fallback };
    for part in ["decoder", "pre_tokenizer", "normalizer"] {
        let part = root.get(part);
        if has_step(part, &|s| step_type(s) == Some("ByteLevel")) {
            return Ok(Spelling::ByteLevel);
        }
        if has_step(part, &is_metaspace_step) {
            return Ok(metaspace);
        }
    }
    Err(VocabError::unsupported(
        "tokenizer.json has neither a ByteLevel nor a Metaspace step, so how its pieces spell \
         bytes is unknown (supported: byte-level BPE, SentencePiece-style BPE or Unigram)",
    ))
}

fn step_type(step: &Value) -> Option<&str> {
    step.get("type").and_then(Value::as_str)
}

fn is_metaspace_step(step: &Value) -> bool {
    match step_type(step) {
        Some("Metaspace") => true,
        Some("Replace") => {
            let text = |v: Option<&Value>| {
                v.and_then(|p| p.get("String").or(Some(p)))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let marker = METASPACE.to_string();
            let pattern = text(step.get("pattern"));
            let content = text(step.get("content"));
            pattern.as_deref() == Some(&marker) || content.as_deref() == Some(&marker)
        }
        _ => false,
    }
}

/// True if `step` or any step nested in it (`Sequence`'s `decoders`, `pretokenizers`,
/// `normalizers`) satisfies `pred`.
fn has_step(step: Option<&Value>, pred: &dyn Fn(&Value) -> bool) -> bool {
    let Some(step) = step.filter(|s| s.is_object()) else {
        return false;
    };
    if pred(step) {
        return true;
    }
    ["decoders", "pretokenizers", "normalizers"]
        .iter()
        .filter_map(|k| step.get(*k).and_then(Value::as_array))
        .flatten()
        .any(|inner| has_step(Some(inner), pred))
}
