//! Multus: with Istio CNI deployed as a Multus network, a pod only gets the
//! CNI plugin when its `k8s.v1.cni.cncf.io/networks` annotation names it.
//! Both dialects' `appendMultusNetwork` add it here, as Istio's function
//! does: in the value's own form (a JSON list of network objects, or a
//! comma-separated list of `namespace/name`), unless it is there already.
//!
//! The answer is an [`Edit`] of the existing value rather than a new
//! string, so the Go dialect can keep the taint of the pod's text around
//! the insertion.

/// How the existing value becomes the new one.
#[derive(Debug, PartialEq, Eq)]
pub enum Edit {
    /// No value yet: the network alone.
    Network,
    /// Already listed, or JSON that does not parse (Istio leaves that
    /// alone rather than lose the user's networks).
    Keep,
    /// A JSON list: `entry` (trusted JSON text) goes before the last `]`,
    /// at byte `at`.
    InsertJson { at: usize, entry: String },
    /// A comma-separated list: `, ` and the network go at the end.
    AppendItem,
}

/// How `existing` (the annotation's value, empty when unset) gains
/// `network` (`namespace/name`, or a bare name).
pub fn edit(existing: &str, network: &str) -> Edit {
    if existing.is_empty() {
        return Edit::Network;
    }
    if let Some(close) = existing.rfind(']') {
        let Ok(networks) = serde_json::from_str::<Vec<serde_json::Value>>(existing) else {
            return Edit::Keep;
        };
        let (namespace, name) = network.split_once('/').unwrap_or(("", network));
        let present = networks.iter().any(|n| {
            n["name"].as_str() == Some(name) && n["namespace"].as_str().unwrap_or("") == namespace
        });
        if present {
            return Edit::Keep;
        }
        // Istio writes `{"name": "n", "namespace": "ns"}`, with spaces; the
        // strings are JSON-quoted so no name can break the list.
        let quoted = |s: &str| serde_json::Value::from(s).to_string();
        let entry = if namespace.is_empty() {
            format!(", {{\"name\": {}}}", quoted(name))
        } else {
            format!(
                ", {{\"name\": {}, \"namespace\": {}}}",
                quoted(name),
                quoted(namespace)
            )
        };
        return Edit::InsertJson { at: close, entry };
    }
    if existing.split(',').any(|n| n.trim() == network) {
        Edit::Keep
    } else {
        Edit::AppendItem
    }
}

/// The new value, as plain text.
pub fn append(existing: &str, network: &str) -> String {
    match edit(existing, network) {
        Edit::Network => network.to_string(),
        Edit::Keep => existing.to_string(),
        Edit::InsertJson { at, entry } => {
            format!("{}{entry}{}", &existing[..at], &existing[at..])
        }
        Edit::AppendItem => format!("{existing}, {network}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CNI: &str = "default/istio-cni";

    #[test]
    fn comma_lists_gain_the_network_once() {
        assert_eq!(append("", CNI), CNI);
        assert_eq!(append("macvlan", CNI), "macvlan, default/istio-cni");
        assert_eq!(
            append("a, default/istio-cni ", CNI),
            "a, default/istio-cni "
        );
    }

    #[test]
    fn json_lists_gain_an_object_once() {
        assert_eq!(
            append(r#"[{"name": "macvlan"}]"#, CNI),
            r#"[{"name": "macvlan"}, {"name": "istio-cni", "namespace": "default"}]"#
        );
        assert_eq!(
            append(r#"[{"name": "macvlan"}]"#, "istio-cni"),
            r#"[{"name": "macvlan"}, {"name": "istio-cni"}]"#
        );
        let present = r#"[{"name":"istio-cni","namespace":"default"}]"#;
        assert_eq!(append(present, CNI), present);
        // Same name, other namespace: a different network.
        assert_eq!(
            append(r#"[{"name": "istio-cni"}]"#, CNI),
            r#"[{"name": "istio-cni"}, {"name": "istio-cni", "namespace": "default"}]"#
        );
        assert_eq!(append("[not json]", CNI), "[not json]");
    }

    #[test]
    fn the_entry_is_json_whatever_the_network_name() {
        let out = append("[]", r#"ns/a"b"#);
        assert_eq!(out, r#"[, {"name": "a\"b", "namespace": "ns"}]"#);
    }
}
