//! Prompt suites: a few `#! key: value` settings and one `kind<TAB>words<TAB>prompt` line
//! per prompt (format in docs/EVAL.md). The shipped suites (`crates/taboo-eval/suites/`) are
//! compiled into the binary, so an installed `taboo eval` needs no source tree; a directory of
//! suite files can replace them.

use std::path::Path;

use crate::error::{Error, Result};

/// Which model a suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// The instruct model (SmolLM2), prompts wrapped in its chat template.
    Chat,
    /// The base model (Gemma 3 270M), prompts continued raw.
    Base,
}

/// One prompt and the words banned for it.
#[derive(Clone, Debug)]
pub struct Item {
    /// cloze, taboo, explicit, control, open …
    pub kind: String,
    /// Banned words; the first is the one the prompt elicits.
    pub words: Vec<String>,
    /// The prompt as the unconstrained conditions see it.
    pub prompt: String,
}

/// A parsed suite file.
#[derive(Clone, Debug)]
pub struct Suite {
    /// File stem: `en-chat`.
    pub name: String,
    /// Model and prompt format.
    pub model: ModelKind,
    /// `en` or `ru`.
    pub lang: String,
    /// Most tokens per output.
    pub max_tokens: usize,
    /// The instruction of condition B1, `{words}` replaced by the quoted words.
    pub instruct: String,
    /// Prompts.
    pub items: Vec<Item>,
}

/// The suites `taboo eval` runs by default, in order.
pub const SUITES: [&str; 4] = ["en-chat", "en-open", "en-gemma", "ru-gemma"];

/// The shipped suites' text, by name.
const EMBEDDED: [(&str, &str); 4] = [
    ("en-chat", include_str!("../suites/en-chat.tsv")),
    ("en-open", include_str!("../suites/en-open.tsv")),
    ("en-gemma", include_str!("../suites/en-gemma.tsv")),
    ("ru-gemma", include_str!("../suites/ru-gemma.tsv")),
];

/// The eliciting prompts of `compare-modes` (`word<TAB>prompt` lines), shipped in the binary.
pub const ELICIT_EN: &str = include_str!("../suites/elicit-en.tsv");

/// The ban-list-size sweep's pseudo-suite name.
pub const SWEEP: &str = "sweep";

impl Suite {
    /// Parses a suite file's text.
    pub fn parse(name: &str, text: &str) -> Result<Suite> {
        let mut suite = Suite {
            name: name.to_string(),
            model: ModelKind::Chat,
            lang: "en".into(),
            max_tokens: 48,
            instruct: "Do not use the word {words}.".into(),
            items: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let at = |msg: String| Error::Suite(format!("suite {name} line {}: {msg}", i + 1));
            if let Some(setting) = line.strip_prefix("#!") {
                let (key, value) = setting
                    .split_once(':')
                    .ok_or_else(|| at("expected `#! key: value`".into()))?;
                let value = value.trim();
                match key.trim() {
                    "model" => {
                        suite.model = match value {
                            "chat" => ModelKind::Chat,
                            "base" => ModelKind::Base,
                            v => return Err(at(format!("model {v:?}: expected chat or base"))),
                        }
                    }
                    "lang" => suite.lang = value.to_string(),
                    "max-tokens" => {
                        suite.max_tokens =
                            value.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                                at(format!("max-tokens {value:?}: expected a positive number"))
                            })?
                    }
                    "instruct" => {
                        if !value.contains("{words}") {
                            return Err(at("instruct must contain {words}".into()));
                        }
                        suite.instruct = value.to_string();
                    }
                    k => return Err(at(format!("unknown setting {k:?}"))),
                }
                continue;
            }
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(3, '\t');
            let (Some(kind), Some(words), Some(prompt)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(at("expected `kind<TAB>words<TAB>prompt`".into()));
            };
            let words: Vec<String> = words
                .split(',')
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty())
                .collect();
            if words.is_empty() || prompt.trim().is_empty() {
                return Err(at("empty words or prompt".into()));
            }
            suite.items.push(Item {
                kind: kind.trim().to_string(),
                words,
                prompt: prompt.trim().to_string(),
            });
        }
        if suite.items.is_empty() {
            return Err(Error::Suite(format!("suite {name}: no prompts")));
        }
        Ok(suite)
    }

    /// Reads `<dir>/<name>.tsv`.
    pub fn load(dir: &Path, name: &str) -> Result<Suite> {
        let path = dir.join(format!("{name}.tsv"));
        let text = std::fs::read_to_string(&path).map_err(|source| Error::SuiteRead {
            path: path.clone(),
            source,
        })?;
        Suite::parse(name, &text)
    }

    /// A shipped suite, from the text compiled into the binary.
    pub fn embedded(name: &str) -> Result<Suite> {
        let (_, text) = EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| Error::UnknownSuite(name.to_string()))?;
        Suite::parse(name, text)
    }

    /// `<dir>/<name>.tsv` when a directory is given, else the shipped suite.
    pub fn find(dir: Option<&Path>, name: &str) -> Result<Suite> {
        match dir {
            Some(dir) => Suite::load(dir, name),
            None => Suite::embedded(name),
        }
    }

    /// The prompt of condition B1: the instruction appended (chat) or on a line before (raw).
    pub fn instructed(&self, item: &Item) -> String {
        let quoted: Vec<String> = item
            .words
            .iter()
            .map(|w| {
                if self.lang == "ru" {
                    format!("«{w}»")
                } else {
                    format!("\"{w}\"")
                }
            })
            .collect();
        let instruction = self.instruct.replace("{words}", &quoted.join(", "));
        match self.model {
            ModelKind::Chat => format!("{} {instruction}", item.prompt),
            ModelKind::Base => format!("{instruction}\n{}", item.prompt),
        }
    }

    /// The quick subset: the first `per_kind` prompts of each kind.
    pub fn quick(mut self, per_kind: usize) -> Suite {
        let mut count: Vec<(String, usize)> = Vec::new();
        self.items.retain(|item| {
            let n = match count.iter_mut().find(|(k, _)| *k == item.kind) {
                Some((_, n)) => n,
                None => {
                    count.push((item.kind.clone(), 0));
                    &mut count.last_mut().expect("just pushed").1
                }
            };
            *n += 1;
            *n <= per_kind
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_settings_and_items() {
        let s = Suite::parse(
            "t",
            "# c\n#! model: base\n#! lang: ru\n#! max-tokens: 7\n#! instruct: (Не {words})\n\
             cloze\tкошка\tМышь боится\nopen\ta, b\tWrite.\ncloze\tc\tP\n",
        )
        .unwrap();
        assert_eq!(s.model, ModelKind::Base);
        assert_eq!(s.max_tokens, 7);
        assert_eq!(s.items.len(), 3);
        assert_eq!(s.items[1].words, ["a", "b"]);
        assert_eq!(s.instructed(&s.items[0]), "(Не «кошка»)\nМышь боится");
        assert_eq!(s.clone().quick(1).items.len(), 2);
        for bad in [
            "#! model: gpt\nc\tw\tp",
            "c\tw",
            "#! nope: 1\nc\tw\tp",
            "# only comments\n",
        ] {
            assert!(Suite::parse("t", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shipped_suites_parse() {
        for name in SUITES {
            let s = Suite::embedded(name).unwrap();
            assert!(s.items.len() >= 4, "{name}");
        }
    }
}
