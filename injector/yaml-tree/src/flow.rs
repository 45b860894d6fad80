//! Flow collections: `[a, b]` and `{k: v}`, nested and over several lines;
//! JSON is one of their spellings.
//!
//! Inside brackets indentation means nothing (the reference parser ignores
//! it too), comments need a blank before them, and a document marker at the
//! start of a line is an error. Single-pair mappings inside sequences
//! (`[a: b]`), explicit keys (`?`) and collections as keys are left to a
//! full parser; so are keys over several lines.

use serde_json::Value;

use crate::error::{Result, not_json, syntax, unsupported};
use crate::mapping::{Key, Object};
use crate::parser::{Parser, Within};
use crate::resolve;

const FLOW: Within = Within::Flow;

impl Parser<'_> {
    /// Reads the flow collection whose bracket is at `pos`; leaves `pos`
    /// after its closing bracket.
    pub(crate) fn flow_collection(&mut self) -> Result<Value> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        let value = if self.bytes[open] == b'[' {
            self.flow_sequence(open)?
        } else {
            self.flow_mapping(open)?
        };
        self.leave();
        Ok(value)
    }

    fn flow_sequence(&mut self, open: usize) -> Result<Value> {
        let mut items = Vec::new();
        loop {
            self.flow_space()?;
            match self.peek() {
                None => return unclosed(open),
                Some(b']') => break,
                Some(b',') => return syntax(self.pos, "an empty entry in a flow sequence"),
                _ => {}
            }
            let at = self.pos;
            if self.is_value_indicator(at, FLOW) {
                return unsupported(at, "a mapping inside a flow sequence");
            }
            items.push(self.flow_node()?);
            self.flow_space()?;
            match self.peek() {
                None => return unclosed(open),
                Some(b',') => self.pos += 1,
                Some(b']') => break,
                Some(b':') => return unsupported(at, "a mapping inside a flow sequence"),
                Some(_) => return syntax(self.pos, "expected ',' or ']' in a flow sequence"),
            }
        }
        self.pos += 1;
        Ok(Value::Array(items))
    }

    fn flow_mapping(&mut self, open: usize) -> Result<Value> {
        let mut object = Object::default();
        loop {
            self.flow_space()?;
            match self.peek() {
                None => return unclosed(open),
                Some(b'}') => break,
                Some(b',') => return syntax(self.pos, "an empty entry in a flow mapping"),
                _ => {}
            }
            let at = self.pos;
            let key = self.flow_key()?;
            let crossed_line = self.flow_space()?;
            // After a plain key only a value indicator stops the scalar at a
            // ':'; after a quoted one (JSON style) any ':' is one.
            let value = match self.peek() {
                None => return unclosed(open),
                Some(b':') => {
                    if crossed_line {
                        return unsupported(at, "a multi-line implicit key");
                    }
                    self.check_key_length(at, self.pos)?;
                    self.pos += 1;
                    // `{"a":[1]}` is JSON, but after a plain key YAML wants
                    // a blank between the ':' and a collection.
                    let quoted_key = matches!(self.bytes[at], b'"' | b'\'');
                    if !quoted_key && matches!(self.peek(), Some(b'[' | b'{')) {
                        return syntax(
                            self.pos,
                            "a ':' after a plain key must be followed by a blank",
                        );
                    }
                    self.flow_space()?;
                    match self.peek() {
                        None => return unclosed(open),
                        Some(b',' | b'}') => self.empty(self.pos)?,
                        Some(_) => self.flow_node()?,
                    }
                }
                Some(b',' | b'}') => self.empty(self.pos)?,
                Some(_) => return syntax(self.pos, "expected ':', ',' or '}' in a flow mapping"),
            };
            object.insert(key, value)?;
            self.flow_space()?;
            match self.peek() {
                None => return unclosed(open),
                Some(b',') => self.pos += 1,
                Some(b'}') => break,
                Some(_) => return syntax(self.pos, "expected ',' or '}' in a flow mapping"),
            }
        }
        self.pos += 1;
        Ok(object.finish())
    }

    /// Reads a flow mapping's key.
    fn flow_key(&mut self) -> Result<Key> {
        let at = self.pos;
        match self.bytes[at] {
            b'[' | b'{' => unsupported(at, "a flow collection as a mapping key"),
            b':' if self.is_value_indicator(at, FLOW) => not_json(at, "a null mapping key"),
            b'"' | b'\'' => {
                let quoted = self.quoted(FLOW)?;
                if quoted.multi_line {
                    return unsupported(at, "a multi-line implicit key");
                }
                self.scalar_span(quoted.span)?;
                Ok(Key::quoted(quoted.text.into_owned(), at))
            }
            _ => {
                self.check_plain_start(FLOW)?;
                self.plain_line(FLOW);
                let text = self.plain_rest(at, FLOW)?;
                if self.src[at..self.pos].contains('\n') {
                    return unsupported(at, "a multi-line implicit key");
                }
                let key = Key::plain(&text, at)?;
                self.scalar_span(at..self.pos)?;
                Ok(key)
            }
        }
    }

    /// Reads a value inside a flow collection.
    fn flow_node(&mut self) -> Result<Value> {
        let at = self.pos;
        match self.bytes[at] {
            b'[' | b'{' => self.flow_collection(),
            b'"' | b'\'' => {
                let quoted = self.quoted(FLOW)?;
                self.scalar_span(quoted.span)?;
                Ok(Value::String(quoted.text.into_owned()))
            }
            _ => {
                self.check_plain_start(FLOW)?;
                self.plain_line(FLOW);
                let text = self.plain_rest(at, FLOW)?;
                let value =
                    resolve::plain(&text).or_else(|_| not_json(at, "an infinite or NaN float"))?;
                self.scalar_span(at..self.pos)?;
                Ok(value)
            }
        }
    }

    /// Steps over blanks, line breaks and comments between flow tokens.
    /// Returns whether it crossed a line break.
    fn flow_space(&mut self) -> Result<bool> {
        let mut crossed_line = false;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\n') => {
                    self.newline();
                    crossed_line = true;
                    if self.is_document_marker(self.pos) {
                        return syntax(self.pos, "a document marker inside a flow collection");
                    }
                    self.flow_indentation()?;
                }
                Some(b'#') => {
                    match self.bytes[self.pos - 1] {
                        b' ' | b'\t' | b'\n' => {}
                        // The reference parser takes `"key":#` for a comment.
                        b':' => return unsupported(self.pos, "a comment right after a ':'"),
                        _ => {
                            return syntax(
                                self.pos,
                                "a comment must be separated from what precedes it by a space",
                            );
                        }
                    }
                    self.skip_to_line_end();
                }
                _ => return Ok(crossed_line),
            }
        }
    }

    /// Steps over a line's indentation inside a flow collection. Tabs there
    /// the reference parser refuses in some places and not others: refused.
    fn flow_indentation(&mut self) -> Result<()> {
        let line = self.pos;
        self.skip_blanks();
        let tabbed = self.bytes[line..self.pos].contains(&b'\t');
        if tabbed && !matches!(self.peek(), None | Some(b'\n' | b'#')) {
            return unsupported(self.pos, "a tab in indentation");
        }
        Ok(())
    }
}

fn unclosed<T>(open: usize) -> Result<T> {
    syntax(open, "a flow collection is not closed")
}
