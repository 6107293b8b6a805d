//! The reports `taboo trace` and `taboo explain` build: one typed value per run, from which
//! the `--json` output is serialised and the terminal table and the `--html` page are drawn,
//! so that the three cannot disagree about a field.
//!
//! The field names are the JSON keys. Counts of spellings are strings because they can exceed
//! what a JSON number holds exactly (they are `u128`, saturating).

use serde::Serialize;
use taboo::TokenId;

/// The JSON form of a report, as `--json` prints it.
///
/// It goes through a `serde_json::Value`, as the output always has: keys come out sorted,
/// and an `f32` is printed as the `f64` it widens to.
pub fn to_json<T: Serialize>(report: &T) -> serde_json::Result<serde_json::Value> {
    serde_json::to_value(report)
}

/// A `taboo trace` run: the generation and every step of the ban.
#[derive(Clone, Debug, Serialize)]
pub struct TraceReport {
    pub prompt: String,
    /// The generated text.
    pub text: String,
    /// The generated token ids.
    pub tokens: Vec<TokenId>,
    pub finish_reason: String,
    /// The ban mode, lower case (`hard`, `soft`, …).
    pub mode: String,
    /// The entries given with `--ban`.
    pub banned: Vec<String>,
    pub steps: Vec<TraceEvent>,
}

/// One event of the trace: a step, or a rewind by backtracking.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum TraceEvent {
    /// This many tokens were taken back.
    Rewind {
        rewind: usize,
    },
    Step(TraceStep),
}

/// One `apply` of the ban and the token chosen after it.
#[derive(Clone, Debug, Serialize)]
pub struct TraceStep {
    /// Output position (tokens advanced before this step).
    pub position: usize,
    /// The token chosen; `None` if generation stopped before choosing.
    pub chosen: Option<TraceCandidate>,
    pub candidates: Vec<TraceCandidate>,
    /// Tokens the ban set to `-inf`.
    pub forbidden: usize,
    /// Tokens the ban gave a finite penalty.
    pub penalized: usize,
    /// Probability mass the edit removed.
    pub removed_mass: f32,
    /// Sum of the probabilities after the edit.
    pub p_after_sum: f32,
    /// The chosen token completed a banned match.
    pub violation: bool,
}

/// One candidate token at one step.
#[derive(Clone, Debug, Serialize)]
pub struct TraceCandidate {
    pub token: TokenId,
    /// The token for display: its bytes quoted, or a special token's name.
    pub text: String,
    pub logit: f32,
    /// Probability before the edit (softmax at temperature 1).
    pub p_before: f32,
    /// Probability after the edit.
    pub p_after: f32,
    pub edit: Edit,
}

/// What the ban's edit did to a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Edit {
    Kept,
    Masked,
    Penalized,
}

impl From<taboo::trace::EditKind> for Edit {
    fn from(kind: taboo::trace::EditKind) -> Edit {
        use taboo::trace::EditKind;
        match kind {
            EditKind::Kept => Edit::Kept,
            EditKind::Masked => Edit::Masked,
            EditKind::Penalized => Edit::Penalized,
        }
    }
}

impl TraceStep {
    /// Whether `c` is the token this step chose.
    pub fn is_chosen(&self, c: &TraceCandidate) -> bool {
        self.chosen.as_ref().is_some_and(|ch| ch.token == c.token)
    }
}

/// A `taboo explain` run: the spellings of every entry and how many a token-id ban blocks.
#[derive(Clone, Debug, Serialize)]
pub struct ExplainReport {
    /// The tiktoken encoding's name or the model's path.
    pub vocabulary: String,
    /// Tokens in the vocabulary.
    pub tokens: usize,
    pub entries: Vec<ExplainEntry>,
    /// Spellings of all entries.
    pub spellings: String,
    /// Of those, the ones the token-id baseline blocks.
    pub naive_blocks: String,
}

/// One explained entry: a regex (not counted) or a word with its counted variants.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum ExplainEntry {
    Regex(RegexEntry),
    Counted(CountedEntry),
}

/// A regex entry, whose spellings are not counted.
#[derive(Clone, Debug, Serialize)]
pub struct RegexEntry {
    pub entry: String,
    /// Always true: tells a regex entry apart in the JSON.
    pub regex: bool,
}

/// A word or phrase (or one form of it) with its spellings counted.
#[derive(Clone, Debug, Serialize)]
pub struct CountedEntry {
    pub entry: String,
    /// The entry this is a form of, when it is one.
    pub form_of: Option<String>,
    /// Spellings of all its variants.
    pub spellings: String,
    /// Of those, the ones the token-id baseline blocks.
    pub naive_blocks: String,
    pub variants: Vec<VariantReport>,
}

/// One case or space variant of an entry.
#[derive(Clone, Debug, Serialize)]
pub struct VariantReport {
    pub variant: String,
    pub spellings: String,
    pub naive_blocks: String,
    /// A few spellings, each as its tokens for display.
    pub samples: Vec<Vec<String>>,
    /// The tokenization lattice, built only for the HTML page.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub lattice: Option<Lattice>,
}

/// The tokenization lattice of a variant.
#[derive(Clone, Debug, Serialize)]
pub struct Lattice {
    /// Length of the variant in bytes.
    pub bytes: usize,
    /// Every token on some complete spelling.
    #[serde(rename = "lattice")]
    pub arcs: Vec<LatticeArc>,
}

/// A token spanning bytes `from..to` of a variant.
#[derive(Clone, Debug, Serialize)]
pub struct LatticeArc {
    pub from: usize,
    pub to: usize,
    /// The token for display.
    pub token: String,
    /// It belongs to the tokenizer's own spelling, the one a token-id ban knows.
    pub canonical: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_entries_keep_their_json_shape() {
        let c = TraceCandidate {
            token: 7,
            text: "\"a\"".into(),
            logit: 1.5,
            p_before: 0.5,
            p_after: 0.0,
            edit: Edit::Masked,
        };
        let step = TraceEvent::Step(TraceStep {
            position: 0,
            chosen: None,
            candidates: vec![c],
            forbidden: 1,
            penalized: 0,
            removed_mass: 0.5,
            p_after_sum: 1.0,
            violation: false,
        });
        assert_eq!(
            to_json(&step).unwrap(),
            serde_json::json!({"position": 0, "chosen": null, "candidates": [{"token": 7,
                "text": "\"a\"", "logit": 1.5, "p_before": 0.5, "p_after": 0.0,
                "edit": "masked"}], "forbidden": 1, "penalized": 0, "removed_mass": 0.5,
                "p_after_sum": 1.0, "violation": false})
        );
        assert_eq!(
            to_json(&TraceEvent::Rewind { rewind: 2 }).unwrap(),
            serde_json::json!({"rewind": 2})
        );
        let variant = |lattice| VariantReport {
            variant: "a".into(),
            spellings: "1".into(),
            naive_blocks: "1".into(),
            samples: vec![vec!["\"a\"".into()]],
            lattice,
        };
        assert_eq!(
            to_json(&variant(None)).unwrap(),
            serde_json::json!({"variant": "a", "spellings": "1", "naive_blocks": "1",
                "samples": [["\"a\""]]})
        );
        let arc = LatticeArc {
            from: 0,
            to: 1,
            token: "\"a\"".into(),
            canonical: true,
        };
        let with = to_json(&variant(Some(Lattice {
            bytes: 1,
            arcs: vec![arc],
        })))
        .unwrap();
        assert_eq!(with["bytes"], 1);
        assert_eq!(
            with["lattice"],
            serde_json::json!([{"from": 0, "to": 1, "token": "\"a\"", "canonical": true}])
        );
        let regex = ExplainEntry::Regex(RegexEntry {
            entry: "ca+t".into(),
            regex: true,
        });
        assert_eq!(
            to_json(&regex).unwrap(),
            serde_json::json!({"entry": "ca+t", "regex": true})
        );
    }
}
