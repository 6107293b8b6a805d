//! Ban lists carried inside the binary, usable by name (`--ban-list NAME`).
//!
//! Each is a ban file (see [`crate::BanList`]) derived from an openly licensed word list; the
//! sources, licences and the scripts that made them are in `data/lists/NOTICE.md` beside the
//! files. Their entries use `forms` and `disguise`, so a list must go through
//! [`crate::BanList::expand_forms`] before it is compiled.

use crate::error::BanError;
use crate::BanList;

/// A bundled list.
#[derive(Clone, Copy, Debug)]
pub struct BundledList {
    /// The name it is used by.
    pub name: &'static str,
    /// One line on what it holds and where it comes from.
    pub description: &'static str,
    /// The ban file.
    pub text: &'static str,
}

/// Every bundled list.
pub const LISTS: &[BundledList] = &[
    BundledList {
        name: "en-profanity",
        description: "English profanity, 403 entries with forms and disguises \
                      (naughty-words 1.2.0, CC BY 4.0)",
        text: include_str!("../data/lists/en-profanity.txt"),
    },
    BundledList {
        name: "ru-obscene",
        description: "Russian obscene vocabulary (мат), 98 lemmas and 12,573 forms, with \
                      dictionary forms and disguises (slaviclean 0.1.1, MIT)",
        text: include_str!("../data/lists/ru-obscene.txt"),
    },
];

/// The bundled list called `name`.
pub fn find(name: &str) -> Option<&'static BundledList> {
    LISTS.iter().find(|l| l.name == name)
}

/// The names of the bundled lists, for help and error messages.
pub fn names() -> Vec<&'static str> {
    LISTS.iter().map(|l| l.name).collect()
}

impl BundledList {
    /// The list, parsed (not yet expanded).
    pub fn parse(&self) -> Result<BanList, BanError> {
        BanList::parse(self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_list_parses_and_is_found_by_name() {
        for list in LISTS {
            let parsed = list
                .parse()
                .unwrap_or_else(|e| panic!("{}: {e}", list.name));
            assert!(
                parsed.len() > 100,
                "{} has {} entries",
                list.name,
                parsed.len()
            );
            assert!(parsed.entries().iter().all(|e| e.options().disguise));
            assert_eq!(find(list.name).unwrap().name, list.name);
        }
        assert!(find("no-such-list").is_none());
        assert_eq!(names(), ["en-profanity", "ru-obscene"]);
    }
}
