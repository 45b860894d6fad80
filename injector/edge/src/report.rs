//! Printing a third-party error whole.
//!
//! Our error types carry every message in their own `Display`, so each is
//! printed once, with no source chain to walk. Some libraries' errors say
//! little themselves ("transport error") and keep the cause in their
//! `source()` chain; [`Chain`] prints such an error with its causes, for
//! use inside our messages.

use std::error::Error;
use std::fmt;

/// `error: cause: cause...`, leaving out a cause whose message the text so
/// far already holds (wrappers that repeat their source).
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let message = error.to_string();
            if !text.contains(&message) {
                text.push_str(": ");
                text.push_str(&message);
            }
            cause = error.source();
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("transport error")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn prints_causes_once() {
        let error = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            Chain(&error).to_string(),
            "transport error: connection refused"
        );
        let repeated = std::io::Error::other(Outer(std::io::Error::other("transport error")));
        assert_eq!(Chain(&repeated).to_string(), "transport error");
    }
}
