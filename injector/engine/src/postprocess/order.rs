//! Container order, as Istio has it: injected init containers (and
//! volumes) first, so traffic capture runs before anything else; injected
//! containers after the application's, except the proxy, which goes first
//! when the application must wait for it.

use serde_json::Value;

use super::PROXY_CONTAINER;
use crate::merge::Injected;
use crate::pod::{name_of, spec_mut};

/// Puts the containers in Istio's order.
pub fn order(pod: &mut Value, injected: &Injected, hold_application: bool) {
    let Some(spec) = spec_mut(pod) else { return };
    for list in ["initContainers", "containers", "volumes"] {
        let Some(Value::Array(items)) = spec.get_mut(list) else {
            continue;
        };
        let names = injected.list(list);
        let rank = |c: &Value| -> (u8, usize) {
            let pos = name_of(c).and_then(|n| names.iter().position(|i| i == n));
            match (list, pos) {
                (_, Some(_)) if hold_application && name_of(c) == Some(PROXY_CONTAINER) => (0, 0),
                ("initContainers" | "volumes", Some(p)) => (0, p + 1),
                ("initContainers" | "volumes", None) => (1, 0),
                (_, None) => (1, 0),
                (_, Some(p)) => (2, p),
            }
        };
        // A stable sort keeps the user's relative order within each group.
        items.sort_by_key(rank);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ordering() {
        let mut pod = json!({"spec": {
            "initContainers": [{"name": "user-init"}, {"name": "istio-init"}, {"name": "istio-proxy"}],
            "containers": [{"name": "istio-proxy"}, {"name": "a"}, {"name": "b"}]
        }});
        let injected = Injected {
            init_containers: vec!["istio-init".into(), "istio-proxy".into()],
            containers: vec!["istio-proxy".into()],
            ..Default::default()
        };
        order(&mut pod, &injected, false);
        let names = |pod: &Value, list: &str| -> Vec<String> {
            pod["spec"][list]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(&pod, "initContainers"),
            ["istio-init", "istio-proxy", "user-init"]
        );
        assert_eq!(names(&pod, "containers"), ["a", "b", "istio-proxy"]);
        order(&mut pod, &injected, true);
        assert_eq!(names(&pod, "containers"), ["istio-proxy", "a", "b"]);
    }
}
