//! The streaming normaliser: raw bytes in, normalised bytes out, one byte at a time, from any
//! saved state. See the module docs of [`crate::text`] for the stream's definition.

use super::classes::is_word_char;
use super::fold::{folded, one_word_char, Folded, MAX_WRITTEN_BYTES};

/// The boundary mark written around non-word characters and at the edges of the text.
pub const MARK: u8 = 0x01;

/// How a lane folds text before matching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fold {
    /// Letter case is ignored (Unicode full case folding).
    pub case: bool,
    /// Disguises are undone (invisible characters, compatibility forms, marks, look-alike
    /// letters); see [`crate::text::folded`].
    pub disguise: bool,
}

impl Fold {
    /// No folding: bytes as written (but still UTF-8 decoded and word-marked).
    pub const NONE: Fold = Fold {
        case: false,
        disguise: false,
    };
    /// Case folding only (the default for ban entries).
    pub const CASE: Fold = Fold {
        case: true,
        disguise: false,
    };

    /// Index 0..4, for per-fold tables.
    pub(crate) fn index(self) -> usize {
        self.case as usize | (self.disguise as usize) << 1
    }
}

/// Everything the normaliser remembers between bytes: a partial UTF-8 sequence and whether
/// the last character was whitespace (runs of whitespace are written once).
///
/// It packs into a `u64` ([`NormState::key`]) so that guard states hash cheaply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NormState {
    /// Code point bits accumulated so far.
    cp: u32,
    /// Continuation bytes still expected (0 = between characters).
    need: u8,
    /// Allowed range of the next continuation byte (it narrows after E0, ED, F0, F4).
    lo: u8,
    hi: u8,
    /// The last character written was whitespace.
    after_space: bool,
}

/// Up to two characters decoded from one byte: an invalid byte inside a sequence ends the
/// sequence with U+FFFD and is then decoded on its own.
type Decoded = ([char; 2], usize);

impl NormState {
    /// The state at the start of a text (after the start mark has been written).
    pub const fn new() -> NormState {
        NormState {
            cp: 0,
            need: 0,
            lo: 0,
            hi: 0,
            after_space: false,
        }
    }

    /// The state right after a whitespace character (a following run is written as nothing).
    pub const fn after_whitespace() -> NormState {
        let mut s = NormState::new();
        s.after_space = true;
        s
    }

    /// A compact, hashable encoding of the state.
    pub fn key(&self) -> u64 {
        (self.cp as u64)
            | (self.need as u64) << 21
            | (self.lo as u64) << 24
            | (self.hi as u64) << 32
            | (self.after_space as u64) << 40
    }

    /// True when the last character written was whitespace, so that more whitespace would
    /// be written as nothing (runs are written once).
    pub(crate) fn in_whitespace_run(&self) -> bool {
        self.after_space
    }

    /// The same state, but with the current whitespace run ended: the next whitespace
    /// character starts a run of its own (see `Automaton::seam`).
    pub(crate) fn run_ended(mut self) -> NormState {
        self.after_space = false;
        self
    }

    /// True when no UTF-8 sequence is open.
    pub fn at_char_boundary(&self) -> bool {
        self.need == 0
    }

    /// Decodes one byte the way `String::from_utf8_lossy` does (maximal invalid subparts
    /// become one U+FFFD each).
    #[inline]
    fn decode(&mut self, b: u8) -> Decoded {
        let mut out = (['\0'; 2], 0);
        if self.need > 0 {
            if (self.lo..=self.hi).contains(&b) {
                self.cp = (self.cp << 6) | (b & 0x3F) as u32;
                self.need -= 1;
                self.lo = 0x80;
                self.hi = 0xBF;
                if self.need == 0 {
                    out.0[0] = char::from_u32(self.cp).unwrap_or('\u{FFFD}');
                    out.1 = 1;
                    // Back to the one between-characters state, so that equal states
                    // compare (and hash) equal.
                    self.cp = 0;
                    self.lo = 0;
                    self.hi = 0;
                }
                return out;
            }
            out.0[0] = '\u{FFFD}';
            out.1 = 1;
            self.need = 0;
            self.cp = 0;
            self.lo = 0;
            self.hi = 0;
        }
        let (need, lo, hi, bits) = match b {
            0x00..=0x7F => {
                out.0[out.1] = b as char;
                out.1 += 1;
                return out;
            }
            0xC2..=0xDF => (1, 0x80, 0xBF, b & 0x1F),
            0xE0 => (2, 0xA0, 0xBF, b & 0x0F),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF, b & 0x0F),
            0xED => (2, 0x80, 0x9F, b & 0x0F),
            0xF0 => (3, 0x90, 0xBF, b & 0x07),
            0xF1..=0xF3 => (3, 0x80, 0xBF, b & 0x07),
            0xF4 => (3, 0x80, 0x8F, b & 0x07),
            _ => {
                out.0[out.1] = '\u{FFFD}';
                out.1 += 1;
                return out;
            }
        };
        self.need = need;
        self.lo = lo;
        self.hi = hi;
        self.cp = bits as u32;
        out
    }

    /// Writes one character to `out` (see the stream definition): its folded form, each
    /// character of which is a word character, whitespace or another character.
    #[inline]
    fn write_char(&mut self, c: char, fold: Fold, out: &mut Emission) {
        // Most characters are written as one word character: no classifying twice.
        if let Some(w) = one_word_char(c, fold) {
            self.after_space = false;
            out.push_char(w);
            return;
        }
        match folded(c, fold) {
            Folded::One(c) => self.write_folded(c, out),
            // Nothing: invisible, and the text reads as if it were not there.
            Folded::Many(s) => {
                for c in s.chars() {
                    self.write_folded(c, out);
                }
            }
        }
    }

    #[inline]
    fn write_folded(&mut self, c: char, out: &mut Emission) {
        if is_word_char(c) {
            self.after_space = false;
            out.push_char(c);
        } else if c.is_whitespace() {
            self.write_space(out);
        } else {
            self.write_other(c, out);
        }
    }

    /// A whitespace character: a run is written once, as `MARK ' ' MARK`.
    #[inline]
    fn write_space(&mut self, out: &mut Emission) {
        if !self.after_space {
            out.push(MARK);
            out.push(b' ');
            out.push(MARK);
        }
        self.after_space = true;
    }

    /// Any other character, between two marks (a literal mark in the text reads as U+FFFD,
    /// so that text never forges one).
    #[inline]
    fn write_other(&mut self, c: char, out: &mut Emission) {
        self.after_space = false;
        let c = if c == '\u{1}' { '\u{FFFD}' } else { c };
        out.push(MARK);
        out.push_char(c);
        out.push(MARK);
    }

    /// Feeds one raw byte; the normalised bytes it produces are appended to `out`.
    #[inline]
    pub fn push(&mut self, b: u8, fold: Fold, out: &mut Emission) {
        // ASCII between characters, without disguise folding (the mask walks' commonest
        // byte): no decoding and no fold table.
        if b < 0x80 && self.need == 0 && !fold.disguise {
            // ASCII folds to itself, or a letter to its lower case.
            if is_word_char(b as char) {
                self.after_space = false;
                out.push(if fold.case { b.to_ascii_lowercase() } else { b });
            } else {
                self.write_folded(b as char, out);
            }
            return;
        }
        let (chars, n) = self.decode(b);
        for &c in &chars[..n] {
            self.write_char(c, fold, out);
        }
    }

    /// Ends the text: an open UTF-8 sequence becomes U+FFFD, then the end mark is written.
    pub fn finish(&self, fold: Fold, out: &mut Emission) {
        let mut s = *self;
        if s.need > 0 {
            s.write_char('\u{FFFD}', fold, out);
        }
        out.push(MARK);
    }
}

/// The normalised bytes produced by one raw byte: one character's folded form (at most
/// [`MAX_WRITTEN_BYTES`]), or U+FFFD and then an ASCII character or another U+FFFD (an
/// invalid byte inside a sequence, then that byte on its own).
#[derive(Clone, Copy, Debug)]
pub struct Emission {
    buf: [u8; MAX_WRITTEN_BYTES],
    len: u8,
}

impl Emission {
    /// An empty emission.
    pub const fn new() -> Emission {
        Emission {
            buf: [0; MAX_WRITTEN_BYTES],
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        self.buf[self.len as usize] = b;
        self.len += 1;
    }

    #[inline]
    fn push_char(&mut self, c: char) {
        let n = c.encode_utf8(&mut self.buf[self.len as usize..]).len();
        self.len += n as u8;
    }

    /// The bytes written.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// Forgets the bytes written.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Default for Emission {
    fn default() -> Self {
        Emission::new()
    }
}

/// Normalises a whole text: start mark, every byte, end mark (when `edges` is true).
///
/// ```
/// use taboo::text::{normalize, Fold};
/// assert_eq!(normalize(b"Cat, dog", Fold::CASE, true), b"\x01cat\x01,\x01\x01 \x01dog\x01");
/// assert_eq!(normalize("a \t\n b".as_bytes(), Fold::NONE, false), b"a\x01 \x01b");
/// let disguised = Fold { case: true, disguise: true };
/// assert_eq!(normalize("СА\u{200B}t".as_bytes(), disguised, false), b"cat");
/// ```
pub fn normalize(text: &[u8], fold: Fold, edges: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    normalize_into(&mut out, text, fold, edges);
    out
}

/// [`normalize`], appending to `out` (no allocation of its own).
pub fn normalize_into(out: &mut Vec<u8>, text: &[u8], fold: Fold, edges: bool) {
    if edges {
        out.push(MARK);
    }
    let mut s = NormState::new();
    let mut e = Emission::new();
    for &b in text {
        e.clear();
        s.push(b, fold, &mut e);
        out.extend_from_slice(e.as_bytes());
    }
    e.clear();
    if edges {
        s.finish(fold, &mut e);
    } else if !s.at_char_boundary() {
        s.write_char('\u{FFFD}', fold, &mut e);
    }
    out.extend_from_slice(e.as_bytes());
}

/// What a character that is partly read can write first, for pruning mask walks: a thread
/// that dies on every byte of this set dies on the character, whatever its remaining bytes.
///
/// Indexed by the bytes still needed (1 to 3), then by the code-point bits read so far, then
/// by "after whitespace": the possible first written bytes, or `None` when some character
/// in the range writes nothing (whitespace after whitespace, an invisible character under
/// disguise folding). Deeper levels narrow the range, so one invisible character only
/// blinds the pruning for its own block. Built on first use for each fold, in one pass
/// over every code point (about 100 ms), so a process that never folds disguises never
/// pays for those tables.
type PrefixTable = [Vec<[Option<Vec<u8>>; 2]>; 3];

fn prefix_table(fold: Fold) -> &'static PrefixTable {
    static TABLES: [std::sync::OnceLock<PrefixTable>; 4] = [
        std::sync::OnceLock::new(),
        std::sync::OnceLock::new(),
        std::sync::OnceLock::new(),
        std::sync::OnceLock::new(),
    ];
    TABLES[fold.index()].get_or_init(|| {
        // An invalid continuation writes U+FFFD, which starts with a mark: always possible.
        let fresh = || [Some(vec![MARK]), Some(vec![MARK])];
        let mut table: PrefixTable = [1u32, 2, 3].map(|need| {
            (0..=(0x10_FFFFu32 >> (6 * need)))
                .map(|_| fresh())
                .collect::<Vec<_>>()
        });
        for cp in 0x80u32..=0x10_FFFF {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            for after_space in [false, true] {
                let mut st = NormState::new();
                st.after_space = after_space;
                let mut e = Emission::new();
                st.write_char(c, fold, &mut e);
                let first = e.as_bytes().first().copied();
                // The levels at which this code point can be partly read: one byte short
                // always; two bytes short for 3- and 4-byte forms; three for 4-byte forms.
                let levels = if cp >= 0x1_0000 {
                    3
                } else if cp >= 0x800 {
                    2
                } else {
                    1
                };
                for need in 1..=levels {
                    let entry =
                        &mut table[need - 1][(cp >> (6 * need)) as usize][after_space as usize];
                    match (first, entry.as_mut()) {
                        (Some(b), Some(v)) => {
                            if !v.contains(&b) {
                                v.push(b);
                            }
                        }
                        (None, _) => *entry = None,
                        (Some(_), None) => {}
                    }
                }
            }
        }
        for level in table.iter_mut() {
            for entry in level.iter_mut().flatten().flatten() {
                entry.sort_unstable();
            }
        }
        table
    })
}

impl NormState {
    /// If a character is partly read, the bytes its writing can start with (the first byte
    /// of the whole character, given the bytes read so far); `None` when it might write
    /// nothing at all. Invalid continuations write U+FFFD, which starts with [`MARK`]:
    /// always included.
    #[inline]
    pub(crate) fn open_char_first_bytes(&self, fold: Fold) -> Option<&'static [u8]> {
        if self.need == 0 || self.need > 3 {
            return None;
        }
        prefix_table(fold)[self.need as usize - 1].get(self.cp as usize)?[self.after_space as usize]
            .as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoder must agree with `from_utf8_lossy` on every input: the whole engine's
    /// notion of "the text" rests on it.
    #[test]
    fn decoder_matches_from_utf8_lossy() {
        let samples: Vec<Vec<u8>> = vec![
            b"plain".to_vec(),
            "кошка".as_bytes().to_vec(),
            vec![0xE0, 0x80, 0x41],
            vec![0xED, 0xA0, 0x80],
            vec![0xF0, 0x9F, 0x98],
            vec![0xF4, 0x90, 0x80, 0x80],
            vec![0xC0, 0xAF, 0xFF, 0xD0],
            vec![0xD0, 0xD0, 0xBA],
            vec![0xE2, 0x82, 0xE2, 0x82, 0xAC],
        ];
        for s in samples {
            let mut st = NormState::new();
            let mut got = String::new();
            for &b in &s {
                let (cs, n) = st.decode(b);
                got.extend(&cs[..n]);
            }
            if !st.at_char_boundary() {
                got.push('\u{FFFD}');
            }
            assert_eq!(got, String::from_utf8_lossy(&s), "{s:x?}");
        }
    }
}
