//! Literal (`|`) and folded (`>`) block scalars.
//!
//! The header may carry a chomping indicator (`-` strips the final line
//! breaks, `+` keeps them all, none keeps one) and an indentation indicator
//! (1-9, relative to the parent's indentation); without one, the first
//! non-empty line sets the indentation. The scalar's lines are the ones
//! indented at least that much, and empty lines among or after them. Folding
//! joins two lines with a space unless either starts with a blank (a "more
//! indented" line) or empty lines separate them.

use serde_json::Value;

use crate::error::{Result, syntax, unsupported};
use crate::parser::{Parser, is_blank};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Chomping {
    Strip,
    Clip,
    Keep,
}

impl Parser<'_> {
    /// Reads the block scalar whose header starts at `pos` (at `|` or `>`),
    /// under a parent indented `parent` columns. Leaves `pos` at the next
    /// line with content.
    pub(crate) fn block_scalar(&mut self, parent: isize) -> Result<Value> {
        let header = self.pos;
        let literal = self.bytes[header] == b'|';
        self.pos += 1;
        let (chomping, explicit) = self.block_header()?;
        let content_start = self.pos;
        let indentation = match explicit {
            // At the top level (parent -1) the reference parser counts from
            // column 0, YAML from column -1: leave that disagreement alone.
            Some(m) => match usize::try_from(parent) {
                Ok(parent) => Some(parent + m),
                Err(_) => {
                    return unsupported(
                        header,
                        "an indentation indicator on a top-level block scalar",
                    );
                }
            },
            None => self.detect_indentation(parent)?,
        };
        let Some(indent) = indentation else {
            // No line belongs to the scalar but empty ones.
            let breaks = self.count_empty_lines();
            self.scalar_span(content_start..content_start)?;
            self.skip_to_content_line()?;
            let text = if chomping == Chomping::Keep {
                "\n".repeat(breaks)
            } else {
                String::new()
            };
            return Ok(Value::String(text));
        };

        let mut text = String::new();
        let mut empty_lines = 0;
        // Whether the last line of content read, if any, was more indented.
        let mut previous: Option<bool> = None;
        let mut content_end = content_start;
        loop {
            let line = self.pos;
            let mut spaces = 0;
            while spaces < indent && self.peek() == Some(b' ') {
                self.pos += 1;
                spaces += 1;
            }
            match self.peek() {
                None if self.pos > line => return unfinished_last_line(line),
                None => break,
                Some(b'\n') => {
                    empty_lines += 1;
                    self.pos += 1;
                    continue;
                }
                Some(b'\t') if spaces < indent => {
                    return unsupported(self.pos, "a tab in a block scalar's indentation");
                }
                Some(b) if spaces < indent || (indent == 0 && self.is_document_marker(line)) => {
                    // YAML lets comments indented between the parent and the
                    // content follow the scalar; the reference parser does not.
                    if b == b'#' && spaces as isize > parent {
                        return unsupported(
                            self.pos,
                            "a comment indented into a block scalar's margin",
                        );
                    }
                    self.pos = line;
                    break;
                }
                Some(first) => {
                    let more_indented = is_blank(first);
                    let start = self.pos;
                    self.skip_to_line_end();
                    // Folding turns the break between two lines that are not
                    // more indented into a space, or into nothing when empty
                    // lines (each a line feed) come between them.
                    let folds = !literal && previous == Some(false) && !more_indented;
                    if folds && empty_lines == 0 {
                        text.push(' ');
                    } else if !folds && previous.is_some() {
                        text.push('\n');
                    }
                    text.extend(std::iter::repeat_n('\n', empty_lines));
                    empty_lines = 0;
                    text.push_str(&self.src[start..self.pos]);
                    previous = Some(more_indented);
                    content_end = self.pos;
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                }
            }
        }
        // The last line's break (the end of the text counts as one, as the
        // reference parser reads it), then the trailing empty lines.
        if chomping != Chomping::Strip && previous.is_some() {
            text.push('\n');
        }
        if chomping == Chomping::Keep {
            text.extend(std::iter::repeat_n('\n', empty_lines));
        }
        self.scalar_span(content_start..content_end)?;
        self.skip_to_content_line()?;
        Ok(Value::String(text))
    }

    /// Reads the header's indicators and the rest of its line.
    fn block_header(&mut self) -> Result<(Chomping, Option<usize>)> {
        let mut chomping = None;
        let mut explicit = None;
        loop {
            match self.peek() {
                Some(b'-') if chomping.is_none() => chomping = Some(Chomping::Strip),
                Some(b'+') if chomping.is_none() => chomping = Some(Chomping::Keep),
                Some(d @ b'1'..=b'9') if explicit.is_none() => {
                    explicit = Some(usize::from(d - b'0'))
                }
                Some(b'0') => {
                    return syntax(
                        self.pos,
                        "a block scalar's indentation indicator must be 1 to 9",
                    );
                }
                _ => break,
            }
            self.pos += 1;
        }
        if !self.blank_or_end(self.pos) {
            return syntax(
                self.pos,
                "a block scalar header must end with a comment or a line break",
            );
        }
        self.skip_blanks();
        if self.peek() == Some(b'#') {
            self.skip_to_line_end();
        }
        match self.peek() {
            None => {}
            Some(b'\n') => self.newline(),
            Some(_) => {
                return syntax(
                    self.pos,
                    "a block scalar header must end with a comment or a line break",
                );
            }
        }
        Ok((chomping.unwrap_or(Chomping::Clip), explicit))
    }

    /// The content's indentation, from its first non-empty line, or `None`
    /// when no line belongs to the scalar but empty ones.
    fn detect_indentation(&self, parent: isize) -> Result<Option<usize>> {
        let mut widest_empty = 0;
        let mut i = self.pos;
        loop {
            let line = i;
            while self.byte_at(i) == Some(b' ') {
                i += 1;
            }
            let spaces = i - line;
            match self.byte_at(i) {
                Some(b'\n') => {
                    widest_empty = widest_empty.max(spaces);
                    i += 1;
                }
                None if i > line => return unfinished_last_line(line),
                None => return Ok(None),
                Some(b) => {
                    if b == b'\t' {
                        return unsupported(i, "a tab in a block scalar's indentation");
                    }
                    if spaces as isize <= parent || (spaces == 0 && self.is_document_marker(line)) {
                        return Ok(None);
                    }
                    // YAML calls this an error; the reference parser takes
                    // the widest line's indentation and ends the scalar.
                    if widest_empty > spaces {
                        return unsupported(
                            line,
                            "a block scalar's first lines indented less than blank lines before them",
                        );
                    }
                    return Ok(Some(spaces));
                }
            }
        }
    }

    /// How many empty lines start at `pos` (a line start); leaves `pos` at
    /// the first line that is not empty.
    fn count_empty_lines(&mut self) -> usize {
        let mut breaks = 0;
        loop {
            let line = self.pos;
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            if self.peek() == Some(b'\n') {
                breaks += 1;
                self.pos += 1;
            } else {
                self.pos = line;
                return breaks;
            }
        }
    }
}

/// A block scalar's last line of blanks only, at the end of the text without
/// a line break: parsers disagree on whether it is a line.
fn unfinished_last_line<T>(line: usize) -> Result<T> {
    unsupported(
        line,
        "a block scalar ending in blanks without a final line break",
    )
}
