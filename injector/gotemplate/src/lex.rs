//! Splits template source into text and action tokens, as Go's
//! text/template/parse lexer does (delimiters `{{ }}`, trim markers, comments).

use crate::error::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok<'s> {
    /// Literal text between actions (already trimmed by trim markers).
    Text(&'s str),
    /// `{{`
    Open,
    /// `}}`
    Close,
    /// A function name or keyword.
    Ident(&'s str),
    /// `.Name` (the name, without the dot).
    Field(&'s str),
    /// `$name` or `$` (with the dollar).
    Var(&'s str),
    /// `.` alone.
    Dot,
    Bool(bool),
    Nil,
    /// A number as written.
    Number(&'s str),
    /// A character constant as written, quotes included.
    Char(&'s str),
    /// A string constant, unquoted.
    Str(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    Eof,
}

/// A token, where it starts, and whether whitespace came before it (which
/// separates operands: `$x.F` is one operand, `$x .F` two).
#[derive(Clone, Debug)]
pub(crate) struct Token<'s> {
    pub tok: Tok<'s>,
    pub pos: usize,
    pub spaced: bool,
}

const TRIM: &str = "- ";

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether an action opening at `at` (just after `{{`) starts with a trim
/// marker: `-` followed by whitespace.
fn left_trim(src: &[u8], at: usize) -> bool {
    src.get(at) == Some(&b'-') && src.get(at + 1).is_some_and(|c| is_space(*c))
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    Lexer {
        src,
        bytes: src.as_bytes(),
        at: 0,
        out: Vec::new(),
        paren_depth: 0,
    }
    .run()
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    at: usize,
    out: Vec<Token<'s>>,
    paren_depth: usize,
}

impl<'s> Lexer<'s> {
    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.src, pos, msg)
    }

    fn push(&mut self, tok: Tok<'s>, pos: usize, spaced: bool) {
        self.out.push(Token { tok, pos, spaced });
    }

    fn run(mut self) -> Result<Vec<Token<'s>>, ParseError> {
        let mut trim_next = false;
        while self.at <= self.src.len() {
            let rest = &self.src[self.at..];
            let (text_end, found) = match rest.find("{{") {
                Some(i) => (self.at + i, true),
                None => (self.src.len(), false),
            };
            let mut text = &self.src[self.at..text_end];
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let open = text_end;
            let trims = found && left_trim(self.bytes, open + 2);
            if trims {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                let pos = text.as_ptr() as usize - self.src.as_ptr() as usize;
                self.push(Tok::Text(text), pos, false);
            }
            if !found {
                break;
            }
            self.at = open + 2 + if trims { TRIM.len() } else { 0 };
            trim_next = self.action(open)?;
        }
        let end = self.src.len();
        self.push(Tok::Eof, end, false);
        Ok(self.out)
    }

    /// Lexes one action starting after its `{{` (and trim marker); returns
    /// whether it ends with a trim marker.
    fn action(&mut self, open: usize) -> Result<bool, ParseError> {
        // A comment fills the whole action: `{{/* ... */}}`.
        if self.src[self.at..].starts_with("/*") {
            let Some(end) = self.src[self.at + 2..].find("*/") else {
                return Err(self.err(open, "unclosed comment"));
            };
            let mut close = self.at + 2 + end + 2;
            let trims = self.src[close..].starts_with(" -}}")
                || self.src[close..].starts_with("\t-}}")
                || self.src[close..].starts_with("\n-}}")
                || self.src[close..].starts_with("\r-}}");
            if trims {
                close += 2;
            }
            if !self.src[close..].starts_with("}}") {
                return Err(self.err(open, "comment ends before closing delimiter"));
            }
            self.at = close + 2;
            return Ok(trims);
        }
        self.push(Tok::Open, open, false);
        self.paren_depth = 0;
        let mut spaced = true;
        loop {
            let Some(&c) = self.bytes.get(self.at) else {
                return Err(self.err(open, "unclosed action"));
            };
            let start = self.at;
            if is_space(c) {
                let run = self.bytes[self.at..]
                    .iter()
                    .take_while(|c| is_space(**c))
                    .count();
                // ` -}}` closes with a trim marker.
                if self.src[self.at + run..].starts_with("-}}") {
                    self.at += run + 3;
                    self.check_parens(open)?;
                    self.push(Tok::Close, start, true);
                    return Ok(true);
                }
                self.at += run;
                spaced = true;
                continue;
            }
            if self.src[self.at..].starts_with("}}") {
                self.at += 2;
                self.check_parens(open)?;
                self.push(Tok::Close, start, spaced);
                return Ok(false);
            }
            let tok = match c {
                b'|' => self.one(Tok::Pipe),
                b'(' => {
                    self.paren_depth += 1;
                    self.one(Tok::LParen)
                }
                b')' => {
                    if self.paren_depth == 0 {
                        return Err(self.err(start, "unexpected right paren"));
                    }
                    self.paren_depth -= 1;
                    self.one(Tok::RParen)
                }
                b',' => self.one(Tok::Comma),
                b'=' => self.one(Tok::Assign),
                b':' => {
                    if self.bytes.get(self.at + 1) != Some(&b'=') {
                        return Err(self.err(start, "expected :="));
                    }
                    self.at += 2;
                    Tok::Declare
                }
                b'"' => self.quoted()?,
                b'`' => self.raw()?,
                b'\'' => self.char_constant()?,
                b'$' => {
                    self.at += 1;
                    let name = self.word();
                    Tok::Var(&self.src[start..start + 1 + name.len()])
                }
                b'.' => {
                    if self.bytes.get(self.at + 1).is_some_and(u8::is_ascii_digit) {
                        self.number()?
                    } else {
                        self.at += 1;
                        let name = self.word();
                        if name.is_empty() {
                            Tok::Dot
                        } else {
                            Tok::Field(name)
                        }
                    }
                }
                b'+' | b'-' | b'0'..=b'9' => self.number()?,
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let word = self.word();
                    match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        _ => Tok::Ident(word),
                    }
                }
                _ => {
                    let ch = self.src[self.at..].chars().next().unwrap_or('?');
                    return Err(
                        self.err(start, format!("unrecognized character in action: {ch:?}"))
                    );
                }
            };
            self.push(tok, start, spaced);
            spaced = false;
        }
    }

    fn check_parens(&self, open: usize) -> Result<(), ParseError> {
        if self.paren_depth > 0 {
            Err(self.err(open, "unclosed left paren"))
        } else {
            Ok(())
        }
    }

    fn one(&mut self, tok: Tok<'s>) -> Tok<'s> {
        self.at += 1;
        tok
    }

    /// An identifier's letters, digits and underscores (Unicode letters too).
    fn word(&mut self) -> &'s str {
        let start = self.at;
        let len = self.src[start..]
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(self.src.len() - start, |(i, _)| i);
        self.at += len;
        &self.src[start..start + len]
    }

    fn number(&mut self) -> Result<Tok<'s>, ParseError> {
        let start = self.at;
        let b = self.bytes;
        let mut i = start;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        let mut exponent = b"eE";
        if b.get(i) == Some(&b'0')
            && matches!(b.get(i + 1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B'))
        {
            match b[i + 1] {
                b'x' | b'X' => {
                    digits = b"0123456789abcdefABCDEF_";
                    exponent = b"pP";
                }
                b'o' | b'O' => digits = b"01234567_",
                _ => digits = b"01_",
            }
            i += 2;
        }
        while b.get(i).is_some_and(|c| digits.contains(c)) {
            i += 1;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            while b.get(i).is_some_and(|c| digits.contains(c)) {
                i += 1;
            }
        }
        if b.get(i).is_some_and(|c| exponent.contains(c)) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
                i += 1;
            }
        }
        if b.get(i).is_some_and(|c| c.is_ascii_alphanumeric())
            || i == start + usize::from(matches!(b[start], b'+' | b'-'))
        {
            let end = (i + 1).min(self.src.len());
            return Err(self.err(
                start,
                format!(
                    "bad number syntax: {:?}",
                    self.src.get(start..end).unwrap_or("")
                ),
            ));
        }
        self.at = i;
        Ok(Tok::Number(&self.src[start..i]))
    }

    fn quoted(&mut self) -> Result<Tok<'s>, ParseError> {
        let start = self.at;
        let mut i = start + 1;
        loop {
            match self.bytes.get(i) {
                None | Some(b'\n') => return Err(self.err(start, "unterminated quoted string")),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        self.at = i + 1;
        let body = self.src.get(start + 1..i).unwrap_or("");
        unquote(body)
            .map(Tok::Str)
            .map_err(|msg| self.err(start, msg))
    }

    fn raw(&mut self) -> Result<Tok<'s>, ParseError> {
        let start = self.at;
        let Some(len) = self.src[start + 1..].find('`') else {
            return Err(self.err(start, "unterminated raw quoted string"));
        };
        self.at = start + 1 + len + 1;
        Ok(Tok::Str(
            self.src[start + 1..start + 1 + len].replace('\r', ""),
        ))
    }

    fn char_constant(&mut self) -> Result<Tok<'s>, ParseError> {
        let start = self.at;
        let mut i = start + 1;
        loop {
            match self.bytes.get(i) {
                None | Some(b'\n') => {
                    return Err(self.err(start, "unterminated character constant"));
                }
                Some(b'\\') => i += 2,
                Some(b'\'') => break,
                Some(_) => i += 1,
            }
        }
        self.at = i + 1;
        Ok(Tok::Char(&self.src[start..=i]))
    }
}

/// Go's interpreted string escapes (`strconv.Unquote` of a "..." body).
pub(crate) fn unquote(body: &str) -> Result<String, String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or("invalid syntax")?;
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let (count, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return Err(format!("invalid escape \\{e}")),
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(e);
        }
        for _ in 0..count {
            digits.push(chars.next().ok_or("invalid syntax")?);
        }
        let n = u32::from_str_radix(&digits, radix).map_err(|_| "invalid syntax".to_string())?;
        if e == 'x' || radix == 8 {
            // A byte; Go strings may hold any bytes, ours hold UTF-8: bytes
            // below 0x80 are exact, others become their Unicode code point.
            out.push(char::from_u32(n).ok_or("invalid syntax")?);
        } else {
            out.push(char::from_u32(n).ok_or("invalid Unicode code point")?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn trim_markers_eat_whitespace_on_their_side_only() {
        assert_eq!(
            toks("a  {{- 1 -}}\n b {{2}} c"),
            vec![
                Tok::Text("a"),
                Tok::Open,
                Tok::Number("1"),
                Tok::Close,
                Tok::Text("b "),
                Tok::Open,
                Tok::Number("2"),
                Tok::Close,
                Tok::Text(" c"),
                Tok::Eof
            ]
        );
        // `{{-3}}` is the number -3, not a trim marker.
        assert_eq!(toks("x {{-3}}")[2], Tok::Number("-3"));
    }

    #[test]
    fn comments_vanish_and_may_trim() {
        assert_eq!(
            toks("a {{- /* c\n d */ -}} b"),
            vec![Tok::Text("a"), Tok::Text("b"), Tok::Eof]
        );
        assert_eq!(toks("{{/* x */}}"), vec![Tok::Eof]);
        assert!(lex("{{/* x */ 1}}").is_err());
    }

    #[test]
    fn operands_and_strings() {
        assert_eq!(
            toks(r#"{{$x := .A.B "a\tb" `r\n` 'c' nil true}}"#),
            vec![
                Tok::Open,
                Tok::Var("$x"),
                Tok::Declare,
                Tok::Field("A"),
                Tok::Field("B"),
                Tok::Str("a\tb".into()),
                Tok::Str("r\\n".into()),
                Tok::Char("'c'"),
                Tok::Nil,
                Tok::Bool(true),
                Tok::Close,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for src in [
            "{{",
            "{{ \"abc }}",
            "{{ 12ab }}",
            "{{ ) }}",
            "{{ ( }}",
            "{{ # }}",
            "{{ 'a }}",
            "{{/* x",
            "{{ `x }}",
            "{{ \"\\",
            "{{ - }}",
        ] {
            assert!(lex(src).is_err(), "{src}");
        }
    }
}
