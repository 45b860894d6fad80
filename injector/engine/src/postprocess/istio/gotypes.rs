//! The Pod as Go's Kubernetes types see it. Istio reads every pod into
//! `corev1.Pod` and writes it back, so its output is the pod after Go's
//! round trip: `omitempty` zero values dropped, value structs written even
//! when empty (`resources: {}`), quantities canonical (see [`quantity`]).
//! [`normalize`] gives a pod that form; [`write_json`] writes a value as
//! Go's `json.Marshal` does (fields in declaration order, HTML escaped),
//! for the annotations and env values Istio fills with Go's JSON.
//!
//! The schema covers the fields Istio's templates and post-processing
//! touch; fields it does not list are kept as they are (nulls dropped).
//!
//! [`quantity`]: super::quantity

use serde_json::{Map, Value};

use super::quantity;

/// A Go field's type, as far as its JSON form depends on it.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `string` with `omitempty`.
    Str,
    /// `string` without `omitempty`: written even when empty.
    StrAlways,
    /// An integer with `omitempty`.
    Int,
    /// An integer without `omitempty`.
    IntAlways,
    /// `bool` with `omitempty`.
    Bool,
    /// A pointer to a scalar: written when set, even to its zero.
    Ptr,
    /// `resource.Quantity`: always written, canonical.
    Quantity,
    /// `*resource.Quantity`.
    PtrQuantity,
    /// `intstr.IntOrString`: always written.
    IntOrString,
    /// A struct held by value: always written.
    Struct(&'static [Field]),
    /// A pointer to a struct.
    PtrStruct(&'static [Field]),
    /// A slice with `omitempty`.
    List(&'static Kind),
    /// A slice without `omitempty`: written even when empty.
    ListAlways(&'static Kind),
    /// A map with `omitempty`, keys sorted when written.
    Map(&'static Kind),
    /// Not modelled: kept as it is.
    Any,
}

/// A struct field: JSON name and type, in Go's declaration order.
pub type Field = (&'static str, Kind);

use Kind::*;

const STR_LIST: Kind = List(&Str);

static OBJECT_FIELD_SELECTOR: &[Field] = &[("apiVersion", Str), ("fieldPath", StrAlways)];
static RESOURCE_FIELD_SELECTOR: &[Field] = &[
    ("containerName", Str),
    ("resource", StrAlways),
    ("divisor", Quantity),
];
static KEY_SELECTOR: &[Field] = &[("name", Str), ("key", StrAlways), ("optional", Ptr)];
static ENV_VAR_SOURCE: &[Field] = &[
    ("fieldRef", PtrStruct(OBJECT_FIELD_SELECTOR)),
    ("resourceFieldRef", PtrStruct(RESOURCE_FIELD_SELECTOR)),
    ("configMapKeyRef", PtrStruct(KEY_SELECTOR)),
    ("secretKeyRef", PtrStruct(KEY_SELECTOR)),
    ("fileKeyRef", Any),
];
static ENV_VAR: &[Field] = &[
    ("name", StrAlways),
    ("value", Str),
    ("valueFrom", PtrStruct(ENV_VAR_SOURCE)),
];
static LOCAL_REF_OPTIONAL: &[Field] = &[("name", Str), ("optional", Ptr)];
static ENV_FROM_SOURCE: &[Field] = &[
    ("prefix", Str),
    ("configMapRef", PtrStruct(LOCAL_REF_OPTIONAL)),
    ("secretRef", PtrStruct(LOCAL_REF_OPTIONAL)),
];
static CONTAINER_PORT: &[Field] = &[
    ("name", Str),
    ("hostPort", Int),
    ("containerPort", IntAlways),
    ("protocol", Str),
    ("hostIP", Str),
];
static RESOURCES: &[Field] = &[
    ("limits", Map(&Quantity)),
    ("requests", Map(&Quantity)),
    ("claims", List(&Any)),
];
static VOLUME_MOUNT: &[Field] = &[
    ("name", StrAlways),
    ("readOnly", Bool),
    ("recursiveReadOnly", Ptr),
    ("mountPath", StrAlways),
    ("subPath", Str),
    ("mountPropagation", Ptr),
    ("subPathExpr", Str),
];
static HTTP_HEADER: &[Field] = &[("name", StrAlways), ("value", StrAlways)];
pub static HTTP_GET: &[Field] = &[
    ("path", Str),
    ("port", IntOrString),
    ("host", Str),
    ("scheme", Str),
    ("httpHeaders", List(&Struct(HTTP_HEADER))),
];
pub static TCP_SOCKET: &[Field] = &[("port", IntOrString), ("host", Str)];
pub static GRPC: &[Field] = &[("port", IntAlways), ("service", Ptr)];
static EXEC: &[Field] = &[("command", STR_LIST)];
static PROBE: &[Field] = &[
    ("exec", PtrStruct(EXEC)),
    ("httpGet", PtrStruct(HTTP_GET)),
    ("tcpSocket", PtrStruct(TCP_SOCKET)),
    ("grpc", PtrStruct(GRPC)),
    ("initialDelaySeconds", Int),
    ("timeoutSeconds", Int),
    ("periodSeconds", Int),
    ("successThreshold", Int),
    ("failureThreshold", Int),
    ("terminationGracePeriodSeconds", Ptr),
];
static SLEEP: &[Field] = &[("seconds", IntAlways)];
static LIFECYCLE_HANDLER: &[Field] = &[
    ("exec", PtrStruct(EXEC)),
    ("httpGet", PtrStruct(HTTP_GET)),
    ("tcpSocket", PtrStruct(TCP_SOCKET)),
    ("sleep", PtrStruct(SLEEP)),
];
static LIFECYCLE: &[Field] = &[
    ("postStart", PtrStruct(LIFECYCLE_HANDLER)),
    ("preStop", PtrStruct(LIFECYCLE_HANDLER)),
    ("stopSignal", Ptr),
];
static CAPABILITIES: &[Field] = &[("add", STR_LIST), ("drop", STR_LIST)];
static PROFILE: &[Field] = &[("type", StrAlways), ("localhostProfile", Ptr)];
static SECURITY_CONTEXT: &[Field] = &[
    ("capabilities", PtrStruct(CAPABILITIES)),
    ("privileged", Ptr),
    ("seLinuxOptions", Any),
    ("windowsOptions", Any),
    ("runAsUser", Ptr),
    ("runAsGroup", Ptr),
    ("runAsNonRoot", Ptr),
    ("readOnlyRootFilesystem", Ptr),
    ("allowPrivilegeEscalation", Ptr),
    ("procMount", Ptr),
    ("seccompProfile", PtrStruct(PROFILE)),
    ("appArmorProfile", PtrStruct(PROFILE)),
];
pub static CONTAINER: &[Field] = &[
    ("name", StrAlways),
    ("image", Str),
    ("command", STR_LIST),
    ("args", STR_LIST),
    ("workingDir", Str),
    ("ports", List(&Struct(CONTAINER_PORT))),
    ("envFrom", List(&Struct(ENV_FROM_SOURCE))),
    ("env", List(&Struct(ENV_VAR))),
    ("resources", Struct(RESOURCES)),
    ("resizePolicy", List(&Any)),
    ("restartPolicy", Ptr),
    ("restartPolicyRules", List(&Any)),
    ("volumeMounts", List(&Struct(VOLUME_MOUNT))),
    ("volumeDevices", List(&Any)),
    ("livenessProbe", PtrStruct(PROBE)),
    ("readinessProbe", PtrStruct(PROBE)),
    ("startupProbe", PtrStruct(PROBE)),
    ("lifecycle", PtrStruct(LIFECYCLE)),
    ("terminationMessagePath", Str),
    ("terminationMessagePolicy", Str),
    ("imagePullPolicy", Str),
    ("securityContext", PtrStruct(SECURITY_CONTEXT)),
    ("stdin", Bool),
    ("stdinOnce", Bool),
    ("tty", Bool),
];
/// `[]corev1.Container`.
pub static CONTAINERS: Kind = List(&Struct(CONTAINER));
static KEY_TO_PATH: &[Field] = &[("key", StrAlways), ("path", StrAlways), ("mode", Ptr)];
static DOWNWARD_API_FILE: &[Field] = &[
    ("path", StrAlways),
    ("fieldRef", PtrStruct(OBJECT_FIELD_SELECTOR)),
    ("resourceFieldRef", PtrStruct(RESOURCE_FIELD_SELECTOR)),
    ("mode", Ptr),
];
static DOWNWARD_API: &[Field] = &[
    ("items", List(&Struct(DOWNWARD_API_FILE))),
    ("defaultMode", Ptr),
];
static CONFIG_MAP_VOLUME: &[Field] = &[
    ("name", Str),
    ("items", List(&Struct(KEY_TO_PATH))),
    ("defaultMode", Ptr),
    ("optional", Ptr),
];
static SECRET_VOLUME: &[Field] = &[
    ("secretName", Str),
    ("items", List(&Struct(KEY_TO_PATH))),
    ("defaultMode", Ptr),
    ("optional", Ptr),
];
static PROJECTED_ITEMS: &[Field] = &[
    ("name", Str),
    ("items", List(&Struct(KEY_TO_PATH))),
    ("optional", Ptr),
];
static SERVICE_ACCOUNT_TOKEN: &[Field] = &[
    ("audience", Str),
    ("expirationSeconds", Ptr),
    ("path", StrAlways),
];
static CLUSTER_TRUST_BUNDLE: &[Field] = &[
    ("name", Ptr),
    ("signerName", Ptr),
    ("labelSelector", Any),
    ("optional", Ptr),
    ("path", StrAlways),
];
static VOLUME_PROJECTION: &[Field] = &[
    ("secret", PtrStruct(PROJECTED_ITEMS)),
    ("downwardAPI", PtrStruct(DOWNWARD_API)),
    ("configMap", PtrStruct(PROJECTED_ITEMS)),
    ("serviceAccountToken", PtrStruct(SERVICE_ACCOUNT_TOKEN)),
    ("clusterTrustBundle", PtrStruct(CLUSTER_TRUST_BUNDLE)),
    ("podCertificate", Any),
];
static PROJECTED: &[Field] = &[
    ("sources", ListAlways(&Struct(VOLUME_PROJECTION))),
    ("defaultMode", Ptr),
];
static EMPTY_DIR: &[Field] = &[("medium", Str), ("sizeLimit", PtrQuantity)];
static HOST_PATH: &[Field] = &[("path", StrAlways), ("type", Ptr)];
static PVC: &[Field] = &[("claimName", StrAlways), ("readOnly", Bool)];
static CSI: &[Field] = &[
    ("driver", StrAlways),
    ("readOnly", Ptr),
    ("fsType", Ptr),
    ("volumeAttributes", Map(&StrAlways)),
    ("nodePublishSecretRef", Any),
];
static VOLUME: &[Field] = &[
    ("name", StrAlways),
    ("hostPath", PtrStruct(HOST_PATH)),
    ("emptyDir", PtrStruct(EMPTY_DIR)),
    ("secret", PtrStruct(SECRET_VOLUME)),
    ("persistentVolumeClaim", PtrStruct(PVC)),
    ("downwardAPI", PtrStruct(DOWNWARD_API)),
    ("configMap", PtrStruct(CONFIG_MAP_VOLUME)),
    ("projected", PtrStruct(PROJECTED)),
    ("csi", PtrStruct(CSI)),
];
static POD_SPEC: &[Field] = &[
    ("volumes", List(&Struct(VOLUME))),
    ("initContainers", List(&Struct(CONTAINER))),
    ("containers", ListAlways(&Struct(CONTAINER))),
];
static OBJECT_META: &[Field] = &[
    ("labels", Map(&StrAlways)),
    ("annotations", Map(&StrAlways)),
];
static POD: &[Field] = &[
    ("metadata", Struct(OBJECT_META)),
    ("spec", Struct(POD_SPEC)),
];

/// The pod after Go's round trip through `corev1.Pod`, in place.
pub fn normalize(pod: &mut Value) {
    normalize_as(pod, Struct(POD));
}

/// A container after Go's round trip through `corev1.Container`.
pub fn normalize_container(mut container: Value) -> Value {
    normalize_as(&mut container, Struct(CONTAINER));
    container
}

/// Rewrites `v` as Go writes a field of `kind`; false when Go omits it.
fn normalize_as(v: &mut Value, kind: Kind) -> bool {
    match (kind, &mut *v) {
        (
            Str | Ptr | PtrQuantity | PtrStruct(_) | List(_) | ListAlways(_) | Map(_) | Any | Int
            | Bool,
            Value::Null,
        ) => false,
        (Str, Value::String(s)) => !s.is_empty(),
        (Int, Value::Number(n)) => n.as_f64() != Some(0.0),
        (Bool, Value::Bool(b)) => *b,
        (StrAlways, Value::Null) => {
            *v = Value::String(String::new());
            true
        }
        (IntAlways | IntOrString, Value::Null) => {
            *v = Value::from(0);
            true
        }
        (Quantity, Value::Null) => {
            *v = Value::String("0".into());
            true
        }
        (Quantity | PtrQuantity, Value::String(s)) => {
            if let Some(canonical) = quantity::canonical(s)
                && canonical != *s
            {
                *s = canonical;
            }
            true
        }
        (Quantity | PtrQuantity, Value::Number(n)) => {
            let text = n.to_string();
            *v = Value::String(quantity::canonical(&text).unwrap_or(text));
            true
        }
        (Struct(fields), Value::Null) => {
            let mut map = Map::new();
            object(&mut map, fields);
            *v = Value::Object(map);
            true
        }
        (Struct(fields) | PtrStruct(fields), Value::Object(map)) => {
            object(map, fields);
            true
        }
        (List(_), Value::Array(items)) if items.is_empty() => false,
        (List(item) | ListAlways(item), Value::Array(items)) => {
            items.iter_mut().for_each(|i| element(i, *item));
            true
        }
        (Map(_), Value::Object(map)) if map.is_empty() => false,
        (Map(item), Value::Object(map)) => {
            map.values_mut().for_each(|v| element(v, *item));
            true
        }
        _ => true,
    }
}

/// A slice element or map value: always written (a nil pointer as null).
fn element(v: &mut Value, kind: Kind) {
    let kind = match kind {
        PtrStruct(fields) => Struct(fields),
        Str => StrAlways,
        Int => IntAlways,
        other => other,
    };
    if !normalize_as(v, kind) {
        *v = Value::Null;
    }
}

/// A struct's fields as Go writes them; fields it does not list are kept
/// unless null.
fn object(map: &mut Map<String, Value>, fields: &[Field]) {
    map.retain(|key, v| match fields.iter().find(|(name, _)| name == key) {
        Some((_, kind)) => normalize_as(v, *kind),
        None => !v.is_null(),
    });
    for (name, kind) in fields {
        if matches!(
            kind,
            StrAlways | IntAlways | IntOrString | Quantity | Struct(_)
        ) && !map.contains_key(*name)
        {
            let mut v = Value::Null;
            normalize_as(&mut v, *kind);
            map.insert((*name).to_string(), v);
        }
    }
}

/// `v` as Go's `json.Marshal` writes a value of `kind`: struct fields in
/// declaration order (unlisted ones after, sorted), map keys sorted,
/// `<`, `>` and `&` escaped.
pub fn write_json(v: &Value, kind: Kind, out: &mut String) {
    match (kind, v) {
        (Struct(fields) | PtrStruct(fields), Value::Object(map)) => {
            out.push('{');
            let mut first = true;
            let listed = fields
                .iter()
                .filter_map(|(name, kind)| map.get(*name).map(|v| (*name, *kind, v)));
            let rest = map
                .iter()
                .filter(|(k, _)| !fields.iter().any(|(name, _)| name == k))
                .map(|(k, v)| (k.as_str(), Any, v));
            for (name, kind, v) in listed.chain(rest) {
                if !first {
                    out.push(',');
                }
                first = false;
                write_string(name, out);
                out.push(':');
                write_json(v, kind, out);
            }
            out.push('}');
        }
        (List(item) | ListAlways(item), Value::Array(items)) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(v, *item, out);
            }
            out.push(']');
        }
        (_, Value::Object(map)) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                let item = match kind {
                    Map(item) => *item,
                    _ => Any,
                };
                write_json(v, item, out);
            }
            out.push('}');
        }
        (_, Value::Array(items)) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(v, Any, out);
            }
            out.push(']');
        }
        (_, Value::String(s)) => write_string(s, out),
        (_, other) => out.push_str(&other.to_string()),
    }
}

/// `s` as a JSON string, as Go's encoder writes it (HTML-safe).
pub fn quote(s: &str) -> String {
    gotemplate::to_json(&gotemplate::Value::str(s), gotemplate::JsonStyle::default())
        .as_str()
        .to_string()
}

fn write_string(s: &str, out: &mut String) {
    out.push_str(&quote(s));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_as_go_does() {
        let mut pod = json!({"metadata": {"annotations": {}}, "spec": {"containers": [{
            "name": "app", "image": "", "ports": [], "env": [{"name": "A", "value": ""}],
            "resources": {"limits": {"cpu": "2000m", "memory": "1024Mi"}},
            "readinessProbe": {"httpGet": {"port": 80}, "initialDelaySeconds": 0},
            "securityContext": {"privileged": false, "runAsUser": 0}
        }, {"name": "b"}], "volumes": [{"name": "v", "emptyDir": null}, {"name": "w", "emptyDir": {}}]}});
        normalize(&mut pod);
        assert_eq!(
            pod,
            json!({"metadata": {}, "spec": {"containers": [{
                "name": "app", "env": [{"name": "A"}],
                "resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
                "readinessProbe": {"httpGet": {"port": 80}},
                "securityContext": {"privileged": false, "runAsUser": 0}
            }, {"name": "b", "resources": {}}], "volumes": [{"name": "v"}, {"name": "w", "emptyDir": {}}]}})
        );
    }

    #[test]
    fn writes_json_in_go_order() {
        let mut out = String::new();
        write_json(
            &json!({"port": 80, "path": "/a&b", "scheme": "HTTP"}),
            Struct(HTTP_GET),
            &mut out,
        );
        assert_eq!(out, r#"{"path":"/a\u0026b","port":80,"scheme":"HTTP"}"#);
    }
}
