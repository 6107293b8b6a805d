//! Which tokens end generation, decided the way llama.cpp decides it when it loads a model.
//!
//! The guard treats an end-of-generation token as "end of text", so the GGUF loader must agree
//! with the engine that samples: a token llama.cpp stops on but the guard sees as ordinary (or
//! the reverse) would let a ban slip through at the very end of an answer. llama.cpp does not
//! trust the metadata alone; it also recognises tokens by their text (its `special_eog_ids`
//! scan in `llama-vocab.cpp`). The rules, in the order it applies them:
//!
//! 1. Each role below (end of turn, end of message, the fill-in-the-middle markers) takes the id
//!    its metadata key gives; without the key, a token whose text is in the role's list takes it,
//!    and is forced to be a control token. The pad, repository and separator FIM markers end
//!    generation.
//! 2. Every token whose text is in [`END_OF_GENERATION_TEXTS`] ends generation and is forced to
//!    be a control token.
//! 3. The EOS, EOT and EOM ids from the metadata end generation.
//! 4. Two vocabularies reuse a marker as text: with `<|return|>` and `<|call|>` (or `<|calls|>`
//!    and `<|flush|>`) also ending generation, `<|end|>` does not and is printed as text; with
//!    `<|tool_response>` or `<|plamo:eos|>` ending generation, `</s>` is an ordinary token.
//!
//! When several tokens carry a role's text, llama.cpp's pick depends on hash-map order; the
//! lowest id is taken here, which is the same pick for every real vocabulary (none has two).

use std::collections::HashMap;

use super::TokenId;

/// Token texts that end generation whatever the metadata says (rule 2).
pub(crate) const END_OF_GENERATION_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// A token llama.cpp recognises by its text when the metadata does not name it (rule 1).
pub(crate) struct Role {
    /// The GGUF key that names the token explicitly.
    pub(crate) key: &'static str,
    texts: &'static [&'static str],
    ends_generation: bool,
}

/// Every role, in llama.cpp's order; [`Role::key`] is how the GGUF reader finds their ids.
pub(crate) const ROLES: &[Role] = &[
    Role {
        key: "tokenizer.ggml.eot_token_id",
        texts: &[
            "<|eot_id|>",
            "<|im_end|>",
            "<|end|>",
            "<end_of_turn>",
            "<|endoftext|>",
            "<|end_of_text|>",
            "<EOT>",
            "_<EOT>",
            "[EOT]",
            "<｜end▁of▁sentence｜>",
            "<end_of_utterance>",
        ],
        ends_generation: true,
    },
    Role {
        key: "tokenizer.ggml.eom_token_id",
        texts: &["<|eom_id|>"],
        ends_generation: true,
    },
    Role {
        key: "tokenizer.ggml.fim_pre_token_id",
        texts: &[
            "<|fim_prefix|>",
            "<fim-prefix>",
            "<fim_prefix>",
            "<｜fim▁begin｜>",
            "<PRE>",
            "▁<PRE>",
            "<|code_prefix|>",
            "<|prefix|>",
        ],
        ends_generation: false,
    },
    Role {
        key: "tokenizer.ggml.fim_suf_token_id",
        texts: &[
            "<|fim_suffix|>",
            "<fim-suffix>",
            "<fim_suffix>",
            "<｜fim▁hole｜>",
            "<SUF>",
            "▁<SUF>",
            "<|code_suffix|>",
            "<|suffix|>",
        ],
        ends_generation: false,
    },
    Role {
        key: "tokenizer.ggml.fim_mid_token_id",
        texts: &[
            "<|fim_middle|>",
            "<fim-middle>",
            "<fim_middle>",
            "<｜fim▁end｜>",
            "<MID>",
            "▁<MID>",
            "<|code_middle|>",
            "<|middle|>",
        ],
        ends_generation: false,
    },
    Role {
        key: "tokenizer.ggml.fim_pad_token_id",
        texts: &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
        ends_generation: true,
    },
    Role {
        key: "tokenizer.ggml.fim_rep_token_id",
        texts: &[
            "<|fim_repo|>",
            "<|repo_name|>",
            "<fim-repo>",
            "<REPO>",
            "<reponame>",
        ],
        ends_generation: true,
    },
    Role {
        key: "tokenizer.ggml.fim_sep_token_id",
        texts: &["<|file_sep|>"],
        ends_generation: true,
    },
];

/// The metadata keys besides [`ROLES`] whose ids end generation (rule 3).
pub(crate) const EOS_KEY: &str = "tokenizer.ggml.eos_token_id";

/// How llama.cpp overrides a token's declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Forced {
    /// Never printed: a marker, not text.
    Control,
    /// Printed as its raw text.
    UserDefined,
    /// Decoded like any other text token.
    Normal,
}

/// The outcome of the rules: the tokens that end generation and the type overrides.
#[derive(Debug, Default)]
pub(crate) struct EndOfGeneration {
    pub(crate) ids: Vec<TokenId>,
    pub(crate) forced: HashMap<TokenId, Forced>,
}

impl EndOfGeneration {
    /// Applies the rules to a vocabulary of `texts` (indexed by id). `key_ids` holds the ids the
    /// metadata gives, by key ([`EOS_KEY`] or a role's key); ids outside the vocabulary are
    /// ignored, as llama.cpp ignores them.
    pub(crate) fn decide<'a>(
        texts: impl ExactSizeIterator<Item = &'a [u8]>,
        key_ids: &[(&str, TokenId)],
    ) -> EndOfGeneration {
        let n = texts.len();
        let key_id = |key: &str| {
            key_ids
                .iter()
                .find(|(k, id)| *k == key && (*id as usize) < n)
                .map(|&(_, id)| id)
        };
        // Only the few tokens whose text is some rule's name matter; remember those.
        let mut by_text: HashMap<&[u8], Option<TokenId>> = END_OF_GENERATION_TEXTS
            .iter()
            .chain(ROLES.iter().flat_map(|r| r.texts))
            .chain(&["<|plamo:eos|>"])
            .map(|t| (t.as_bytes(), None))
            .collect();
        for (id, text) in texts.enumerate() {
            if let Some(slot @ None) = by_text.get_mut(text) {
                *slot = Some(id as TokenId);
            }
        }
        let id_of = |text: &str| by_text.get(text.as_bytes()).copied().flatten();
        let text_of: HashMap<TokenId, &str> = END_OF_GENERATION_TEXTS
            .iter()
            .chain(ROLES.iter().flat_map(|r| r.texts))
            .chain(&["<|plamo:eos|>"])
            .filter_map(|&t| id_of(t).map(|id| (id, t)))
            .collect();

        let mut out = EndOfGeneration::default();
        for role in ROLES {
            let id = key_id(role.key).or_else(|| {
                let found = role.texts.iter().filter_map(|t| id_of(t)).min()?;
                out.forced.insert(found, Forced::Control);
                Some(found)
            });
            if let (Some(id), true) = (id, role.ends_generation) {
                out.push(id);
            }
        }
        for text in END_OF_GENERATION_TEXTS {
            if let Some(id) = id_of(text) {
                out.forced.insert(id, Forced::Control);
                out.push(id);
            }
        }
        if let Some(id) = key_id(EOS_KEY) {
            out.push(id);
        }

        let ends = |text: &str| out.ids.iter().any(|id| text_of.get(id) == Some(&text));
        let end_is_text = (ends("<|return|>") && ends("<|call|>"))
            || ((ends("<|call|>") || ends("<|calls|>")) && ends("<|flush|>"));
        let s_is_text = ends("<|tool_response>") || ends("<|plamo:eos|>");
        for (text, now, yes) in [
            ("<|end|>", Forced::UserDefined, end_is_text),
            ("</s>", Forced::Normal, s_is_text),
        ] {
            if let Some(id) = id_of(text).filter(|_| yes) {
                if out.ids.contains(&id) {
                    out.ids.retain(|&e| e != id);
                    out.forced.insert(id, now);
                }
            }
        }
        out
    }

    fn push(&mut self, id: TokenId) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(texts: &[&str], keys: &[(&str, TokenId)]) -> EndOfGeneration {
        EndOfGeneration::decide(texts.iter().map(|t| t.as_bytes()), keys)
    }

    #[test]
    fn names_and_keys_both_end_generation() {
        let e = decide(
            &["<s>", "</s>", "a", "<reponame>", "<end_of_turn>"],
            &[(EOS_KEY, 0)],
        );
        let mut ids = e.ids.clone();
        ids.sort_unstable();
        assert_eq!(ids, [0, 1, 3, 4]);
        assert_eq!(e.forced.get(&3), Some(&Forced::Control));
        assert_eq!(e.forced.get(&0), None);
    }

    #[test]
    fn a_role_key_wins_over_the_name() {
        // The key names token 2 as the repository marker, so `<reponame>` is not looked for.
        let e = decide(
            &["a", "<reponame>", "b"],
            &[("tokenizer.ggml.fim_rep_token_id", 2)],
        );
        assert_eq!(e.ids, [2]);
        assert!(e.forced.is_empty());
    }

    #[test]
    fn out_of_range_key_ids_are_ignored() {
        assert!(decide(&["a"], &[(EOS_KEY, 7)]).ids.is_empty());
    }

    #[test]
    fn harmony_end_is_text_and_tool_response_frees_s() {
        let e = decide(&["<|end|>", "<|return|>", "<|call|>"], &[]);
        assert_eq!(e.ids, [1, 2]);
        assert_eq!(e.forced.get(&0), Some(&Forced::UserDefined));
        let e = decide(&["</s>", "<|tool_response>"], &[]);
        assert_eq!(e.ids, [1]);
        assert_eq!(e.forced.get(&0), Some(&Forced::Normal));
    }
}
