//! What happens to the pod after the fragments are merged, as Istio does
//! it: the user's [`overrides`] of the sidecar are applied, application
//! [`probes`] are pointed at the proxy agent, and the containers are put in
//! [`order`].
//!
//! [`istio`] holds Istio's own steps, which the Go dialect follows instead
//! (Istio's templates expect Istio's merge and post-processing).
//!
//! Each submodule also owns the inverse its step needs for idempotent
//! re-injection (taking overrides out, restoring probes), which the engine
//! runs before rendering.

pub mod istio;
pub mod order;
pub mod overrides;
pub mod probes;

use serde_json::Value;

use crate::merge::Injected;
use overrides::Overrides;

/// The name of the proxy container, which probe and ordering rules single
/// out.
pub const PROXY_CONTAINER: &str = "istio-proxy";

/// The per-pod settings of the step.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The agent's status port app probes are rewritten to; 0 turns
    /// rewriting off.
    pub probe_port: u16,
    /// Whether the proxy must start before the application containers.
    pub hold_application: bool,
}

/// Applies overrides, rewrites probes and orders the containers. Probes are
/// rewritten only when the templates injected the proxy: without it nothing
/// serves the status port, and a user's container of the proxy's name is
/// theirs, not the proxy to hand probes to.
pub fn run(pod: &mut Value, injected: &Injected, overrides: &Overrides, settings: Settings) {
    overrides::apply(pod, overrides);
    let sidecars: Vec<String> = injected.all_containers().cloned().collect();
    if sidecars.iter().any(|name| name == PROXY_CONTAINER) {
        let probers = probes::rewrite(pod, &sidecars, settings.probe_port);
        probes::hand_to_proxy(pod, PROXY_CONTAINER, &probers);
    }
    order::order(pod, injected, settings.hold_application);
}
