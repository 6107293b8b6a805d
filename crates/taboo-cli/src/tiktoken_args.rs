//! The `--vocab r50k|cl100k|o200k` flag value and its encoder, shared by the commands that can
//! work on a tiktoken vocabulary instead of a model (`bench`, `explain`).

use taboo::TiktokenEncoding;
use tiktoken_rs::CoreBPE;

use crate::CliResult;

/// Parses `r50k`, `cl100k`, `o200k` (with or without `_base`).
pub fn parse_vocab(name: &str) -> Result<TiktokenEncoding, String> {
    let full = if name.ends_with("_base") {
        name.to_string()
    } else {
        format!("{name}_base")
    };
    TiktokenEncoding::from_name(&full)
        .ok_or_else(|| format!("unknown vocabulary {name:?}; use r50k, cl100k or o200k"))
}

/// The tokenizer of an encoding (the vocabulary itself comes from `Vocabulary::tiktoken`).
pub fn encoder(encoding: TiktokenEncoding) -> CliResult<CoreBPE> {
    let bpe = match encoding {
        TiktokenEncoding::R50kBase => tiktoken_rs::r50k_base(),
        TiktokenEncoding::Cl100kBase => tiktoken_rs::cl100k_base(),
        _ => tiktoken_rs::o200k_base(),
    };
    Ok(bpe.map_err(|e| format!("cannot load the {} encoder: {e}", encoding.name()))?)
}
