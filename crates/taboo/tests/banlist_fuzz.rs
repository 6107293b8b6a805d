//! The checks of the `banlist` fuzz target (fuzz/fuzz_targets/banlist.rs), as a proptest on
//! stable: arbitrary bytes and mutated ban files never make the parser or compiler panic.

use proptest::prelude::*;
use taboo::{Automaton, BanErrorKind, BanList};

fn check(data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(list) = BanList::parse_bytes(data) {
        match Automaton::compile(&list) {
            Ok(a) => {
                let _ = a.is_match(data);
            }
            Err(e) => prop_assert!(matches!(e.kind(), BanErrorKind::TooComplex(_)), "{}", e),
        }
    }
    Ok(())
}

const SEED: &str =
    "# list\ncat\n[regex] colou?r\n[case substring] Ab\n\\#x\nice cream\n[regex] к[оа]т+\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        check(&data)?;
    }

    #[test]
    fn mutated_ban_files(
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(
            &b"[]\\#\n ()*+?{}|.^$-regexcasesubstringword\xff\xd0"[..])), 0..8),
    ) {
        let mut data = SEED.as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(data.len() + 1);
            data.insert(i, byte);
        }
        check(&data)?;
    }
}
