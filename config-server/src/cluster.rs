//! What the cluster runs, for the native-sidecar decision
//! ([`edge::native`]): in `auto`, the Nodes are watched (a node that joins
//! or is upgraded counts at once) and the API server's `/version` is read
//! every `--version-poll-interval` (a minute: it changes only with an
//! upgrade of the control plane); each change of the decision goes out on a
//! `watch` channel, which the kube source turns into a new snapshot.
//!
//! Reading Nodes needs `get`, `list` and `watch` on nodes (the ClusterRole
//! in `deploy/`). Until both the version and the first Node list are in,
//! nothing is decided, so the first snapshot already has the cluster's
//! answer; a list that fails (no permission) decides classic, naming the
//! error, and the watch keeps trying.

use std::collections::BTreeMap;
use std::time::Duration;

use edge::native::{self, ClusterVersions, Decision, Mode};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;

/// The decision as the protocol carries it.
pub fn facts(decision: &Decision) -> proto::v1::ClusterFacts {
    proto::v1::ClusterFacts {
        mode: decision.mode.to_string(),
        native_sidecars: decision.native_sidecars,
        reason: decision.reason.clone(),
    }
}

/// Keeps `decisions` current for `mode` until the receivers are gone.
/// `true` and `false` need no cluster and are sent at once.
pub async fn detect(
    client: Client,
    mode: Mode,
    poll: Duration,
    decisions: watch::Sender<Option<Decision>>,
) {
    if mode != Mode::Auto {
        decisions.send_replace(Some(native::decide(mode, None)));
        decisions.closed().await;
        return;
    }
    let mut nodes = std::pin::pin!(
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default()).default_backoff()
    );
    let mut seen = Seen::default();
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = decisions.closed() => return,
            _ = ticks.tick() => {
                match client.apiserver_version().await {
                    Ok(info) => seen.api_server = Some(Ok(info.git_version)),
                    // A version once read stays the best guess: a passing
                    // error must not flip every new pod's sidecar.
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the API server's version");
                        if !matches!(seen.api_server, Some(Ok(_))) {
                            seen.api_server =
                                Some(Err(format!("cannot read the API server's version: {error}")));
                        }
                    }
                }
            }
            Some(event) = nodes.next() => seen.apply(event),
        }
        if let Some(decision) = seen.decide() {
            decisions.send_if_modified(|current| {
                let changed = current.as_ref() != Some(&decision);
                *current = Some(decision);
                changed
            });
        }
    }
}

/// What the Node watch and the version reads have shown.
#[derive(Debug, Default)]
struct Seen {
    api_server: Option<Result<String, String>>,
    /// Node name to kubelet version, once the first list completed.
    nodes: Option<BTreeMap<String, String>>,
    listing: BTreeMap<String, String>,
    /// The last Node watch error, while no list has completed.
    list_error: Option<String>,
}

impl Seen {
    fn apply(&mut self, event: Result<watcher::Event<Node>, watcher::Error>) {
        let kubelet = |node: &Node| {
            node.status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.kubelet_version.clone())
                .unwrap_or_default()
        };
        match event {
            Ok(watcher::Event::Init) => self.listing.clear(),
            Ok(watcher::Event::InitApply(node)) => {
                self.listing.insert(node.name_any(), kubelet(&node));
            }
            Ok(watcher::Event::InitDone) => {
                self.nodes = Some(std::mem::take(&mut self.listing));
                self.list_error = None;
            }
            Ok(watcher::Event::Apply(node)) => {
                if let Some(nodes) = &mut self.nodes {
                    nodes.insert(node.name_any(), kubelet(&node));
                }
            }
            Ok(watcher::Event::Delete(node)) => {
                if let Some(nodes) = &mut self.nodes {
                    nodes.remove(&node.name_any());
                }
            }
            Err(error) => {
                tracing::warn!(%error, "Node watch failed; retrying");
                if self.nodes.is_none() {
                    self.list_error = Some(format!("cannot list nodes: {error}"));
                }
            }
        }
    }

    /// The decision, once there is enough to decide on.
    fn decide(&self) -> Option<Decision> {
        let unknown = |reason: &String| Decision {
            mode: Mode::Auto,
            native_sidecars: false,
            reason: reason.clone(),
        };
        match (self.api_server.as_ref()?, &self.nodes, &self.list_error) {
            (Err(reason), _, _) => Some(unknown(reason)),
            (Ok(_), None, Some(reason)) => Some(unknown(reason)),
            (Ok(_), None, None) => None,
            (Ok(api_server), Some(nodes), _) => {
                let versions = ClusterVersions {
                    api_server: api_server.clone(),
                    nodes: nodes.clone().into_iter().collect(),
                };
                Some(native::decide(Mode::Auto, Some(&versions)))
            }
        }
    }
}
