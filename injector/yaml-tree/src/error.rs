//! Why a text was not read, and where.
//!
//! The variants tell a caller what to do next: [`Error::Unsupported`] means
//! "valid YAML, perhaps, but outside this reader's subset: ask a full parser";
//! every other variant means the text is wrong and a full parser would refuse
//! it too (or, for [`Error::Limit`], that it is too big to be worth reading).

/// An error with its 1-based line and column (in characters) in the source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not YAML.
    #[error("line {line}, column {col}: {message}")]
    Syntax {
        line: usize,
        col: usize,
        message: &'static str,
    },
    /// The text uses YAML this reader leaves to a full parser.
    #[error("line {line}, column {col}: {what} is outside the YAML subset this reader supports")]
    Unsupported {
        line: usize,
        col: usize,
        what: &'static str,
    },
    /// A mapping has the same key twice.
    #[error("line {line}, column {col}: duplicate mapping key {key:?}")]
    DuplicateKey {
        line: usize,
        col: usize,
        key: String,
    },
    /// The YAML is valid but its value cannot be written as JSON.
    #[error("line {line}, column {col}: {what} has no JSON form")]
    NotJson {
        line: usize,
        col: usize,
        what: &'static str,
    },
    /// The text exceeds a limit set against hostile input.
    #[error("line {line}, column {col}: more than {limit} {what}")]
    Limit {
        line: usize,
        col: usize,
        what: &'static str,
        limit: usize,
    },
}

impl Error {
    /// The 1-based line of the error.
    pub fn line(&self) -> usize {
        match self {
            Self::Syntax { line, .. }
            | Self::Unsupported { line, .. }
            | Self::DuplicateKey { line, .. }
            | Self::NotJson { line, .. }
            | Self::Limit { line, .. } => *line,
        }
    }

    /// The 1-based column of the error, in characters.
    pub fn col(&self) -> usize {
        match self {
            Self::Syntax { col, .. }
            | Self::Unsupported { col, .. }
            | Self::DuplicateKey { col, .. }
            | Self::NotJson { col, .. }
            | Self::Limit { col, .. } => *col,
        }
    }
}

/// What went wrong, before it is placed on a line and column.
///
/// The parser works in byte offsets; turning one into a line and column costs
/// a scan of the text, paid once, when the error leaves the crate.
#[derive(Debug)]
pub(crate) enum Fault {
    Syntax(&'static str),
    Unsupported(&'static str),
    DuplicateKey(String),
    NotJson(&'static str),
    Limit(&'static str, usize),
}

/// A [`Fault`] at a byte offset.
#[derive(Debug)]
pub(crate) struct Located {
    pub(crate) at: usize,
    pub(crate) fault: Fault,
}

pub(crate) type Result<T> = std::result::Result<T, Located>;

pub(crate) fn syntax<T>(at: usize, message: &'static str) -> Result<T> {
    Err(Located {
        at,
        fault: Fault::Syntax(message),
    })
}

pub(crate) fn unsupported<T>(at: usize, what: &'static str) -> Result<T> {
    Err(Located {
        at,
        fault: Fault::Unsupported(what),
    })
}

pub(crate) fn not_json<T>(at: usize, what: &'static str) -> Result<T> {
    Err(Located {
        at,
        fault: Fault::NotJson(what),
    })
}

pub(crate) fn limit<T>(at: usize, what: &'static str, limit: usize) -> Result<T> {
    Err(Located {
        at,
        fault: Fault::Limit(what, limit),
    })
}

impl Located {
    /// Places the fault on its line and column in `src`.
    pub(crate) fn locate(self, src: &str) -> Error {
        let at = floor_char_boundary(src, self.at.min(src.len()));
        let before = &src[..at];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        match self.fault {
            Fault::Syntax(message) => Error::Syntax { line, col, message },
            Fault::Unsupported(what) => Error::Unsupported { line, col, what },
            Fault::DuplicateKey(key) => Error::DuplicateKey { line, col, key },
            Fault::NotJson(what) => Error::NotJson { line, col, what },
            Fault::Limit(what, limit) => Error::Limit {
                line,
                col,
                what,
                limit,
            },
        }
    }
}

fn floor_char_boundary(src: &str, mut at: usize) -> usize {
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    at
}
