//! What several engine tests share: Istio's own ConfigMaps, read at run
//! time from `../shared/istio-configmaps` (never copied into the repository).

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};

use injector_engine::config::Text;
use injector_engine::{Config, RawConfig};
use serde_json::{Map, Value};

pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Istio's two ConfigMaps, as its default installation renders them.
pub fn istio_raw_config() -> RawConfig {
    let dir = shared().join("istio-configmaps");
    let read = |name: &str| {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("Istio's ConfigMap {}: {e}", path.display()));
        (text, path.display().to_string())
    };
    let (injector, injector_path) = read("istio-sidecar-injector.yaml");
    let (mesh, mesh_path) = read("istio.yaml");
    RawConfig {
        config: Text::from_file(injector.clone(), &injector_path, "config").unwrap(),
        values: Text::from_file(injector, &injector_path, "values").unwrap(),
        mesh: Text::from_file(mesh, &mesh_path, "mesh").unwrap(),
    }
}

/// Istio's configuration with native sidecars on or off.
pub fn istio_config(native: bool) -> Config {
    let mut config = istio_raw_config().parse().unwrap();
    native_sidecars(&mut config, native);
    config
}

/// Native sidecars on or off for the whole configuration: the one place
/// that knows how the engine is told (today the values' `global.nativeSidecar`).
pub fn native_sidecars(config: &mut Config, on: bool) {
    set_path(&mut config.values, "global.nativeSidecar", Value::Bool(on));
}

/// Sets the value at a dotted path, creating the maps on the way.
pub fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut at = root;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !at[*part].is_object() {
            at[*part] = Value::Object(Map::new());
        }
        at = &mut at[*part];
    }
    at[parts[parts.len() - 1]] = value;
}
