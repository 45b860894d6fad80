//! Plain (unquoted) scalars: where they end, and how their lines fold.
//!
//! On a line, a plain scalar ends before a `: ` (or `:` at the end of the
//! line), before a ` #` comment, and in flow context before `,[]{}` and a `:`
//! that precedes one; trailing blanks are not content. It continues on the
//! next lines that are indented more than its parent (any line, in flow
//! context) and do not start a comment; a single line break between two lines
//! folds to a space, and each blank line in between becomes a line feed.

use std::borrow::Cow;

use crate::error::{Result, syntax, unsupported};
use crate::parser::{Parser, Within, is_blank, is_flow_indicator};

/// Bytes a plain scalar's line may stop at, in block context.
static BLOCK_SPECIAL: [bool; 256] = special(b"\n \t:");
/// And in flow context.
static FLOW_SPECIAL: [bool; 256] = special(b"\n \t:,[]{}");

const fn special(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

impl<'a> Parser<'a> {
    /// Refuses a first character that cannot start a plain scalar here.
    /// (Quotes, brackets, and in block context `|`, `>` and `- `, are for
    /// the caller to have handled.)
    pub(crate) fn check_plain_start(&self, within: Within) -> Result<()> {
        let at = self.pos;
        let Some(first) = self.peek() else {
            return syntax(at, "a value is missing");
        };
        // `-`, `?` and `:` start a plain scalar only before a "safe" character.
        let safe_next = !(self.blank_or_end(at + 1)
            || (within == Within::Flow && self.byte_at(at + 1).is_some_and(is_flow_indicator)));
        match first {
            b'&' => unsupported(at, "an anchor (&)"),
            b'*' => unsupported(at, "an alias (*)"),
            b'!' => unsupported(at, "a tag (!)"),
            b'?' if !safe_next => unsupported(at, "an explicit key (?)"),
            b'-' | b':' if !safe_next => syntax(at, "a '-' or ':' here must be followed by text"),
            b'|' | b'>' => syntax(at, "a block scalar cannot be inside a flow collection"),
            b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'%' | b'@' | b'`' | b'"' | b'\'' => {
                syntax(at, "a plain scalar cannot start with this character")
            }
            _ => Ok(()),
        }
    }

    /// Whether a `:` at `i` is a value indicator rather than content.
    pub(crate) fn is_value_indicator(&self, i: usize, within: Within) -> bool {
        self.byte_at(i) == Some(b':')
            && (self.blank_or_end(i + 1)
                || (within == Within::Flow && self.byte_at(i + 1).is_some_and(is_flow_indicator)))
    }

    /// Reads a plain scalar's content on the current line, from `pos` (its
    /// first character, already checked to be one that can start it). Leaves
    /// `pos` at the end of the content.
    pub(crate) fn plain_line(&mut self, within: Within) {
        let flow = within == Within::Flow;
        let special = if flow { &FLOW_SPECIAL } else { &BLOCK_SPECIAL };
        let bytes = self.bytes;
        let mut i = self.pos;
        let mut end = i;
        loop {
            // Most bytes are content: step over them in a tight loop.
            let run = i;
            while bytes.get(i).is_some_and(|&b| !special[usize::from(b)]) {
                i += 1;
            }
            if i > run {
                end = i;
            }
            match bytes.get(i) {
                Some(b' ' | b'\t') => {
                    while bytes.get(i).is_some_and(|&b| is_blank(b)) {
                        i += 1;
                    }
                    if bytes.get(i) == Some(&b'#') {
                        break;
                    }
                }
                Some(b':') if !self.is_value_indicator(i, within) => {
                    i += 1;
                    end = i;
                }
                _ => break,
            }
        }
        self.pos = end;
    }

    /// Reads the rest of a plain scalar whose first line is
    /// `src[start..pos]`, over the lines that continue it. Returns its value
    /// and leaves `pos` at the end of its content.
    pub(crate) fn plain_rest(&mut self, start: usize, within: Within) -> Result<Cow<'a, str>> {
        let mut folded: Option<String> = None;
        let mut end = self.pos;
        while let Some((breaks, line_start, first)) = self.plain_continuation(end, within)? {
            let text = folded.get_or_insert_with(|| self.src[start..end].to_owned());
            if breaks == 0 {
                text.push(' ');
            } else {
                text.extend(std::iter::repeat_n('\n', breaks));
            }
            self.line_start = line_start;
            self.pos = first;
            self.plain_line(within);
            text.push_str(&self.src[first..self.pos]);
            end = self.pos;
        }
        self.pos = end;
        Ok(folded.map_or(Cow::Borrowed(&self.src[start..end]), Cow::Owned))
    }

    /// Looks past the end of a plain scalar's line for a line continuing it:
    /// returns how many blank lines come first, and where that line and its
    /// first character are.
    fn plain_continuation(
        &self,
        end: usize,
        within: Within,
    ) -> Result<Option<(usize, usize, usize)>> {
        let mut i = end;
        while self.byte_at(i).is_some_and(is_blank) {
            i += 1;
        }
        if self.byte_at(i) != Some(b'\n') {
            return Ok(None);
        }
        let mut breaks = 0;
        loop {
            i += 1;
            let line_start = i;
            while self.byte_at(i) == Some(b' ') {
                i += 1;
            }
            let spaces = i - line_start;
            while self.byte_at(i).is_some_and(is_blank) {
                i += 1;
            }
            let tabbed = i > line_start + spaces;
            let Some(b) = self.byte_at(i) else {
                return Ok(None);
            };
            match b {
                b'\n' => {
                    breaks += 1;
                    continue;
                }
                // The reference parser reads on past a comment indented
                // with a tab, as if the line were blank.
                b'#' if tabbed => {
                    return unsupported(i, "a tab before a comment after a plain scalar");
                }
                b'#' => return Ok(None),
                _ => {}
            }
            if spaces == 0 && self.is_document_marker(line_start) {
                return Ok(None);
            }
            let less_indented =
                matches!(within, Within::Block { parent } if spaces as isize <= parent);
            if tabbed && (less_indented || within == Within::Flow) {
                return unsupported(i, "a tab in indentation");
            }
            if less_indented {
                return Ok(None);
            }
            let continues = match b {
                b':' => !self.is_value_indicator(i, within),
                b if within == Within::Flow => !is_flow_indicator(b),
                _ => true,
            };
            return Ok(continues.then_some((breaks, line_start, i)));
        }
    }
}
