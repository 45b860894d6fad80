//! The parser: tokens to trees, with Go's rules for control structures,
//! variable scope, `define`/`block`, and unknown functions (an error).

use crate::ast::{Arg, Branch, Cmd, Loc, Node, Operand, Pipe};
use crate::error::ParseError;
use crate::funcs::Funcs;
use crate::lex::{Tok, Token, lex, unquote};

/// How deeply actions and parentheses may nest: deep enough for any real
/// template, shallow enough that recursion cannot exhaust the stack.
const MAX_DEPTH: usize = 200;

/// A parsed source: its main body and the templates it `define`s.
pub(crate) struct Parsed {
    pub main: Vec<Node>,
    pub defines: Vec<(String, Vec<Node>)>,
}

pub(crate) fn parse(src: &str, funcs: &Funcs) -> Result<Parsed, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        i: 0,
        funcs,
        vars: vec!["$"],
        range_depth: 0,
        depth: 0,
        defines: Vec::new(),
    };
    let (main, end) = p.list()?;
    match end {
        End::Eof => Ok(Parsed {
            main,
            defines: p.defines,
        }),
        End::Close(pos) => Err(p.err(pos, "unexpected {{end}}")),
        End::Else(pos) => Err(p.err(pos, "unexpected {{else}}")),
    }
}

/// What ended a list of nodes. `Else` leaves the rest of its action unread.
enum End {
    Eof,
    Close(usize),
    Else(usize),
}

#[derive(Clone, Copy, PartialEq)]
enum Control {
    If,
    With,
    Range,
}

impl Control {
    fn name(self) -> &'static str {
        match self {
            Control::If => "if",
            Control::With => "with",
            Control::Range => "range",
        }
    }
}

struct Parser<'s, 'f> {
    src: &'s str,
    toks: Vec<Token<'s>>,
    i: usize,
    funcs: &'f Funcs,
    /// Names of the variables in scope; a variable's slot is its index.
    vars: Vec<&'s str>,
    range_depth: usize,
    depth: usize,
    defines: Vec<(String, Vec<Node>)>,
}

impl<'s> Parser<'s, '_> {
    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.src, pos, msg)
    }

    fn peek(&self) -> &Token<'s> {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Tok<'s> {
        &self.toks[(self.i + ahead).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Token<'s> {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn expect_close(&mut self, context: &str) -> Result<(), ParseError> {
        let t = self.next();
        if t.tok == Tok::Close {
            Ok(())
        } else {
            Err(self.err(
                t.pos,
                format!("unexpected {} in {context}", describe(&t.tok)),
            ))
        }
    }

    fn deeper(&mut self, pos: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(self.err(pos, "template nested too deeply"))
        } else {
            Ok(())
        }
    }

    /// Nodes up to `{{end}}`, `{{else` or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, End), ParseError> {
        let mut nodes = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof => return Ok((nodes, End::Eof)),
                Tok::Text(text) => nodes.push(Node::Text(text.into())),
                Tok::Open => match self.action(t.pos)? {
                    Step::Node(node) => nodes.push(node),
                    Step::Nothing => {}
                    Step::End(end) => return Ok((nodes, end)),
                },
                other => return Err(self.err(t.pos, format!("unexpected {}", describe(&other)))),
            }
        }
    }

    fn action(&mut self, open: usize) -> Result<Step, ParseError> {
        let t = self.peek().clone();
        let keyword = match t.tok {
            Tok::Ident(word) => word,
            _ => return Ok(Step::Node(Node::Action(self.pipeline("command", false)?))),
        };
        match keyword {
            "end" => {
                self.next();
                self.expect_close("end")?;
                Ok(Step::End(End::Close(t.pos)))
            }
            "else" => {
                self.next();
                Ok(Step::End(End::Else(t.pos)))
            }
            "if" => self
                .control(Control::If, t.pos)
                .map(|b| Step::Node(Node::If(b))),
            "with" => self
                .control(Control::With, t.pos)
                .map(|b| Step::Node(Node::With(b))),
            "range" => self
                .control(Control::Range, t.pos)
                .map(|b| Step::Node(Node::Range(b))),
            "break" | "continue" => {
                self.next();
                if self.range_depth == 0 {
                    return Err(self.err(t.pos, format!("{{{{{keyword}}}}} outside {{{{range}}}}")));
                }
                self.expect_close(keyword)?;
                Ok(Step::Node(if keyword == "break" {
                    Node::Break
                } else {
                    Node::Continue
                }))
            }
            "template" => {
                self.next();
                let (name, arg) = self.template_call("template")?;
                Ok(Step::Node(Node::Template {
                    name,
                    arg,
                    loc: Loc {
                        pos: t.pos,
                        end: self.peek().pos,
                    },
                }))
            }
            "define" if self.depth > 0 => Err(self.err(t.pos, "unexpected <define> in command")),
            "define" => {
                self.next();
                self.define(open)?;
                Ok(Step::Nothing)
            }
            "block" => {
                self.next();
                let (name, arg) = self.template_call("block")?;
                let body = self.sub_template(open)?;
                self.add_define(name.to_string(), body, t.pos)?;
                Ok(Step::Node(Node::Template {
                    name,
                    arg,
                    loc: Loc {
                        pos: t.pos,
                        end: self.peek().pos,
                    },
                }))
            }
            _ => Ok(Step::Node(Node::Action(self.pipeline("command", false)?))),
        }
    }

    /// `if`/`with`/`range` after its keyword, through the matching `{{end}}`.
    fn control(&mut self, control: Control, pos: usize) -> Result<Box<Branch>, ParseError> {
        self.next();
        self.deeper(pos)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(control.name(), control == Control::Range)?;
        if control == Control::Range {
            self.range_depth += 1;
        }
        let body_mark = self.vars.len();
        let (body, end) = self.list()?;
        if control == Control::Range {
            self.range_depth -= 1;
        }
        // Variables declared in the body are not in scope in the else part
        // (Go's parser lets them be named there, then fails at run time).
        self.vars.truncate(body_mark);
        let otherwise = match end {
            End::Close(_) => Vec::new(),
            End::Eof => return Err(self.err(pos, format!("unexpected EOF in {}", control.name()))),
            End::Else(else_pos) => {
                // `{{else if}}` / `{{else with}}`: a nested branch sharing our {{end}}.
                let chained = match (control, &self.peek().tok) {
                    (Control::If, Tok::Ident("if")) => Some(Control::If),
                    (Control::With, Tok::Ident("with")) => Some(Control::With),
                    _ => None,
                };
                match chained {
                    Some(Control::If) => vec![Node::If(self.control(Control::If, else_pos)?)],
                    Some(_) => vec![Node::With(self.control(Control::With, else_pos)?)],
                    None => {
                        self.expect_close("else")?;
                        let (otherwise, end) = self.list()?;
                        match end {
                            End::Close(_) => otherwise,
                            End::Else(p) => return Err(self.err(p, "expected end; found {{else}}")),
                            End::Eof => {
                                return Err(
                                    self.err(pos, format!("unexpected EOF in {}", control.name()))
                                );
                            }
                        }
                    }
                }
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Box::new(Branch {
            pipe,
            body,
            otherwise,
        }))
    }

    /// `"name" [pipeline]}}` of `template` or `block`.
    fn template_call(&mut self, context: &str) -> Result<(Box<str>, Option<Pipe>), ParseError> {
        let t = self.next();
        let Tok::Str(name) = t.tok else {
            return Err(self.err(
                t.pos,
                format!("unexpected {} in {context} clause", describe(&t.tok)),
            ));
        };
        if self.peek().tok == Tok::Close {
            self.next();
            return Ok((name.into(), None));
        }
        Ok((name.into(), Some(self.pipeline(context, false)?)))
    }

    fn define(&mut self, open: usize) -> Result<(), ParseError> {
        let t = self.next();
        let Tok::Str(name) = t.tok else {
            return Err(self.err(
                t.pos,
                format!("unexpected {} in define clause", describe(&t.tok)),
            ));
        };
        self.expect_close("define clause")?;
        let body = self.sub_template(open)?;
        self.add_define(name, body, t.pos)
    }

    /// Adds a `define`d template. As in Go, an empty (blank) definition
    /// gives way to another, and two non-empty ones are an error.
    fn add_define(&mut self, name: String, body: Vec<Node>, pos: usize) -> Result<(), ParseError> {
        let is_empty = |nodes: &[Node]| {
            nodes
                .iter()
                .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
        };
        match self.defines.iter_mut().find(|(n, _)| *n == name) {
            None => self.defines.push((name, body)),
            Some(_) if is_empty(&body) => {}
            Some((_, existing)) if is_empty(existing) => *existing = body,
            Some(_) => {
                return Err(self.err(
                    pos,
                    format!("template: multiple definition of template {name:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The body of `define`/`block`, a template of its own: `$` is its only
    /// variable and `break` does not reach outside it.
    fn sub_template(&mut self, open: usize) -> Result<Vec<Node>, ParseError> {
        self.deeper(open)?;
        let vars = std::mem::replace(&mut self.vars, vec!["$"]);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let (body, end) = self.list()?;
        self.vars = vars;
        self.range_depth = range_depth;
        self.depth -= 1;
        match end {
            End::Close(_) => Ok(body),
            End::Else(p) => Err(self.err(p, "unexpected {{else}} in define")),
            End::Eof => Err(self.err(open, "unexpected EOF in define")),
        }
    }

    /// A pipeline up to `}}` (or `)` when `in_parens`), with its variable
    /// declarations.
    fn pipeline(&mut self, context: &str, in_range: bool) -> Result<Pipe, ParseError> {
        self.pipe_until(context, in_range, false)
    }

    fn pipe_until(
        &mut self,
        context: &str,
        in_range: bool,
        in_parens: bool,
    ) -> Result<Pipe, ParseError> {
        let start = self.peek().pos;
        let mut declared: Vec<(&'s str, usize)> = Vec::new();
        let mut assign = false;
        let mut vars = Vec::new();
        // Declarations: `$x :=`, `$x =`, and in range `$i, $x :=`.
        let is_decl = |t: &Tok<'_>| matches!(t, Tok::Declare | Tok::Assign);
        let count = match (
            self.peek_at(0),
            self.peek_at(1),
            self.peek_at(2),
            self.peek_at(3),
        ) {
            (Tok::Var(_), t, _, _) if is_decl(t) => 1,
            (Tok::Var(_), Tok::Comma, Tok::Var(_), t) if in_range && is_decl(t) => 2,
            (Tok::Var(_), Tok::Comma, _, _) => {
                return Err(self.err(
                    self.peek().pos,
                    format!("too many declarations in {context}"),
                ));
            }
            _ => 0,
        };
        for _ in 0..count {
            let t = self.next();
            let op = self.next(); // `,`, `:=` or `=`
            assign = op.tok == Tok::Assign;
            if let Tok::Var(name) = t.tok {
                declared.push((name, t.pos));
            }
        }
        if assign {
            for (name, pos) in &declared {
                vars.push(self.lookup(name, *pos)?);
            }
        }
        let mut cmds = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Close if !in_parens => {
                    self.next();
                    break;
                }
                Tok::RParen if in_parens => {
                    self.next();
                    break;
                }
                Tok::Close | Tok::RParen | Tok::Eof => {
                    return Err(self.err(
                        t.pos,
                        format!("unexpected {} in {context}", describe(&t.tok)),
                    ));
                }
                _ => {}
            }
            if !cmds.is_empty() {
                let sep = self.next();
                if sep.tok != Tok::Pipe {
                    return Err(self.err(
                        sep.pos,
                        format!("unexpected {} in {context}", describe(&sep.tok)),
                    ));
                }
            }
            cmds.push(self.command(context)?);
        }
        if cmds.is_empty() {
            return Err(self.err(start, format!("missing value for {context}")));
        }
        for (stage, cmd) in cmds.iter().enumerate().skip(1) {
            if matches!(
                cmd.args.first().map(|a| &a.op),
                Some(
                    Operand::Bool(_)
                        | Operand::Dot
                        | Operand::Nil
                        | Operand::Int(_)
                        | Operand::Float(_)
                        | Operand::Str(_)
                )
            ) {
                return Err(self.err(
                    cmd.loc.pos,
                    format!("non executable command in pipeline stage {}", stage + 1),
                ));
            }
        }
        if !assign {
            for (name, _) in declared {
                vars.push(self.vars.len());
                self.vars.push(name);
            }
        }
        let end = self.toks[self.i.saturating_sub(1)].pos;
        Ok(Pipe {
            loc: Loc { pos: start, end },
            vars,
            assign,
            cmds,
        })
    }

    fn lookup(&self, name: &str, pos: usize) -> Result<usize, ParseError> {
        self.vars
            .iter()
            .rposition(|v| *v == name)
            .ok_or_else(|| self.err(pos, format!("undefined variable {name:?}")))
    }

    /// Operands up to `|`, `}}` or `)`.
    fn command(&mut self, context: &str) -> Result<Cmd, ParseError> {
        let start = self.peek().pos;
        let mut args = Vec::new();
        loop {
            let t = self.peek();
            if matches!(t.tok, Tok::Pipe | Tok::Close | Tok::RParen | Tok::Eof) {
                break;
            }
            if !args.is_empty() && !t.spaced {
                return Err(self.err(t.pos, format!("missing space before {}", describe(&t.tok))));
            }
            args.push(self.operand(context)?);
        }
        if args.is_empty() {
            return Err(self.err(start, "empty command"));
        }
        let end = self.peek().pos;
        Ok(Cmd {
            loc: Loc { pos: start, end },
            args,
        })
    }

    fn operand(&mut self, context: &str) -> Result<Arg, ParseError> {
        let vars_before = self.vars.len();
        let t = self.next();
        let pos = t.pos;
        let op = match t.tok {
            Tok::Dot => Operand::Dot,
            Tok::Nil => Operand::Nil,
            Tok::Bool(b) => Operand::Bool(b),
            Tok::Number(text) => number(text).map_err(|m| self.err(pos, m))?,
            Tok::Char(text) => char_constant(text).map_err(|m| self.err(pos, m))?,
            Tok::Str(s) => Operand::Str(s.into()),
            Tok::Field(name) => {
                let mut chain = vec![Box::from(name)];
                chain.extend(self.chain());
                Operand::Field(chain.into())
            }
            Tok::Var(name) => {
                let slot = self.lookup(name, pos)?;
                Operand::Var(slot, self.chain().into())
            }
            Tok::Ident(name) => match self.funcs.get(name) {
                Some(f) => Operand::Func(name.into(), f),
                None if is_keyword(name) => {
                    return Err(self.err(pos, format!("unexpected <{name}> in {context}")));
                }
                None => return Err(self.err(pos, format!("function {name:?} not defined"))),
            },
            Tok::LParen => {
                self.deeper(pos)?;
                let pipe = self.pipe_until("parenthesized pipeline", false, true)?;
                self.depth -= 1;
                Operand::Pipe(Box::new(pipe), self.chain().into())
            }
            other => {
                return Err(self.err(pos, format!("unexpected {} in operand", describe(&other))));
            }
        };
        if matches!(self.peek().tok, Tok::Field(_)) && !self.peek().spaced {
            return Err(self.err(self.peek().pos, "unexpected . after term"));
        }
        Ok(Arg {
            loc: Loc {
                pos,
                end: self.peek().pos,
            },
            op,
            declares: self.vars.len() - vars_before,
        })
    }

    /// Field names written right after an operand: `$x.A.B`, `(...).A`.
    fn chain(&mut self) -> Vec<Box<str>> {
        let mut chain = Vec::new();
        while let Token {
            tok: Tok::Field(name),
            spaced: false,
            ..
        } = self.peek()
        {
            chain.push(Box::from(*name));
            self.next();
        }
        chain
    }
}

enum Step {
    Node(Node),
    Nothing,
    End(End),
}

fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "if" | "else"
            | "end"
            | "range"
            | "with"
            | "define"
            | "template"
            | "block"
            | "break"
            | "continue"
    )
}

fn describe(tok: &Tok<'_>) -> String {
    match tok {
        Tok::Text(_) => "text".into(),
        Tok::Open => "\"{{\"".into(),
        Tok::Close => "\"}}\"".into(),
        Tok::Ident(w) => format!("<{w}>"),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Var(v) => format!("<{v}>"),
        Tok::Dot => "<.>".into(),
        Tok::Bool(b) => format!("<{b}>"),
        Tok::Nil => "<nil>".into(),
        Tok::Number(n) | Tok::Char(n) => format!("<{n}>"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Pipe => "\"|\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Eof => "EOF".into(),
    }
}

/// A number constant as Go reads it: an `int` unless written with a
/// fraction or exponent (then `float64`); hex, octal, binary and `_` allowed.
fn number(text: &str) -> Result<Operand, String> {
    let bad = || format!("bad number syntax: {text:?}");
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return Err(bad());
    }
    let digits = body.replace('_', "");
    let lower = digits.to_ascii_lowercase();
    let (radix, rest) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if radix == 10 && rest.contains(['.', 'e']) {
        let f: f64 = rest.parse().map_err(|_| bad())?;
        return Ok(Operand::Float(if negative { -f } else { f }));
    }
    if radix == 16 && rest.contains(['.', 'p']) {
        return Err(format!(
            "hexadecimal floating-point constants are not supported: {text:?}"
        ));
    }
    let magnitude = match u64::from_str_radix(rest, radix) {
        Ok(m) => m,
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => {
            return Err(format!("integer overflow: {text:?}"));
        }
        Err(_) => return Err(bad()),
    };
    let value = if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    };
    value
        .map(Operand::Int)
        .ok_or_else(|| format!("{text} overflows int"))
}

fn char_constant(text: &str) -> Result<Operand, String> {
    let body = &text[1..text.len() - 1];
    let unquoted = unquote(body)?;
    let mut chars = unquoted.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(Operand::Int(i64::from(u32::from(c)))),
        _ => Err(format!("malformed character constant: {text}")),
    }
}
