//! Errors, worded as Go's: `template: NAME:LINE:COL: ...`.

/// A template failed to parse or to execute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("template: {template}:{line}:{col}: {message}")]
    Parse {
        template: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// `executing` names the (possibly `define`d) template running, `context`
    /// the expression that failed, as written.
    #[error(
        "template: {template}:{line}:{col}: executing \"{executing}\" at <{context}>: {message}"
    )]
    Exec {
        template: String,
        executing: String,
        line: usize,
        col: usize,
        context: String,
        message: String,
    },
}

/// The 1-based line and 0-based byte column (as Go reports them) of `pos`.
pub(crate) fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = src.get(..pos).unwrap_or(src);
    let line = 1 + before.bytes().filter(|b| *b == b'\n').count();
    let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
    (line, col)
}

/// A parse error before it knows the template's name.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn at(src: &str, pos: usize, message: impl Into<String>) -> Self {
        let (line, col) = line_col(src, pos);
        Self {
            line,
            col,
            message: message.into(),
        }
    }

    pub(crate) fn named(self, template: &str) -> Error {
        Error::Parse {
            template: template.to_owned(),
            line: self.line,
            col: self.col,
            message: self.message,
        }
    }
}

/// A function's failure, as its message; the executor adds where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FuncError(pub String);

impl FuncError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<String> for FuncError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for FuncError {
    fn from(message: &str) -> Self {
        Self(message.to_owned())
    }
}
