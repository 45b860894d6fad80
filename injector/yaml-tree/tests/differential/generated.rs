//! Random documents in the subset, from a seeded generator, read by this
//! reader and by serde-saphyr: the same value or both an error. The
//! generator also writes down where it put each scalar's content, so the
//! spans can be checked exactly, and what each scalar means, so the text at
//! a span can be checked to say it.
//!
//! `YAML_TREE_CASES=100000 cargo test -p yaml-tree --release --test
//! differential generated` runs more cases; `YAML_TREE_SEED` starts elsewhere.

use std::ops::Range;

use crate::oracle::{Verdict, compare, reference};

/// A small xorshift generator: reproducible, and no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces of scalar text, chosen for the rules they test.
const PIECES: &[&str] = &[
    "a", "b", "key", "x y", ": ", ":", " #", "#", "- ", "-", "? ", "?", "[", "]", "{", "}", ",",
    "&a", "*a", "!t", "|", ">", "%", "@", "`", "'", "\"", "\\", "é", "日本", "😀", "\t", " ",
    "true", "True", "FALSE", "null", "~", "1", "-1", "+7", "0x1F", "0o7", "0b11", "1e3", ".5",
    "1_000", "0127", "yes", "on", "---", "...", "\u{a0}", "\u{7}", "\u{1b}", "\u{85}", "\u{2028}",
    "\n",
];

/// Words safe in any plain scalar.
const WORDS: &[&str] = &[
    "a", "b", "key", "value", "istio", "proxy", "é", "日本", "1", "2.5", "0x1F", "true", "null",
    "x-y", "a.b", "c/d", "e:f", "g#h", "http://x", "-1", "v1",
];

/// Where a scalar may continue on more lines, and how indented they must be.
#[derive(Clone, Copy)]
enum Lines {
    /// Not at all: a key.
    One,
    /// Indented more than a block parent's indentation.
    Block(usize),
    /// Anyhow: inside a flow collection.
    Flow,
}

/// A scalar's content as written, and what it means when that is known.
struct Scalar {
    span: Range<usize>,
    meaning: Meaning,
}

enum Meaning {
    /// A string the text at the span is, or decodes to in its quotes, or
    /// folds to as a plain scalar of several lines.
    Plain(String),
    FoldedPlain(String),
    DoubleQuoted(String),
    SingleQuoted(String),
    /// A literal block scalar: its value, and its content's indentation.
    Literal(String, usize, &'static str),
    /// Anything else (folded scalars, keys, non-strings): the span alone.
    Unchecked,
}

struct Generator {
    rng: Rng,
    out: String,
    scalars: Vec<Scalar>,
    keys: usize,
}

impl Generator {
    fn spaces(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    fn record(&mut self, start: usize, meaning: Meaning) {
        let span = start..self.out.len();
        self.scalars.push(Scalar { span, meaning });
    }

    fn empty_here(&mut self) {
        let at = self.out.len();
        self.scalars.push(Scalar {
            span: at..at,
            meaning: Meaning::Unchecked,
        });
    }

    fn text(&mut self) -> String {
        let n = self.rng.below(4);
        (0..n).map(|_| *self.rng.pick(PIECES)).collect()
    }

    fn words(&mut self, max: usize) -> Vec<&'static str> {
        let n = 1 + self.rng.below(max);
        (0..n).map(|_| *self.rng.pick(WORDS)).collect()
    }

    /// A key, unique unless the dice say otherwise.
    fn key(&mut self, flow: bool) {
        self.keys += 1;
        let word = *self.rng.pick(WORDS);
        let text = if self.rng.chance(3) {
            word.to_string()
        } else {
            format!("{word}{}", self.keys)
        };
        match self.rng.below(4) {
            0 => self.double_quoted(&text, Lines::One),
            1 => self.single_quoted(&text, Lines::One),
            _ if plain_safe(&text, flow) => {
                let start = self.out.len();
                self.out.push_str(&text);
                self.record(start, Meaning::Unchecked);
            }
            _ => self.double_quoted(&text, Lines::One),
        }
    }

    /// A scalar value on the current line.
    fn scalar(&mut self, lines: Lines) {
        let flow = matches!(lines, Lines::Flow);
        let text = self.text();
        match self.rng.below(6) {
            0 | 1 if plain_safe(&text, flow) => {
                let start = self.out.len();
                self.out.push_str(&text);
                let meaning = if text
                    .contains(|c: char| c.is_ascii_digit() || c == '~' || c.is_ascii_uppercase())
                    || ["", "true", "null", "yes", "on"].contains(&text.as_str())
                {
                    Meaning::Unchecked
                } else {
                    Meaning::Plain(text)
                };
                self.record(start, meaning);
            }
            2 => self.multi_line_plain(lines),
            3 if printable(&text) && !text.contains('\n') => self.single_quoted(&text, lines),
            _ => self.double_quoted(&text, lines),
        }
    }

    /// Starts a continuation line, if `lines` allows one (and the dice say so).
    fn line_break(&mut self, lines: Lines, percent: usize) -> bool {
        let indent = match lines {
            Lines::One => return false,
            _ if !self.rng.chance(percent) => return false,
            Lines::Block(parent) => parent + 1 + self.rng.below(3),
            Lines::Flow => self.rng.below(5),
        };
        self.out.push('\n');
        self.spaces(indent);
        true
    }

    fn multi_line_plain(&mut self, lines: Lines) {
        let start = self.out.len();
        let words = self.words(4);
        let mut folded = String::new();
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                // Blank lines before a continuation line are line feeds.
                let blank_lines = self.rng.below(3);
                let at = self.out.len();
                if self.line_break(lines, 50) {
                    self.out.insert_str(at, &"\n".repeat(blank_lines));
                }
                if blank_lines == 0 || at == self.out.len() {
                    folded.push(' ');
                } else {
                    folded.push_str(&"\n".repeat(blank_lines));
                }
                if at == self.out.len() {
                    self.out.push(' ');
                }
            }
            self.out.push_str(word);
            folded.push_str(word);
        }
        // One word may be a number or a boolean; more make a string.
        let meaning = if words.len() > 1 {
            Meaning::FoldedPlain(folded)
        } else {
            Meaning::Unchecked
        };
        self.record(start, meaning);
    }

    fn double_quoted(&mut self, text: &str, lines: Lines) {
        self.out.push('"');
        let start = self.out.len();
        let chars: Vec<char> = text.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let before_content = !matches!(c, ' ' | '\t');
            if before_content && i > 0 && !matches!(lines, Lines::One) && self.rng.chance(5) {
                // An escaped line break, and indentation that is not content.
                self.out.push('\\');
                self.line_break(lines, 100);
            }
            let fold = c == ' '
                && i > 0
                && !matches!(chars[i - 1], ' ' | '\t')
                && chars.get(i + 1).is_some_and(|n| !matches!(n, ' ' | '\t'));
            if fold && self.line_break(lines, 30) {
                continue;
            }
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\t' if self.rng.chance(50) => self.out.push_str("\\t"),
                '\u{85}' => self.out.push_str("\\N"),
                '\u{a0}' => self.out.push_str("\\_"),
                '\u{2028}' => self.out.push_str("\\L"),
                c if c.is_control() => self.out.push_str(&format!("\\x{:02x}", c as u32)),
                c if !c.is_ascii() && self.rng.chance(40) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        self.out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
                c if !c.is_ascii() && self.rng.chance(20) => {
                    self.out.push_str(&format!("\\U{:08x}", c as u32));
                }
                c => self.out.push(c),
            }
        }
        self.record(start, Meaning::DoubleQuoted(text.to_string()));
        self.out.push('"');
    }

    fn single_quoted(&mut self, text: &str, lines: Lines) {
        self.out.push('\'');
        let start = self.out.len();
        let chars: Vec<char> = text.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let fold = c == ' '
                && i > 0
                && !matches!(chars[i - 1], ' ' | '\t')
                && chars.get(i + 1).is_some_and(|n| !matches!(n, ' ' | '\t'));
            if fold && self.line_break(lines, 30) {
                continue;
            }
            if c == '\'' {
                self.out.push_str("''");
            } else {
                self.out.push(c);
            }
        }
        self.record(start, Meaning::SingleQuoted(text.to_string()));
        self.out.push('\'');
    }

    /// A literal or folded block scalar whose header goes on the current
    /// line, under a collection indented `parent` columns.
    fn block_scalar(&mut self, parent: usize) {
        let indent = parent + 1 + self.rng.below(2);
        let literal = self.rng.chance(60);
        let lines: Vec<String> = (0..self.rng.below(4))
            .map(|_| match self.rng.below(6) {
                0 => String::new(),
                1 => format!("  {}", self.words(2).join(" ")),
                2 => format!("# {}", self.words(2).join(" ")),
                _ => self.words(3).join(" "),
            })
            .collect();
        let trailing = self.rng.below(3);
        let chomp = *self.rng.pick(&["", "-", "+"]);
        let explicit = lines
            .iter()
            .find(|l| !l.is_empty())
            .is_some_and(|l| l.starts_with(' '));
        self.out.push(if literal { '|' } else { '>' });
        let digit = if explicit {
            (indent - parent).to_string()
        } else {
            String::new()
        };
        if self.rng.chance(50) {
            self.out.push_str(&digit);
            self.out.push_str(chomp);
        } else {
            self.out.push_str(chomp);
            self.out.push_str(&digit);
        }
        if self.rng.chance(20) {
            self.out.push_str(" # c");
        }
        self.out.push('\n');
        let start = self.out.len();
        let mut end = start;
        for line in &lines {
            if !line.is_empty() {
                self.spaces(indent);
                self.out.push_str(line);
                end = self.out.len();
            }
            self.out.push('\n');
        }
        for _ in 0..trailing {
            self.out.push('\n');
        }
        // Blank lines that come after a `+` scalar belong to it: unchecked.
        let meaning = if literal && chomp != "+" {
            let last = lines.iter().rposition(|l| !l.is_empty());
            let body = last.map_or(String::new(), |last| lines[..=last].join("\n"));
            let tail = usize::from(chomp.is_empty() && last.is_some());
            Meaning::Literal(body + &"\n".repeat(tail), indent, chomp)
        } else {
            Meaning::Unchecked
        };
        self.scalars.push(Scalar {
            span: start..end,
            meaning,
        });
    }

    fn comment_lines(&mut self, max_indent: usize) {
        for _ in 0..self.rng.below(3) {
            if self.rng.chance(50) {
                let indent = self.rng.below(max_indent + 1);
                self.spaces(indent);
                self.out.push_str("# note: - [x]\n");
            } else {
                self.out.push('\n');
            }
        }
    }

    fn end_line(&mut self) {
        if self.rng.chance(10) {
            self.out
                .push_str(if self.rng.chance(50) { "  " } else { " \t" });
        }
        if self.rng.chance(15) {
            self.out.push_str(" # c");
        }
        self.out.push('\n');
    }

    /// Blanks between a key and its `:`, sometimes.
    fn before_colon(&mut self) {
        if self.rng.chance(10) {
            self.out.push(' ');
        }
    }

    /// A block node's value after `key:` or `-`, starting on the indicator's
    /// line; `indent` is its collection's.
    fn value(&mut self, indent: usize, depth: usize, in_map: bool) {
        let choice = if depth > 4 {
            self.rng.below(4)
        } else {
            self.rng.below(9)
        };
        match choice {
            0 | 1 => {
                self.out.push(' ');
                self.scalar(Lines::Block(indent));
                self.end_line();
            }
            2 => {
                self.empty_here();
                self.end_line();
            }
            3 => {
                self.out.push(' ');
                self.flow(depth + 1);
                self.end_line();
            }
            4 => {
                self.out.push(' ');
                self.block_scalar(indent);
            }
            5 | 6 => {
                self.end_line();
                self.comment_lines(indent);
                let child = indent + 1 + self.rng.below(3);
                self.block_mapping(child, depth + 1);
            }
            _ => {
                self.end_line();
                self.comment_lines(indent);
                let child = if in_map {
                    indent + self.rng.below(3)
                } else {
                    indent + 1 + self.rng.below(2)
                };
                self.block_sequence(child, depth + 1);
            }
        }
    }

    fn block_mapping(&mut self, indent: usize, depth: usize) {
        for i in 0..1 + self.rng.below(4) {
            if i > 0 {
                self.comment_lines(indent);
            }
            self.spaces(indent);
            self.entry(indent, depth);
        }
    }

    /// `key: value`, the key at the current position, in a mapping indented
    /// `indent` columns.
    fn entry(&mut self, indent: usize, depth: usize) {
        self.key(false);
        self.before_colon();
        self.out.push(':');
        self.value(indent, depth, true);
    }

    fn block_sequence(&mut self, indent: usize, depth: usize) {
        for i in 0..1 + self.rng.below(4) {
            if i > 0 {
                self.comment_lines(indent);
            }
            self.spaces(indent);
            self.out.push('-');
            match self.rng.below(8) {
                // A compact mapping: `- k: v` and its keys below.
                0 | 1 if depth < 5 => {
                    let gap = 1 + self.rng.below(2);
                    self.spaces(gap);
                    let inner = indent + 1 + gap;
                    for j in 0..1 + self.rng.below(3) {
                        if j > 0 {
                            self.spaces(inner);
                        }
                        self.entry(inner, depth + 1);
                    }
                }
                // A compact sequence: `- - x`.
                2 if depth < 5 => {
                    self.out.push(' ');
                    let inner = indent + 2;
                    self.out.push('-');
                    self.value(inner, depth + 2, false);
                    for _ in 0..self.rng.below(2) {
                        self.spaces(inner);
                        self.out.push('-');
                        self.value(inner, depth + 2, false);
                    }
                }
                _ => self.value(indent, depth, false),
            }
        }
    }

    fn flow_space(&mut self) {
        match self.rng.below(8) {
            0 => self.out.push(' '),
            1 => {
                self.out.push('\n');
                let indent = self.rng.below(6);
                self.spaces(indent);
            }
            2 => {
                self.out.push_str(" # c\n");
                let indent = 1 + self.rng.below(6);
                self.spaces(indent);
            }
            _ => {}
        }
    }

    fn flow(&mut self, depth: usize) {
        let mapping = self.rng.chance(50);
        self.out.push(if mapping { '{' } else { '[' });
        let n = self.rng.below(4);
        for i in 0..n {
            self.flow_space();
            // A key without a value reads as null where the next `,` is.
            let mut tight = false;
            if mapping {
                let json = self.rng.chance(50);
                if json {
                    self.keys += 1;
                    let text = format!("{}{}", self.rng.pick(WORDS), self.keys);
                    self.double_quoted(&text, Lines::One);
                } else {
                    self.key(true);
                }
                self.before_colon();
                if self.rng.chance(10) {
                    if self.rng.chance(50) {
                        self.out.push(' ');
                    }
                    self.empty_here();
                    tight = true;
                } else {
                    self.out.push(':');
                    if !json || self.rng.chance(50) {
                        self.out.push(' ');
                    }
                    self.flow_value(depth);
                }
            } else {
                self.flow_value(depth);
            }
            if !tight {
                self.flow_space();
            }
            if tight || i + 1 < n || self.rng.chance(20) {
                self.out.push(',');
            }
        }
        self.flow_space();
        self.out.push(if mapping { '}' } else { ']' });
    }

    fn flow_value(&mut self, depth: usize) {
        if depth < 6 && self.rng.chance(25) {
            self.flow(depth + 1);
        } else {
            self.scalar(Lines::Flow);
        }
    }

    /// One document, or a few, separated by markers.
    fn stream(&mut self) {
        let documents = if self.rng.chance(20) {
            2 + self.rng.below(2)
        } else {
            1
        };
        let mut ended = false;
        for i in 0..documents {
            if i > 0 && !ended {
                self.out.push_str("---\n");
            }
            self.document();
            ended = self.rng.chance(15);
            if ended {
                self.out.push_str("...\n");
            }
        }
    }

    fn document(&mut self) {
        match self.rng.below(11) {
            10 => {
                self.multi_line_plain(Lines::Block(0));
                self.out.push('\n');
            }
            0 => {
                self.out.push_str("--- ");
                self.scalar(Lines::Block(0));
                self.out.push('\n');
            }
            1 => {
                self.out.push_str("---");
                self.value(0, 0, false);
            }
            2 => {
                let indent = self.rng.below(2);
                self.block_sequence(indent, 0);
            }
            3 => {
                self.flow(0);
                self.out.push('\n');
            }
            _ => {
                if self.rng.chance(30) {
                    self.out.push_str("---\n");
                }
                self.block_mapping(0, 0);
            }
        }
    }
}

/// Whether `text` can be written as a plain scalar and read back as itself
/// (a stricter rule than YAML's).
fn plain_safe(text: &str, flow: bool) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let last = text.chars().last().unwrap_or(first);
    !("-?:,[]{}#&*!|>'\"%@`".contains(first)
        || first.is_whitespace()
        || last.is_whitespace()
        || last == ':'
        || text.contains(": ")
        || text.contains(" #")
        || text.contains("\t#")
        || !printable(text)
        || text.starts_with("---")
        || text.starts_with("...")
        || (flow && text.contains([',', '[', ']', '{', '}', ':'])))
}

/// Whether `text` holds only characters every parser reads alike raw.
fn printable(text: &str) -> bool {
    !text.contains(|c: char| (c.is_control() && c != '\t') || c == '\u{2028}')
}

/// Applies a random one-byte edit: the text is then often not YAML, which
/// the two parsers must agree on too.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut at = rng.below(text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let mut out = text.to_string();
    if rng.chance(50) && at < text.len() {
        out.remove(at);
    } else {
        out.insert(
            at,
            *rng.pick(&[
                ' ', '\n', ':', '-', '#', '"', '\'', '[', ']', '{', '}', ',', '\t', '|', '?',
            ]),
        );
    }
    out
}

/// Checks that the text at each span says the scalar's meaning.
fn check_meaning(text: &str, scalar: &Scalar) -> Result<(), String> {
    let slice = &text[scalar.span.clone()];
    let (decoded, want) = match &scalar.meaning {
        Meaning::Unchecked => return Ok(()),
        Meaning::Plain(want) => (Ok(serde_json::Value::String(slice.to_string())), want),
        Meaning::FoldedPlain(want) => (reference(slice), want),
        Meaning::DoubleQuoted(want) => (reference(&format!("\"{slice}\"")), want),
        Meaning::SingleQuoted(want) => (reference(&format!("'{slice}'")), want),
        Meaning::Literal(want, indent, chomp) => {
            if *indent > 9 {
                return Ok(());
            }
            (
                reference(&format!("k: |{indent}{chomp}\n{slice}\n")).map(|v| v["k"].clone()),
                want,
            )
        }
    };
    match decoded {
        Ok(serde_json::Value::String(s)) if s == *want => Ok(()),
        other => Err(format!(
            "{text:?}: the text at {:?}, {slice:?}, reads {other:?}, not {want:?}",
            scalar.span
        )),
    }
}

#[test]
fn generated_documents_agree_with_the_reference() {
    let cases: u64 = std::env::var("YAML_TREE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("YAML_TREE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut failures = Vec::new();
    let (mut same, mut refused, mut deferred) = (0, 0, 0);
    for case in 0..cases {
        let mut generator = Generator {
            rng: Rng(((seed << 32) + case).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            out: String::new(),
            scalars: Vec::new(),
            keys: 0,
        };
        generator.stream();
        let mutated = generator.rng.chance(15);
        let text = if mutated {
            let original = generator.out.clone();
            mutate(&mut generator.rng, &original)
        } else {
            generator.out.clone()
        };
        match compare(&text).map(|verdicts| verdicts.stream) {
            Ok(Verdict::Same) => same += 1,
            Ok(Verdict::BothRefuse) => refused += 1,
            Ok(Verdict::Deferred) => deferred += 1,
            Err(e) => {
                std::fs::write(format!("/tmp/fail_{case}.yaml"), &text).unwrap();
                failures.push(format!("case {case}: {e}"))
            }
        }
        if mutated {
            continue;
        }
        if let Ok(document) = yaml_tree::parse(&text) {
            let written: Vec<Range<usize>> =
                generator.scalars.iter().map(|s| s.span.clone()).collect();
            if document.spans.as_slice() != written.as_slice() {
                failures.push(format!(
                    "case {case}: {text:?}\n  spans:   {:?}\n  written: {written:?}",
                    document.spans.as_slice()
                ));
            }
            for scalar in &generator.scalars {
                if let Err(e) = check_meaning(&text, scalar) {
                    failures.push(format!("case {case}: {e}"));
                }
            }
        }
    }
    failures.truncate(10);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("{cases} cases: {same} same value, {refused} both refused, {deferred} deferred");
    // The generator must mostly write YAML both parsers read.
    assert!(
        same * 10 >= cases * 6,
        "only {same} of {cases} cases were read by both"
    );
}

/// Short strings of the characters YAML gives meaning to, in any order:
/// mostly not YAML, and both parsers must refuse the same ones.
#[test]
fn noise_agrees_with_the_reference() {
    const TOKENS: &[&str] = &[
        " ", " ", "  ", "\n", "\n", "-", "- ", ":", ": ", "#", " #", "'", "\"", "[", "]", "{", "}",
        ",", "|", ">", "a", "b", "1", "\t", "\\", "?", "!", "&", "*", "%", "@", "`", "é", "...",
        "---", "~", "\"a\":", "k: ", "\n  ", "\n- ", "|-\n  ", ">+\n ", "\\n", "''",
    ];
    let cases: u64 = std::env::var("YAML_TREE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("YAML_TREE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut failures = Vec::new();
    for case in 0..cases {
        let mut rng = Rng(((seed << 32) + case).wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
        let text: String = (0..rng.below(60)).map(|_| *rng.pick(TOKENS)).collect();
        if let Err(e) = compare(&text) {
            failures.push(e);
        }
    }
    failures.truncate(10);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
