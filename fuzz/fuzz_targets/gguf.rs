//! The GGUF reader on arbitrary bytes: it must answer `Ok` or `Err`, never panic, and never
//! allocate beyond the input's size (libFuzzer's `-malloc_limit_mb` catches that). All three
//! entry points run: the vocabulary, the metadata alone, and the full check that walks the
//! tensor records.
//!
//! `crates/taboo/tests/vocab.rs` runs the same checks as a proptest on stable.

#![no_main]

use libfuzzer_sys::fuzz_target;
use taboo::vocab::check_gguf_bytes;
use taboo::{GgufMetadata, Vocabulary};

fuzz_target!(|data: &[u8]| {
    let vocab = Vocabulary::from_gguf_bytes(data);
    let meta = GgufMetadata::from_bytes(data);
    let checked = check_gguf_bytes(data);
    // Reading metadata skips what the vocabulary and the tensor walk need, so it must succeed
    // whenever either does, and count the same things.
    if let Ok(vocab) = vocab {
        let meta = meta.as_ref().expect("metadata reads wherever the vocabulary does");
        assert_eq!(meta.token_count, vocab.len());
    }
    if let Ok(checked) = checked {
        let meta = meta.expect("metadata reads wherever the check passes");
        assert_eq!(
            (meta.token_count, meta.tensor_count, meta.kv_count),
            (checked.token_count, checked.tensor_count, checked.kv_count)
        );
        // A passed check promises that every tensor's data lies inside the input.
        let end = checked.tensor_data_offset.expect("set by the check")
            + checked.tensor_data_size.expect("set by the check");
        assert!(checked.tensor_count == 0 || end <= data.len() as u64);
    }
});
