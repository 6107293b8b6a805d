//! How tokens are shown to people, in the terminal and in the HTML reports alike: the one
//! place `explain`, `trace` and `html` take token spellings from (so no command module and
//! the HTML writer need each other).

/// A token's bytes for display: quoted text, with bytes that are not UTF-8 as `\xNN`.
pub fn show_token(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            s.extend(c.escape_debug());
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s.push('"');
    s
}
