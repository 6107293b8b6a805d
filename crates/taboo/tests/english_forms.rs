//! English word forms against a table written by hand: for each lemma, every form a ban
//! on it with `[forms]` must cover, and nothing else. Checked both ways through the whole
//! pipeline (ban file → expansion → automaton): every listed form is banned, and expansion
//! adds no form outside the row.
//!
//! A row lists the forms of every part of speech WordNet gives the lemma (`cat` is also a
//! verb: catted, catting), the irregular forms of WordNet's exception lists beside the
//! rule's (learned and learnt), and the spellings the rules produce when spelling alone
//! cannot decide (visited and visitted; the wrong one is not a word, so banning it costs
//! nothing). Rows follow WordNet where it is surprising: "dive" is also the Italian plural of
//! "diva", "good" and "red" are nouns too, "go" and "fly" adjectives; WordNet lists no
//! elder/eldest for "old" and no "seed" for "see" ("seed" is a verb of its own).

use std::collections::BTreeSet;

use taboo::forms::Morphology;
use taboo::{Automaton, BanList};

/// `lemma: form form …` — the lemma's forms, the lemma included.
const TABLE: &[&str] = &[
    "cat: cat cats catted catting",
    "dog: dog dogs dogged dogging",
    "box: box boxes boxed boxing",
    "city: city cities",
    "day: day days",
    "hero: hero heros heroes",
    "potato: potato potatos potatoes",
    "church: church churches churched churching",
    "bush: bush bushes bushed bushing busher bushest",
    "baby: baby babies babied babying",
    "key: key keys keyed keying keyer keyest",
    "toy: toy toys toyed toying",
    "book: book books booked booking",
    "table: table tables tabled tabling",
    "idea: idea ideas",
    "mouse: mouse mouses mice moused mousing",
    "child: child childs children",
    "foot: foot foots feet footed footing",
    "tooth: tooth tooths teeth",
    "goose: goose gooses geese goosed goosing",
    "ox: ox oxes oxen",
    "man: man mans men manned manning",
    "woman: woman womans women",
    "fireman: fireman firemans firemen",
    "person: person persons people",
    "human: human humans humen humaner humanest humanner humannest",
    "knife: knife knifes knives knifed knifing",
    "wife: wife wifes wives",
    "wolf: wolf wolfs wolves wolfed wolfing",
    "sheep: sheep sheeps",
    "learn: learn learns learned learnt learning",
    "burn: burn burns burned burnt burning",
    "prove: prove proves proved proven proving",
    "dream: dream dreams dreamed dreamt dreaming",
    "spell: spell spells spelled spelt spelling",
    "lie: lie lies lied lay lain lying",
    "hang: hang hangs hanged hung hanging",
    "shine: shine shines shined shone shining",
    "dive: dive dives dived dove diving diva divas",
    "see: see sees saw seen seeing",
    "run: run runs ran runned running",
    "stop: stop stops stopped stopping",
    "hop: hop hops hopped hopping",
    "hope: hope hopes hoped hoping",
    "visit: visit visits visitted visited visitting visiting",
    "admit: admit admits admitted admited admitting admiting",
    "carry: carry carries carried carrying",
    "play: play plays played playing",
    "try: try tries tried trying",
    "panic: panic panics panicked paniced panicking panicing",
    "tie: tie ties tied tying",
    "walk: walk walks walked walking",
    "talk: talk talks talked talking",
    "jump: jump jumps jumped jumping",
    "love: love loves loved loving",
    "bake: bake bakes baked baking",
    "fix: fix fixes fixed fixing",
    "kiss: kiss kisses kissed kissing",
    "wish: wish wishes wished wishing",
    "watch: watch watches watched watching",
    "dance: dance dances danced dancing",
    "cry: cry cries cried crying cryings",
    "fly: fly flies flied flew flown flying flier fliest",
    "go: go goes gos goed went gone going goer goest",
    "eat: eat eats eated ate eaten eating",
    "take: take takes taked took taken taking",
    "make: make makes maked made making",
    "swim: swim swims swimmed swam swum swimming",
    "sing: sing sings singed sang sung singing",
    "bring: bring brings bringed brought bringing",
    "think: think thinks thinked thought thinking",
    "teach: teach teaches teached taught teaching",
    "catch: catch catches catched caught catching",
    "buy: buy buys buyed bought buying",
    "write: write writes writed wrote written writing",
    "begin: begin begins beginned begined began begun beginning begining",
    "forget: forget forgets forgetted forgeted forgot forgotten forgetting forgeting",
    "sleep: sleep sleeps sleeped slept sleeping",
    "keep: keep keeps keeped kept keeping",
    "build: build builds builded built building",
    "send: send sends sended sent sending",
    "cut: cut cuts cutted cutting cutter cuttest",
    "hit: hit hits hitted hitting",
    "break: break breaks breaked broke broken breaking",
    "choose: choose chooses choosed chose chosen choosing",
    "speak: speak speaks speaked spoke spoken speaking",
    "steal: steal steals stealed stole stolen stealing",
    "drive: drive drives drived drove driven driving",
    "grow: grow grows growed grew grown growing",
    "know: know knows knowed knew known knowing",
    "throw: throw throws throwed threw thrown throwing",
    "draw: draw draws drawed drew drawn drawing",
    "fall: fall falls falled fell fallen falling",
    "bite: bite bites bited bit bitten biting",
    "dig: dig digs digged dug digging",
    "win: win wins winned won winning",
    "sit: sit sits sitted sat sitting",
    "tell: tell tells telled told telling",
    "sell: sell sells selled sold selling",
    "pay: pay pays payed paid paying",
    "good: good goods gooder goodest better best",
    "bad: bad bads badder baddest worse worst",
    "big: big bigger biggest",
    "happy: happy happier happiest",
    "large: large larges larger largest",
    "hot: hot hotter hottest",
    "red: red reds redded redding redder reddest",
    "nice: nice nices nicer nicest",
    "simple: simple simples simpler simplest",
    "easy: easy easier easiest",
    "busy: busy busies busied busying busier busiest",
    "old: old olds older oldest",
];

fn rows() -> Vec<(&'static str, BTreeSet<&'static str>)> {
    TABLE
        .iter()
        .map(|row| {
            let (lemma, forms) = row.split_once(':').expect("row has a colon");
            (lemma, forms.split_whitespace().collect())
        })
        .collect()
}

#[test]
fn the_table_has_a_hundred_lemmas_with_their_lemma_among_the_forms() {
    let rows = rows();
    assert!(rows.len() >= 100, "{} rows", rows.len());
    for (lemma, forms) in &rows {
        assert!(
            forms.contains(lemma),
            "{lemma}: the lemma is one of its forms"
        );
    }
}

#[test]
fn english_forms_equal_the_hand_written_table() {
    let morphology = Morphology::new();
    let mut failures = Vec::new();
    for (lemma, listed) in rows() {
        let list = BanList::parse(&format!("[forms] {lemma}")).unwrap();
        let (expanded, _) = list.expand_forms(&morphology).unwrap();
        let made: BTreeSet<&str> = expanded.entries().iter().map(|e| e.text()).collect();
        let missing: Vec<&&str> = listed.difference(&made).collect();
        let extra: Vec<&&str> = made.difference(&listed).collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!(
                "{lemma}: missing {missing:?}, not listed {extra:?}"
            ));
        }
        // Every listed form is banned as a word, in any letter case, also mid-sentence.
        let automaton = Automaton::compile(&expanded).unwrap();
        for form in &listed {
            for text in [format!("I {form} a lot."), form.to_uppercase()] {
                if !automaton.is_match(text.as_bytes()) {
                    failures.push(format!("{lemma}: {text:?} is not banned"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The sentence: a ban on "learn" with forms must catch the regular past.
#[test]
fn learned_is_a_form_of_learn() {
    let list = BanList::parse("[forms] learn").unwrap();
    let (expanded, _) = list.expand_forms(&Morphology::new()).unwrap();
    let automaton = Automaton::compile(&expanded).unwrap();
    assert!(automaton.is_match("I learned a lot today.".as_bytes()));
    assert!(automaton.is_match("I learnt a lot today.".as_bytes()));
    assert!(!automaton.is_match("a learner".as_bytes()));
}
