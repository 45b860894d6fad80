//! The executor: walks a parsed tree over the data, writing text and the
//! taint of every byte into one buffer.

use crate::ast::{Arg, Branch, Cmd, Loc, Node, Operand, Pipe};
use crate::format;
use crate::funcs::FuncRef;
use crate::taint::StrBuf;
use crate::template::Template;
use crate::value::Value;

/// How deeply bodies (of `if`, `range`, `template`...) may nest while
/// running: template recursion ends here instead of exhausting the stack.
const MAX_DEPTH: usize = 300;

/// The most output one execution may produce: a loop cannot exhaust memory.
const MAX_OUTPUT: usize = 64 << 20;

/// Where and why execution failed; `executing` is filled in by the
/// innermost `template` call the error leaves.
pub(crate) struct Fail<'t> {
    pub loc: Loc,
    pub message: String,
    pub executing: Option<&'t str>,
}

fn fail<'t>(loc: Loc, message: impl Into<String>) -> Fail<'t> {
    Fail {
        loc,
        message: message.into(),
        executing: None,
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'a> {
    template: &'a Template,
    pub out: StrBuf,
    /// The variable stack; a tree's slot `n` is `vars[base + n]`.
    vars: Vec<Value<'a>>,
    base: usize,
    /// Arguments of function calls in progress.
    args: Vec<Value<'a>>,
    depth: usize,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(template: &'a Template, capacity: usize) -> Self {
        Self {
            template,
            out: StrBuf::with_capacity(capacity),
            vars: Vec::with_capacity(16),
            base: 0,
            args: Vec::with_capacity(16),
            depth: 0,
        }
    }

    /// Runs a tree with `data` as both `.` and `$`.
    pub(crate) fn run(&mut self, nodes: &'a [Node], data: &Value<'a>) -> Result<(), Fail<'a>> {
        self.vars.push(data.clone());
        self.walk(nodes, data).map(|_| ())
    }

    fn walk(&mut self, nodes: &'a [Node], dot: &Value<'a>) -> Result<Flow, Fail<'a>> {
        for node in nodes {
            let flow = match node {
                Node::Text(text) => {
                    self.out.push_str(text);
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.pipe(pipe, dot)?;
                    if pipe.vars.is_empty() {
                        self.print(&v);
                    }
                    Flow::Normal
                }
                Node::If(branch) => self.branch(branch, dot, false)?,
                Node::With(branch) => self.branch(branch, dot, true)?,
                Node::Range(branch) => self.range(branch, dot)?,
                Node::Template { name, arg, loc } => {
                    self.template(name, arg.as_ref(), *loc, dot)?
                }
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    /// Prints an action's value: no value (and nil) as `<no value>`, the
    /// rest as `%v`.
    fn print(&mut self, v: &Value<'a>) {
        match v {
            Value::Missing | Value::Nil => self.out.push_str("<no value>"),
            Value::Str(s) => self.out.push(s),
            other => format::write_value(&mut self.out, other),
        }
    }

    fn enter(&mut self, loc: Loc) -> Result<(), Fail<'a>> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(fail(
                loc,
                format!("exceeded maximum template depth ({MAX_DEPTH})"),
            ))
        } else {
            Ok(())
        }
    }

    /// `if` (or `with`, which also moves dot).
    fn branch(
        &mut self,
        branch: &'a Branch,
        dot: &Value<'a>,
        with: bool,
    ) -> Result<Flow, Fail<'a>> {
        self.enter(branch.pipe.loc)?;
        let mark = self.vars.len();
        let v = self.pipe(&branch.pipe, dot)?;
        let flow = if v.is_true() {
            self.walk(&branch.body, if with { &v } else { dot })?
        } else {
            self.walk(&branch.otherwise, dot)?
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(flow)
    }

    fn range(&mut self, branch: &'a Branch, dot: &Value<'a>) -> Result<Flow, Fail<'a>> {
        self.enter(branch.pipe.loc)?;
        let mark = self.vars.len();
        let v = self.commands(&branch.pipe, dot)?;
        if !branch.pipe.assign {
            // As in Go, the variables start out holding the whole value.
            for _ in &branch.pipe.vars {
                self.vars.push(v.clone());
            }
        }
        let inner = self.vars.len();
        let mut ran = false;
        let loc = branch.pipe.loc;
        match &v {
            Value::Int(n) => {
                if branch.pipe.vars.len() > 1 {
                    return Err(fail(
                        loc,
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                for i in 0..*n {
                    ran = true;
                    if self.iteration(branch, Value::Int(i), Value::Int(i), inner)? {
                        break;
                    }
                }
            }
            Value::Missing | Value::Nil | Value::Zero => {}
            _ => {
                if let Some(items) = v.list_items() {
                    for (i, item) in items.enumerate() {
                        ran = true;
                        if self.iteration(
                            branch,
                            Value::Int(i64::try_from(i).unwrap_or(i64::MAX)),
                            item,
                            inner,
                        )? {
                            break;
                        }
                    }
                } else if let Some(entries) = v.map_entries() {
                    for (key, item) in entries {
                        ran = true;
                        if self.iteration(branch, Value::Str(key), item, inner)? {
                            break;
                        }
                    }
                } else if !matches!(&v, Value::Json(j) if j.node.is_none()) {
                    return Err(fail(
                        loc,
                        format!("range can't iterate over {}", describe(&v)),
                    ));
                }
            }
        }
        if !ran {
            self.walk(&branch.otherwise, dot)?;
        }
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Flow::Normal)
    }

    /// One pass of a range body; true if it broke out.
    fn iteration(
        &mut self,
        branch: &'a Branch,
        index: Value<'a>,
        elem: Value<'a>,
        inner: usize,
    ) -> Result<bool, Fail<'a>> {
        let loc = branch.pipe.loc;
        match branch.pipe.vars.as_slice() {
            [] => {}
            [one] => *self.var(*one, loc)? = elem.clone(),
            [i, e, ..] => {
                *self.var(*i, loc)? = index;
                *self.var(*e, loc)? = elem.clone();
            }
        }
        if self.out.len() > MAX_OUTPUT {
            return Err(fail(loc, format!("output exceeds {MAX_OUTPUT} bytes")));
        }
        let flow = self.walk(&branch.body, &elem)?;
        self.vars.truncate(inner);
        Ok(matches!(flow, Flow::Break))
    }

    fn template(
        &mut self,
        name: &'a str,
        arg: Option<&'a Pipe>,
        loc: Loc,
        dot: &Value<'a>,
    ) -> Result<Flow, Fail<'a>> {
        let Some((name, body)) = self.template.define(name) else {
            return Err(fail(loc, format!("template {name:?} not defined")));
        };
        self.enter(loc)?;
        let v = match arg {
            Some(pipe) => self.pipe(pipe, dot)?,
            None => Value::Missing,
        };
        let base = self.base;
        self.base = self.vars.len();
        self.vars.push(v.clone());
        let result = self.walk(body, &v);
        self.vars.truncate(self.base);
        self.base = base;
        self.depth -= 1;
        result.map_err(|mut f| {
            f.executing.get_or_insert(name);
            f
        })?;
        Ok(Flow::Normal)
    }

    /// A pipeline's value, declaring or assigning its variables.
    fn pipe(&mut self, pipe: &'a Pipe, dot: &Value<'a>) -> Result<Value<'a>, Fail<'a>> {
        let v = self.commands(pipe, dot)?;
        if pipe.assign {
            for slot in &pipe.vars {
                *self.var(*slot, pipe.loc)? = v.clone();
            }
        } else {
            for _ in &pipe.vars {
                self.vars.push(v.clone());
            }
        }
        Ok(v)
    }

    /// A pipeline's commands, each one's value passed to the next as its
    /// last argument.
    fn commands(&mut self, pipe: &'a Pipe, dot: &Value<'a>) -> Result<Value<'a>, Fail<'a>> {
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(cmd, dot, value)?);
        }
        Ok(value.unwrap_or(Value::Missing))
    }

    fn command(
        &mut self,
        cmd: &'a Cmd,
        dot: &Value<'a>,
        piped: Option<Value<'a>>,
    ) -> Result<Value<'a>, Fail<'a>> {
        let first = &cmd.args[0];
        if let Operand::Func(name, f) = &first.op {
            return self.call(name, f, &cmd.args[1..], dot, piped, cmd.loc);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            let message = match &first.op {
                Operand::Field(chain) | Operand::Var(_, chain) | Operand::Pipe(_, chain)
                    if !chain.is_empty() =>
                {
                    format!(
                        "{} is not a method but has arguments",
                        chain[chain.len() - 1]
                    )
                }
                _ => format!(
                    "can't give argument to non-function {}",
                    self.template.snippet(first.loc)
                ),
            };
            return Err(fail(first.loc, message));
        }
        if let Operand::Nil = first.op {
            return Err(fail(first.loc, "nil is not a command"));
        }
        self.arg(first, dot)
    }

    fn arg(&mut self, arg: &'a Arg, dot: &Value<'a>) -> Result<Value<'a>, Fail<'a>> {
        let (v, chain) = match &arg.op {
            Operand::Dot => return Ok(dot.clone()),
            Operand::Nil => return Ok(Value::Nil),
            Operand::Bool(b) => return Ok(Value::Bool(*b)),
            Operand::Int(i) => return Ok(Value::Int(*i)),
            Operand::Float(f) => return Ok(Value::Float(*f)),
            Operand::Str(s) => return Ok(Value::str(s)),
            Operand::Func(name, f) => return self.call(name, f, &[], dot, None, arg.loc),
            Operand::Field(chain) => (dot.clone(), chain),
            Operand::Var(slot, chain) => (self.var(*slot, arg.loc)?.clone(), chain),
            Operand::Pipe(pipe, chain) => (self.pipe(pipe, dot)?, chain),
        };
        chain
            .iter()
            .try_fold(v, |v, name| v.field(name).map_err(|m| fail(arg.loc, m)))
    }

    /// A variable's slot (always there for a parsed tree; checked anyway).
    fn var(&mut self, slot: usize, loc: Loc) -> Result<&mut Value<'a>, Fail<'a>> {
        self.vars
            .get_mut(self.base + slot)
            .ok_or_else(|| fail(loc, "undefined variable"))
    }

    fn call(
        &mut self,
        name: &str,
        f: &'a FuncRef,
        args: &'a [Arg],
        dot: &Value<'a>,
        piped: Option<Value<'a>>,
        loc: Loc,
    ) -> Result<Value<'a>, Fail<'a>> {
        match f {
            FuncRef::And | FuncRef::Or => {
                if args.is_empty() && piped.is_none() {
                    return Err(fail(
                        loc,
                        format!("wrong number of args for {name}: want at least 1 got 0"),
                    ));
                }
                // Short-circuit: the first false (and) or true (or) operand, else the last.
                let stop_at = matches!(f, FuncRef::Or);
                let mut last = Value::Missing;
                for (i, arg) in args.iter().enumerate() {
                    last = self.arg(arg, dot)?;
                    if last.is_true() == stop_at {
                        // Variables the skipped operands would declare stay "no value".
                        let skipped: usize = args[i + 1..].iter().map(|a| a.declares).sum();
                        self.vars
                            .extend(std::iter::repeat_n(Value::Missing, skipped));
                        return Ok(last);
                    }
                }
                Ok(piped.unwrap_or(last))
            }
            FuncRef::Native(func) => {
                let start = self.args.len();
                for arg in args {
                    let v = self.arg(arg, dot)?;
                    // A function receives "no value" as nil, as Go passes it.
                    self.args.push(if matches!(v, Value::Missing) {
                        Value::Nil
                    } else {
                        v
                    });
                }
                if let Some(v) = piped {
                    self.args.push(if matches!(v, Value::Missing) {
                        Value::Nil
                    } else {
                        v
                    });
                }
                let result = func.call(&self.args[start..]);
                self.args.truncate(start);
                result.map_err(|e| fail(loc, format!("error calling {name}: {e}")))
            }
        }
    }
}

fn describe(v: &Value<'_>) -> String {
    let mut out = StrBuf::new();
    format::write_value(&mut out, v);
    out.as_str().to_owned()
}
