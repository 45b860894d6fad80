//! Logging to stderr (stdout carries the dry run's rules), with the level
//! taken from Istio's `--log_output_level` option.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::LevelFilter;

/// The level of Istio's `default` scope, the only one this program logs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel(pub LevelFilter);

impl FromStr for LogLevel {
    type Err = String;
    /// `default:info`, `all:debug,ads:warn`, or a bare `warn`; a scope list
    /// without `default` or `all` keeps the default level, info.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut level = LevelFilter::INFO;
        for item in text.split(',').filter(|i| !i.is_empty()) {
            let (scope, name) = item.split_once(':').unwrap_or(("default", item));
            let parsed = match name {
                "debug" => LevelFilter::DEBUG,
                "info" => LevelFilter::INFO,
                "warn" => LevelFilter::WARN,
                "error" | "fatal" => LevelFilter::ERROR,
                "none" => LevelFilter::OFF,
                _ => {
                    return Err(format!(
                        "{name:?} is not a log level (debug, info, warn, error, fatal, none)"
                    ));
                }
            };
            if scope == "default" || scope == "all" {
                level = parsed;
            }
        }
        Ok(LogLevel(level))
    }
}

/// Installs the subscriber; called once, by `main`.
pub fn init(level: LogLevel, json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(level.0)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istio_scoped_levels() {
        let level = |s: &str| s.parse::<LogLevel>().map(|l| l.0);
        assert_eq!(level("default:debug"), Ok(LevelFilter::DEBUG));
        assert_eq!(level("warn"), Ok(LevelFilter::WARN));
        assert_eq!(level("ads:debug,all:error"), Ok(LevelFilter::ERROR));
        assert_eq!(level("ads:debug"), Ok(LevelFilter::INFO));
        assert_eq!(level("default:none"), Ok(LevelFilter::OFF));
        assert!(level("default:loud").is_err());
    }
}
