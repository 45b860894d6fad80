//! Whether the proxy runs as a native sidecar: the cluster-wide mode and,
//! in `auto`, the rule that reads it off the cluster's versions.
//!
//! A native sidecar is an init container with `restartPolicy: Always`. An
//! API server without the `SidecarContainers` feature drops that field and
//! then refuses the pod (an init container may not have a lifecycle or
//! probes without it); a kubelet without the feature runs the proxy as an
//! init container that never completes, so the pod never starts. Sidecar
//! containers are beta and on by default from Kubernetes 1.29 and GA (the
//! gate locked on) in 1.33. Before 1.33 a cluster may have turned the gate
//! off on any component, and nothing we can read says so; from 1.33 on it
//! cannot. So `auto` chooses native sidecars only when the API server and
//! every node's kubelet are 1.33 or later, as Istio's
//! `ENABLE_NATIVE_SIDECARS=auto` does for kubelets (`DetectNativeSidecar`).
//! Kubelets may lag the API server by up to three minor versions, so both
//! are read. Like Istio, a cluster with no nodes yet does not hold native
//! sidecars back: the first node to join with an older kubelet turns them
//! off. Everything else unknown (no cluster to ask, a version that does not
//! parse) gives the classic sidecar, which every API server accepts.

use std::fmt;
use std::str::FromStr;

use injector_engine::config::ClusterFacts;

/// The cluster-wide choice, as `--native-sidecars` takes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Always native sidecars.
    True,
    /// Always classic sidecars.
    False,
    /// Native sidecars when the cluster runs them (see the module docs).
    #[default]
    Auto,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::True => "true",
            Mode::False => "false",
            Mode::Auto => "auto",
        })
    }
}

/// A Kubernetes version's major and minor, read from a `gitVersion` or a
/// kubelet version as providers write them: `v1.28.3`, `v1.28.3-gke.1`,
/// `v1.33.0+k3s1`, `1.30.2-eks-1234`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeVersion {
    pub major: u64,
    pub minor: u64,
}

/// The first version where every component runs sidecar containers.
pub const NATIVE_SINCE: KubeVersion = KubeVersion {
    major: 1,
    minor: 33,
};

impl FromStr for KubeVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let not_a_version = || format!("{text:?} is not a Kubernetes version");
        let trimmed = text.trim();
        let core = trimmed.strip_prefix('v').unwrap_or(trimmed);
        let mut parts = core.split('.');
        // The minor may carry a provider's suffix (`28+`, `33-eks`).
        let mut number = |whole: bool| {
            let part = parts.next()?;
            let digits: &str = &part[..part
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(part.len())];
            if digits.is_empty() || (whole && digits.len() != part.len()) {
                return None;
            }
            digits.parse::<u64>().ok()
        };
        let major = number(true).ok_or_else(not_a_version)?;
        let minor = number(false).ok_or_else(not_a_version)?;
        Ok(KubeVersion { major, minor })
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a cluster says about its versions: the API server's `gitVersion`
/// (from `/version`) and each node's name and
/// `status.nodeInfo.kubeletVersion`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterVersions {
    pub api_server: String,
    pub nodes: Vec<(String, String)>,
}

/// The outcome: native sidecars or not, and why, in words for `status`
/// and the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub mode: Mode,
    pub native_sidecars: bool,
    pub reason: String,
}

impl Decision {
    /// What the engine renders with.
    pub fn facts(&self) -> ClusterFacts {
        ClusterFacts {
            native_sidecars: self.native_sidecars,
        }
    }
}

/// Decides for `mode`; `cluster` is `None` where there is no cluster to
/// ask (offline, a directory source), which in `auto` means classic.
pub fn decide(mode: Mode, cluster: Option<&ClusterVersions>) -> Decision {
    let (native_sidecars, reason) = match (mode, cluster) {
        (Mode::True, _) => (true, "native sidecars are forced on".to_string()),
        (Mode::False, _) => (false, "native sidecars are forced off".to_string()),
        (Mode::Auto, None) => (
            false,
            "no cluster to ask: classic sidecars, which every API server accepts".to_string(),
        ),
        (Mode::Auto, Some(cluster)) => match auto(cluster) {
            Ok(reason) => (true, reason),
            Err(reason) => (false, reason),
        },
    };
    Decision {
        mode,
        native_sidecars,
        reason,
    }
}

/// `Ok(why)` when every component is at [`NATIVE_SINCE`] or later,
/// `Err(why not)` naming the first one that is not.
fn auto(cluster: &ClusterVersions) -> Result<String, String> {
    let api = &cluster.api_server;
    let version: KubeVersion = api
        .parse()
        .map_err(|e| format!("the API server's version: {e}"))?;
    if version < NATIVE_SINCE {
        return Err(format!(
            "the API server runs {api}; native sidecars need {NATIVE_SINCE} or later"
        ));
    }
    let mut nodes: Vec<&(String, String)> = cluster.nodes.iter().collect();
    nodes.sort();
    for (name, kubelet) in &nodes {
        match kubelet.parse::<KubeVersion>() {
            Ok(v) if v >= NATIVE_SINCE => {}
            Ok(_) => {
                return Err(format!(
                    "node {name} runs kubelet {kubelet}; native sidecars need {NATIVE_SINCE} or later"
                ));
            }
            Err(e) => return Err(format!("node {name}'s kubelet version: {e}")),
        }
    }
    Ok(match nodes.len() {
        0 => format!("the API server runs {api} and there are no nodes yet"),
        n => format!(
            "the API server runs {api} and all {n} node(s) run kubelet {NATIVE_SINCE} or later"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u64, minor: u64) -> KubeVersion {
        KubeVersion { major, minor }
    }

    #[test]
    fn reads_provider_versions() {
        assert_eq!("v1.28.3".parse(), Ok(v(1, 28)));
        assert_eq!("v1.28.3-gke.1".parse(), Ok(v(1, 28)));
        assert_eq!("v1.33.0+k3s1".parse(), Ok(v(1, 33)));
        assert_eq!("1.30.2-eks-1234".parse(), Ok(v(1, 30)));
        assert_eq!("v1.29+".parse(), Ok(v(1, 29)));
        assert_eq!("v2.0.0".parse(), Ok(v(2, 0)));
        for bad in ["", "v", "v1", "latest", "vx.28", "v1.x", "1a.28.0"] {
            assert!(bad.parse::<KubeVersion>().is_err(), "{bad:?}");
        }
        assert!(v(1, 9) < v(1, 33) && v(1, 33) < v(2, 0));
    }

    fn cluster(api: &str, nodes: &[(&str, &str)]) -> ClusterVersions {
        ClusterVersions {
            api_server: api.into(),
            nodes: nodes
                .iter()
                .map(|(n, k)| (n.to_string(), k.to_string()))
                .collect(),
        }
    }

    fn auto(api: &str, nodes: &[(&str, &str)]) -> Decision {
        decide(Mode::Auto, Some(&cluster(api, nodes)))
    }

    #[test]
    fn auto_needs_every_component_at_1_33() {
        let all_new = auto("v1.33.1", &[("a", "v1.33.1"), ("b", "v1.34.0+k3s1")]);
        assert!(all_new.native_sidecars, "{all_new:?}");
        assert!(all_new.reason.contains("all 2 node(s)"), "{all_new:?}");

        let old_api = auto("v1.28.4", &[("a", "v1.33.1")]);
        assert!(!old_api.native_sidecars);
        assert!(
            old_api.reason.contains("API server runs v1.28.4"),
            "{old_api:?}"
        );

        // Beta and on by default, but a component may have turned it off.
        assert!(!auto("v1.32.0", &[("a", "v1.32.0")]).native_sidecars);

        let mixed = auto(
            "v1.33.0",
            &[
                ("worker-1", "v1.33.0"),
                ("worker-3", "v1.28.4"),
                ("worker-2", "v1.27.1"),
            ],
        );
        assert!(!mixed.native_sidecars);
        assert_eq!(
            mixed.reason,
            "node worker-2 runs kubelet v1.27.1; native sidecars need 1.33 or later"
        );

        let garbled = auto("v1.33.0", &[("a", "unknown")]);
        assert!(
            !garbled.native_sidecars && garbled.reason.contains("node a's"),
            "{garbled:?}"
        );
        assert!(!auto("", &[]).native_sidecars);
    }

    #[test]
    fn no_nodes_is_native_as_in_istio_and_no_cluster_is_classic() {
        let empty = auto("v1.33.0", &[]);
        assert!(empty.native_sidecars);
        assert!(empty.reason.contains("no nodes"), "{empty:?}");
        let offline = decide(Mode::Auto, None);
        assert!(!offline.native_sidecars);
        assert!(offline.reason.contains("no cluster"), "{offline:?}");
    }

    #[test]
    fn forced_modes_ignore_the_cluster() {
        let old = cluster("v1.28.0", &[("a", "v1.28.0")]);
        assert!(decide(Mode::True, Some(&old)).native_sidecars);
        assert!(decide(Mode::True, None).native_sidecars);
        let new = cluster("v1.33.0", &[]);
        assert!(!decide(Mode::False, Some(&new)).native_sidecars);
        assert_eq!(Mode::default(), Mode::Auto);
        assert_eq!(Mode::Auto.to_string(), "auto");
    }
}
