//! User overrides of the sidecar: a container the user declares under a
//! sidecar's name is taken out of the pod before rendering and applied onto
//! the injected container field by field afterwards, and recorded in the
//! `proxy.istio.io/overrides` annotation so re-injection can redo it.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::annotations;
use crate::merge::merge_object;
use crate::pod::{CONTAINER_LISTS, name_of, spec_mut};

/// The containers the user declared under sidecars' names.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Value>,
}

impl Overrides {
    /// The overrides an earlier injection recorded on `pod`, if any.
    pub fn recorded(pod: &Value) -> Result<Self, serde_json::Error> {
        match annotations::get(&pod["metadata"], annotations::OVERRIDES) {
            None => Ok(Overrides::default()),
            Some(text) => serde_json::from_str(text),
        }
    }

    /// The annotation recording these overrides; none when there are none.
    pub fn annotation(&self) -> Result<Option<(String, String)>, serde_json::Error> {
        if self.init_containers.is_empty() && self.containers.is_empty() {
            return Ok(None);
        }
        let recorded = serde_json::to_string(self)?;
        Ok(Some((annotations::OVERRIDES.to_string(), recorded)))
    }

    fn list_mut(&mut self, list: &str) -> &mut Vec<Value> {
        if list == "initContainers" {
            &mut self.init_containers
        } else {
            &mut self.containers
        }
    }

    /// Adds `container` under `list`, replacing one of the same name.
    fn put(&mut self, list: &str, container: Value) {
        let items = self.list_mut(list);
        let name = name_of(&container).map(str::to_string);
        items.retain(|c| name_of(c).map(str::to_string) != name);
        items.push(container);
    }
}

/// Takes the user's containers named like a sidecar out of the pod and adds
/// them to `overrides`.
pub fn take(pod: &mut Value, sidecar_names: &BTreeSet<String>, overrides: &mut Overrides) {
    let Some(spec) = spec_mut(pod) else { return };
    for list in CONTAINER_LISTS {
        if let Some(Value::Array(items)) = spec.get_mut(list) {
            let (taken, kept): (Vec<Value>, Vec<Value>) = std::mem::take(items)
                .into_iter()
                .partition(|c| name_of(c).is_some_and(|n| sidecar_names.contains(n)));
            *items = kept;
            for c in taken {
                overrides.put(list, c);
            }
        }
    }
}

/// Applies the user's overrides onto the injected containers of the same
/// name, wherever the template put them. `image: auto` keeps the injected
/// image. An override whose name was not injected goes back where the user
/// declared it, as written, so nothing the user wrote is lost.
pub fn apply(pod: &mut Value, overrides: &Overrides) {
    let Some(spec) = spec_mut(pod) else { return };
    for (declared_in, items) in [
        ("initContainers", &overrides.init_containers),
        ("containers", &overrides.containers),
    ] {
        for user in items {
            let Value::Object(mut fields) = user.clone() else {
                continue;
            };
            let name = fields.get("name").cloned();
            let location = CONTAINER_LISTS.iter().find_map(|list| {
                let items = spec.get(*list)?.as_array()?;
                let index = items.iter().position(|c| c.get("name") == name.as_ref())?;
                Some((*list, index))
            });
            let target = location.and_then(|(list, index)| spec[list][index].as_object_mut());
            match target {
                Some(injected) => {
                    if fields.get("image").and_then(Value::as_str) == Some("auto") {
                        fields.remove("image");
                    }
                    merge_object(injected, fields);
                }
                None => push(spec, declared_in, Value::Object(fields)),
            }
        }
    }
}

fn push(spec: &mut Map<String, Value>, list: &str, item: Value) {
    match spec.entry(list).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(items) => items.push(item),
        other => *other = Value::Array(vec![item]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overrides_win_field_by_field_and_auto_keeps_the_image() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "app"},
            {"name": "istio-proxy", "image": "auto", "tty": true, "securityContext": {"runAsUser": 1234}}
        ]}});
        let names = BTreeSet::from(["istio-proxy".to_string()]);
        let mut overrides = Overrides::default();
        take(&mut pod, &names, &mut overrides);
        assert_eq!(pod, json!({"spec": {"containers": [{"name": "app"}]}}));
        let fragment = json!({"spec": {"initContainers": [
            {"name": "istio-proxy", "image": "proxy:1", "securityContext": {"runAsUser": 1337, "runAsGroup": 1337}}
        ]}});
        merge_object(
            pod.as_object_mut().unwrap(),
            fragment.as_object().cloned().unwrap(),
        );
        apply(&mut pod, &overrides);
        assert_eq!(
            pod["spec"]["initContainers"][0],
            json!({"name": "istio-proxy", "image": "proxy:1", "tty": true,
                   "securityContext": {"runAsUser": 1234, "runAsGroup": 1337}})
        );
    }
}
