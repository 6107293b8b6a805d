//! The ban-list parser and compiler on arbitrary bytes: they must answer `Ok` or `Err`,
//! never panic; a list that parses must compile (or fail with a size error), and the
//! compiled automaton must run over the input itself.
//!
//! `crates/taboo/tests/banlist_fuzz.rs` runs the same checks as a proptest on stable.

#![no_main]

use libfuzzer_sys::fuzz_target;
use taboo::{Automaton, BanErrorKind, BanList};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = BanList::parse_bytes(data) {
        match Automaton::compile(&list) {
            Ok(a) => {
                let _ = a.is_match(data);
            }
            Err(e) => assert!(matches!(e.kind(), BanErrorKind::TooComplex(_)), "{e}"),
        }
    }
});
