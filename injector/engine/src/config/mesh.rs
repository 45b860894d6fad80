//! The `mesh` key of the `istio` ConfigMap.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The mesh config. Only `defaultConfig` is read by the engine directly;
/// the rest goes to templates as `MeshConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshConfig {
    /// The default proxy config, overlaid per pod by `proxy.istio.io/config`.
    #[serde(default)]
    pub default_config: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
