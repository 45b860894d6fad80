//! How long one admission may take. kube-apiserver appends its webhook
//! timeout to the URL (`/inject?timeout=10s`: the webhook's
//! `timeoutSeconds`, 10 by default, at most 30) and gives up on the call
//! after it. The injector answers within a tenth less than that, so a slow
//! admission fails with the injector's own reason, in time for the API
//! server to apply the webhook's `failurePolicy` with it, rather than as a
//! bare "context deadline exceeded". `--request-timeout` caps it too.

use std::fmt;
use std::time::Duration;

/// The time budget of one request and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub budget: Duration,
    /// The API server's timeout, when it set the budget.
    pub apiserver: Option<Duration>,
}

impl Deadline {
    /// The budget for a request whose query is `query`, under
    /// `--request-timeout` `cap`. A `timeout` that does not parse is
    /// ignored: the cap still holds.
    pub fn for_query(query: Option<&str>, cap: Duration) -> Deadline {
        let apiserver = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("timeout="))
            .and_then(parse_go_duration);
        match apiserver {
            Some(timeout) if timeout - timeout / 10 < cap => Deadline {
                budget: timeout - timeout / 10,
                apiserver: Some(timeout),
            },
            _ => Deadline {
                budget: cap,
                apiserver: None,
            },
        }
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.apiserver {
            Some(timeout) => write!(
                f,
                "{:?} (kube-apiserver's timeout of {timeout:?} less a tenth)",
                self.budget
            ),
            None => write!(f, "{:?} (--request-timeout)", self.budget),
        }
    }
}

/// A Go `time.Duration` as `String()` writes it and `ParseDuration` reads
/// it: `10s`, `1m0s`, `1.5s`, `300ms`.
fn parse_go_duration(text: &str) -> Option<Duration> {
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

    const CAP: Duration = Duration::from_secs(10);

    #[test]
    fn reads_go_durations() {
        assert_eq!(parse_go_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("1m0s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        for bad in ["", "10", "s", "10x", "-1s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_api_servers_timeout_less_a_tenth_under_the_cap() {
        let d = Deadline::for_query(Some("timeout=5s"), CAP);
        assert_eq!(d.budget, Duration::from_millis(4500));
        assert_eq!(
            d.to_string(),
            "4.5s (kube-apiserver's timeout of 5s less a tenth)"
        );
        // kube-apiserver's default: 9s, under the 10s cap.
        let d = Deadline::for_query(Some("x=1&timeout=10s"), CAP);
        assert_eq!(d.budget, Duration::from_secs(9));
        // Its maximum: the cap wins.
        let d = Deadline::for_query(Some("timeout=30s"), CAP);
        assert_eq!((d.budget, d.apiserver), (CAP, None));
        assert_eq!(d.to_string(), "10s (--request-timeout)");
        assert_eq!(Deadline::for_query(None, CAP).budget, CAP);
        assert_eq!(Deadline::for_query(Some("timeout=soon"), CAP).budget, CAP);
    }
}
