//! The pod annotations the injector interprets, and their validation.
//!
//! Every annotation that feeds a number, a port list, an address range or a
//! resource quantity into the sidecar is checked before rendering, so a
//! typo is rejected with a message naming the annotation instead of
//! producing a proxy that fails at run time (Istio rejects these too).

use std::net::IpAddr;

use serde_json::Value;

/// A pod annotation whose value the engine cannot use. Names the
/// annotation, so the user knows what to fix.
#[derive(Debug, thiserror::Error)]
#[error("annotation {annotation:?}: {message}")]
pub struct AnnotationError {
    pub annotation: String,
    pub message: String,
}

pub const PROXY_IMAGE: &str = "sidecar.istio.io/proxyImage";
pub const PROXY_CONFIG: &str = "proxy.istio.io/config";
pub const NATIVE_SIDECAR: &str = "sidecar.istio.io/nativeSidecar";
pub const STATUS: &str = "sidecar.istio.io/status";
pub const OVERRIDES: &str = "proxy.istio.io/overrides";
pub const TEMPLATES: &str = "inject.istio.io/templates";
pub const STATUS_PORT: &str = "status.sidecar.istio.io/port";

/// How each interpreted annotation's value is checked.
#[derive(Clone, Copy)]
enum Check {
    Ports {
        wildcard: bool,
    },
    /// Address ranges; `setting` is the values key the annotation
    /// overrides (`includeIPRanges`), which Istio's errors name.
    Cidrs {
        wildcard: bool,
        setting: &'static str,
    },
    Port,
    Count,
    Quantity,
    Interfaces,
    InterceptionMode,
    Bool,
}

const CHECKED: &[(&str, Check)] = &[
    (
        "traffic.sidecar.istio.io/includeInboundPorts",
        Check::Ports { wildcard: true },
    ),
    (
        "traffic.sidecar.istio.io/excludeInboundPorts",
        Check::Ports { wildcard: false },
    ),
    (
        "traffic.sidecar.istio.io/includeOutboundPorts",
        Check::Ports { wildcard: false },
    ),
    (
        "traffic.sidecar.istio.io/excludeOutboundPorts",
        Check::Ports { wildcard: false },
    ),
    (
        "traffic.sidecar.istio.io/includeOutboundIPRanges",
        Check::Cidrs {
            wildcard: true,
            setting: "includeIPRanges",
        },
    ),
    (
        "traffic.sidecar.istio.io/excludeOutboundIPRanges",
        Check::Cidrs {
            wildcard: false,
            setting: "excludeIPRanges",
        },
    ),
    (
        "traffic.sidecar.istio.io/kubevirtInterfaces",
        Check::Interfaces,
    ),
    (STATUS_PORT, Check::Port),
    (
        "readiness.status.sidecar.istio.io/initialDelaySeconds",
        Check::Count,
    ),
    (
        "readiness.status.sidecar.istio.io/periodSeconds",
        Check::Count,
    ),
    (
        "readiness.status.sidecar.istio.io/failureThreshold",
        Check::Count,
    ),
    (
        "readiness.status.sidecar.istio.io/applicationPorts",
        Check::Ports { wildcard: false },
    ),
    ("sidecar.istio.io/proxyCPU", Check::Quantity),
    ("sidecar.istio.io/proxyMemory", Check::Quantity),
    ("sidecar.istio.io/proxyCPULimit", Check::Quantity),
    ("sidecar.istio.io/proxyMemoryLimit", Check::Quantity),
    ("sidecar.istio.io/interceptionMode", Check::InterceptionMode),
    (NATIVE_SIDECAR, Check::Bool),
];

/// An annotation's value, if the pod sets it.
pub fn get<'a>(metadata: &'a Value, key: &str) -> Option<&'a str> {
    metadata.get("annotations")?.get(key)?.as_str()
}

fn bad(annotation: &str, message: impl Into<String>) -> AnnotationError {
    AnnotationError {
        annotation: annotation.to_string(),
        message: message.into(),
    }
}

/// Checks every interpreted annotation the pod sets, and returns the parsed
/// `proxy.istio.io/config` overrides so they are parsed once per admission.
pub fn validate(metadata: &Value) -> Result<Option<Value>, AnnotationError> {
    for (key, check) in CHECKED {
        if let Some(value) = get(metadata, key) {
            check_value(*check, value).map_err(|m| bad(key, format!("{value:?}: {m}")))?;
        }
    }
    if let Some(image) = get(metadata, PROXY_IMAGE) {
        self::image(PROXY_IMAGE, image)?;
    }
    proxy_config(metadata)
}

fn check_value(check: Check, value: &str) -> Result<(), String> {
    match check {
        Check::Ports { wildcard } => {
            if wildcard && value.trim() == "*" {
                return Ok(());
            }
            list(value).try_for_each(port)
        }
        Check::Cidrs { wildcard, setting } => {
            if wildcard && value.trim() == "*" {
                return Ok(());
            }
            list(value)
                .try_for_each(cidr)
                .map_err(|e| format!("{e} (the {setting} setting)"))
        }
        Check::Port => port(value.trim()),
        Check::Count => value
            .trim()
            .parse::<u32>()
            .map(drop)
            .map_err(|_| "not a non-negative integer".into()),
        Check::Quantity => quantity(value.trim()),
        Check::Interfaces => list(value).try_for_each(|i| {
            let ok = i.len() <= 15
                && i.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            ok.then_some(())
                .ok_or(format!("{i:?} is not an interface name"))
        }),
        Check::InterceptionMode => match value {
            "REDIRECT" | "TPROXY" | "NONE" => Ok(()),
            _ => Err("must be REDIRECT, TPROXY or NONE".into()),
        },
        Check::Bool => match value {
            "true" | "false" => Ok(()),
            _ => Err("must be \"true\" or \"false\"".into()),
        },
    }
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn port(p: &str) -> Result<(), String> {
    match p.parse::<u16>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("{p:?} is not a port number (0-65535)")),
    }
}

fn cidr(c: &str) -> Result<(), String> {
    let err = || format!("{c:?} is not a CIDR range");
    let (addr, prefix) = c.split_once('/').ok_or_else(err)?;
    let addr: IpAddr = addr.parse().map_err(|_| err())?;
    let prefix: u8 = prefix.parse().map_err(|_| err())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some(()).ok_or_else(err)
}

/// A Kubernetes resource quantity: a decimal number with an optional
/// binary (Ki..Ei), decimal (n, u, m, k, M..E) or exponent suffix.
fn quantity(q: &str) -> Result<(), String> {
    let err = || format!("{q:?} is not a resource quantity");
    let unsigned = q.strip_prefix(['+', '-']).unwrap_or(q);
    let digits_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(digits_end);
    let number_ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1;
    let suffix_ok = match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T"
        | "P" | "E" => true,
        exp => exp
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())),
    };
    (number_ok && suffix_ok).then_some(()).ok_or_else(err)
}

/// A container image reference: no whitespace or control characters.
pub fn image<'a>(annotation: &str, value: &'a str) -> Result<&'a str, AnnotationError> {
    let ok =
        !value.is_empty() && value.len() <= 4096 && value.chars().all(|c| c.is_ascii_graphic());
    ok.then_some(value)
        .ok_or_else(|| bad(annotation, format!("{value:?} is not an image reference")))
}

/// The `sidecar.istio.io/nativeSidecar` annotation, if set.
pub fn native_sidecar(metadata: &Value) -> Result<Option<bool>, AnnotationError> {
    match get(metadata, NATIVE_SIDECAR) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(bad(
            NATIVE_SIDECAR,
            format!("{other:?}: must be \"true\" or \"false\""),
        )),
    }
}

/// The `proxy.istio.io/config` annotation parsed as a YAML mapping, if set.
pub fn proxy_config(metadata: &Value) -> Result<Option<Value>, AnnotationError> {
    let Some(text) = get(metadata, PROXY_CONFIG) else {
        return Ok(None);
    };
    let value: Value =
        crate::yaml::parse(text).map_err(|e| bad(PROXY_CONFIG, format!("not valid YAML: {e}")))?;
    match value {
        Value::Object(_) => Ok(Some(value)),
        Value::Null => Ok(None),
        _ => Err(bad(
            PROXY_CONFIG,
            "must be a mapping of proxy config fields",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(key: &str, value: &str) -> Value {
        json!({"annotations": {key: value}})
    }

    #[test]
    fn accepts_good_values() {
        for (k, v) in [
            ("traffic.sidecar.istio.io/includeInboundPorts", "*"),
            ("traffic.sidecar.istio.io/excludeInboundPorts", "4, 5,6"),
            (
                "traffic.sidecar.istio.io/includeOutboundIPRanges",
                "10.0.0.0/8,fd00::/8",
            ),
            ("traffic.sidecar.istio.io/excludeOutboundIPRanges", ""),
            ("status.sidecar.istio.io/port", "0"),
            ("sidecar.istio.io/proxyCPU", "4000m"),
            ("sidecar.istio.io/proxyMemory", "1.5Gi"),
            ("sidecar.istio.io/proxyMemoryLimit", "1e9"),
            ("sidecar.istio.io/interceptionMode", "TPROXY"),
        ] {
            validate(&meta(k, v)).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        }
    }

    #[test]
    fn rejects_bad_values_naming_the_annotation() {
        for (k, v) in [
            ("traffic.sidecar.istio.io/includeInboundPorts", "80,http"),
            ("traffic.sidecar.istio.io/excludeOutboundPorts", "70000"),
            (
                "traffic.sidecar.istio.io/includeOutboundIPRanges",
                "10.0.0.0/33",
            ),
            ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "*,x"),
            ("status.sidecar.istio.io/port", "15020\n- evil"),
            ("sidecar.istio.io/proxyCPU", "lots"),
            ("sidecar.istio.io/proxyMemory", "1Gi\nkind: Secret"),
            ("sidecar.istio.io/interceptionMode", "redirect"),
            ("sidecar.istio.io/nativeSidecar", "yes"),
            ("sidecar.istio.io/proxyImage", "img\nname: x"),
            ("proxy.istio.io/config", "- a list"),
        ] {
            let err = validate(&meta(k, v)).expect_err(&format!("{k}={v:?} accepted"));
            assert_eq!(err.annotation, k);
        }
    }
}
