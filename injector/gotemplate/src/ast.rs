//! The parsed form of a template. Variables are resolved to stack slots and
//! functions to their implementations at parse time, so execution does no
//! name lookups.

use crate::funcs::FuncRef;

/// Source byte range of a node, for error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Loc {
    pub pos: usize,
    pub end: usize,
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(Box<str>),
    /// `{{pipeline}}`: printed unless it declares or assigns variables.
    Action(Pipe),
    If(Box<Branch>),
    With(Box<Branch>),
    Range(Box<Branch>),
    /// `{{template "name" pipeline}}`
    Template {
        name: Box<str>,
        arg: Option<Pipe>,
        loc: Loc,
    },
    Break,
    Continue,
}

/// `if`, `with` or `range`: the pipeline, the body, and the `else` part
/// (which holds a nested `if`/`with` for `else if`/`else with`).
#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub loc: Loc,
    /// Variable slots declared (`:=`) or assigned (`=`) by this pipeline.
    pub vars: Vec<usize>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub(crate) struct Cmd {
    pub loc: Loc,
    pub args: Vec<Arg>,
}

#[derive(Debug)]
pub(crate) struct Arg {
    pub loc: Loc,
    pub op: Operand,
    /// How many variables a parenthesized pipeline in it declares: `and`
    /// and `or` reserve their slots when they skip it.
    pub declares: usize,
}

#[derive(Debug)]
pub(crate) enum Operand {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
    /// `.A.B`: fields of dot.
    Field(Box<[Box<str>]>),
    /// `$x.A.B`: a variable's slot, then fields.
    Var(usize, Box<[Box<str>]>),
    Func(Box<str>, FuncRef),
    /// `(pipeline).A.B`
    Pipe(Box<Pipe>, Box<[Box<str>]>),
}
