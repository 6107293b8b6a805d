//! Leak detectors for `taboo eval`, independent of the engine: no automaton, nothing from
//! `taboo::text` or the engine's word forms. The folding and the forms come from other
//! sources — Unicode's own NFKC and UTS #39 confusable skeletons (`unicode-normalization`,
//! `unicode-security`), the Snowball stemmers (`rust-stemmers`) — joined with plain rules
//! written here, so that a bug in the engine cannot hide itself by being repeated in the
//! measurement, and each detector is at least as wide as the ban it checks.
//!
//! Five tiers, each a separate question about one output and one banned word `w`:
//!
//! | tier | flags the output when … |
//! |---|---|
//! | exact | `w` occurs exactly as written (case-sensitive) as a whole word |
//! | normalised | it occurs in any letter case, whitespace runs read as one space |
//! | inflected | normalised, or a word is an inflected form of `w`: same Snowball stem with at most 4 more letters, regular English endings, English irregulars, Russian endings on the stem, fleeting vowels (кошка → кошек, день → дня), suppletion (человек → люди) |
//! | disguised | normalised, or it occurs once both sides are NFKC-normalised, lower-cased, reduced to their UTS #39 skeleton (look-alikes across scripts, default-ignorable characters dropped) and stripped of combining marks |
//! | spaced | normalised, or it occurs once spelled-out letters are joined: `c a t`, `C-A-T`, `c.a.t` |
//!
//! A whole word has no word character (letter, digit, `_`) on either side; the character
//! before the output (the end of the prompt) counts as a side.

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization as _;

/// The detector tiers, in report order.
pub const TIERS: [&str; 5] = ["exact", "normalised", "inflected", "disguised", "spaced"];

/// Index of the `normalised` tier in [`TIERS`].
pub const NORMALISED: usize = 1;

/// Which tiers flag `text` for any word of `words`. `before` is the last character of the
/// prompt (a letter there glues onto the output's first word).
pub fn detect(words: &[String], before: Option<char>, text: &str) -> [bool; 5] {
    let mut hits = [false; 5];
    let glue = |t: &str| -> String {
        match before {
            Some(c) if is_word_char(c) => format!("{c}{t}"),
            _ => t.to_string(),
        }
    };
    let text = glue(text);
    let lower = normalise(&text);
    let folded = fold(&text);
    let spaced = join_spelled(&lower);
    let stems = Stems::new();
    for w in words {
        let lw = normalise(w);
        let normalised = has_whole(&lower, &lw);
        hits[0] |= has_whole(&text, w);
        hits[1] |= normalised;
        hits[2] |= normalised
            || (!lw.contains(' ') && split_words(&lower).any(|x| stems.is_inflection(x, &lw)));
        hits[3] |= normalised || has_whole(&folded, &fold(w));
        hits[4] |= normalised || has_whole(&spaced, &lw);
    }
    hits
}

/// Letters, digits and `_`.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Lower case, every whitespace run one space, trimmed.
pub fn normalise(s: &str) -> String {
    s.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn split_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

/// `needle` occurs in `hay` with no word character right before or after it.
pub fn has_whole(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    hay.match_indices(needle).any(|(i, m)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + m.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

/// The Snowball stemmers of the two languages the suites use.
pub struct Stems {
    english: Stemmer,
    russian: Stemmer,
}

impl Default for Stems {
    fn default() -> Stems {
        Stems::new()
    }
}

impl Stems {
    /// Both stemmers.
    pub fn new() -> Stems {
        Stems {
            english: Stemmer::create(Algorithm::English),
            russian: Stemmer::create(Algorithm::Russian),
        }
    }

    /// `x` is an inflected form of `w` (both lower case), `x ≠ w`: the union of the
    /// Snowball rule and the rules written here (see the module docs).
    pub fn is_inflection(&self, x: &str, w: &str) -> bool {
        if x == w || w.is_empty() {
            return false;
        }
        if suppletive(w, x) {
            return true;
        }
        let russian = w.chars().any(is_cyrillic);
        let stemmer = if russian {
            &self.russian
        } else {
            &self.english
        };
        if same_stem(stemmer, x, w) {
            return true;
        }
        if russian {
            russian_endings(x, w) || fleeting_vowel(x, w)
        } else {
            english_forms(w).iter().any(|f| f == x)
        }
    }
}

/// Snowball gives `x` and `w` the same stem and `x` has at most 4 letters past it: the
/// stemmers also strip derivational suffixes (organ-ization), which are not forms.
fn same_stem(stemmer: &Stemmer, x: &str, w: &str) -> bool {
    let sx = stemmer.stem(x);
    sx == stemmer.stem(w) && x.chars().count() <= sx.chars().count() + 4
}

/// The word minus a final vowel or soft/short sign (кошка → кошк, день → ден).
fn russian_stem(w: &str) -> &str {
    match w.char_indices().next_back() {
        Some((i, c)) if "аяоеёыиуюйь".contains(c) => &w[..i],
        _ => w,
    }
}

/// `w`'s stem (at least 3 letters) plus at most 3 Cyrillic letters.
fn russian_endings(x: &str, w: &str) -> bool {
    let stem = russian_stem(w);
    stem.chars().count() >= 3
        && x.strip_prefix(stem)
            .is_some_and(|rest| rest.chars().count() <= 3 && rest.chars().all(is_cyrillic))
}

/// Fleeting vowels: a vowel appears between the stem's last two consonants in the genitive
/// plural (кошка → кошек, сказка → сказок, земля → земель), or the lemma's о/е/ё before a
/// final -к/-ц/-н/-л/-р drops in the other cases (день → дня, отец → отца, кусок → куска).
fn fleeting_vowel(x: &str, w: &str) -> bool {
    const VOWELS: &str = "аяоеёэыиуюь";
    let consonant = |c: char| is_cyrillic(c) && !VOWELS.contains(c) && c != 'й';
    let stem: Vec<char> = russian_stem(w).chars().collect();
    let n = stem.len();
    if n >= 3 && consonant(stem[n - 1]) && consonant(stem[n - 2]) {
        let head: String = stem[..n - 1].iter().collect();
        let last = stem[n - 1];
        if ['о', 'е', 'ё'].iter().any(|v| {
            let form = format!("{head}{v}{last}");
            x == form || x.strip_suffix('ь') == Some(form.as_str())
        }) {
            return true;
        }
    }
    // w ends in vowel + one of к ц н л р (+ ь): drop the vowel, then a case ending of a
    // masculine noun (not any letters: день → дно would be another word).
    const ENDINGS: [&str; 19] = [
        "а", "я", "у", "ю", "ом", "ем", "ём", "е", "и", "ы", "ей", "ов", "ев", "ам", "ям", "ами",
        "ями", "ах", "ях",
    ];
    let lemma: Vec<char> = w.trim_end_matches('ь').chars().collect();
    let m = lemma.len();
    if m >= 3 && "кцнлр".contains(lemma[m - 1]) && "оеё".contains(lemma[m - 2]) {
        let mut short: String = lemma[..m - 2].iter().collect();
        short.push(lemma[m - 1]);
        return x
            .strip_prefix(short.as_str())
            .is_some_and(|rest| ENDINGS.contains(&rest));
    }
    false
}

/// Forms that share no stem with their word: Russian suppletion and English irregular
/// nouns, verbs and comparatives (`(word, forms)`, forms space-separated).
const SUPPLETIVE: &[(&str, &str)] = &[
    ("человек", "люди людей людям людьми людях"),
    ("ребёнок", "дети детей детям детьми детях"),
    ("ребенок", "дети детей детям детьми детях"),
    ("год", "лет"),
    ("хороший", "лучше лучший лучшая лучшее лучшие"),
    ("плохой", "хуже худший"),
    ("идти", "шёл шел шла шло шли иду идёт идут"),
    ("man", "men"),
    ("woman", "women"),
    ("child", "children"),
    ("person", "people"),
    ("mouse", "mice"),
    ("goose", "geese"),
    ("foot", "feet"),
    ("tooth", "teeth"),
    ("ox", "oxen"),
    ("leaf", "leaves"),
    ("knife", "knives"),
    ("wife", "wives"),
    ("life", "lives"),
    ("wolf", "wolves"),
    ("half", "halves"),
    ("shelf", "shelves"),
    ("be", "am is are was were been being"),
    ("have", "has had"),
    ("do", "does did done"),
    ("go", "goes went gone"),
    ("see", "saw seen"),
    ("eat", "ate eaten"),
    ("run", "ran"),
    ("take", "took taken"),
    ("give", "gave given"),
    ("write", "wrote written"),
    ("speak", "spoke spoken"),
    ("swim", "swam swum"),
    ("sing", "sang sung"),
    ("drink", "drank drunk"),
    ("bring", "brought"),
    ("buy", "bought"),
    ("think", "thought"),
    ("catch", "caught"),
    ("teach", "taught"),
    ("fly", "flew flown"),
    ("know", "knew known"),
    ("grow", "grew grown"),
    ("throw", "threw thrown"),
    ("break", "broke broken"),
    ("choose", "chose chosen"),
    ("drive", "drove driven"),
    ("fall", "fell fallen"),
    ("sleep", "slept"),
    ("keep", "kept"),
    ("feel", "felt"),
    ("leave", "left"),
    ("meet", "met"),
    ("make", "made"),
    ("say", "said"),
    ("tell", "told"),
    ("sell", "sold"),
    ("find", "found"),
    ("stand", "stood"),
    ("get", "got gotten"),
    ("win", "won"),
    ("sit", "sat"),
    ("begin", "began begun"),
    ("come", "came"),
    ("freeze", "froze frozen"),
    ("steal", "stole stolen"),
    ("build", "built"),
    ("send", "sent"),
    ("lose", "lost"),
    ("hold", "held"),
    ("hear", "heard"),
    ("fight", "fought"),
    ("good", "better best"),
    ("bad", "worse worst"),
];

fn suppletive(w: &str, x: &str) -> bool {
    SUPPLETIVE
        .iter()
        .any(|(word, forms)| *word == w && forms.split(' ').any(|f| f == x))
}

/// Regular English inflections of `w`: plural/3rd person, past, gerund.
pub fn english_forms(w: &str) -> Vec<String> {
    let mut out = vec![
        format!("{w}s"),
        format!("{w}es"),
        format!("{w}ed"),
        format!("{w}ing"),
    ];
    let chars: Vec<char> = w.chars().collect();
    let vowel = |c: char| "aeiou".contains(c);
    if let Some(&last) = chars.last() {
        let stem: String = chars[..chars.len() - 1].iter().collect();
        if last == 'e' {
            out.push(format!("{w}d"));
            out.push(format!("{stem}ing"));
        }
        if last == 'y' && chars.len() >= 2 && !vowel(chars[chars.len() - 2]) {
            out.push(format!("{stem}ies"));
            out.push(format!("{stem}ied"));
        }
        // Doubled final consonant after a single vowel: stop → stopped, stopping.
        if chars.len() >= 3
            && !vowel(last)
            && !"wxy".contains(last)
            && vowel(chars[chars.len() - 2])
            && !vowel(chars[chars.len() - 3])
        {
            out.push(format!("{w}{last}ed"));
            out.push(format!("{w}{last}ing"));
        }
    }
    out
}

/// The disguise fold: NFKC (full-width and other compatibility forms to plain ones), lower
/// case, the UTS #39 skeleton (default-ignorable characters such as zero-width spaces and
/// soft hyphens dropped, every character mapped to the prototype it is confusable with, so
/// Cyrillic `с` and Latin `c` meet), combining marks dropped (accents), lower case again
/// (prototypes may be capitals), whitespace runs as one space.
pub fn fold(s: &str) -> String {
    let lower = s.nfkc().collect::<String>().to_lowercase();
    let skeleton: String = unicode_security::skeleton(&lower)
        .filter(|&c| !is_combining_mark(c))
        .collect();
    normalise(&skeleton)
}

/// Joins letters spelled out one by one — single-character words separated by at most three
/// of ` -.*,·` — into one word: `c a t` → `cat`, `C - A - T` → `C-A-T` → `CAT`.
pub fn join_spelled(s: &str) -> String {
    // Segments: (is_word, text).
    let mut segs: Vec<(bool, String)> = Vec::new();
    for c in s.chars() {
        let w = is_word_char(c);
        match segs.last_mut() {
            Some((kind, text)) if *kind == w => text.push(c),
            _ => segs.push((w, c.to_string())),
        }
    }
    let single =
        |seg: Option<&(bool, String)>| seg.is_some_and(|(w, t)| *w && t.chars().count() == 1);
    let mut out = String::new();
    for (i, (is_word, text)) in segs.iter().enumerate() {
        let separator = !is_word
            && text.chars().count() <= 3
            && text.chars().all(|c| " -.*,·".contains(c))
            && i > 0
            && single(segs.get(i - 1))
            && single(segs.get(i + 1));
        if !separator {
            out.push_str(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(word: &str, text: &str) -> [bool; 5] {
        detect(&[word.to_string()], None, text)
    }

    #[test]
    fn exact_tier_is_case_sensitive_and_whole_word() {
        assert_eq!(tiers("cat", "the cat sat"), [true; 5]);
        assert!(!tiers("cat", "The Cat sat")[0]);
        assert!(tiers("cat", "The Cat sat")[1]);
        assert_eq!(tiers("cat", "a category"), [false; 5]);
        assert_eq!(tiers("cat", "cat_food"), [false; 5]);
        assert!(tiers("cat", "(cat).")[0]);
        assert!(tiers("cat", "cat")[0]);
    }

    #[test]
    fn normalised_tier_folds_case_and_whitespace() {
        assert!(tiers("ice cream", "ICE \n  Cream!")[1]);
        assert!(!tiers("ice cream", "ICE \n  Cream!")[0]);
        assert!(tiers("кошка", "КОШКА")[1]);
        assert!(!tiers("ice cream", "icecream")[1]);
    }

    #[test]
    fn inflected_tier_english_and_russian() {
        for x in ["cats", "CATS", "catted"] {
            assert!(tiers("cat", x)[2], "{x}");
            assert!(!tiers("cat", x)[1], "{x}");
        }
        assert!(tiers("run", "running")[2]);
        assert!(tiers("bake", "baking")[2]);
        assert!(tiers("baby", "babies")[2]);
        assert!(tiers("stop", "stopped")[2]);
        assert!(!tiers("cat", "catalog")[2]);
        assert!(!tiers("cat", "scat")[2]);
        for x in ["кошки", "кошкой", "кошками", "Кошку"] {
            assert!(tiers("кошка", x)[2], "{x}");
        }
        assert!(!tiers("кошка", "кошкодёрство")[2]);
        assert!(tiers("дождь", "дождём")[2]);
        // Stems under 3 letters would match too much.
        assert!(!tiers("ум", "умный")[2]);
    }

    /// Written by hand: (banned word, a word of the output, is it a form of the word).
    const FORMS: &[(&str, &str, bool)] = &[
        // English: regular endings, Snowball, irregulars.
        ("cat", "cats", true),
        ("box", "boxes", true),
        ("watch", "watched", true),
        ("run", "running", true),
        ("run", "ran", true),
        ("stop", "stopped", true),
        ("bake", "baking", true),
        ("baby", "babies", true),
        ("city", "cities", true),
        ("try", "tried", true),
        ("fly", "flies", true),
        ("mouse", "mice", true),
        ("child", "children", true),
        ("person", "people", true),
        ("tooth", "teeth", true),
        ("go", "went", true),
        ("write", "written", true),
        ("good", "better", true),
        ("knife", "knives", true),
        ("cat", "catalog", false),
        ("cat", "scat", false),
        ("cat", "category", false),
        ("car", "care", false),
        ("hat", "hate", false),
        ("organ", "organization", false),
        ("sun", "sunday", false),
        // Russian: endings on the stem, short stems, fleeting vowels, suppletion.
        ("кошка", "кошки", true),
        ("кошка", "кошкой", true),
        ("кошка", "кошек", true),
        ("сказка", "сказок", true),
        ("земля", "земель", true),
        ("собака", "собаками", true),
        ("вода", "воды", true),
        ("школа", "школу", true),
        ("дождь", "дождём", true),
        ("чай", "чая", true),
        ("чай", "чаем", true),
        ("день", "дня", true),
        ("отец", "отца", true),
        ("кусок", "куска", true),
        ("человек", "люди", true),
        ("человек", "людей", true),
        ("ребёнок", "дети", true),
        ("кошка", "кошкодёрство", false),
        ("ум", "умный", false),
        ("кот", "кто", false),
        ("кот", "котлета", false),
        ("чай", "час", false),
        ("день", "дно", false),
    ];

    #[test]
    fn inflected_tier_on_a_table_of_forms() {
        let mut wrong = Vec::new();
        for &(word, form, expected) in FORMS {
            let t = tiers(word, &format!("Here: {form}."));
            // A form is not the word itself, so only the inflected tier may flag it.
            assert!(!t[1], "{word} / {form}");
            if t[2] != expected {
                wrong.push(format!("{word} / {form}: expected {expected}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert!(FORMS.len() >= 30);
    }

    #[test]
    fn disguised_tier_undoes_lookalikes_and_invisibles() {
        // Cyrillic с and а in a Latin word.
        assert_eq!(
            tiers("cat", "a \u{0441}\u{0430}t here"),
            [false, false, false, true, false]
        );
        assert!(tiers("cat", "c\u{200B}at")[3]);
        assert!(!tiers("cat", "c\u{200B}at")[1]);
        assert!(tiers("cat", "ｃａｔ")[3]);
        assert!(tiers("cat", "cа́t")[3]);
        // Latin o and c in a Russian word.
        assert!(tiers("кошка", "кoшкa")[3]);
        assert!(!tiers("cat", "cart")[3]);
        // NFKC: ligatures and mathematical letters; UTS #39: Greek and Cyrillic look-alikes,
        // digits that pass for letters, a soft hyphen and a word joiner.
        assert!(tiers("fish", "ﬁsh")[3]);
        assert!(tiers("cat", "𝐜𝐚𝐭")[3]);
        assert!(tiers("paris", "Ρаris")[3]);
        assert!(tiers("cool", "c00l")[3]);
        assert!(tiers("cat", "c\u{00AD}a\u{2060}t")[3]);
        assert!(!tiers("cat", "cot")[3]);
        // Every later tier includes normalised.
        for text in ["The CAT", "ice \n cream"] {
            for w in ["cat", "ice cream"] {
                let t = tiers(w, text);
                if t[1] {
                    assert!(t[2] && t[3] && t[4], "{w} / {text}");
                }
            }
        }
    }

    #[test]
    fn spaced_tier_joins_spelled_letters() {
        assert_eq!(
            tiers("cat", "It is c a t."),
            [false, false, false, false, true]
        );
        assert!(tiers("cat", "C-A-T")[4]);
        assert!(tiers("cat", "C - A - T")[4]);
        assert!(tiers("cat", "c.a.t")[4]);
        assert!(!tiers("cat", "c, then a, then t")[4]);
        assert_eq!(join_spelled("a b c and d e"), "abc and de");
    }

    #[test]
    fn the_prompt_end_glues_onto_the_output() {
        let w = ["cat".to_string()];
        assert!(!detect(&w, Some('s'), "cat")[1]);
        assert!(detect(&w, Some(' '), "cat")[1]);
        assert!(detect(&w, None, "cat")[1]);
    }
}
