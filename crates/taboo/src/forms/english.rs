//! English word forms: plurals, verb forms and comparatives, by rule plus WordNet's irregular
//! forms.
//!
//! The word is first traced back to its lemmas: itself when WordNet lists it as a noun, verb
//! or adjective, the bases WordNet's exception lists give for an irregular form (ran → run,
//! mice → mouse), and the bases that stripping a regular ending leaves when WordNet knows them
//! (cats → cat, stopped → stop). Each lemma then yields the forms of its part of speech:
//!
//! - noun: the plural (cat → cats, box → boxes, city → cities, hero → heros/heroes);
//! - verb: -s, -ed and -ing (stop → stops, stopped, stopping; make → made, making);
//! - adjective: comparative and superlative (big → bigger, biggest; good → better, best);
//!
//! plus every irregular form WordNet lists for it. A word WordNet does not know is taken as a
//! noun (names, brands, slang), so it gets its plural.
//!
//! Derivations are not forms: "runner", "category" and "catty" stay allowed when "run" or
//! "cat" is banned. Where English spelling cannot be decided by rule (does "visit" double its
//! t?), both spellings are produced; the wrong one is not a word, so banning it costs nothing.
//!
//! The data (lemma lists and exception lists of WordNet 3.0, under the WordNet licence in
//! `data/english/LICENSE-WordNet.txt`) is carried inside the binary.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::Lexeme;

/// Irregular plurals WordNet's noun exception list lacks because the plural is a lemma of
/// its own there (people, dice): `(plural, singular)`.
const EXTRA_IRREGULAR_PLURALS: &[(&str, &str)] = &[("people", "person"), ("dice", "die")];

/// A part of speech that has forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pos {
    Noun,
    Verb,
    Adjective,
}

impl Pos {
    const ALL: [Pos; 3] = [Pos::Noun, Pos::Verb, Pos::Adjective];

    fn name(self) -> &'static str {
        match self {
            Pos::Noun => "noun",
            Pos::Verb => "verb",
            Pos::Adjective => "adjective",
        }
    }

    /// Regular endings and what replaces them to get back to the lemma (WordNet's
    /// detachment rules).
    fn detachments(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Pos::Noun => &[
                ("s", ""),
                ("ses", "s"),
                ("xes", "x"),
                ("zes", "z"),
                ("ches", "ch"),
                ("shes", "sh"),
                ("men", "man"),
                ("ies", "y"),
            ],
            Pos::Verb => &[
                ("s", ""),
                ("ies", "y"),
                ("es", "e"),
                ("es", ""),
                ("ed", "e"),
                ("ed", ""),
                ("ing", "e"),
                ("ing", ""),
            ],
            Pos::Adjective => &[("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
        }
    }
}

/// WordNet's lemmas and irregular forms for one part of speech.
struct PosData {
    lemmas: HashSet<&'static str>,
    /// inflected form → lemmas.
    bases: HashMap<&'static str, Vec<&'static str>>,
    /// lemma → irregular inflected forms.
    irregular: HashMap<&'static str, Vec<&'static str>>,
}

impl PosData {
    fn parse(
        lemmas: &'static str,
        exceptions: &'static str,
        extra: &[(&'static str, &'static str)],
    ) -> PosData {
        let mut bases: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut irregular: HashMap<&str, Vec<&str>> = HashMap::new();
        let listed = exceptions.lines().flat_map(|line| {
            let mut fields = line.split(' ');
            let form = fields.next().unwrap_or("");
            fields.map(move |base| (form, base))
        });
        for (form, base) in listed.chain(extra.iter().copied()) {
            bases.entry(form).or_default().push(base);
            irregular.entry(base).or_default().push(form);
        }
        PosData {
            lemmas: lemmas.lines().collect(),
            bases,
            irregular,
        }
    }
}

struct English {
    noun: PosData,
    verb: PosData,
    adjective: PosData,
}

impl English {
    fn get() -> &'static English {
        static DATA: OnceLock<English> = OnceLock::new();
        DATA.get_or_init(|| English {
            noun: PosData::parse(
                include_str!("../../data/english/noun.txt"),
                include_str!("../../data/english/noun.exc"),
                EXTRA_IRREGULAR_PLURALS,
            ),
            verb: PosData::parse(
                include_str!("../../data/english/verb.txt"),
                include_str!("../../data/english/verb.exc"),
                &[],
            ),
            adjective: PosData::parse(
                include_str!("../../data/english/adj.txt"),
                include_str!("../../data/english/adj.exc"),
                &[],
            ),
        })
    }

    fn pos(&self, pos: Pos) -> &PosData {
        match pos {
            Pos::Noun => &self.noun,
            Pos::Verb => &self.verb,
            Pos::Adjective => &self.adjective,
        }
    }
}

/// True when `word` is something this module inflects: lower-case ASCII letters only.
pub(crate) fn applies_to(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// Every lexeme `word` (lower-case ASCII letters) belongs to, with all its forms. A word
/// WordNet does not know is taken as a noun. Never empty.
pub fn lexemes(word: &str) -> Vec<Lexeme> {
    let data = English::get();
    let mut lemmas: Vec<(String, Pos)> = Vec::new();
    let mut add = |lemma: &str, pos: Pos| {
        if !lemmas.iter().any(|(l, p)| l == lemma && *p == pos) {
            lemmas.push((lemma.to_string(), pos));
        }
    };
    for pos in Pos::ALL {
        let d = data.pos(pos);
        if d.lemmas.contains(word) {
            add(word, pos);
        }
        for base in d.bases.get(word).into_iter().flatten() {
            add(base, pos);
        }
        for (ending, replacement) in pos.detachments() {
            if let Some(stem) = word.strip_suffix(ending) {
                let base = format!("{stem}{replacement}");
                if !base.is_empty() && d.lemmas.contains(base.as_str()) {
                    add(&base, pos);
                }
            }
        }
        // Doubled final consonant: "stopped" → "stop", "bigger" → "big".
        for ending in ["ed", "ing", "er", "est"] {
            if let Some(stem) = word.strip_suffix(ending) {
                let b = stem.as_bytes();
                if b.len() >= 3 && b[b.len() - 1] == b[b.len() - 2] {
                    let base = &stem[..stem.len() - 1];
                    let regular = match pos {
                        Pos::Verb => ending == "ed" || ending == "ing",
                        Pos::Adjective => ending == "er" || ending == "est",
                        Pos::Noun => false,
                    };
                    if regular && d.lemmas.contains(base) {
                        add(base, pos);
                    }
                }
            }
        }
    }
    if lemmas.is_empty() {
        return vec![lexeme(word, Pos::Noun, data, "unknown (as a noun)")];
    }
    lemmas
        .into_iter()
        .map(|(lemma, pos)| lexeme(&lemma, pos, data, pos.name()))
        .collect()
}

fn lexeme(lemma: &str, pos: Pos, data: &English, pos_name: &str) -> Lexeme {
    let mut forms = vec![lemma.to_string()];
    let mut push = |f: String| {
        if !forms.contains(&f) {
            forms.push(f);
        }
    };
    let irregular: &[&str] = data
        .pos(pos)
        .irregular
        .get(lemma)
        .map_or(&[], Vec::as_slice);
    // WordNet's exception lists add forms; they do not take the rule's away: "learn" has
    // learned and learnt, "prove" proved and proven, "hang" hanged and hung. Only where a
    // verb has an irregular past and the rule's past is a verb WordNet knows in its own
    // right is the rule's form left out: "seed" is not the past of "see" (but "lied", a
    // noun of its own, is the past of "lie").
    let irregular_past = irregular.iter().any(|f| !f.ends_with("ing"));
    let is_other_word = |f: &str| f != lemma && data.verb.lemmas.contains(f);
    match pos {
        Pos::Noun => {
            for f in plural(lemma) {
                push(f);
            }
            // "-man" nouns take -men (woman → women, fireman → firemen), which WordNet's
            // list leaves to its detachment rule; "human" → humans also stays.
            if let Some(stem) = lemma.strip_suffix("man") {
                push(format!("{stem}men"));
            }
        }
        Pos::Verb => {
            for f in plural(lemma) {
                push(f);
            }
            for f in past(lemma) {
                if !(irregular_past && is_other_word(&f)) {
                    push(f);
                }
            }
            for f in progressive(lemma) {
                push(f);
            }
        }
        Pos::Adjective => {
            for f in comparative(lemma) {
                push(f);
            }
        }
    }
    for f in irregular {
        push(f.to_string());
    }
    Lexeme {
        lemma: lemma.to_string(),
        pos: pos_name.to_string(),
        forms,
    }
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Ends in consonant + "y" (city, carry, happy), not vowel + "y" (day, play).
fn ends_in_consonant_y(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() >= 2 && b[b.len() - 1] == b'y' && !is_vowel(b[b.len() - 2])
}

/// Ends consonant–vowel–consonant, where English may double the last consonant before an
/// ending (stop → stopped, big → bigger); never c, w, x or y (panic, snow, fix, play).
fn may_double(w: &str) -> bool {
    let b = w.as_bytes();
    let n = b.len();
    n >= 3
        && !is_vowel(b[n - 1])
        && !matches!(b[n - 1], b'c' | b'w' | b'x' | b'y')
        && is_vowel(b[n - 2])
        && !is_vowel(b[n - 3])
}

/// Number of vowel groups, a stand-in for syllables ("cat" 1, "visit" 2).
fn syllables(w: &str) -> usize {
    let b = w.as_bytes();
    let vowel = |i: usize| is_vowel(b[i]) || (i > 0 && b[i] == b'y');
    (0..b.len())
        .filter(|&i| vowel(i) && (i == 0 || !vowel(i - 1)))
        .count()
}

/// `w` + ending, with every spelling rule that may apply (both when undecidable).
fn with_ending(w: &str, ending: &str) -> Vec<String> {
    let mut out = Vec::new();
    let starts_with_vowel = ending.starts_with(['a', 'e', 'i', 'o', 'u']);
    if ends_in_consonant_y(w) && ending != "ing" {
        // city → cities, carry → carried, happy → happier
        let stem = &w[..w.len() - 1];
        out.push(format!("{stem}i{ending}"));
        return out;
    }
    if w.ends_with("ie") && ending == "ing" {
        out.push(format!("{}ying", &w[..w.len() - 2]));
        return out;
    }
    if w.ends_with('e') && w.len() > 2 && starts_with_vowel {
        // make → making, bake → baked, large → larger; see → seeing, free → freer
        let dropped = format!("{}{ending}", &w[..w.len() - 1]);
        if ending == "ing" && (w.ends_with("ee") || w.ends_with("oe") || w.ends_with("ye")) {
            out.push(format!("{w}{ending}"));
        } else {
            out.push(dropped);
        }
        return out;
    }
    if w.ends_with('c') && starts_with_vowel {
        // panic → panicked, picnicking
        out.push(format!("{w}k{ending}"));
    }
    if may_double(w) && starts_with_vowel {
        // One syllable always doubles (hop → hopped, never "hoped"); longer words double
        // when the last syllable is stressed (admit → admitted, visit → visited), which
        // spelling cannot tell, so both are produced.
        let last = &w[w.len() - 1..];
        out.push(format!("{w}{last}{ending}"));
        if syllables(w) == 1 {
            return out;
        }
    }
    out.push(format!("{w}{ending}"));
    out
}

/// Noun plural, or a verb's third person singular.
fn plural(w: &str) -> Vec<String> {
    if w.ends_with(['s', 'x', 'z']) || w.ends_with("ch") || w.ends_with("sh") {
        return vec![format!("{w}es")];
    }
    if ends_in_consonant_y(w) {
        return vec![format!("{}ies", &w[..w.len() - 1])];
    }
    if w.ends_with('o') {
        return vec![format!("{w}s"), format!("{w}es")];
    }
    vec![format!("{w}s")]
}

fn past(w: &str) -> Vec<String> {
    with_ending(w, "ed")
}

fn progressive(w: &str) -> Vec<String> {
    with_ending(w, "ing")
}

fn comparative(w: &str) -> Vec<String> {
    let mut out = with_ending(w, "er");
    out.extend(with_ending(w, "est"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(word: &str) -> HashSet<String> {
        lexemes(word).into_iter().flat_map(|l| l.forms).collect()
    }

    #[test]
    fn regular_endings_by_hand() {
        assert_eq!(plural("box"), ["boxes"]);
        assert_eq!(plural("city"), ["cities"]);
        assert_eq!(plural("day"), ["days"]);
        assert_eq!(past("stop"), ["stopped"]);
        assert_eq!(past("visit"), ["visitted", "visited"]);
        assert_eq!(progressive("be"), ["being"]);
        assert_eq!(past("bake"), ["baked"]);
        assert_eq!(past("carry"), ["carried"]);
        assert_eq!(past("play"), ["played"]);
        assert_eq!(progressive("make"), ["making"]);
        assert_eq!(progressive("see"), ["seeing"]);
        assert_eq!(progressive("lie"), ["lying"]);
        assert_eq!(progressive("panic"), ["panicking", "panicing"]);
        assert_eq!(comparative("happy"), ["happier", "happiest"]);
        assert_eq!(comparative("large"), ["larger", "largest"]);
    }

    #[test]
    fn lexemes_of_the_issue_words() {
        let cat = forms("cat");
        assert!(cat.contains("cats"));
        assert!(!cat.contains("category") && !cat.contains("catty"));
        let run = forms("run");
        for f in ["run", "runs", "ran", "running"] {
            assert!(run.contains(f), "{f} missing from {run:?}");
        }
        assert!(!run.contains("runner"), "a derivation is not a form");
        // The rule's forms stay beside the irregular ones ("runned" is not a word, so
        // banning it costs nothing) ...
        assert!(run.contains("runned"));
        let learn = forms("learn");
        assert!(learn.contains("learned") && learn.contains("learnt"));
        // ... but rules must not reach other words: "seed" is not a form of "see",
        // "hoping" is not one of "hop".
        assert!(!forms("see").contains("seed"));
        assert!(!forms("hop").contains("hoping") && forms("hop").contains("hopping"));
        let mouse = forms("mouse");
        assert!(mouse.contains("mice") && mouse.contains("mouses"));
        let good = forms("good");
        assert!(good.contains("better") && good.contains("best"));
    }

    #[test]
    fn inflected_input_finds_its_lemma() {
        assert!(forms("ran").contains("running"));
        assert!(forms("mice").contains("mouse"));
        assert!(forms("cats").contains("cat"));
        assert!(forms("stopped").contains("stopping"));
        assert!(forms("bigger").contains("biggest"));
        // "saw" is a noun and a verb of its own and the past of "see": all three lexemes.
        let saw: Vec<String> = lexemes("saw").into_iter().map(|l| l.lemma).collect();
        assert!(saw.contains(&"saw".to_string()) && saw.contains(&"see".to_string()));
    }

    #[test]
    fn unknown_words_are_nouns() {
        let l = lexemes("zorblax");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].forms, ["zorblax", "zorblaxes"]);
    }
}
