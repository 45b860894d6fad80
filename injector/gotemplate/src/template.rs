//! A parsed template: compiled once, executed many times, shareable
//! between threads.

use std::collections::HashMap;

use crate::ast::{Loc, Node};
use crate::error::{Error, line_col};
use crate::exec::{Exec, Fail};
use crate::funcs::Funcs;
use crate::parse::parse;
use crate::taint::Span;
use crate::value::Value;

/// A template and the templates it `define`s. Immutable once parsed, so
/// `Send + Sync`: parse it once per configuration, execute it per request.
#[derive(Debug)]
pub struct Template {
    name: String,
    source: String,
    main: Vec<Node>,
    defines: HashMap<String, Vec<Node>>,
}

/// What a template produced: the text, and the byte ranges of it that came
/// from tainted data (sorted, not overlapping) with their origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub taint: Vec<Span>,
}

impl Template {
    /// Parses `source` under `name` (the name errors report), resolving
    /// function names against `funcs`: an unknown function is an error.
    pub fn parse(name: &str, source: &str, funcs: &Funcs) -> Result<Self, Error> {
        let parsed = parse(source, funcs).map_err(|e| e.named(name))?;
        Ok(Self {
            name: name.to_owned(),
            source: source.to_owned(),
            main: parsed.main,
            defines: parsed.defines.into_iter().collect(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The names of the templates `define`d (or `block`ed) in the source.
    pub fn defined(&self) -> impl Iterator<Item = &str> {
        self.defines.keys().map(String::as_str)
    }

    /// Executes the template with `data` as `.` and `$`.
    pub fn execute<'a>(&'a self, data: &Value<'a>) -> Result<Rendered, Error> {
        self.run(&self.name, &self.main, data)
    }

    /// Executes a template `define`d in the source.
    pub fn execute_defined<'a>(&'a self, name: &str, data: &Value<'a>) -> Result<Rendered, Error> {
        let Some((name, body)) = self.define(name) else {
            return Err(Error::Exec {
                template: self.name.clone(),
                executing: self.name.clone(),
                line: 1,
                col: 0,
                context: String::new(),
                message: format!("no template {name:?} defined"),
            });
        };
        self.run(name, body, data)
    }

    fn run<'a>(
        &'a self,
        executing: &str,
        body: &'a [Node],
        data: &Value<'a>,
    ) -> Result<Rendered, Error> {
        let mut exec = Exec::new(self, self.source.len());
        exec.run(body, data)
            .map_err(|f| self.exec_error(executing, f))?;
        let (text, taint) = exec.out.into_parts();
        Ok(Rendered { text, taint })
    }

    pub(crate) fn define(&self, name: &str) -> Option<(&str, &[Node])> {
        self.defines
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The source of a node, for messages (shortened like Go's).
    pub(crate) fn snippet(&self, loc: Loc) -> String {
        let text = self.source.get(loc.pos..loc.end).unwrap_or("").trim();
        let text = text
            .strip_suffix("}}")
            .unwrap_or(text)
            .trim_end_matches([' ', '-'])
            .trim();
        match text.char_indices().nth(40) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text.to_owned(),
        }
    }

    fn exec_error(&self, executing: &str, f: Fail<'_>) -> Error {
        let (line, col) = line_col(&self.source, f.loc.pos);
        Error::Exec {
            template: self.name.clone(),
            executing: f.executing.unwrap_or(executing).to_owned(),
            line,
            col,
            context: self.snippet(f.loc),
            message: f.message,
        }
    }
}
