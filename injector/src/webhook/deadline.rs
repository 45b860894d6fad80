//! How long one admission may take. kube-apiserver appends its webhook
//! timeout to the URL (`/inject?timeout=10s`: the webhook's
//! `timeoutSeconds`, 10 by default, at most 30) and gives up on the call
//! after it. The injector answers within a tenth less than that, so a slow
//! admission fails with the injector's own reason, in time for the API
//! server to apply the webhook's `failurePolicy` with it, rather than as a
//! bare "context deadline exceeded". `--request-timeout` caps it too.

use std::fmt;
use std::time::Duration;

use edge::duration::parse_go;

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
            .and_then(parse_go);
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

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(10);

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
