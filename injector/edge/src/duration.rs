//! Durations on the command line, as both binaries take them.

use std::time::Duration;

/// Parses a duration as Go writes it (`500ms`, `10s`, `2m`, `1m30s`), or a
/// bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let not_a_duration = || format!("{text:?} is not a duration (examples: 500ms, 10s, 2m)");
    match text.parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}")),
        Err(_) => parse_go(text).ok_or_else(not_a_duration),
    }
}

/// A Go `time.Duration` as `String()` writes it and `ParseDuration` reads
/// it: `10s`, `1m0s`, `1.5s`, `300ms` (kube-apiserver's `?timeout=`).
pub fn parse_go(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = 0.0_f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, tail) = rest.split_at(number_end);
        let number: f64 = number.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn reads_go_durations() {
        assert_eq!(parse_go("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_go("1m0s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_go("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go("300ms"), Some(Duration::from_millis(300)));
        for bad in ["", "10", "s", "10x", "-1s"] {
            assert_eq!(parse_go(bad), None, "{bad:?}");
        }
    }
}
