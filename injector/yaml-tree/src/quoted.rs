//! Single- and double-quoted scalars.
//!
//! Both fold their lines alike: blanks before a line break are dropped, as
//! are the blanks that indent the next line; a lone line break becomes a
//! space and each blank line in between a line feed. Single quotes escape
//! only themselves (`''`). Double quotes take every YAML escape, including
//! `\` before a line break, which joins the lines without a space.

use std::borrow::Cow;
use std::ops::Range;

use crate::error::{Result, syntax, unsupported};
use crate::parser::{Parser, Within, is_blank};

/// A quoted scalar, read.
pub(crate) struct Quoted<'a> {
    pub(crate) text: Cow<'a, str>,
    /// Between the quotes.
    pub(crate) span: Range<usize>,
    pub(crate) multi_line: bool,
}

impl<'a> Parser<'a> {
    /// Reads the quoted scalar whose opening quote is at `pos`, leaving `pos`
    /// after the closing quote.
    pub(crate) fn quoted(&mut self, within: Within) -> Result<Quoted<'a>> {
        let open = self.pos;
        let quote = self.bytes[open];
        let double = quote == b'"';
        let start = open + 1;
        let mut i = start;
        // Most scalars have no escape and no line break: borrow them.
        while let Some(b) = self.byte_at(i) {
            if b == quote || b == b'\n' || (double && b == b'\\') {
                break;
            }
            i += 1;
        }
        let escaped_quote = !double && self.byte_at(i + 1) == Some(b'\'');
        let fast = self.byte_at(i) == Some(quote) && !escaped_quote;
        if fast {
            self.pos = i + 1;
            return Ok(Quoted {
                text: Cow::Borrowed(&self.src[start..i]),
                span: start..i,
                multi_line: false,
            });
        }
        // The slow path reads blank runs itself: they may end a line.
        while i > start && is_blank(self.bytes[i - 1]) {
            i -= 1;
        }
        let mut text = self.src[start..i].to_owned();
        let mut multi_line = false;
        self.pos = i;
        loop {
            let Some(b) = self.peek() else {
                return syntax(open, "a quoted scalar is not closed");
            };
            match b {
                b'\'' if !double && self.byte_at(self.pos + 1) == Some(b'\'') => {
                    text.push('\'');
                    self.pos += 2;
                }
                b if b == quote => break,
                b'\\' if double && self.byte_at(self.pos + 1) == Some(b'\n') => {
                    self.pos += 1;
                    self.fold_quoted_lines(&mut text, false, within)?;
                    multi_line = true;
                }
                b'\\' if double => self.escape(&mut text)?,
                b'\n' => {
                    self.fold_quoted_lines(&mut text, true, within)?;
                    multi_line = true;
                }
                b' ' | b'\t' => {
                    let run = self.pos;
                    self.skip_blanks();
                    // Blanks before a line break are not content.
                    if self.peek() != Some(b'\n') {
                        text.push_str(&self.src[run..self.pos]);
                    }
                }
                _ => {
                    let run = self.pos;
                    while let Some(b) = self.peek() {
                        if b == quote || b == b'\n' || is_blank(b) || (double && b == b'\\') {
                            break;
                        }
                        self.pos += 1;
                    }
                    text.push_str(&self.src[run..self.pos]);
                }
            }
        }
        let end = self.pos;
        self.pos += 1;
        Ok(Quoted {
            text: Cow::Owned(text),
            span: start..end,
            multi_line,
        })
    }

    /// At a line break inside a quoted scalar: steps to the next line with
    /// content and folds. A plain break folds to a space when no blank line
    /// follows; an escaped one (`\` before it) folds to nothing.
    fn fold_quoted_lines(&mut self, text: &mut String, space: bool, within: Within) -> Result<()> {
        let mut blank_lines = 0;
        loop {
            self.newline();
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            let spaces = self.column();
            self.skip_blanks();
            match self.peek() {
                Some(b'\n') => blank_lines += 1,
                // The caller reports the scalar unclosed, at its quote.
                None => return Ok(()),
                Some(b) => {
                    if spaces == 0 && self.is_document_marker(self.line_start) {
                        return syntax(self.pos, "a document marker inside a quoted scalar");
                    }
                    let tabbed = self.pos > self.line_start + spaces;
                    match within {
                        Within::Flow if tabbed => {
                            return unsupported(self.pos, "a tab in indentation");
                        }
                        Within::Block { parent } if spaces as isize <= parent => {
                            // The reference parser lets a closing quote, or a
                            // line after an escaped break, sit at the parent's
                            // indentation, but no other content.
                            if b == b'"' || b == b'\'' || tabbed || !space {
                                return unsupported(
                                    self.pos,
                                    "a quoted scalar's line indented less than YAML requires",
                                );
                            }
                            return syntax(
                                self.pos,
                                "a quoted scalar's line must be indented more than its parent",
                            );
                        }
                        _ => {}
                    }
                    break;
                }
            }
        }
        if blank_lines == 0 {
            if space {
                text.push(' ');
            }
        } else {
            text.extend(std::iter::repeat_n('\n', blank_lines));
        }
        Ok(())
    }

    /// Decodes the escape sequence at `pos` (a `\` not before a line break).
    fn escape(&mut self, text: &mut String) -> Result<()> {
        let at = self.pos;
        let Some(code) = self.byte_at(at + 1) else {
            return syntax(at, "a quoted scalar is not closed");
        };
        self.pos += 2;
        let c = match code {
            b'0' => '\0',
            b'a' => '\x07',
            b'b' => '\x08',
            b't' | b'\t' => '\t',
            b'n' => '\n',
            b'v' => '\x0b',
            b'f' => '\x0c',
            b'r' => '\r',
            b'e' => '\x1b',
            b' ' => ' ',
            b'"' => '"',
            b'/' => '/',
            b'\\' => '\\',
            b'N' => '\u{85}',
            b'_' => '\u{a0}',
            b'L' => '\u{2028}',
            b'P' => '\u{2029}',
            b'x' => self.hex_char(2, at)?,
            b'u' => self.utf16_char(at)?,
            b'U' => self.hex_char(8, at)?,
            _ => return syntax(at, "an unknown escape sequence"),
        };
        text.push(c);
        Ok(())
    }

    /// `\uXXXX`, where a high surrogate must be followed by `\u` and a low one
    /// (JSON's way of writing characters beyond the Basic Multilingual Plane).
    fn utf16_char(&mut self, at: usize) -> Result<char> {
        let unit = self.hex(4, at)?;
        match unit {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return syntax(at, "a high surrogate escape without a low one after it");
                }
                self.pos += 2;
                let low = self.hex(4, at)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return syntax(at, "a high surrogate escape without a low one after it");
                }
                let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                char::from_u32(c).map_or_else(|| syntax(at, "an invalid escaped character"), Ok)
            }
            0xDC00..=0xDFFF => syntax(at, "a low surrogate escape without a high one before it"),
            _ => {
                char::from_u32(unit).map_or_else(|| syntax(at, "an invalid escaped character"), Ok)
            }
        }
    }

    fn hex_char(&mut self, digits: usize, at: usize) -> Result<char> {
        let code = self.hex(digits, at)?;
        char::from_u32(code).map_or_else(|| syntax(at, "an invalid escaped character"), Ok)
    }

    /// Reads exactly `digits` hexadecimal digits at `pos`.
    fn hex(&mut self, digits: usize, at: usize) -> Result<u32> {
        let Some(hex) = self.bytes.get(self.pos..self.pos + digits) else {
            return syntax(at, "an escape sequence with too few hexadecimal digits");
        };
        let mut code = 0u32;
        for &h in hex {
            let Some(d) = char::from(h).to_digit(16) else {
                return syntax(at, "an escape sequence with too few hexadecimal digits");
            };
            code = code << 4 | d;
        }
        self.pos += digits;
        Ok(code)
    }
}
