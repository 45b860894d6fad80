//! Application probe rewriting, as Istio does it.
//!
//! With mutual TLS, the kubelet's HTTP and TCP probes can no longer reach
//! the application directly: the proxy intercepts them. So each probe and
//! lifecycle hook of an application container is pointed at the proxy
//! agent's status port (`/app-health/<container>/<kind>`), and the original
//! handlers are handed to the agent in `ISTIO_KUBE_APP_PROBERS`, which
//! probes the application on the kubelet's behalf. Re-injection first puts
//! the original handlers back, so rewriting never stacks.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The proxy environment variable carrying the original handlers.
pub const APP_PROBERS_ENV: &str = "ISTIO_KUBE_APP_PROBERS";
/// Annotation that turns rewriting off for a pod.
pub const REWRITE_ANNOTATION: &str = "sidecar.istio.io/rewriteAppHTTPProbers";

/// Probe fields and the path suffix their rewritten form uses.
const PROBES: [(&str, &str); 3] = [
    ("livenessProbe", "livez"),
    ("readinessProbe", "readyz"),
    ("startupProbe", "startupz"),
];
const HOOKS: [(&str, &str); 2] = [("postStart", "poststartz"), ("preStop", "prestopz")];
/// The handlers the agent can run for the kubelet.
const HANDLERS: [&str; 3] = ["httpGet", "tcpSocket", "grpc"];

/// The application containers: all but the injected ones, including native
/// sidecars the user declared (init containers with `restartPolicy: Always`).
fn app_containers<'a>(
    spec: &'a mut Map<String, Value>,
    injected: &[String],
) -> Vec<&'a mut Map<String, Value>> {
    spec.iter_mut()
        .filter(|(list, _)| matches!(list.as_str(), "initContainers" | "containers"))
        .flat_map(|(list, items)| {
            let init = list == "initContainers";
            items
                .as_array_mut()
                .into_iter()
                .flatten()
                .map(move |c| (init, c))
        })
        .filter_map(|(init, c)| {
            let c = c.as_object_mut()?;
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let native = c.get("restartPolicy").and_then(Value::as_str) == Some("Always");
            let app = !injected.iter().any(|i| i == name) && (!init || native);
            app.then_some(c)
        })
        .collect()
}

/// The probes and lifecycle hooks of a container, each with the agent path
/// that stands for it.
fn sites(container: &mut Map<String, Value>) -> Vec<(String, &mut Map<String, Value>)> {
    let name = container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut sites = Vec::new();
    for (key, value) in container.iter_mut() {
        if let Some((_, kind)) = PROBES.iter().find(|(p, _)| p == key) {
            if let Some(probe) = value.as_object_mut() {
                sites.push((format!("/app-health/{name}/{kind}"), probe));
            }
        } else if key == "lifecycle"
            && let Some(hooks) = value.as_object_mut()
        {
            for (hook, handler) in hooks.iter_mut() {
                let kind = HOOKS.iter().find(|(h, _)| h == hook).map(|(_, k)| k);
                if let (Some(kind), Some(handler)) = (kind, handler.as_object_mut()) {
                    sites.push((format!("/app-lifecycle/{name}/{kind}"), handler));
                }
            }
        }
    }
    sites
}

/// Resolves a named port (`port: http`) to the container's port number, as
/// the agent needs a number.
fn resolve_port(handler: &mut Value, ports: &Value) {
    let Some(name) = handler
        .get("port")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    let number = ports
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(&name))
        .and_then(|p| p.get("containerPort").cloned());
    if let Some(number) = number {
        handler["port"] = number;
    }
}

/// Points every probe and hook of the application containers at the agent
/// and returns the original handlers by path. Does nothing when the status
/// port is 0 (no agent endpoint) or the pod turns rewriting off.
pub fn rewrite(pod: &mut Value, injected: &[String], status_port: u16) -> BTreeMap<String, Value> {
    let mut probers = BTreeMap::new();
    let off = pod
        .pointer(&format!(
            "/metadata/annotations/{}",
            REWRITE_ANNOTATION.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        == Some("false");
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return probers;
    };
    if status_port == 0 || off {
        return probers;
    }
    for container in app_containers(spec, injected) {
        let ports = container.get("ports").cloned().unwrap_or_default();
        for (path, site) in sites(container) {
            let Some(handler_field) = HANDLERS.iter().find(|h| site.contains_key(**h)) else {
                continue;
            };
            let mut handler = site.remove(*handler_field).unwrap_or_default();
            resolve_port(&mut handler, &ports);
            let mut original = json!({ *handler_field: handler });
            if let Some(timeout) = site.get("timeoutSeconds") {
                original["timeoutSeconds"] = timeout.clone();
            }
            let mut http_get = json!({"path": path, "port": status_port});
            if handler.get("scheme").and_then(Value::as_str) == Some("HTTPS") {
                http_get["scheme"] = json!("HTTP");
            }
            site.insert("httpGet".into(), http_get);
            probers.insert(path, original);
        }
    }
    probers
}

/// Adds the original handlers to the proxy container's environment.
pub fn hand_to_proxy(pod: &mut Value, proxy: &str, probers: &BTreeMap<String, Value>) {
    if probers.is_empty() {
        return;
    }
    // A map of JSON values prints as JSON: this cannot fail.
    let value = Value::Object(probers.clone().into_iter().collect()).to_string();
    for list in ["initContainers", "containers"] {
        let items = pod["spec"][list].as_array_mut().into_iter().flatten();
        for c in items.filter(|c| c["name"] == proxy) {
            let env = c
                .as_object_mut()
                .and_then(|c| c.entry("env").or_insert_with(|| json!([])).as_array_mut());
            if let Some(env) = env {
                env.retain(|e| e["name"] != APP_PROBERS_ENV);
                env.push(json!({"name": APP_PROBERS_ENV, "value": value}));
            }
        }
    }
}

/// Before re-injection: puts back the handlers an earlier injection moved
/// to the proxy (read from the proxy container about to be stripped).
pub fn restore(pod: &mut Value, proxy: &str) {
    let recorded = ["initContainers", "containers"]
        .iter()
        .flat_map(|list| pod["spec"][*list].as_array().into_iter().flatten())
        .filter(|c| c["name"] == proxy)
        .flat_map(|c| c["env"].as_array().into_iter().flatten())
        .find(|e| e["name"] == APP_PROBERS_ENV)
        .and_then(|e| e["value"].as_str())
        .and_then(|v| serde_json::from_str::<Map<String, Value>>(v).ok());
    let Some(recorded) = recorded else { return };
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for container in app_containers(spec, &[proxy.to_string()]) {
        for (path, site) in sites(container) {
            let points_at_agent = site
                .get("httpGet")
                .and_then(|h| h.get("path"))
                .and_then(Value::as_str)
                == Some(path.as_str());
            if let (true, Some(Value::Object(original))) = (points_at_agent, recorded.get(&path)) {
                site.remove("httpGet");
                for handler in HANDLERS {
                    if let Some(h) = original.get(handler) {
                        site.insert(handler.to_string(), h.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({"metadata": {}, "spec": {"containers": [
            {"name": "app", "ports": [{"name": "http", "containerPort": 80}],
             "livenessProbe": {"httpGet": {"port": "http", "path": "/live"}, "periodSeconds": 5},
             "readinessProbe": {"exec": {"command": ["true"]}},
             "lifecycle": {"preStop": {"tcpSocket": {"port": 91}}}},
            {"name": "istio-proxy"}
        ]}})
    }

    #[test]
    fn rewrites_http_and_tcp_but_not_exec() {
        let mut p = pod();
        let probers = rewrite(&mut p, &["istio-proxy".into()], 15020);
        let app = &p["spec"]["containers"][0];
        assert_eq!(
            app["livenessProbe"],
            json!({"httpGet": {"path": "/app-health/app/livez", "port": 15020}, "periodSeconds": 5})
        );
        assert_eq!(
            app["readinessProbe"],
            json!({"exec": {"command": ["true"]}})
        );
        assert_eq!(
            app["lifecycle"]["preStop"],
            json!({"httpGet": {"path": "/app-lifecycle/app/prestopz", "port": 15020}})
        );
        assert_eq!(
            probers["/app-health/app/livez"],
            json!({"httpGet": {"port": 80, "path": "/live"}})
        );
        assert_eq!(
            probers["/app-lifecycle/app/prestopz"],
            json!({"tcpSocket": {"port": 91}})
        );
    }

    #[test]
    fn restore_undoes_rewrite() {
        let mut p = pod();
        let probers = rewrite(&mut p, &["istio-proxy".into()], 15020);
        hand_to_proxy(&mut p, "istio-proxy", &probers);
        restore(&mut p, "istio-proxy");
        let app = &p["spec"]["containers"][0];
        assert_eq!(
            app["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/live"}, "periodSeconds": 5})
        );
        assert_eq!(
            app["lifecycle"]["preStop"],
            json!({"tcpSocket": {"port": 91}})
        );
    }

    #[test]
    fn off_by_annotation_or_without_status_port() {
        let mut p = pod();
        assert!(rewrite(&mut p, &["istio-proxy".into()], 0).is_empty());
        p["metadata"]["annotations"] = json!({REWRITE_ANNOTATION: "false"});
        assert!(rewrite(&mut p, &["istio-proxy".into()], 15020).is_empty());
        assert_eq!(p, {
            let mut q = pod();
            q["metadata"]["annotations"] = json!({REWRITE_ANNOTATION: "false"});
            q
        });
    }
}
