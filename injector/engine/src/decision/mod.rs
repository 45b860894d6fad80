//! Whether a pod gets a sidecar, and why.
//!
//! The chain follows Istio's, so operators can reuse what they know:
//! host network, system namespaces, the namespace layer (when the caller
//! knows the namespace labels, as the webhook's selectors do), the pod's
//! `sidecar.istio.io/inject` label then annotation, `neverInjectSelector`,
//! `alwaysInjectSelector`, and finally `policy`. The decision is a pure
//! function; its [`Reason`] feeds traces, metrics and `injector check`.

mod selector;

use std::collections::BTreeMap;
use std::fmt;

use crate::config::{InjectConfig, Policy};

/// Pod label and annotation that opt a pod in or out.
pub const INJECT_KEY: &str = "sidecar.istio.io/inject";
/// Namespace label that turns injection on or off for a namespace.
pub const NAMESPACE_INJECTION_LABEL: &str = "istio-injection";
/// Namespace or pod label binding it to a control-plane revision.
pub const REVISION_LABEL: &str = "istio.io/rev";
/// Namespaces that never get sidecars.
pub const IGNORED_NAMESPACES: [&str; 4] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "local-path-storage",
];

/// What the decision looks at: the pod's metadata and host networking, and
/// the namespace labels when the caller has them.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub host_network: bool,
    /// `None` when the namespace is unknown (offline `kube-inject`): the
    /// namespace layer is then not evaluated, as with `istioctl kube-inject`.
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
}

/// Why a pod was or was not injected. The variants are a closed set so they
/// can label metrics; [`Decision::detail`] carries the specifics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    HostNetwork,
    IgnoredNamespace,
    NamespaceDisabled,
    NamespaceOtherRevision,
    NamespaceNotSelected,
    PodOptedOut,
    PodOptedIn,
    NeverInjectSelector,
    AlwaysInjectSelector,
    PolicyEnabled,
    PolicyDisabled,
}

impl Reason {
    /// A stable snake_case code, used as a metric label value.
    pub fn code(self) -> &'static str {
        match self {
            Reason::HostNetwork => "host_network",
            Reason::IgnoredNamespace => "ignored_namespace",
            Reason::NamespaceDisabled => "namespace_disabled",
            Reason::NamespaceOtherRevision => "namespace_other_revision",
            Reason::NamespaceNotSelected => "namespace_not_selected",
            Reason::PodOptedOut => "pod_opted_out",
            Reason::PodOptedIn => "pod_opted_in",
            Reason::NeverInjectSelector => "never_inject_selector",
            Reason::AlwaysInjectSelector => "always_inject_selector",
            Reason::PolicyEnabled => "policy_enabled",
            Reason::PolicyDisabled => "policy_disabled",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The outcome: inject or not, the reason, and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub inject: bool,
    pub reason: Reason,
    pub detail: String,
}

/// Records each step of the chain when a caller (`injector check`) wants to
/// show it; the admission path passes [`Trace::off`] and pays nothing.
#[derive(Debug, Default)]
pub struct Trace {
    steps: Option<Vec<String>>,
}

impl Trace {
    pub fn off() -> Self {
        Trace { steps: None }
    }
    pub fn on() -> Self {
        Trace {
            steps: Some(Vec::new()),
        }
    }
    fn step(&mut self, line: impl FnOnce() -> String) {
        if let Some(steps) = &mut self.steps {
            steps.push(line());
        }
    }
    pub fn into_steps(self) -> Vec<String> {
        self.steps.unwrap_or_default()
    }
}

fn done(inject: bool, reason: Reason, detail: String) -> Decision {
    Decision {
        inject,
        reason,
        detail,
    }
}

/// Decides whether `pod` gets a sidecar from `config` for control-plane
/// `revision`.
pub fn decide(
    pod: &Subject<'_>,
    config: &InjectConfig,
    revision: &str,
    trace: &mut Trace,
) -> Decision {
    if pod.host_network {
        return done(
            false,
            Reason::HostNetwork,
            "pod uses host networking".into(),
        );
    }
    trace.step(|| "hostNetwork: not set".into());
    if IGNORED_NAMESPACES.contains(&pod.namespace) {
        return done(
            false,
            Reason::IgnoredNamespace,
            format!("namespace {:?} is never injected", pod.namespace),
        );
    }
    trace.step(|| format!("namespace {:?}: not a system namespace", pod.namespace));

    if let Some(ns_labels) = pod.namespace_labels
        && let Some(skip) = namespace_layer(pod, ns_labels, revision, trace)
    {
        return skip;
    }

    if let Some(explicit) = explicit_choice(pod, trace) {
        return explicit;
    }

    for (i, sel) in config.never_inject_selector.iter().enumerate() {
        if selector::matches(sel, pod.labels) {
            return done(
                false,
                Reason::NeverInjectSelector,
                format!("pod labels match neverInjectSelector[{i}]"),
            );
        }
    }
    trace.step(|| {
        format!(
            "neverInjectSelector: no match among {}",
            config.never_inject_selector.len()
        )
    });
    for (i, sel) in config.always_inject_selector.iter().enumerate() {
        if selector::matches(sel, pod.labels) {
            return done(
                true,
                Reason::AlwaysInjectSelector,
                format!("pod labels match alwaysInjectSelector[{i}]"),
            );
        }
    }
    trace.step(|| {
        format!(
            "alwaysInjectSelector: no match among {}",
            config.always_inject_selector.len()
        )
    });
    match config.policy {
        Policy::Enabled => done(true, Reason::PolicyEnabled, "policy is enabled".into()),
        Policy::Disabled => done(
            false,
            Reason::PolicyDisabled,
            format!("policy is disabled and the pod does not set {INJECT_KEY}=true"),
        ),
    }
}

/// The namespace layer, as the webhook's namespace and object selectors
/// apply it for the default revision. Returns a decision only to skip.
fn namespace_layer(
    pod: &Subject<'_>,
    ns_labels: &BTreeMap<String, String>,
    revision: &str,
    trace: &mut Trace,
) -> Option<Decision> {
    if let Some(value) = ns_labels.get(NAMESPACE_INJECTION_LABEL) {
        return if value == "enabled" {
            trace.step(|| format!("namespace label {NAMESPACE_INJECTION_LABEL}=enabled"));
            None
        } else {
            Some(done(
                false,
                Reason::NamespaceDisabled,
                format!("namespace label {NAMESPACE_INJECTION_LABEL}={value}"),
            ))
        };
    }
    if let Some(rev) = ns_labels.get(REVISION_LABEL) {
        return if rev == revision {
            trace.step(|| format!("namespace label {REVISION_LABEL}={rev}: this revision"));
            None
        } else {
            Some(done(
                false,
                Reason::NamespaceOtherRevision,
                format!(
                    "namespace is bound to revision {rev:?}, this injector serves {revision:?}"
                ),
            ))
        };
    }
    match pod.labels.get(REVISION_LABEL) {
        Some(rev) if rev == revision => {
            trace.step(|| format!("pod label {REVISION_LABEL}={rev}: this revision"));
            return None;
        }
        Some(rev) => {
            return Some(done(
                false,
                Reason::NamespaceOtherRevision,
                format!("pod is bound to revision {rev:?}, this injector serves {revision:?}"),
            ));
        }
        None => {}
    }
    if pod.labels.get(INJECT_KEY).map(String::as_str) == Some("true") {
        trace.step(|| format!("namespace not labelled; pod label {INJECT_KEY}=true"));
        return None;
    }
    Some(done(
        false,
        Reason::NamespaceNotSelected,
        format!(
            "namespace has neither {NAMESPACE_INJECTION_LABEL}=enabled nor {REVISION_LABEL}, \
             and the pod has no {INJECT_KEY}=true label"
        ),
    ))
}

/// The pod's own choice: label first, then annotation. A value that is not
/// a boolean is ignored (and noted) so the chain falls through.
fn explicit_choice(pod: &Subject<'_>, trace: &mut Trace) -> Option<Decision> {
    let sources = [("label", pod.labels), ("annotation", pod.annotations)];
    for (kind, map) in sources {
        let Some(value) = map.get(INJECT_KEY) else {
            trace.step(|| format!("pod {kind} {INJECT_KEY}: absent"));
            continue;
        };
        match parse_bool(value) {
            Some(true) => {
                return Some(done(
                    true,
                    Reason::PodOptedIn,
                    format!("pod {kind} {INJECT_KEY}={value}"),
                ));
            }
            Some(false) => {
                return Some(done(
                    false,
                    Reason::PodOptedOut,
                    format!("pod {kind} {INJECT_KEY}={value}"),
                ));
            }
            None => trace
                .step(|| format!("pod {kind} {INJECT_KEY}={value:?} is not a boolean: ignored")),
        }
    }
    None
}

/// Go's `strconv.ParseBool`, which Istio uses for this annotation.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" | "y" | "yes" | "Y" | "on" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" | "n" | "no" | "N" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn config(yaml: &str) -> InjectConfig {
        let mut raw = RawConfig::embedded();
        if !yaml.is_empty() {
            raw.config.body = yaml.to_string();
        }
        raw.parse().unwrap().inject
    }

    struct Case<'a> {
        ns: &'a str,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
        host_network: bool,
        ns_labels: Option<BTreeMap<String, String>>,
    }

    impl Default for Case<'_> {
        fn default() -> Self {
            Case {
                ns: "default",
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                host_network: false,
                ns_labels: None,
            }
        }
    }

    fn run(case: &Case<'_>, cfg: &InjectConfig) -> Decision {
        let subject = Subject {
            namespace: case.ns,
            labels: &case.labels,
            annotations: &case.annotations,
            host_network: case.host_network,
            namespace_labels: case.ns_labels.as_ref(),
        };
        decide(&subject, cfg, "default", &mut Trace::off())
    }

    #[test]
    fn chain_order() {
        let cfg = config("");
        let d = run(&Case::default(), &cfg);
        assert_eq!((d.inject, d.reason), (true, Reason::PolicyEnabled));

        let d = run(
            &Case {
                host_network: true,
                labels: map(&[(INJECT_KEY, "true")]),
                ..Default::default()
            },
            &cfg,
        );
        assert_eq!((d.inject, d.reason), (false, Reason::HostNetwork));

        let d = run(
            &Case {
                ns: "kube-system",
                ..Default::default()
            },
            &cfg,
        );
        assert_eq!((d.inject, d.reason), (false, Reason::IgnoredNamespace));

        // The label wins over the annotation.
        let d = run(
            &Case {
                labels: map(&[(INJECT_KEY, "false")]),
                annotations: map(&[(INJECT_KEY, "true")]),
                ..Default::default()
            },
            &cfg,
        );
        assert_eq!((d.inject, d.reason), (false, Reason::PodOptedOut));
        assert!(d.detail.contains("label"), "{}", d.detail);
    }

    #[test]
    fn non_boolean_value_falls_through_to_policy() {
        let cfg = config("policy: disabled\ntemplates: {sidecar: x}\n");
        let mut trace = Trace::on();
        let annotations = map(&[(INJECT_KEY, "maybe")]);
        let labels = BTreeMap::new();
        let subject = Subject {
            namespace: "default",
            labels: &labels,
            annotations: &annotations,
            host_network: false,
            namespace_labels: None,
        };
        let d = decide(&subject, &cfg, "default", &mut trace);
        assert_eq!((d.inject, d.reason), (false, Reason::PolicyDisabled));
        assert!(
            trace
                .into_steps()
                .iter()
                .any(|s| s.contains("not a boolean")),
            "the ignored value is explained"
        );
    }

    #[test]
    fn selectors_come_after_explicit_choice_and_before_policy() {
        let cfg = config(
            "policy: disabled\ntemplates: {sidecar: x}\n\
             neverInjectSelector: [{matchLabels: {app: legacy}}]\n\
             alwaysInjectSelector: [{matchLabels: {app: legacy}}, {matchLabels: {mesh: 'on'}}]\n",
        );
        let legacy = Case {
            labels: map(&[("app", "legacy"), ("mesh", "on")]),
            ..Default::default()
        };
        assert_eq!(run(&legacy, &cfg).reason, Reason::NeverInjectSelector);
        let meshed = Case {
            labels: map(&[("mesh", "on")]),
            ..Default::default()
        };
        let d = run(&meshed, &cfg);
        assert_eq!((d.inject, d.reason), (true, Reason::AlwaysInjectSelector));
        let opted = Case {
            labels: map(&[("app", "legacy"), (INJECT_KEY, "true")]),
            ..Default::default()
        };
        assert_eq!(run(&opted, &cfg).reason, Reason::PodOptedIn);
    }

    #[test]
    fn namespace_layer() {
        let cfg = config("");
        let with_ns = |ns: &[(&str, &str)], pod: &[(&str, &str)]| Case {
            ns_labels: Some(map(ns)),
            labels: map(pod),
            ..Default::default()
        };
        let r = |c: Case<'_>| {
            let d = run(&c, &cfg);
            (d.inject, d.reason)
        };
        assert_eq!(
            r(with_ns(&[("istio-injection", "enabled")], &[])),
            (true, Reason::PolicyEnabled)
        );
        assert_eq!(
            r(with_ns(
                &[("istio-injection", "enabled")],
                &[(INJECT_KEY, "false")]
            )),
            (false, Reason::PodOptedOut)
        );
        assert_eq!(
            r(with_ns(
                &[("istio-injection", "disabled")],
                &[(INJECT_KEY, "true")]
            )),
            (false, Reason::NamespaceDisabled)
        );
        assert_eq!(
            r(with_ns(&[("istio.io/rev", "canary")], &[])),
            (false, Reason::NamespaceOtherRevision)
        );
        assert_eq!(
            r(with_ns(&[("istio.io/rev", "default")], &[])),
            (true, Reason::PolicyEnabled)
        );
        assert_eq!(r(with_ns(&[], &[])), (false, Reason::NamespaceNotSelected));
        assert_eq!(
            r(with_ns(&[], &[(INJECT_KEY, "true")])),
            (true, Reason::PodOptedIn)
        );
    }
}
