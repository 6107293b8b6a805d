//! A read-only DAWG in the binary layout DAWG-Python loads (the dawgdic double array), as
//! pymorphy3 ships its word list in.
//!
//! File layout (all integers little-endian):
//!
//! ```text
//! u32 n            number of units
//! u32 × n          units (the double array)
//! u32 g            number of guide entries (equal to n)
//! (u8, u8) × g     guide: per unit, the label of its first child and of its next sibling
//! ```
//!
//! A non-leaf unit packs its incoming label (bits 0–7), a "has a leaf child" flag (bit 8), an
//! extension flag (bit 9) and the offset to its children (bits 10–31, shifted left by 8 more
//! when the extension flag is set). The child reached by byte `b` from unit `i` sits at
//! `i ^ offset ^ b` and is valid only when its stored label is `b`. A leaf unit (bit 31) holds a
//! value instead; a unit's leaf is its child by label 0.
//!
//! The guide lets a walk enumerate the keys under a unit without trying all 255 labels: from a
//! unit, its first child's label (0: none besides the leaf), and from a child, the label of the
//! parent's next child (0: no more).
//!
//! Every index is checked before use: a damaged file yields missing keys, never a panic.
//!
//! Record DAWGs (the word list): each key is `word`, the separator byte 0x01, then the base64
//! of a fixed-size big-endian record followed by a newline (the way Python's `binascii` writes
//! base64). [`Dawg::records`] decodes them.

const IS_LEAF_BIT: u32 = 1 << 31;
const HAS_LEAF_BIT: u32 = 1 << 8;
const EXTENSION_BIT: u32 = 1 << 9;

/// The byte between a key and its base64 payload in a record DAWG.
pub(crate) const PAYLOAD_SEPARATOR: u8 = 0x01;

/// Most records [`Dawg::records`] reads for one key. The Russian word list has at most a few
/// dozen per word form; the bound only matters for a damaged file.
pub(crate) const MAX_RECORDS_PER_KEY: usize = 4096;

/// A loaded DAWG with its completion guide.
#[derive(Debug, Clone)]
pub(crate) struct Dawg {
    units: Vec<u32>,
    guide: Vec<u8>,
}

impl Dawg {
    /// The root unit.
    pub(crate) const ROOT: u32 = 0;

    /// Reads a DAWG from the bytes of its file. The error says what is wrong with them.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Dawg, String> {
        let (unit_count, rest) = read_count(bytes, "the unit count")?;
        if unit_count == 0 {
            return Err("the DAWG has no units (not even a root)".to_owned());
        }
        let unit_bytes = unit_count
            .checked_mul(4)
            .filter(|&n| n <= rest.len())
            .ok_or_else(|| {
                format!(
                "truncated: the header announces {unit_count} units ({} bytes) but only {} bytes \
                 follow",
                unit_count as u64 * 4,
                rest.len()
            )
            })?;
        let units: Vec<u32> = rest[..unit_bytes]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let rest = &rest[unit_bytes..];

        let (guide_count, rest) = read_count(rest, "the guide size")?;
        if guide_count != unit_count {
            return Err(format!(
                "the guide has {guide_count} entries but the DAWG has {unit_count} units"
            ));
        }
        let guide_bytes = guide_count * 2;
        if rest.len() != guide_bytes {
            return Err(if rest.len() < guide_bytes {
                format!(
                    "truncated: the guide needs {guide_bytes} bytes but only {} follow",
                    rest.len()
                )
            } else {
                format!(
                    "{} unexpected bytes after the guide",
                    rest.len() - guide_bytes
                )
            });
        }
        Ok(Dawg {
            units,
            guide: rest.to_vec(),
        })
    }

    /// Number of units (for tests and size reports).
    #[cfg(test)]
    pub(crate) fn unit_count(&self) -> usize {
        self.units.len()
    }

    fn unit(&self, index: u32) -> Option<u32> {
        self.units.get(index as usize).copied()
    }

    /// The unit reached from `index` by the byte `label`, if there is that transition.
    pub(crate) fn follow_byte(&self, index: u32, label: u8) -> Option<u32> {
        let base = self.unit(index)?;
        if base & IS_LEAF_BIT != 0 {
            return None;
        }
        let next = index ^ offset(base) ^ u32::from(label);
        let next_base = self.unit(next)?;
        // A leaf's label reads as 0x8000_0000 | low byte: never equal to a plain label.
        (next_base & (IS_LEAF_BIT | 0xFF) == u32::from(label)).then_some(next)
    }

    /// The unit reached from `index` by the bytes `key`, if the whole path exists.
    pub(crate) fn follow_bytes(&self, mut index: u32, key: &[u8]) -> Option<u32> {
        for &b in key {
            index = self.follow_byte(index, b)?;
        }
        Some(index)
    }

    /// Whether a key ends at `index`.
    pub(crate) fn has_value(&self, index: u32) -> bool {
        self.unit(index)
            .is_some_and(|base| base & (IS_LEAF_BIT | HAS_LEAF_BIT) == HAS_LEAF_BIT)
    }

    /// Whether `key` is a key of this DAWG.
    #[cfg(test)]
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        self.follow_bytes(Self::ROOT, key)
            .is_some_and(|i| self.has_value(i))
    }

    /// The value stored for the key ending at `index` (plain DAWGs; record DAWGs keep theirs in
    /// the key).
    #[cfg(test)]
    pub(crate) fn value(&self, index: u32) -> Option<u32> {
        if !self.has_value(index) {
            return None;
        }
        let base = self.unit(index)?;
        let leaf = self.unit(index ^ offset(base))?;
        (leaf & IS_LEAF_BIT != 0).then_some(leaf & !IS_LEAF_BIT)
    }

    fn guide_child(&self, index: u32) -> u8 {
        self.guide.get(index as usize * 2).copied().unwrap_or(0)
    }

    fn guide_sibling(&self, index: u32) -> u8 {
        self.guide.get(index as usize * 2 + 1).copied().unwrap_or(0)
    }

    /// Calls `visit` with every key suffix that completes a key from `index`, in byte order,
    /// until it returns false. The empty suffix comes first when a key ends at `index` itself.
    /// Suffixes longer than `max_depth` bytes end the walk: in a sound file they do not occur
    /// where the caller looks, and in a damaged one the bound (with siblings required to come
    /// in increasing order) guarantees the walk ends.
    pub(crate) fn for_each_completion(
        &self,
        index: u32,
        max_depth: usize,
        mut visit: impl FnMut(&[u8]) -> bool,
    ) {
        if self.unit(index).is_none() {
            return;
        }
        let mut key: Vec<u8> = Vec::new();
        // The units from `index` down to the current one; `key[i]` leads from stack[i] to
        // stack[i + 1].
        let mut stack: Vec<u32> = vec![index];
        if !self.descend_to_key(&mut stack, &mut key, max_depth) {
            return;
        }
        while visit(&key) {
            // Next key: into the current unit's children first, else to the next sibling of
            // the nearest unit on the path that has one.
            let Some(&top) = stack.last() else { return };
            let child = self.guide_child(top);
            if child != 0 {
                if !self.push(&mut stack, &mut key, child, max_depth) {
                    return;
                }
            } else {
                loop {
                    let (Some(current), Some(label)) = (stack.pop(), key.pop()) else {
                        return;
                    };
                    let sibling = self.guide_sibling(current);
                    if sibling == 0 {
                        continue;
                    }
                    if sibling <= label {
                        return; // siblings are sorted; anything else is damage
                    }
                    if !self.push(&mut stack, &mut key, sibling, max_depth) {
                        return;
                    }
                    break;
                }
            }
            if !self.descend_to_key(&mut stack, &mut key, max_depth) {
                return;
            }
        }
    }

    /// Follows first children from the top of `stack` until a key ends. False when the file
    /// does not lead to one (damaged).
    fn descend_to_key(&self, stack: &mut Vec<u32>, key: &mut Vec<u8>, max_depth: usize) -> bool {
        loop {
            let Some(&top) = stack.last() else {
                return false;
            };
            if self.has_value(top) {
                return true;
            }
            let child = self.guide_child(top);
            if child == 0 || !self.push(stack, key, child, max_depth) {
                return false;
            }
        }
    }

    /// Steps from the top of `stack` by `label`. False when there is no such transition, the
    /// stack is empty, or the key would grow past `max_depth`.
    fn push(&self, stack: &mut Vec<u32>, key: &mut Vec<u8>, label: u8, max_depth: usize) -> bool {
        let Some(&top) = stack.last() else {
            return false;
        };
        match self.follow_byte(top, label) {
            Some(next) if key.len() < max_depth => {
                stack.push(next);
                key.push(label);
                true
            }
            _ => false,
        }
    }

    /// The records stored for the key ending at `index_of_key` in a record DAWG whose records
    /// are `N` bytes, each decoded from base64. Payloads that do not decode to `N` bytes are
    /// skipped; at most [`MAX_RECORDS_PER_KEY`] are visited.
    pub(crate) fn records<const N: usize>(
        &self,
        index_of_key: u32,
        mut visit: impl FnMut([u8; N]),
    ) {
        let Some(payloads) = self.follow_byte(index_of_key, PAYLOAD_SEPARATOR) else {
            return;
        };
        let encoded_len = N.div_ceil(3) * 4 + 1; // with the newline
        let mut seen = 0;
        self.for_each_completion(payloads, encoded_len, |b64| {
            if let Some(record) = decode_base64::<N>(b64) {
                visit(record);
            }
            seen += 1;
            seen < MAX_RECORDS_PER_KEY
        });
    }
}

fn offset(base: u32) -> u32 {
    (base >> 10) << ((base & EXTENSION_BIT) >> 6)
}

fn read_count<'a>(bytes: &'a [u8], what: &str) -> Result<(usize, &'a [u8]), String> {
    match bytes.split_first_chunk::<4>() {
        Some((head, rest)) => Ok((u32::from_le_bytes(*head) as usize, rest)),
        None => Err(format!("truncated: the file ends before {what}")),
    }
}

/// Decodes standard base64 (with `=` padding, optionally followed by one newline) into exactly
/// `N` bytes.
fn decode_base64<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let body = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if text.len() % 4 != 0 || body.len() * 6 / 8 != N {
        return None;
    }
    let mut out = [0u8; N];
    let mut filled = 0;
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in body {
        acc = (acc << 6) | sextet(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out[filled] = (acc >> bits) as u8;
            filled += 1;
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits are padding and must be zero in canonical base64.
    (filled == N && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet, VecDeque};

    /// Builds the file bytes of a DAWG (an unminimised trie, which is a valid DAWG) holding
    /// `keys` with their values, placing children the way the format requires: each parent's
    /// children block (`index ^ offset`) distinct from every other parent's, so a label
    /// never matches a unit that belongs to another parent.
    fn build(keys: &[(&[u8], u32)]) -> Vec<u8> {
        #[derive(Default)]
        struct Node {
            children: BTreeMap<u8, usize>,
            value: Option<u32>,
        }
        let mut nodes = vec![Node::default()];
        for &(key, value) in keys {
            let mut at = 0;
            for &b in key {
                assert_ne!(b, 0, "label 0 is the leaf");
                let next = nodes.len();
                at = *nodes[at].children.entry(b).or_insert(next);
                if at == next {
                    nodes.push(Node::default());
                }
            }
            nodes[at].value = Some(value);
        }
        let mut units: Vec<u32> = vec![0];
        let mut used = vec![true];
        let mut guide: Vec<(u8, u8)> = vec![(0, 0)];
        let mut blocks = HashSet::new();
        let mut queue = VecDeque::from([(0usize, 0u32)]);
        while let Some((node, index)) = queue.pop_front() {
            let node = &nodes[node];
            let mut labels: Vec<u32> = node.children.keys().map(|&b| u32::from(b)).collect();
            if node.value.is_some() {
                labels.push(0);
            }
            if labels.is_empty() {
                continue;
            }
            let offset = (1u32..)
                .find(|&o| {
                    let block = index ^ o;
                    !blocks.contains(&block)
                        && labels.iter().all(|&l| {
                            let p = (block ^ l) as usize;
                            p != 0 && !used.get(p).copied().unwrap_or(false)
                        })
                })
                .unwrap();
            blocks.insert(index ^ offset);
            units[index as usize] |= offset << 10;
            for &l in &labels {
                let p = (index ^ offset ^ l) as usize;
                if p >= units.len() {
                    units.resize(p + 1, 0);
                    used.resize(p + 1, false);
                    guide.resize(p + 1, (0, 0));
                }
                used[p] = true;
            }
            if let Some(value) = node.value {
                units[index as usize] |= HAS_LEAF_BIT;
                units[(index ^ offset) as usize] = IS_LEAF_BIT | value;
            }
            let children: Vec<(u8, usize)> = node.children.iter().map(|(&b, &n)| (b, n)).collect();
            if let Some(&(first, _)) = children.first() {
                guide[index as usize].0 = first;
            }
            for (i, &(label, child)) in children.iter().enumerate() {
                let p = index ^ offset ^ u32::from(label);
                units[p as usize] |= u32::from(label);
                guide[p as usize].1 = children.get(i + 1).map_or(0, |&(b, _)| b);
                queue.push_back((child, p));
            }
        }
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(units.len() as u32).to_le_bytes());
        for u in &units {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        bytes.extend_from_slice(&(guide.len() as u32).to_le_bytes());
        for &(c, s) in &guide {
            bytes.extend_from_slice(&[c, s]);
        }
        bytes
    }

    fn completions(dawg: &Dawg, prefix: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(i) = dawg.follow_bytes(Dawg::ROOT, prefix) {
            dawg.for_each_completion(i, 64, |s| {
                out.push([prefix, s].concat());
                true
            });
        }
        out
    }

    #[test]
    fn hand_built_dawg_answers_lookups_and_completions() {
        let keys: &[(&[u8], u32)] = &[
            (b"a", 1),
            (b"ab", 2),
            (b"abc", 3),
            (b"abd", 4),
            (b"b", 5),
            (b"ba", 6),
            (b"zz", 7),
        ];
        let dawg = Dawg::from_bytes(&build(keys)).unwrap();
        for &(key, value) in keys {
            assert!(dawg.contains(key), "{key:?}");
            let i = dawg.follow_bytes(Dawg::ROOT, key).unwrap();
            assert_eq!(dawg.value(i), Some(value));
        }
        for absent in [&b""[..], b"abcd", b"ac", b"z", b"c", b"\x01"] {
            assert!(!dawg.contains(absent), "{absent:?}");
        }
        let all: Vec<Vec<u8>> = keys.iter().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(completions(&dawg, b""), all);
        assert_eq!(completions(&dawg, b"ab"), [&b"ab"[..], b"abc", b"abd"]);
        assert_eq!(completions(&dawg, b"b"), [&b"b"[..], b"ba"]);
        assert_eq!(completions(&dawg, b"z"), [b"zz"]);
        assert!(completions(&dawg, b"q").is_empty());
    }

    #[test]
    fn record_dawg_payloads_decode() {
        // "кот" with two records (paradigm 3, form 1) and (paradigm 258, form 0), "кит" with one.
        let rec = |p: u16, f: u16| {
            let raw = [p.to_be_bytes(), f.to_be_bytes()].concat();
            base64(&raw) + "\n"
        };
        let key = |w: &str, r: String| [w.as_bytes(), &[PAYLOAD_SEPARATOR], r.as_bytes()].concat();
        let k1 = key("кот", rec(3, 1));
        let k2 = key("кот", rec(258, 0));
        let k3 = key("кит", rec(7, 65535));
        let dawg = Dawg::from_bytes(&build(&[(&k1, 0), (&k2, 0), (&k3, 0)])).unwrap();
        let records = |w: &str| {
            let mut out = Vec::new();
            if let Some(i) = dawg.follow_bytes(Dawg::ROOT, w.as_bytes()) {
                dawg.records::<4>(i, |r| {
                    out.push((
                        u16::from_be_bytes([r[0], r[1]]),
                        u16::from_be_bytes([r[2], r[3]]),
                    ))
                });
            }
            out.sort();
            out
        };
        assert_eq!(records("кот"), [(3, 1), (258, 0)]);
        assert_eq!(records("кит"), [(7, 65535)]);
        assert!(records("ко").is_empty());
        assert!(records("котик").is_empty());
    }

    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        for raw in [
            [0u8, 0, 0, 0],
            [0xff, 0xff, 0xff, 0xff],
            [0, 134, 0, 5],
            [12, 34, 56, 78],
        ] {
            let text = base64(&raw);
            assert_eq!(text.len(), 8);
            assert_eq!(decode_base64::<4>(text.as_bytes()), Some(raw), "{text}");
            assert_eq!(
                decode_base64::<4>((text.clone() + "\n").as_bytes()),
                Some(raw),
                "{text}"
            );
        }
        for bad in [
            &b""[..],
            b"AAAA",
            b"AAAAAA=",
            b"AAAAA*==",
            b"AAAAAAAAAAAA",
            b"AAAAAB==",
            b"AAAAAA==\n\n",
        ] {
            assert_eq!(decode_base64::<4>(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn damaged_headers_are_reported() {
        let good = build(&[(b"ab", 1), (b"b", 2)]);
        assert!(Dawg::from_bytes(&good).is_ok());
        for len in 0..good.len() {
            let err = Dawg::from_bytes(&good[..len]).unwrap_err();
            assert!(!err.is_empty());
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(Dawg::from_bytes(&longer)
            .unwrap_err()
            .contains("unexpected bytes"));
        assert!(Dawg::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Dawg::from_bytes(&huge).unwrap_err().contains("truncated"));
    }

    #[test]
    fn scrambled_units_never_panic() {
        // Any unit content must give answers, not panics or endless walks.
        let good = build(&[(b"abc", 1), (b"abd", 2), (b"b", 3), (b"bcd", 4)]);
        let dawg = Dawg::from_bytes(&good).unwrap();
        let n = dawg.unit_count();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bytes = good.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = 4 + (state as usize % (n * 4 + 4 + n * 2));
                bytes[at] = (state >> 32) as u8;
            }
            let Ok(dawg) = Dawg::from_bytes(&bytes) else {
                continue;
            };
            for key in [&b""[..], b"a", b"ab", b"abc", b"b", b"bc"] {
                let _ = dawg.contains(key);
                if let Some(i) = dawg.follow_bytes(Dawg::ROOT, key) {
                    let _ = dawg.value(i);
                    let mut count = 0;
                    dawg.for_each_completion(i, 16, |_| {
                        count += 1;
                        count < 1000
                    });
                    dawg.records::<4>(i, |_| {});
                }
            }
        }
    }
}
