//! The GGUF reader on arbitrary bytes: it must answer `Ok` or `Err`, never panic, and never
//! allocate beyond the input's size (libFuzzer's `-malloc_limit_mb` catches that).
//!
//! `crates/taboo/tests/vocab.rs` runs the same checks as a proptest on stable.

#![no_main]

use libfuzzer_sys::fuzz_target;
use taboo::{GgufMetadata, Vocabulary};

fuzz_target!(|data: &[u8]| {
    let vocab = Vocabulary::from_gguf_bytes(data);
    let meta = GgufMetadata::from_bytes(data);
    // Reading metadata skips what the vocabulary needs, so it must succeed whenever the
    // vocabulary does, and count the same tokens.
    if let Ok(vocab) = vocab {
        let meta = meta.expect("metadata reads wherever the vocabulary does");
        assert_eq!(meta.token_count, vocab.len());
    }
});
