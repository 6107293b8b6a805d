//! How token strings stand for bytes in the two tokenizer families that store tokens as text.
//!
//! * **Byte-level BPE** (GPT-2 and its descendants: SmolLM2, Llama 3, Qwen …) never stores raw
//!   bytes. Each byte is shown as one printable Unicode character: printable Latin-1 bytes stand
//!   for themselves and the other 68 (controls, space, `0x7F`–`0xA0`, `0xAD`) are moved to
//!   U+0100… in byte order, so a space becomes `Ġ` (U+0120) and a newline `Ċ` (U+010A).
//!   A token's bytes are recovered one character at a time with [`char_to_byte`].
//! * **SentencePiece** stores UTF-8 text with spaces written as `▁` (U+2581) and, with byte
//!   fallback, single-byte pieces written `<0xNN>`.
//!
//! Both GGUF and Hugging Face `tokenizer.json` use these encodings, so both loaders share this
//! module.

/// The SentencePiece space marker `▁` (U+2581).
pub const METASPACE: char = '\u{2581}';

/// Bytes that GPT-2 shows as themselves: printable ASCII and printable Latin-1.
const fn stands_for_itself(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// Byte → character, built at compile time so that no start-up work or lock is needed.
const BYTE_TO_CHAR: [char; 256] = {
    let mut table = ['\0'; 256];
    let mut moved = 0u32;
    let mut b = 0usize;
    while b < 256 {
        table[b] = if stands_for_itself(b as u8) {
            b as u8 as char
        } else {
            moved += 1;
            match char::from_u32(255 + moved) {
                Some(c) => c,
                None => panic!("U+0100..U+0144 are valid chars"),
            }
        };
        b += 1;
    }
    table
};

/// The highest character in the map is U+0143 (256 + 68 − 1).
const MAP_END: usize = 256 + 68;

/// Character → byte; `None` marks characters outside the map.
const CHAR_TO_BYTE: [Option<u8>; MAP_END] = {
    let mut table = [None; MAP_END];
    let mut b = 0usize;
    while b < 256 {
        table[BYTE_TO_CHAR[b] as usize] = Some(b as u8);
        b += 1;
    }
    table
};

/// The character GPT-2's byte-level BPE shows for a byte.
///
/// ```
/// use taboo::vocab::byte_level::byte_to_char;
/// assert_eq!(byte_to_char(b' '), 'Ġ');
/// assert_eq!(byte_to_char(b'\n'), 'Ċ');
/// assert_eq!(byte_to_char(b'a'), 'a');
/// ```
pub fn byte_to_char(byte: u8) -> char {
    BYTE_TO_CHAR[byte as usize]
}

/// The byte a GPT-2 byte-level character stands for; `None` if the character is not in the
/// 256-character map.
///
/// ```
/// use taboo::vocab::byte_level::char_to_byte;
/// assert_eq!(char_to_byte('Ġ'), Some(b' '));
/// assert_eq!(char_to_byte('é'), Some(0xE9));
/// assert_eq!(char_to_byte('ж'), None);
/// ```
pub fn char_to_byte(c: char) -> Option<u8> {
    CHAR_TO_BYTE.get(c as usize).copied().flatten()
}

/// Appends the bytes of a byte-level BPE token to `out`.
///
/// On a character outside the map, returns it as the error and leaves `out` with only the
/// bytes decoded before it.
///
/// ```
/// use taboo::vocab::byte_level::decode_byte_level;
/// let mut out = Vec::new();
/// decode_byte_level("ĠÐºÐ¾", &mut out).unwrap();
/// assert_eq!(out, " ко".as_bytes());
/// assert_eq!(decode_byte_level("a b", &mut Vec::new()), Err(' '));
/// ```
pub fn decode_byte_level(token: &str, out: &mut Vec<u8>) -> Result<(), char> {
    for c in token.chars() {
        out.push(char_to_byte(c).ok_or(c)?);
    }
    Ok(())
}

/// Appends a SentencePiece piece to `out` with every `▁` turned back into a space.
///
/// Works on bytes, so a piece that is not valid UTF-8 passes through unchanged.
///
/// ```
/// use taboo::vocab::byte_level::decode_metaspace;
/// let mut out = Vec::new();
/// decode_metaspace("▁кошка▁▁".as_bytes(), &mut out);
/// assert_eq!(out, " кошка  ".as_bytes());
/// ```
pub fn decode_metaspace(piece: &[u8], out: &mut Vec<u8>) {
    const MARK: &[u8] = "\u{2581}".as_bytes();
    let mut rest = piece;
    while let Some(i) = rest.windows(MARK.len()).position(|w| w == MARK) {
        out.extend_from_slice(&rest[..i]);
        out.push(b' ');
        rest = &rest[i + MARK.len()..];
    }
    out.extend_from_slice(rest);
}

/// The byte of a SentencePiece byte-fallback piece `<0xNN>` (two hex digits, either case).
///
/// ```
/// use taboo::vocab::byte_level::parse_byte_piece;
/// assert_eq!(parse_byte_piece(b"<0x0A>"), Some(b'\n'));
/// assert_eq!(parse_byte_piece(b"<0xe2>"), Some(0xE2));
/// assert_eq!(parse_byte_piece(b"<0x0A"), None);
/// ```
pub fn parse_byte_piece(piece: &[u8]) -> Option<u8> {
    match piece {
        [b'<', b'0', b'x', hi, lo, b'>'] => {
            let digit = |d: u8| (d as char).to_digit(16);
            Some((digit(*hi)? * 16 + digit(*lo)?) as u8)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_is_a_bijection_onto_256_chars() {
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b));
        }
        let mapped = (0..MAP_END as u32)
            .filter_map(char::from_u32)
            .filter(|&c| char_to_byte(c).is_some())
            .count();
        assert_eq!(mapped, 256);
        assert_eq!(byte_to_char(0), '\u{100}');
        assert_eq!(byte_to_char(0xAD), '\u{143}');
    }
}
