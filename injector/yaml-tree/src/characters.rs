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
    for (n, block) in bytes.chunks(BLOCK).enumerate() {
        // Without branches, so that the compiler checks many bytes at once;
        // a block with any other byte than printable ASCII, tab and line
        // feed is looked at byte by byte.
        let ascii = block.iter().fold(true, |ok, &b| {
            ok & (b >= b' ' || b == b'\t' || b == b'\n') & (b < 0x7F)
        });
        if !ascii {
            check_block(bytes, n * BLOCK, block.len())?;
        }
    }
    Ok(())
}

const BLOCK: usize = 64;

/// Checks the `len` bytes at `start`, and the characters that start there.
fn check_block(bytes: &[u8], start: usize, len: usize) -> Result<()> {
    let after = |i: usize, n: usize| bytes.get(i + 1..i + 1 + n).unwrap_or_default();
    for (i, &b) in bytes.iter().enumerate().skip(start).take(len) {
        match b {
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
            0..=0x08 | 0x0B..=0x1F | 0x7F => return syntax(i, "a control character"),
            _ => {}
        }
    }
    Ok(())
}
