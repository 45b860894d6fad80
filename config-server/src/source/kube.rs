//! The `kube` source: the `istio-sidecar-injector` ConfigMap (`config`,
//! `values`) and the `istio` ConfigMap (`mesh`), each watched on its own,
//! field-selected by name, so the server needs read access to those two
//! objects only.
//!
//! kube-runtime's watcher lists, then watches from the list's
//! resourceVersion, resumes after a dropped watch and relists after a 410
//! Gone; its backoff spaces out retries while the API server is away. A
//! snapshot is built only once both ConfigMaps have been listed, and again
//! on every change after. A deleted ConfigMap is refused like an invalid
//! one: the last good snapshot stays. A refused edit is also reported as a
//! Warning Event on the ConfigMap at fault, where `kubectl describe` shows it.
//! A change of the native-sidecar decision ([`crate::cluster`]) rebuilds
//! the last good input and is reported as a Normal Event on the injector's
//! ConfigMap.

use std::collections::BTreeMap;

use edge::native::Decision;
use edge::versioner::BuildError;
use futures::StreamExt;
use injector_engine::ConfigError;
use injector_engine::config::{CONFIG_KEY, ClusterFacts, MESH_KEY, RawConfig, Text, VALUES_KEY};
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use proto::v1::{ConfigMapRef, Provenance, provenance};
use tokio::sync::watch;

use crate::snapshot::Publisher;
use crate::source::Input;

/// Holds `config` and `values`.
pub const INJECTOR_CONFIGMAP: &str = "istio-sidecar-injector";
/// Holds `mesh`.
pub const MESH_CONFIGMAP: &str = "istio";

/// The Event's limit on a note is 1 kB.
const MAX_NOTE: usize = 1000;

/// Watches both ConfigMaps in `namespace` and publishes every valid change,
/// for the cluster as `cluster` last decided: nothing is built before its
/// first decision, and a decision that changes what pods get rebuilds the
/// last good input. Runs for as long as it is polled: the watchers
/// reconnect on their own.
pub async fn run(
    client: Client,
    namespace: &str,
    reporter: Reporter,
    publisher: &mut Publisher,
    mut cluster: watch::Receiver<Option<Decision>>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let watch = |name: &'static str| {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        watcher(api.clone(), config)
            .default_backoff()
            .map(move |event| (name, event))
    };
    let mut events = std::pin::pin!(futures::stream::select(
        watch(INJECTOR_CONFIGMAP),
        watch(MESH_CONFIGMAP)
    ));
    let recorder = Recorder::new(client, reporter);
    let mut seen = Seen::default();
    let mut previous: Option<bool> = None;
    // The first decision comes before the first build; a detector that is
    // gone leaves the publisher's own.
    let first = cluster
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|d| d.clone());
    let mut deciding = first.is_some();
    if let Some(decision) = first {
        decide(
            publisher,
            &recorder,
            &seen,
            namespace,
            &mut previous,
            decision,
        )
        .await;
    }
    loop {
        tokio::select! {
            changed = cluster.changed(), if deciding => {
                if changed.is_err() {
                    deciding = false;
                    continue;
                }
                let Some(decision) = cluster.borrow_and_update().clone() else {
                    continue;
                };
                decide(publisher, &recorder, &seen, namespace, &mut previous, decision).await;
            }
            next = events.next() => {
                let Some((name, event)) = next else { return };
                build(publisher, &recorder, &mut seen, namespace, name, event).await;
            }
        }
    }
}

/// Takes a native-sidecar decision: announced, and the last good input
/// rebuilt for it when pods get another sidecar (a rebuild that fails is
/// reported like an edit that fails).
async fn decide(
    publisher: &mut Publisher,
    recorder: &Recorder,
    seen: &Seen,
    namespace: &str,
    previous: &mut Option<bool>,
    decision: Decision,
) {
    announce(recorder, namespace, *previous, &decision).await;
    *previous = Some(decision.native_sidecars);
    if let Some(Err(error)) = publisher.set_cluster(decision).await
        && let Some(configmap) = seen.at_fault(&error)
    {
        report(recorder, configmap, &error).await;
    }
}

/// Applies one ConfigMap watch event and builds the inputs if they changed.
async fn build(
    publisher: &mut Publisher,
    recorder: &Recorder,
    seen: &mut Seen,
    namespace: &str,
    name: &'static str,
    event: Result<watcher::Event<ConfigMap>, watcher::Error>,
) {
    match event {
        Ok(event) => {
            if !seen.apply(name, event) {
                return;
            }
        }
        Err(error) => {
            tracing::warn!(configmap = name, %error, "ConfigMap watch failed; retrying");
            return;
        }
    }
    let input = match seen.input(namespace) {
        Ok(input) => input,
        Err(missing) => {
            publisher.reject(missing, Vec::new());
            return;
        }
    };
    if let Err(error) = publisher.offer(input).await
        && let Some(configmap) = seen.at_fault(&error)
    {
        report(recorder, configmap, &error).await;
    }
}

/// Logs a native-sidecar decision, and records a change of it (not the
/// first one) as a Normal Event on the injector ConfigMap, next to the
/// configuration's own Events.
async fn announce(
    recorder: &Recorder,
    namespace: &str,
    previous: Option<bool>,
    decision: &Decision,
) {
    let native = decision.native_sidecars;
    tracing::info!(mode = %decision.mode, native_sidecars = native, reason = %decision.reason, "native-sidecar decision");
    if previous.is_none_or(|p| p == native) {
        return;
    }
    let event = Event {
        type_: EventType::Normal,
        reason: if native {
            "NativeSidecarsOn"
        } else {
            "NativeSidecarsOff"
        }
        .into(),
        note: Some(truncate(format!(
            "new pods get {} sidecars: {}",
            if native { "native" } else { "classic" },
            decision.reason
        ))),
        action: "DetectNativeSidecars".into(),
        secondary: None,
    };
    let regarding = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("ConfigMap".into()),
        name: Some(INJECTOR_CONFIGMAP.into()),
        namespace: Some(namespace.into()),
        ..ObjectReference::default()
    };
    if let Err(e) = recorder.publish(&event, &regarding).await {
        tracing::warn!(error = %e, "cannot record the native-sidecar change as an Event");
    }
}

/// What the two watches have shown so far.
#[derive(Debug, Default)]
struct Seen {
    /// Per name: the ConfigMap, once its first list completed (`None` when
    /// it does not exist).
    listed: BTreeMap<&'static str, Option<ConfigMap>>,
    /// Per name: the objects of a list in progress.
    listing: BTreeMap<&'static str, Option<ConfigMap>>,
}

impl Seen {
    /// Applies one watch event; true when a new input should be built.
    fn apply(&mut self, name: &'static str, event: watcher::Event<ConfigMap>) -> bool {
        match event {
            watcher::Event::Init => {
                self.listing.insert(name, None);
                return false;
            }
            watcher::Event::InitApply(cm) => {
                self.listing.insert(name, Some(cm));
                return false;
            }
            watcher::Event::InitDone => {
                let listed = self.listing.remove(name).flatten();
                self.listed.insert(name, listed);
            }
            watcher::Event::Apply(cm) => {
                self.listed.insert(name, Some(cm));
            }
            watcher::Event::Delete(_) => {
                self.listed.insert(name, None);
            }
        }
        self.listed.len() == 2
    }

    fn get(&self, name: &str) -> Option<&ConfigMap> {
        self.listed.get(name).and_then(Option::as_ref)
    }

    /// The inputs, or why they are incomplete.
    fn input(&self, namespace: &str) -> Result<Input, String> {
        let configmap = |name: &str| {
            self.get(name)
                .ok_or_else(|| format!("ConfigMap {namespace}/{name} not found"))
        };
        let injector = configmap(INJECTOR_CONFIGMAP)?;
        let mesh = configmap(MESH_CONFIGMAP)?;
        // The publisher adds the cluster's facts.
        let raw = RawConfig {
            config: text(injector, CONFIG_KEY)?,
            values: text(injector, VALUES_KEY)?,
            mesh: text(mesh, MESH_KEY)?,
            cluster: ClusterFacts::default(),
        };
        let provenance = [
            (CONFIG_KEY, injector),
            (VALUES_KEY, injector),
            (MESH_KEY, mesh),
        ]
        .into_iter()
        .map(|(key, cm)| Provenance {
            key: key.to_string(),
            source: Some(provenance::Source::ConfigMap(ConfigMapRef {
                namespace: cm.namespace().unwrap_or_default(),
                name: cm.name_any(),
                resource_version: cm.resource_version().unwrap_or_default(),
            })),
        })
        .collect();
        Ok(Input { raw, provenance })
    }

    /// The ConfigMap holding the input a build error names: `mesh` is in
    /// `istio`, all else (the templates among it) in the injector's.
    fn at_fault(&self, error: &BuildError) -> Option<&ConfigMap> {
        let key = match error {
            BuildError::Config(ConfigError::Parse { origin, .. })
            | BuildError::Config(ConfigError::Invalid { origin, .. }) => origin.key.as_str(),
            _ => CONFIG_KEY,
        };
        self.get(if key == MESH_KEY {
            MESH_CONFIGMAP
        } else {
            INJECTOR_CONFIGMAP
        })
    }
}

/// The text of `key` in `cm`, its origin naming the ConfigMap.
fn text(cm: &ConfigMap, key: &str) -> Result<Text, String> {
    let source = format!(
        "configmap {}/{}",
        cm.namespace().unwrap_or_default(),
        cm.name_any()
    );
    cm.data
        .as_ref()
        .and_then(|data| data.get(key))
        .map(|body| Text::new(body.clone(), source.clone(), key))
        .ok_or_else(|| format!("{source} has no key {key:?}"))
}

/// `note` cut to what an Event holds.
fn truncate(mut note: String) -> String {
    if note.len() > MAX_NOTE {
        let mut end = MAX_NOTE;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
    }
    note
}

async fn report(recorder: &Recorder, configmap: &ConfigMap, error: &BuildError) {
    let event = Event {
        type_: EventType::Warning,
        reason: "InvalidConfiguration".into(),
        note: Some(truncate(error.to_string())),
        action: "Validate".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &configmap.object_ref(&())).await {
        tracing::warn!(configmap = %configmap.name_any(), error = %e, "cannot record the rejection as an Event");
    }
}
