//! Workloads and their pods: which workload owns a pod (for the template's
//! `DeploymentMeta`/`TypeMeta`), and where a workload kind keeps its pod
//! template (for `kube-inject`).

use serde_json::Value;

/// The workload a pod belongs to, as the template sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub name: String,
    pub kind: String,
    pub api_version: String,
}

impl Workload {
    pub fn new(name: &str, kind: &str, api_version: &str) -> Self {
        Workload {
            name: name.to_string(),
            kind: kind.to_string(),
            api_version: api_version.to_string(),
        }
    }

    /// The owning workload of a pod as the API server shows it: a
    /// ReplicaSet named `<deployment>-<pod-template-hash>` stands for its
    /// Deployment, a ReplicationController of an OpenShift DeploymentConfig
    /// (the pod is labelled `deploymentconfig: <name>`) for the
    /// DeploymentConfig, keeping the controller's apiVersion as Istio does,
    /// a Job named `<cronjob>-<digits>` for its CronJob, any other
    /// controller for itself, and a bare pod for the pod (its name, or its
    /// `generateName` without the trailing dash).
    pub fn of_pod(pod: &Value) -> Workload {
        let meta = &pod["metadata"];
        let owners = meta["ownerReferences"].as_array().into_iter().flatten();
        let controller = owners
            .clone()
            .find(|o| o["controller"].as_bool() == Some(true))
            .or_else(|| owners.clone().next());
        if let Some(owner) = controller {
            let name = owner["name"].as_str().unwrap_or_default();
            let kind = owner["kind"].as_str().unwrap_or_default();
            let api_version = owner["apiVersion"].as_str().unwrap_or_default();
            let label = |key: &str| meta["labels"][key].as_str().filter(|v| !v.is_empty());
            match (kind, label("pod-template-hash")) {
                ("ReplicaSet", Some(hash)) => {
                    if let Some(deployment) = name.strip_suffix(&format!("-{hash}")) {
                        return Workload::new(deployment, "Deployment", "apps/v1");
                    }
                }
                ("ReplicationController", _) => {
                    if let Some(config) = label("deploymentconfig") {
                        return Workload::new(config, "DeploymentConfig", api_version);
                    }
                }
                ("Job", _) => {
                    if let Some((cronjob, suffix)) = name.rsplit_once('-')
                        && !suffix.is_empty()
                        && suffix.chars().all(|c| c.is_ascii_digit())
                    {
                        return Workload::new(cronjob, "CronJob", "batch/v1");
                    }
                }
                _ => {}
            }
            return Workload::new(name, kind, api_version);
        }
        let name = meta["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .or_else(|| {
                meta["generateName"]
                    .as_str()
                    .map(|g| g.trim_end_matches('-').to_string())
            })
            .unwrap_or_default();
        Workload::new(&name, "Pod", "v1")
    }
}

/// Where a manifest kind keeps its pod template, as a JSON pointer, or
/// `Some("")` for a Pod itself. `None`: the kind has no pod to inject.
pub fn pod_template_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some(""),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job"
        | "DeploymentConfig" => Some("/spec/template"),
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_from_replicaset_owner() {
        let pod = json!({"metadata": {
            "generateName": "hello-5d4f8b7c9-",
            "labels": {"pod-template-hash": "5d4f8b7c9"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "hello-5d4f8b7c9", "controller": true}]
        }});
        assert_eq!(
            Workload::of_pod(&pod),
            Workload::new("hello", "Deployment", "apps/v1")
        );
    }

    #[test]
    fn cronjob_from_job_owner_and_bare_pods() {
        let pod = json!({"metadata": {"ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "report-28000000", "controller": true}]}});
        assert_eq!(
            Workload::of_pod(&pod),
            Workload::new("report", "CronJob", "batch/v1")
        );
        let pod = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}]}});
        assert_eq!(
            Workload::of_pod(&pod),
            Workload::new("db", "StatefulSet", "apps/v1")
        );
        assert_eq!(
            Workload::of_pod(&json!({"metadata": {"generateName": "x-"}})),
            Workload::new("x", "Pod", "v1")
        );
    }

    #[test]
    fn deploymentconfig_from_its_replication_controller() {
        let pod = json!({"metadata": {
            "labels": {"deploymentconfig": "hello"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "ReplicationController", "name": "hello-3", "controller": true}]
        }});
        assert_eq!(
            Workload::of_pod(&pod),
            Workload::new("hello", "DeploymentConfig", "v1")
        );
        let plain = json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "ReplicationController", "name": "rc", "controller": true}]}});
        assert_eq!(
            Workload::of_pod(&plain),
            Workload::new("rc", "ReplicationController", "v1")
        );
    }
}
