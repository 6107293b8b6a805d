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
        for opt in rest[..close].split([' ', ',']).filter(|o| !o.is_empty()) {
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
