//! The parser's state and the moves every construct shares: looking at
//! bytes, stepping over whitespace, comments and blank lines, and counting
//! against the limits.
//!
//! The parser works on bytes. Every byte YAML gives a meaning to is ASCII,
//! and in UTF-8 no byte of a multi-byte character is ASCII, so a non-ASCII
//! byte is always scalar content and never needs decoding.

use std::ops::Range;

use crate::error::{Result, limit, syntax, unsupported};

/// How deep collections may nest: the reference parser's limit, so that
/// what one refuses the other refuses too.
pub(crate) const MAX_DEPTH: usize = 64;
/// How many nodes (scalars, keys included, and collections) a stream may hold.
pub(crate) const MAX_NODES: usize = 250_000;
/// How many documents a stream may hold.
pub(crate) const MAX_DOCUMENTS: usize = 1024;
/// How many comments may sit between a key or `-` and a value on a later
/// line; the reference parser buffers them and refuses more.
pub(crate) const MAX_COMMENTS_BEFORE_VALUE: usize = 32;
/// YAML limits an implicit key, from its first character to the `:`.
pub(crate) const MAX_KEY_CHARS: usize = 1024;

pub(crate) struct Parser<'a> {
    pub(crate) src: &'a str,
    pub(crate) bytes: &'a [u8],
    /// The next byte to read.
    pub(crate) pos: usize,
    /// The start of the line `pos` is on.
    pub(crate) line_start: usize,
    /// Content ranges of the scalars read so far, in source order.
    pub(crate) spans: Vec<Range<usize>>,
    depth: usize,
    nodes: usize,
}

/// Where a node sits, for the rules that depend on it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Within {
    /// In block context, under a collection (or a document, at -1) whose
    /// indentation is `parent`: the node's lines must be indented more.
    Block { parent: isize },
    /// Inside `[...]` or `{...}`, where indentation carries no meaning.
    Flow,
}

pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(crate) fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            line_start: 0,
            spans: Vec::new(),
            depth: 0,
            nodes: 0,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(crate) fn byte_at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// Whether byte `i` is a space, a tab, a line break, or past the end:
    /// what must follow an indicator such as `-` or `:`.
    pub(crate) fn blank_or_end(&self, i: usize) -> bool {
        matches!(self.byte_at(i), None | Some(b' ' | b'\t' | b'\n'))
    }

    /// The column of `pos`, counted in bytes; indentation is spaces, so where
    /// it matters this is also the column in characters.
    pub(crate) fn column(&self) -> usize {
        self.pos - self.line_start
    }

    /// Whether a `---` or `...` document marker starts at `i`, a line start.
    pub(crate) fn is_document_marker(&self, i: usize) -> bool {
        let three = self.bytes.get(i..i + 3);
        matches!(three, Some(b"---" | b"...")) && self.blank_or_end(i + 3)
    }

    pub(crate) fn at_document_marker(&self) -> bool {
        self.pos == self.line_start && self.is_document_marker(self.pos)
    }

    /// Whether `pos` is at a block sequence entry's `-`.
    pub(crate) fn at_sequence_entry(&self) -> bool {
        self.peek() == Some(b'-') && self.blank_or_end(self.pos + 1)
    }

    pub(crate) fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    /// Steps to the end of the line: past a comment, or a block scalar line.
    pub(crate) fn skip_to_line_end(&mut self) {
        self.pos += self.bytes[self.pos..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.bytes.len() - self.pos);
    }

    /// Steps over a line break at `pos`.
    pub(crate) fn newline(&mut self) {
        self.pos += 1;
        self.line_start = self.pos;
    }

    /// From the start of a line, steps over blank and comment lines and the
    /// indentation of the next line with content, stopping at its first
    /// character or at the end. Returns how many comments it passed.
    pub(crate) fn skip_to_content_line(&mut self) -> Result<usize> {
        let mut comments = 0;
        loop {
            self.line_start = self.pos;
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            if self.peek() == Some(b'\t') {
                self.skip_blanks();
                if !matches!(self.peek(), None | Some(b'\n' | b'#')) {
                    return unsupported(self.pos, "a tab in indentation");
                }
            }
            match self.peek() {
                Some(b'\n') => self.pos += 1,
                Some(b'#') => {
                    comments += 1;
                    self.skip_to_line_end();
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                }
                _ => return Ok(comments),
            }
        }
    }

    /// After a node: the rest of the line may hold blanks and a comment only.
    /// Moves on to the next line with content; returns how many comments it
    /// passed.
    pub(crate) fn finish_line(&mut self, what: &'static str) -> Result<usize> {
        let mut comments = 0;
        let before = self.pos;
        self.skip_blanks();
        if self.peek() == Some(b'#') {
            if self.pos == before && self.pos != self.line_start {
                return syntax(
                    self.pos,
                    "a comment must be separated from what precedes it by a space",
                );
            }
            comments = 1;
            self.skip_to_line_end();
        }
        match self.peek() {
            None => Ok(comments),
            Some(b'\n') => {
                self.pos += 1;
                Ok(comments + self.skip_to_content_line()?)
            }
            Some(_) => syntax(self.pos, what),
        }
    }

    /// The indentation of the line `pos` rests on, if it continues the block
    /// structure: not at the end, nor at a document marker.
    pub(crate) fn block_indent(&self) -> Option<usize> {
        (self.pos < self.bytes.len() && !self.at_document_marker()).then(|| self.column())
    }

    /// Counts one node against the stream's budget.
    pub(crate) fn count_node(&mut self, at: usize) -> Result<()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return limit(at, "nodes in a stream", MAX_NODES);
        }
        Ok(())
    }

    /// Enters a collection starting at `at`.
    pub(crate) fn enter(&mut self, at: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return limit(at, "levels of nested collections", MAX_DEPTH);
        }
        self.count_node(at)
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Records a scalar's content range, and counts the scalar.
    pub(crate) fn scalar_span(&mut self, span: Range<usize>) -> Result<()> {
        let at = span.start;
        self.spans.push(span);
        self.count_node(at)
    }

    /// An empty node (null) at `at`.
    pub(crate) fn empty(&mut self, at: usize) -> Result<serde_json::Value> {
        self.scalar_span(at..at)?;
        Ok(serde_json::Value::Null)
    }

    /// YAML's bound on an implicit key: `key_start` to `colon`, in characters.
    pub(crate) fn check_key_length(&self, key_start: usize, colon: usize) -> Result<()> {
        if colon - key_start > MAX_KEY_CHARS
            && self.src[key_start..colon].chars().count() > MAX_KEY_CHARS
        {
            return syntax(key_start, "an implicit key is longer than 1024 characters");
        }
        Ok(())
    }
}
