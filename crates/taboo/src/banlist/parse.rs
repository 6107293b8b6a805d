//! The ban-file line syntax (documented in the parent module).

use super::entry::{BanEntry, EntryOptions};
use crate::error::{BanError, BanErrorKind};

/// Parses one line; `None` for blank and comment lines.
pub(crate) fn parse_line(line: &str, number: usize) -> Result<Option<BanEntry>, BanError> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let mut options = EntryOptions::default();
    let text = if let Some(rest) = trimmed.strip_prefix('\\') {
        rest
    } else if let Some(rest) = trimmed.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err(
                BanError::new(BanErrorKind::UnknownOption(rest.to_string())).with_line(number)
            );
        };
        // Each pair of opposite options may be given once, one side of it: `[word substring]`
        // or `[case nocase]` has no meaning a reader could trust, so it is an error.
        let mut case_given: Option<&str> = None;
        let mut word_given: Option<&str> = None;
        for opt in rest[..close].split([' ', ',']).filter(|o| !o.is_empty()) {
            let slot = match opt {
                "case" | "nocase" => Some(&mut case_given),
                "word" | "substring" => Some(&mut word_given),
                _ => None,
            };
            if let Some(slot) = slot {
                if let Some(first) = *slot {
                    if first != opt {
                        return Err(BanError::new(BanErrorKind::ContradictoryOptions(
                            first.to_string(),
                            opt.to_string(),
                        ))
                        .with_line(number));
                    }
                }
                *slot = Some(opt);
            }
            match opt {
                "regex" => options.regex = true,
                "case" => options.case_sensitive = true,
                "nocase" => options.case_sensitive = false,
                "substring" => options.whole_word = false,
                "word" => options.whole_word = true,
                "disguise" => options.disguise = true,
                "forms" => options.forms = true,
                other => {
                    return Err(
                        BanError::new(BanErrorKind::UnknownOption(other.to_string()))
                            .with_line(number),
                    )
                }
            }
        }
        &rest[close + 1..]
    } else {
        trimmed
    };
    BanEntry::new(text, options, Some(number)).map(Some)
}
