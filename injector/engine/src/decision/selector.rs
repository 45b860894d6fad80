//! Kubernetes label selector matching (`matchLabels` and `matchExpressions`),
//! as the API server evaluates them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector`. An empty selector matches everything,
/// as in Kubernetes. An unknown operator matches nothing, so a typo in a
/// `neverInjectSelector` never widens it.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_match
        && selector.match_expressions.iter().flatten().all(|expr| {
            let value = labels.get(&expr.key);
            let values = expr.values.as_deref().unwrap_or_default();
            match expr.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn match_labels_needs_every_pair() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "a"), ("tier", "web")])),
            ..Default::default()
        };
        assert!(matches(
            &sel,
            &labels(&[("app", "a"), ("tier", "web"), ("x", "y")])
        ));
        assert!(!matches(&sel, &labels(&[("app", "a")])));
    }

    #[test]
    fn operators() {
        let l = labels(&[("env", "prod")]);
        assert!(matches(&expr("env", "In", &["prod", "stage"]), &l));
        assert!(!matches(&expr("env", "NotIn", &["prod"]), &l));
        assert!(matches(&expr("zone", "NotIn", &["a"]), &l));
        assert!(matches(&expr("env", "Exists", &[]), &l));
        assert!(!matches(&expr("env", "DoesNotExist", &[]), &l));
        assert!(!matches(&expr("env", "Sometimes", &["prod"]), &l));
    }

    #[test]
    fn empty_selector_matches_all() {
        assert!(matches(&LabelSelector::default(), &BTreeMap::new()));
    }
}
