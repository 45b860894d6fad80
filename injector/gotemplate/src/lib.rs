//! Go's `text/template`, with sprig, for Rust: parse once, execute over
//! borrowed JSON, and learn which output bytes came from untrusted strings.
//!
//! (Full documentation is being written.)

mod ast;
mod encode;
mod error;
mod exec;
mod format;
mod funcs;
mod kind;
mod lex;
mod parse;
mod taint;
mod template;
mod value;

pub use encode::{JsonStyle, to_json, to_yaml, write_json, write_yaml};
pub use error::{Error, FuncError};
pub use format::{sprint, sprintf, write_value};
pub use funcs::{ArgsExt, Funcs, Function};
pub use kind::{EnumDef, FieldDef, Kind, StructDef};
pub use taint::{Origin, Span, Str, StrBuf, Taint, locate};
pub use template::{Rendered, Template};
pub use value::{Json, List, ListItems, Map, Record, Value};
