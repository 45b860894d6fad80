//! `config-server drift`: which pods run a sidecar from an older
//! configuration, grouped by the workload to restart.
//!
//! Every injected pod carries the `templateHash` of the snapshot that
//! injected it in its `sidecar.istio.io/status` annotation. After a template
//! rollout, pods whose hash differs from the current snapshot's run the old
//! sidecar until their workload is restarted.

use std::collections::BTreeMap;
use std::fmt::Write;

use injector_engine::annotations;
use injector_engine::status::Status;
use injector_engine::workload::Workload;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;

use edge::report::Chain;

use crate::cli::DriftArgs;
use crate::status::{self, StatusError};

/// One workload with pods on an outdated sidecar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outdated {
    pub namespace: String,
    /// `Kind/name` of the owning workload.
    pub workload: String,
    /// Outdated pods by name.
    pub pods: Vec<String>,
    /// The workload's injected pods, outdated or not.
    pub injected: usize,
    /// The outdated hashes seen, with how many pods carry each.
    pub hashes: BTreeMap<String, usize>,
}

/// What `drift` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drift {
    pub current_hash: String,
    pub outdated: Vec<Outdated>,
    pub current_pods: usize,
    pub uninjected_pods: usize,
}

/// Groups `pods` (as the API server returns them) against `current_hash`.
/// A status annotation without a hash (from Istio, or unreadable) counts as
/// outdated: nothing proves it current.
pub fn assess(pods: &[Value], current_hash: &str) -> Drift {
    let mut drift = Drift {
        current_hash: current_hash.to_string(),
        ..Drift::default()
    };
    let mut groups: BTreeMap<(String, String), Outdated> = BTreeMap::new();
    let mut injected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for pod in pods {
        let Some(status) = annotations::get(&pod["metadata"], annotations::STATUS) else {
            drift.uninjected_pods += 1;
            continue;
        };
        let hash = Status::parse(status)
            .map(|s| s.template_hash)
            .unwrap_or_default();
        let namespace = pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let owner = Workload::of_pod(pod);
        let key = (namespace.clone(), format!("{}/{}", owner.kind, owner.name));
        *injected.entry(key.clone()).or_default() += 1;
        if hash == current_hash {
            drift.current_pods += 1;
            continue;
        }
        let group = groups.entry(key.clone()).or_insert_with(|| Outdated {
            namespace,
            workload: key.1,
            pods: Vec::new(),
            injected: 0,
            hashes: BTreeMap::new(),
        });
        let label = if hash.is_empty() {
            "(none)".to_string()
        } else {
            hash
        };
        *group.hashes.entry(label).or_default() += 1;
        group.pods.push(
            pod["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    drift.outdated = groups
        .into_iter()
        .map(|(key, mut group)| {
            group.injected = injected.get(&key).copied().unwrap_or_default();
            group
        })
        .collect();
    drift
}

/// Lists the pods of `namespace` (all namespaces when `None`), a page at a
/// time, as JSON.
pub async fn list_pods(
    client: kube::Client,
    namespace: Option<&str>,
) -> Result<Vec<Value>, kube::Error> {
    let api: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let mut pods = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await?;
        for pod in &page.items {
            pods.push(serde_json::to_value(pod).map_err(kube::Error::SerdeError)?);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(pods),
        }
    }
}

/// Why `drift` could not report.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error("the config server holds no snapshot yet")]
    NoSnapshot,
    #[error("cannot connect to the Kubernetes API: {}", Chain(.0))]
    Connect(kube::Error),
    #[error("cannot list pods: {}", Chain(.0))]
    List(kube::Error),
}

/// `config-server drift`: the report for the current hash (asked of the
/// server unless given).
pub async fn run(args: &DriftArgs) -> Result<String, DriftError> {
    let current = match &args.hash {
        Some(hash) => hash.clone(),
        None => {
            let status = status::fetch(&args.server.server, args.server.tls().as_ref()).await?;
            status.current.ok_or(DriftError::NoSnapshot)?.hash
        }
    };
    let client = kube::Client::try_default()
        .await
        .map_err(DriftError::Connect)?;
    let pods = list_pods(client, args.namespace.as_deref())
        .await
        .map_err(DriftError::List)?;
    Ok(render(&assess(&pods, &current)))
}

/// The report an operator reads.
pub fn render(drift: &Drift) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "current template hash: {}", drift.current_hash);
    if drift.outdated.is_empty() {
        let _ = writeln!(
            out,
            "no pod runs an outdated sidecar ({} current)",
            drift.current_pods
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{:<20} {:<40} {:>9}  OUTDATED HASHES",
        "NAMESPACE", "WORKLOAD", "OUTDATED"
    );
    for w in &drift.outdated {
        let hashes: Vec<String> = w
            .hashes
            .iter()
            .map(|(h, n)| format!("{} ({n})", short(h)))
            .collect();
        let count = format!("{}/{}", w.pods.len(), w.injected);
        let _ = writeln!(
            out,
            "{:<20} {:<40} {:>9}  {}",
            w.namespace,
            w.workload,
            count,
            hashes.join(", ")
        );
    }
    let pods: usize = drift.outdated.iter().map(|w| w.pods.len()).sum();
    let _ = writeln!(
        out,
        "{pods} pods in {} workloads run an outdated sidecar; restart them to pick up the current one ({} current)",
        drift.outdated.len(),
        drift.current_pods
    );
    out
}

fn short(hash: &str) -> &str {
    hash.get(..19).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, owner: Option<(&str, &str)>, hash: Option<&str>) -> Value {
        let mut p = json!({"metadata": {"name": name, "namespace": ns, "labels": {}}});
        if let Some((kind, owner_name)) = owner {
            p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": kind, "name": owner_name, "controller": true}]);
            if kind == "ReplicaSet" {
                p["metadata"]["labels"]["pod-template-hash"] =
                    json!(owner_name.rsplit('-').next().unwrap());
            }
        }
        if let Some(h) = hash {
            let status = json!({"initContainers": ["istio-init"], "containers": ["istio-proxy"], "templateHash": h});
            p["metadata"]["annotations"] = json!({"sidecar.istio.io/status": status.to_string()});
        }
        p
    }

    #[test]
    fn groups_outdated_pods_by_workload() {
        let pods = [
            pod(
                "shop",
                "web-1",
                Some(("ReplicaSet", "web-7f9c")),
                Some("sha256:new"),
            ),
            pod(
                "shop",
                "web-2",
                Some(("ReplicaSet", "web-7f9c")),
                Some("sha256:old"),
            ),
            pod(
                "shop",
                "web-3",
                Some(("ReplicaSet", "web-7f9c")),
                Some("sha256:older"),
            ),
            pod(
                "shop",
                "db-0",
                Some(("StatefulSet", "db")),
                Some("sha256:old"),
            ),
            pod("shop", "batch", None, None),
            pod("ops", "tool", None, Some("sha256:new")),
        ];
        let drift = assess(&pods, "sha256:new");
        assert_eq!(drift.current_pods, 2);
        assert_eq!(drift.uninjected_pods, 1);
        assert_eq!(drift.outdated.len(), 2);
        let web = &drift.outdated[0];
        assert_eq!((web.workload.as_str(), web.injected), ("Deployment/web", 3));
        assert_eq!(web.pods, ["web-2", "web-3"]);
        assert_eq!(web.hashes.len(), 2);
        assert_eq!(drift.outdated[1].workload, "StatefulSet/db");
        let text = render(&drift);
        assert!(
            text.contains("Deployment/web") && text.contains("2/3"),
            "{text}"
        );
        assert!(text.contains("3 pods in 2 workloads"), "{text}");
    }

    #[test]
    fn nothing_outdated() {
        let drift = assess(&[pod("a", "p", None, Some("sha256:x"))], "sha256:x");
        assert!(drift.outdated.is_empty());
        assert!(render(&drift).contains("no pod runs an outdated sidecar (1 current)"));
    }
}
