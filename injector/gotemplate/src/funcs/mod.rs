//! Functions callable from templates: Go's builtins, sprig's, and the
//! caller's own, all behind one registration API.
//!
//! A function takes its (already evaluated) arguments as a slice of values
//! and returns a value or an error message; it may be variadic and may take
//! and return any kind of value. Later registrations replace earlier ones of
//! the same name, as `Funcs(...).Funcs(...)` does in Go (Istio's `indent`,
//! `toYaml`, `contains` replace sprig's).

mod builtin;
pub(crate) mod compare;
mod sprig;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::error::FuncError;
use crate::taint::Str;
use crate::value::Value;

/// A template function.
pub trait Function: Send + Sync {
    fn call<'a>(&self, args: &[Value<'a>]) -> Result<Value<'a>, FuncError>;
}

impl<F> Function for F
where
    F: for<'a> Fn(&[Value<'a>]) -> Result<Value<'a>, FuncError> + Send + Sync,
{
    fn call<'a>(&self, args: &[Value<'a>]) -> Result<Value<'a>, FuncError> {
        self(args)
    }
}

/// A function as the parser resolved it. `and` and `or` are evaluated by
/// the executor, which skips the operands they do not need.
#[derive(Clone)]
pub(crate) enum FuncRef {
    And,
    Or,
    Native(Arc<dyn Function>),
}

impl fmt::Debug for FuncRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FuncRef::And => f.write_str("and"),
            FuncRef::Or => f.write_str("or"),
            FuncRef::Native(_) => f.write_str("<function>"),
        }
    }
}

/// A set of named functions, used when parsing (names are resolved then;
/// an unknown one is a parse error, as in Go).
#[derive(Clone)]
pub struct Funcs {
    map: HashMap<String, FuncRef>,
}

impl Default for Funcs {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Funcs {
    /// Go's predefined functions only (`and`, `index`, `printf`, `eq`...).
    pub fn builtin() -> Self {
        let mut funcs = Self {
            map: HashMap::new(),
        };
        funcs.map.insert("and".into(), FuncRef::And);
        funcs.map.insert("or".into(), FuncRef::Or);
        builtin::register(&mut funcs);
        funcs
    }

    /// Go's builtins plus sprig's text functions (`sprig.TxtFuncMap()`), as
    /// far as this crate implements them (see the crate docs).
    pub fn with_sprig() -> Self {
        let mut funcs = Self::builtin();
        sprig::register(&mut funcs);
        funcs
    }

    /// Registers (or replaces) a function.
    pub fn insert<F>(&mut self, name: &str, f: F) -> &mut Self
    where
        F: for<'a> Fn(&[Value<'a>]) -> Result<Value<'a>, FuncError> + Send + Sync + 'static,
    {
        self.map
            .insert(name.to_owned(), FuncRef::Native(Arc::new(f)));
        self
    }

    /// Registers (or replaces) a function given as a trait object.
    pub fn insert_function(&mut self, name: &str, f: Arc<dyn Function>) -> &mut Self {
        self.map.insert(name.to_owned(), FuncRef::Native(f));
        self
    }

    /// Registers `name` as another name of the function `existing` (if any).
    pub fn alias(&mut self, name: &str, existing: &str) -> &mut Self {
        if let Some(f) = self.map.get(existing).cloned() {
            self.map.insert(name.to_owned(), f);
        }
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<FuncRef> {
        self.map.get(name).cloned()
    }
}

/// Helpers for reading a function's arguments with Go-like checks and
/// messages.
pub trait ArgsExt<'a> {
    /// Exactly `n` arguments.
    fn exact(&self, n: usize) -> Result<(), FuncError>;
    /// At least `n` arguments.
    fn at_least(&self, n: usize) -> Result<(), FuncError>;
    /// Argument `i` as a string (Go's `string` parameter: anything else is
    /// an error).
    fn string(&self, i: usize) -> Result<Str<'a>, FuncError>;
    /// Argument `i` as an int (Go's `int` parameter; an integral float, as
    /// JSON numbers are, is accepted).
    fn int(&self, i: usize) -> Result<i64, FuncError>;
    /// Argument `i`, or no value.
    fn arg(&self, i: usize) -> Value<'a>;
}

impl<'a> ArgsExt<'a> for [Value<'a>] {
    fn exact(&self, n: usize) -> Result<(), FuncError> {
        if self.len() == n {
            Ok(())
        } else {
            Err(FuncError(format!(
                "wrong number of args: want {n} got {}",
                self.len()
            )))
        }
    }

    fn at_least(&self, n: usize) -> Result<(), FuncError> {
        if self.len() >= n {
            Ok(())
        } else {
            Err(FuncError(format!(
                "wrong number of args: want at least {n} got {}",
                self.len()
            )))
        }
    }

    fn string(&self, i: usize) -> Result<Str<'a>, FuncError> {
        match self.get(i) {
            None => Err(FuncError(format!("missing argument {}", i + 1))),
            Some(v) if v.is_nil() => Err(FuncError("invalid value; expected string".into())),
            Some(v) => v.as_str().ok_or_else(|| {
                FuncError(format!(
                    "wrong type for value; expected string; got {}",
                    v.type_name()
                ))
            }),
        }
    }

    fn int(&self, i: usize) -> Result<i64, FuncError> {
        match self.get(i) {
            None => Err(FuncError(format!("missing argument {}", i + 1))),
            Some(Value::Int(n)) => Ok(*n),
            Some(Value::Zero) => Ok(0),
            #[allow(clippy::cast_possible_truncation)]
            Some(Value::Float(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
            Some(v) => Err(FuncError(format!(
                "wrong type for value; expected int; got {}",
                v.type_name()
            ))),
        }
    }

    fn arg(&self, i: usize) -> Value<'a> {
        self.get(i).cloned().unwrap_or(Value::Missing)
    }
}
