//! Characters refused before parsing starts.
//!
//! YAML forbids control characters (but tab and line feed), DEL, the C1
//! controls and U+FFFE/U+FFFF anywhere in a stream: those are syntax errors.
//! Carriage returns, NEL, U+2028, U+2029 and the byte order mark are allowed
//! but read differently by different parsers (as line breaks, or not), so
//! this reader leaves them to a full parser. Checking once up front keeps
//! every scanner free to treat any byte it does not know as content.

use crate::error::{Result, syntax, unsupported};

pub(crate) fn check(src: &str) -> Result<()> {
    let bytes = src.as_bytes();
    let after = |i: usize, n: usize| bytes.get(i + 1..i + 1 + n).unwrap_or_default();
    let mut from = 0;
    // Almost every byte is printable ASCII: look only at the others.
    while let Some(offset) = bytes[from..].iter().position(|&b| SUSPECT[usize::from(b)]) {
        let i = from + offset;
        from = i + 1;
        match bytes[i] {
            b'\r' => return unsupported(i, "a carriage return"),
            0xC2 => match after(i, 1) {
                [0x85] => return unsupported(i, "a NEL character (U+0085)"),
                [0x80..=0x9F] => return syntax(i, "a control character"),
                _ => {}
            },
            0xE2 if matches!(after(i, 2), [0x80, 0xA8 | 0xA9]) => {
                return unsupported(i, "a Unicode line or paragraph separator");
            }
            0xEF => match after(i, 2) {
                [0xBB, 0xBF] => return unsupported(i, "a byte order mark"),
                [0xBF, 0xBE | 0xBF] => return syntax(i, "a noncharacter (U+FFFE or U+FFFF)"),
                _ => {}
            },
            0xE2 => {}
            _ => return syntax(i, "a control character"),
        }
    }
    Ok(())
}

/// Bytes that are, or may start, a character refused here: controls but tab
/// and line feed, and the lead bytes of the refused multi-byte characters.
static SUSPECT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b != 0x09 && b != 0x0A;
        b += 1;
    }
    table[0x7F] = true;
    table[0xC2] = true;
    table[0xE2] = true;
    table[0xEF] = true;
    table
};
