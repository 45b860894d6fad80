//! The proxy config as protobuf JSON, the way Istio's `protoToJSON` writes
//! it into the proxy's `PROXY_CONFIG` environment variable: fields equal
//! to Istio's defaults left out (`cleanProxyConfig`), the rest in the
//! message's declaration order (`jsonpb`), durations as `"23s"`.
//!
//! Our proxy config is JSON already, but keys in a different order would
//! give the proxy a different string than Istio gives it, so the order is
//! written down here.

use gotemplate::{JsonStyle, Str, StrBuf, Value, write_json};
use serde_json::Value as Json;

use crate::config::mesh::default_proxy_config;

/// `ProxyConfig`'s fields in `mesh/v1alpha1/proxy.proto` declaration order,
/// by their JSON names (the `cluster_name` oneof's members where it stands).
const FIELD_ORDER: &[&str] = &[
    "configPath",
    "binaryPath",
    "serviceCluster",
    "tracingServiceName",
    "drainDuration",
    "discoveryAddress",
    "discoveryRefreshDelay",
    "zipkinAddress",
    "statsdUdpAddress",
    "envoyMetricsServiceAddress",
    "proxyAdminPort",
    "availabilityZone",
    "controlPlaneAuthPolicy",
    "customConfigFile",
    "statNameLength",
    "concurrency",
    "proxyBootstrapTemplatePath",
    "interceptionMode",
    "tracing",
    "sds",
    "envoyAccessLogService",
    "envoyMetricsService",
    "proxyMetadata",
    "runtimeValues",
    "statusPort",
    "extraStatTags",
    "gatewayTopology",
    "terminationDrainDuration",
    "meshId",
    "readinessProbe",
    "proxyStatsMatcher",
    "holdApplicationUntilProxyStarts",
    "caCertificatesPem",
    "image",
    "privateKeyProvider",
    "proxyHeaders",
    "fileFlushInterval",
    "fileFlushMinSizeKb",
    "statsCompression",
    "connectionSettings",
];

/// Fields `cleanProxyConfig` clears when they equal the default. The
/// others (`statNameLength`...) are zero by default, so they are left out
/// when zero like any other field.
const CLEANED: &[&str] = &[
    "configPath",
    "binaryPath",
    "controlPlaneAuthPolicy",
    "serviceCluster",
    "drainDuration",
    "terminationDrainDuration",
    "discoveryAddress",
    "proxyAdminPort",
    "statNameLength",
    "statusPort",
];

/// Fields of wrapper types (`Int32Value`, `BoolValue`): present means set,
/// even at 0 or false.
const WRAPPERS: &[&str] = &[
    "concurrency",
    "holdApplicationUntilProxyStarts",
    "statsCompression",
];

/// Enum fields and the name of their zero value, which jsonpb leaves out.
const ENUM_ZEROS: &[(&str, &str)] = &[
    ("interceptionMode", "REDIRECT"),
    ("controlPlaneAuthPolicy", "NONE"),
];

/// `protoToJSON` of the proxy config `value` (a JSON node; anything else,
/// or nil, is `{}`).
pub fn proxy_config_json(value: &Value<'_>) -> Str<'static> {
    let Value::Json(json) = value else {
        return Str::owned("{}");
    };
    let Some(Json::Object(fields)) = json.node() else {
        return Str::owned("{}");
    };
    let defaults = default_proxy_config();
    let mut out = StrBuf::new();
    out.push_char('{');
    let mut first = true;
    let ordered = FIELD_ORDER
        .iter()
        .filter_map(|key| fields.get_key_value(*key))
        .chain(
            fields
                .iter()
                .filter(|(k, _)| !FIELD_ORDER.contains(&k.as_str())),
        );
    for (key, field) in ordered {
        let default = defaults.get(key.as_str());
        if is_unset(key, field) || (CLEANED.contains(&key.as_str()) && same(field, default)) {
            continue;
        }
        if !first {
            out.push_char(',');
        }
        first = false;
        out.push_char('"');
        out.push_str(key);
        out.push_str("\":");
        let field = normalize(key, field);
        write_json(
            &mut out,
            &value_of(json.tainted(), &field),
            JsonStyle::default(),
        );
    }
    out.push_char('}');
    out.finish()
}

/// What jsonpb leaves out: proto3 scalars and enums at their zero value,
/// empty repeated fields and maps. Messages and wrappers are written when
/// present, even empty or zero.
fn is_unset(key: &str, v: &Json) -> bool {
    if WRAPPERS.contains(&key) {
        return v.is_null();
    }
    if let Some((_, zero)) = ENUM_ZEROS.iter().find(|(k, _)| *k == key) {
        return v.is_null() || v.as_str() == Some(zero) || v.as_i64() == Some(0);
    }
    match v {
        Json::Null => true,
        Json::Bool(b) => !b,
        Json::Number(n) => n.as_f64() == Some(0.0),
        Json::String(s) => s.is_empty(),
        Json::Array(items) => items.is_empty(),
        Json::Object(_) => false,
    }
}

/// Equal to the default, comparing durations by their value.
fn same(v: &Json, default: Option<&Json>) -> bool {
    match (v, default) {
        (Json::String(a), Some(Json::String(b))) => match (duration_nanos(a), duration_nanos(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        (a, Some(b)) => a == b,
        (_, None) => false,
    }
}

/// Durations in protobuf JSON's canonical form.
fn normalize(key: &str, v: &Json) -> Json {
    match v {
        Json::String(s) if key.ends_with("Duration") || key.ends_with("Delay") => {
            duration_nanos(s).map_or_else(|| v.clone(), |n| Json::String(proto_duration(n)))
        }
        _ => v.clone(),
    }
}

fn value_of(tainted: bool, json: &Json) -> Value<'_> {
    if tainted {
        Value::json_tainted(json, gotemplate::Kind::Any)
    } else {
        Value::json(json, gotemplate::Kind::Any)
    }
}

/// A protobuf JSON duration (`"23s"`, `"1.5s"`, `"-0.010s"`) in
/// nanoseconds. Go's duration syntax (`1m30s`), which YAML mesh configs
/// sometimes hold, is read too.
pub fn duration_nanos(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut total: i128 = 0;
    let mut rest = body;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(scale)?;
        let mut digit_scale = scale;
        for digit in fraction.chars() {
            digit_scale /= 10;
            part += i128::from(digit.to_digit(10)?) * digit_scale;
        }
        total = total.checked_add(part)?;
        rest = tail;
    }
    Some(if negative { -total } else { total })
}

/// Protobuf JSON's duration: seconds with 0, 3, 6 or 9 fractional digits.
fn proto_duration(nanos: i128) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let nanos = nanos.unsigned_abs();
    let (seconds, fraction) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    if fraction == 0 {
        format!("{sign}{seconds}s")
    } else if fraction % 1_000_000 == 0 {
        format!("{sign}{seconds}.{:03}s", fraction / 1_000_000)
    } else if fraction % 1_000 == 0 {
        format!("{sign}{seconds}.{:06}s", fraction / 1_000)
    } else {
        format!("{sign}{seconds}.{fraction:09}s")
    }
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5s`, `10ms`, `0s`.
pub fn go_duration(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, scale) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", decimal(n, scale));
    }
    let (hours, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = decimal(rest, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// `value / scale` with the fraction's trailing zeros dropped.
fn decimal(value: u128, scale: u128) -> String {
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(proxy: &Json) -> String {
        proxy_config_json(&Value::json(proxy, gotemplate::Kind::Any))
            .as_str()
            .to_owned()
    }

    #[test]
    fn defaults_are_left_out_and_the_rest_follows_the_proto_order() {
        let mut proxy = Json::Object(default_proxy_config());
        assert_eq!(render(&proxy), "{}");
        proxy["proxyMetadata"] = json!({"FOO": "bar"});
        proxy["concurrency"] = json!(0);
        proxy["discoveryAddress"] = json!("foo:123");
        proxy["drainDuration"] = json!("23s");
        proxy["tracing"] = json!({});
        assert_eq!(
            render(&proxy),
            r#"{"drainDuration":"23s","discoveryAddress":"foo:123","concurrency":0,"tracing":{},"proxyMetadata":{"FOO":"bar"}}"#
        );
        proxy["drainDuration"] = json!("45.000s");
        proxy["interceptionMode"] = json!("REDIRECT");
        let text = render(&proxy);
        assert!(
            !text.contains("drainDuration") && !text.contains("interceptionMode"),
            "{text}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration_nanos("23s"), Some(23_000_000_000));
        assert_eq!(duration_nanos("1.5s"), Some(1_500_000_000));
        assert_eq!(duration_nanos("1m30s"), Some(90_000_000_000));
        assert_eq!(duration_nanos("soon"), None);
        assert_eq!(proto_duration(1_500_000_000), "1.500s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(go_duration(10_000_000), "10ms");
    }
}
