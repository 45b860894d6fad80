//! The three ConfigMap keys and the templates of both dialects: arbitrary
//! texts and edits of the real ones compile to an engine or fail with an
//! error naming the input, never a panic; an engine that compiles injects
//! pods held to every invariant.

use std::sync::OnceLock;

use injector_engine::config::{CONFIG_KEY, MESH_KEY, Text, VALUES_KEY};
use injector_engine::{Engine, RawConfig};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;

use crate::check;
use crate::inputs::{self, budget};

fn shared(file: &str) -> String {
    let path = format!(
        "{}/../../../shared/istio-configmaps/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Istio's own ConfigMaps: Go templates.
fn istio() -> &'static RawConfig {
    static ISTIO: OnceLock<RawConfig> = OnceLock::new();
    ISTIO.get_or_init(|| {
        let injector = shared("istio-sidecar-injector.yaml");
        let mesh = shared("istio.yaml");
        RawConfig {
            config: Text::from_file(injector.clone(), "istio", CONFIG_KEY).unwrap(),
            values: Text::from_file(injector, "istio", VALUES_KEY).unwrap(),
            mesh: Text::from_file(mesh, "istio", MESH_KEY).unwrap(),
            cluster: Default::default(),
        }
    })
}

/// Which of the three keys an input replaces.
#[derive(Clone, Copy, Debug)]
enum Key {
    Config,
    Values,
    Mesh,
}

fn key() -> impl Strategy<Value = Key> {
    select(vec![Key::Config, Key::Values, Key::Mesh])
}

fn with_key(base: &RawConfig, key: Key, body: String) -> RawConfig {
    let mut raw = base.clone();
    let text = match key {
        Key::Config => &mut raw.config,
        Key::Values => &mut raw.values,
        Key::Mesh => &mut raw.mesh,
    };
    text.body = body;
    raw
}

fn body(raw: &RawConfig, key: Key) -> &str {
    match key {
        Key::Config => &raw.config.body,
        Key::Values => &raw.values.body,
        Key::Mesh => &raw.mesh.body,
    }
}

/// Loads `raw` as a snapshot would: parse, compile; when it compiles, a
/// plain pod goes through the invariants.
fn load(raw: &RawConfig) {
    let config = match raw.parse() {
        Ok(config) => config,
        Err(e) => {
            let message = e.to_string();
            prop_assert_names_origin(&message, raw);
            return;
        }
    };
    let Ok(engine) = Engine::compile(config, 2) else {
        return;
    };
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 8080}]}]}
    });
    check::inject(&engine, &pod);
}

fn prop_assert_names_origin(message: &str, raw: &RawConfig) {
    let sources = [&raw.config, &raw.values, &raw.mesh].map(|t| t.origin.source.as_str());
    assert!(
        sources.iter().any(|s| message.contains(s)),
        "the error does not say which input: {message}"
    );
}

proptest! {
    #![proptest_config(budget(128))]

    #[test]
    fn arbitrary_texts_for_each_key(key in key(), text in prop_oneof![
        inputs::text(),
        inputs::json().prop_map(|v| v.to_string()),
        inputs::json().prop_map(|v| injector_engine::yaml::to_string(&v).unwrap_or_default()),
    ]) {
        load(&with_key(&RawConfig::embedded(), key, text));
    }
}

proptest! {
    #![proptest_config(budget(48))]

    /// The embedded configuration (handlebars) edited: its `config` key
    /// holds the templates, so most edits land in a template.
    #[test]
    fn edited_embedded_keys(key in key(), edits in inputs::edits(4)) {
        let base = RawConfig::embedded();
        load(&with_key(&base, key, inputs::mutate(body(&base, key), &edits)));
    }
}

proptest! {
    #![proptest_config(budget(16))]

    /// Istio's ConfigMaps (Go templates) edited.
    #[test]
    fn edited_istio_keys(key in key(), edits in inputs::edits(4)) {
        let base = istio();
        load(&with_key(base, key, inputs::mutate(body(base, key), &edits)));
    }
}
