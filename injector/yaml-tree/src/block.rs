//! Block collections: mappings of `key: value` lines and sequences of `- `
//! items, nested by indentation.
//!
//! Every function here leaves `pos` at the first character of the next line
//! with content (past blank and comment lines), or at the end: the caller
//! reads that line's indentation to know whether its collection goes on.

use serde_json::Value;

use crate::error::{Result, limit, not_json, syntax, unsupported};
use crate::mapping::{Key, Object};
use crate::parser::{MAX_COMMENTS_BEFORE_VALUE, Parser, Within, is_blank};
use crate::resolve;

/// What a node is the value of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Slot {
    /// A document (after `---`, or a bare document).
    Document,
    /// A block mapping's key.
    MapValue,
    /// A block sequence's `-`.
    SequenceEntry,
}

/// How a node on a line begins: a mapping key, or a whole value.
enum Start {
    Key(Key),
    Value(Value),
}

impl Parser<'_> {
    /// Reads the node after an indicator (`:`, `-` or `---`) at `pos - 1`,
    /// on the same line or on the lines below, under a parent indented
    /// `parent` columns.
    pub(crate) fn node_after_indicator(&mut self, parent: isize, slot: Slot) -> Result<Value> {
        let here = self.pos;
        let mut i = here;
        while self.byte_at(i).is_some_and(is_blank) {
            i += 1;
        }
        if !matches!(self.byte_at(i), None | Some(b'\n' | b'#')) {
            if slot == Slot::SequenceEntry && self.bytes[here..i].contains(&b'\t') {
                return unsupported(here, "a tab after a sequence entry's '-'");
            }
            self.pos = i;
            return self.node_on_same_line(parent, slot);
        }
        let comments = self.finish_line("text after an indicator")?;
        if slot != Slot::Document && comments > MAX_COMMENTS_BEFORE_VALUE {
            return limit(
                self.pos,
                "comments between a key or '-' and its value",
                MAX_COMMENTS_BEFORE_VALUE,
            );
        }
        match self.block_indent() {
            Some(col) if col as isize > parent => self.node_at_line_start(parent),
            // A mapping's value may be a sequence indented as much as its key.
            Some(col)
                if col as isize == parent && slot == Slot::MapValue && self.at_sequence_entry() =>
            {
                self.block_sequence(col)
            }
            _ => self.empty(here),
        }
    }

    /// Reads the node whose first character, at `pos`, begins a line.
    pub(crate) fn node_at_line_start(&mut self, parent: isize) -> Result<Value> {
        let col = self.column();
        if self.at_sequence_entry() {
            return self.block_sequence(col);
        }
        match self.block_start(parent)? {
            Start::Value(value) => Ok(value),
            Start::Key(key) => self.block_mapping(col, key),
        }
    }

    /// Reads a node that starts on its indicator's line. Only a sequence
    /// entry may hold a block collection there (`- - a`, `- a: b`).
    fn node_on_same_line(&mut self, parent: isize, slot: Slot) -> Result<Value> {
        let col = self.column();
        let compact = slot == Slot::SequenceEntry;
        if self.at_sequence_entry() {
            if !compact {
                return syntax(self.pos, "a block sequence cannot start on this line");
            }
            return self.block_sequence(col);
        }
        match self.block_start(parent)? {
            Start::Value(value) => Ok(value),
            Start::Key(key) if compact => self.block_mapping(col, key),
            Start::Key(key) => syntax(key.at, "mapping values are not allowed here"),
        }
    }

    /// Reads a scalar or flow collection at `pos`; if a `: ` follows it on
    /// its line, it is a key, and `pos` is left at the `:`.
    fn block_start(&mut self, parent: isize) -> Result<Start> {
        let start = self.pos;
        let within = Within::Block { parent };
        match self.bytes[start] {
            b'|' | b'>' => Ok(Start::Value(self.block_scalar(parent)?)),
            b'[' | b'{' => {
                let value = self.flow_collection()?;
                let end = self.pos;
                self.skip_blanks();
                if self.peek() == Some(b':') {
                    return unsupported(start, "a flow collection as a mapping key");
                }
                self.pos = end;
                self.finish_line("text after a flow collection")?;
                Ok(Start::Value(value))
            }
            b'"' | b'\'' => {
                let quoted = self.quoted(within)?;
                let end = self.pos;
                self.skip_blanks();
                if self.is_value_indicator(self.pos, within) {
                    if quoted.multi_line {
                        return unsupported(start, "a multi-line implicit key");
                    }
                    self.check_key_length(start, self.pos)?;
                    self.scalar_span(quoted.span)?;
                    return Ok(Start::Key(Key::quoted(quoted.text.into_owned(), start)));
                }
                self.pos = end;
                self.scalar_span(quoted.span)?;
                self.finish_line("text after a quoted scalar")?;
                Ok(Start::Value(Value::String(quoted.text.into_owned())))
            }
            b':' if self.blank_or_end(start + 1) => not_json(start, "a null mapping key"),
            _ => {
                self.check_plain_start(within)?;
                self.plain_line(within);
                let end = self.pos;
                self.skip_blanks();
                if self.is_value_indicator(self.pos, within) {
                    self.check_key_length(start, self.pos)?;
                    let key = Key::plain(&self.src[start..end], start)?;
                    self.scalar_span(start..end)?;
                    return Ok(Start::Key(key));
                }
                self.pos = end;
                let text = self.plain_rest(start, within)?;
                let value = resolve::plain(&text)
                    .or_else(|_| not_json(start, "an infinite or NaN float"))?;
                self.scalar_span(start..self.pos)?;
                self.finish_line("mapping values are not allowed here")?;
                Ok(Start::Value(value))
            }
        }
    }

    /// Reads a block mapping whose keys are indented `indent` columns, from
    /// its first key (`pos` at that key's `:`).
    fn block_mapping(&mut self, indent: usize, first: Key) -> Result<Value> {
        self.enter(first.at)?;
        let mut object = Object::default();
        let mut key = first;
        loop {
            self.pos += 1; // the ':'
            let value = self.node_after_indicator(indent as isize, Slot::MapValue)?;
            object.insert(key, value)?;
            match self.block_indent() {
                Some(col) if col == indent => {}
                Some(col) if col > indent => {
                    return syntax(
                        self.pos,
                        "this line is indented more than its mapping's keys",
                    );
                }
                _ => break,
            }
            if self.at_sequence_entry() {
                return syntax(
                    self.pos,
                    "a sequence entry where a mapping key was expected",
                );
            }
            let at = self.pos;
            key = match self.block_start(indent as isize)? {
                Start::Key(key) => key,
                Start::Value(_) => return syntax(at, "a mapping key must be followed by ':'"),
            };
        }
        self.leave();
        Ok(object.finish())
    }

    /// Reads a block sequence whose `-` are in column `indent`, `pos` at the
    /// first.
    fn block_sequence(&mut self, indent: usize) -> Result<Value> {
        self.enter(self.pos)?;
        let mut items = Vec::new();
        loop {
            self.pos += 1; // the '-'
            items.push(self.node_after_indicator(indent as isize, Slot::SequenceEntry)?);
            match self.block_indent() {
                Some(col) if col == indent && self.at_sequence_entry() => {}
                Some(col) if col > indent => {
                    return syntax(
                        self.pos,
                        "this line is indented more than its sequence's items",
                    );
                }
                _ => break,
            }
        }
        self.leave();
        Ok(Value::Array(items))
    }
}
