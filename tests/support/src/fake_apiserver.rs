//! A fake Kubernetes API server on loopback, for testing the product's
//! API clients (the ConfigMap watch, Events, the certificate manager,
//! `drift`) without a cluster.
//!
//! It implements exactly the calls the product makes, with the API
//! contract those calls depend on, and refuses the rest:
//! - one resourceVersion counter for every write, as etcd's revision;
//! - get; list with `limit`/`continue` paging (`drift`), `fieldSelector`
//!   (`metadata.name`, `metadata.namespace`, `=`, `==`, `!=`: the watch
//!   selects each ConfigMap by name) and the list's resourceVersion in its
//!   metadata;
//! - watch (`?watch=true`) from a resourceVersion: the changes after it
//!   from history, then live ones, as newline-delimited JSON; `""` or `"0"`
//!   starts with the current objects as ADDED; `sendInitialEvents=true`
//!   ends those with the `k8s.io/initial-events-end` bookmark;
//!   `allowWatchBookmarks=true` adds BOOKMARK events; `timeoutSeconds` ends
//!   the stream; an object that stops (starts) matching the selector is
//!   sent as DELETED (ADDED), as the watch cache does;
//! - a watch from a resourceVersion older than the last compaction gets the
//!   `410 Gone` ERROR event on a 200 stream, as the watch cache sends it;
//! - create (409 AlreadyExists, `generateName`: Events) and replace with
//!   optimistic concurrency (a stale `metadata.resourceVersion` is a 409
//!   Conflict: the certificate manager's Secret and webhook configuration);
//!   errors are `Status` objects;
//! - Nodes (cluster-scoped, listed and watched like the rest: the config
//!   server's `--native-sidecars auto`) and `/version`, whose `gitVersion`
//!   [`FakeApiServer::set_version`] sets ([`DEFAULT_VERSION`] otherwise);
//! - Pod creation as kube-apiserver does it: through every mutating webhook
//!   registered in the store, over HTTPS ([`crate::admission`]: `caBundle`
//!   verified, `?timeout=Ns` appended, JSON Patch applied, `failurePolicy`),
//!   then the fields and validation rules of the reported version for
//!   sidecar containers ([`crate::pod_rules`]); an invalid pod is a 422
//!   `Invalid` Status with kube-apiserver's message and causes, and is not
//!   stored.
//!
//! Beyond the product's calls, it offers tests what a cluster's other
//! clients do:
//! [`FakeApiServer::put`] and
//! [`FakeApiServer::remove`] write as another client would,
//! [`FakeApiServer::disconnect_watches`] drops every open watch (clients
//! resume from their resourceVersion), [`FakeApiServer::outage`] drops them
//! and compacts history after the given writes (clients must relist), and
//! [`FakeApiServer::requests`] shows what clients asked.
//!
//! Not served (400 or 405): PATCH, DELETE and `labelSelector`, which
//! the product never sends. Not covered: authentication and
//! authorization, admission of anything but Pod creation (and of that,
//! see the two modules), `resourceVersionMatch`, list consistency at
//! an older resourceVersion (lists are always current), finalizers and
//! garbage collection, subresources, defaulting and schema validation,
//! protobuf and Table output, API discovery, and TLS.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::{admission, pod_rules};

/// What `/version` reports unless a test sets another.
pub const DEFAULT_VERSION: &str = "v1.33.0";

/// A resource type the fake serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
}

impl Kind {
    pub const CONFIG_MAP: Kind = Kind::core("configmaps", "ConfigMap");
    pub const SECRET: Kind = Kind::core("secrets", "Secret");
    pub const POD: Kind = Kind::core("pods", "Pod");
    pub const NODE: Kind = Kind {
        namespaced: false,
        ..Kind::core("nodes", "Node")
    };
    pub const EVENT: Kind = Kind {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
    };
    pub const MUTATING_WEBHOOK_CONFIGURATION: Kind = Kind {
        group: "admissionregistration.k8s.io",
        version: "v1",
        plural: "mutatingwebhookconfigurations",
        kind: "MutatingWebhookConfiguration",
        namespaced: false,
    };

    /// Every kind [`FakeApiServer::start`] serves: those the product reads
    /// or writes.
    pub const ALL: [Kind; 6] = [
        Kind::CONFIG_MAP,
        Kind::SECRET,
        Kind::POD,
        Kind::NODE,
        Kind::EVENT,
        Kind::MUTATING_WEBHOOK_CONFIGURATION,
    ];

    const fn core(plural: &'static str, kind: &'static str) -> Kind {
        Kind {
            group: "",
            version: "v1",
            plural,
            kind,
            namespaced: true,
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Where an object lives: its kind, namespace (empty when cluster-scoped)
/// and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    group: &'static str,
    plural: &'static str,
    namespace: String,
    name: String,
}

impl Key {
    fn new(kind: &Kind, namespace: &str, name: &str) -> Self {
        Key {
            group: kind.group,
            plural: kind.plural,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    fn same_collection(&self, kind: &Kind, namespace: Option<&str>) -> bool {
        self.group == kind.group
            && self.plural == kind.plural
            && namespace.is_none_or(|ns| ns == self.namespace)
    }
}

/// One write, as watches see it.
#[derive(Debug)]
struct Change {
    rv: u64,
    key: Key,
    kind: &'static str,
    /// The object after the write (before it, for a delete).
    object: Value,
    /// The object before the write, to tell selector transitions.
    previous: Option<Value>,
}

#[derive(Debug)]
struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    /// Writes after `compacted`, oldest first.
    history: Vec<Arc<Change>>,
    /// Watches from a resourceVersion older than this are told 410 Gone.
    compacted: u64,
    changes: broadcast::Sender<Arc<Change>>,
    requests: Vec<String>,
    uid: u64,
}

#[derive(Debug)]
struct Shared {
    store: Mutex<Store>,
    /// Bumped to end every open watch.
    disconnect: watch::Sender<u64>,
    /// While false, new watches wait (an API server that is away).
    open: watch::Sender<bool>,
    bookmark_interval: Duration,
    /// What `/version` reports, and what Pod validation follows.
    git_version: Mutex<String>,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A failed request, answered as a `Status`.
struct ApiError {
    code: StatusCode,
    reason: &'static str,
    message: String,
    /// A `Status`'s `details` (an invalid object's causes).
    details: Option<Value>,
}

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn not_found(key: &Key) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} {:?} not found", key.plural, key.name),
        )
    }

    fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    fn status(&self) -> Value {
        let mut status = status_object(self.code.as_u16(), self.reason, &self.message);
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.code, axum::Json(self.status())).into_response()
    }
}

fn status_object(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

impl FakeApiServer {
    /// Serves [`Kind::ALL`] on a free loopback port, with a bookmark every
    /// second on watches that allow them.
    pub async fn start() -> Self {
        Self::start_with(Duration::from_secs(1)).await
    }

    pub async fn start_with(bookmark_interval: Duration) -> Self {
        let shared = Arc::new(Shared {
            store: Mutex::new(Store {
                rv: 1,
                objects: BTreeMap::new(),
                history: Vec::new(),
                compacted: 0,
                changes: broadcast::channel(1024).0,
                requests: Vec::new(),
                uid: 0,
            }),
            disconnect: watch::Sender::new(0),
            open: watch::Sender::new(true),
            bookmark_interval,
            git_version: Mutex::new(DEFAULT_VERSION.to_string()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            // Ends only when the task is aborted.
            let _ = axum::serve(listener, app).await;
        });
        FakeApiServer {
            addr,
            shared,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client for this server, as `kubectl` would be configured for it.
    pub fn client(&self) -> kube::Client {
        let url = self.url().parse().expect("loopback URL");
        kube::Client::try_from(kube::Config::new(url)).expect("kube client")
    }

    /// Creates or replaces an object as another client would, returning it
    /// as stored.
    pub fn put(&self, kind: &Kind, object: Value) -> Value {
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
        let name = object["metadata"]["name"].as_str().expect("metadata.name");
        let key = Key::new(kind, if kind.namespaced { namespace } else { "" }, name);
        let mut store = self.shared.store();
        store.write(kind, key, Some(object))
    }

    /// Deletes an object as another client would; false when absent.
    pub fn remove(&self, kind: &Kind, namespace: &str, name: &str) -> bool {
        let mut store = self.shared.store();
        let key = Key::new(kind, namespace, name);
        if !store.objects.contains_key(&key) {
            return false;
        }
        store.write(kind, key, None);
        true
    }

    pub fn get(&self, kind: &Kind, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .store()
            .objects
            .get(&Key::new(kind, namespace, name))
            .cloned()
    }

    /// The objects of a kind, in one namespace or all.
    pub fn list(&self, kind: &Kind, namespace: Option<&str>) -> Vec<Value> {
        self.shared
            .store()
            .objects
            .iter()
            .filter(|(k, _)| k.same_collection(kind, namespace))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Ends every open watch, as a restarting API server or a dropped
    /// connection would; clients resume from their last resourceVersion.
    pub fn disconnect_watches(&self) {
        self.shared.disconnect.send_modify(|n| *n += 1);
    }

    /// An outage long enough for etcd to compact: every watch is dropped and
    /// new ones wait while `during` writes, then history is compacted, so a
    /// client resuming from before the outage is told 410 Gone and must
    /// relist to see those writes.
    pub fn outage(&self, during: impl FnOnce(&Self)) {
        self.shared.open.send_replace(false);
        self.disconnect_watches();
        during(self);
        {
            let mut store = self.shared.store();
            store.compacted = store.rv;
            store.history.clear();
        }
        self.shared.open.send_replace(true);
    }

    /// Makes `/version` report `git_version` (`v1.28.4`...) and Pod
    /// creation follow that version's rules.
    pub fn set_version(&self, git_version: &str) {
        *self
            .shared
            .git_version
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = git_version.to_string();
    }

    /// The requests served so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.shared.store().requests.clone()
    }
}

impl Store {
    /// Writes (or deletes, with `None`) the object at `key`, stamping its
    /// metadata, and tells the watches.
    fn write(&mut self, kind: &Kind, key: Key, object: Option<Value>) -> Value {
        self.rv += 1;
        let rv = self.rv;
        let previous = self.objects.get(&key).cloned();
        let (change_kind, stored) = match object {
            Some(mut object) => {
                let meta = object_meta(&mut object);
                meta.insert("name".into(), json!(key.name));
                if kind.namespaced {
                    meta.insert("namespace".into(), json!(key.namespace));
                }
                meta.insert("resourceVersion".into(), json!(rv.to_string()));
                let (uid, created) = match &previous {
                    Some(p) => (
                        p["metadata"]["uid"].clone(),
                        p["metadata"]["creationTimestamp"].clone(),
                    ),
                    None => {
                        self.uid += 1;
                        (
                            json!(format!("fake-uid-{}", self.uid)),
                            json!(now_rfc3339()),
                        )
                    }
                };
                meta.insert("uid".into(), uid);
                meta.insert("creationTimestamp".into(), created);
                object["kind"] = json!(kind.kind);
                object["apiVersion"] = json!(kind.api_version());
                self.objects.insert(key.clone(), object.clone());
                let change_kind = if previous.is_some() {
                    "MODIFIED"
                } else {
                    "ADDED"
                };
                (change_kind, object)
            }
            None => {
                let mut gone = self.objects.remove(&key).unwrap_or_else(|| json!({}));
                object_meta(&mut gone).insert("resourceVersion".into(), json!(rv.to_string()));
                ("DELETED", gone)
            }
        };
        let change = Arc::new(Change {
            rv,
            key,
            kind: change_kind,
            object: stored.clone(),
            previous,
        });
        self.history.push(Arc::clone(&change));
        // No receiver means no open watch.
        let _ = self.changes.send(change);
        stored
    }
}

fn object_meta(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"].as_object_mut().expect("an object")
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// What a request addresses.
struct Target {
    kind: Kind,
    /// `None`: across namespaces (or cluster-scoped).
    namespace: Option<String>,
    name: Option<String>,
}

fn parse_target(path: &str) -> Result<Target, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                "not an API path",
            ));
        }
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("the fake does not serve {path}"),
            ));
        }
    };
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.group == group && k.version == version && k.plural == plural)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("the server could not find the requested resource ({path})"),
            )
        })?;
    if kind.namespaced != namespace.is_some() && (name.is_some() || !kind.namespaced) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "{plural} is {}namespaced",
                if kind.namespaced { "" } else { "not " }
            ),
        ));
    }
    Ok(Target {
        kind,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
    })
}

fn query_params(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed `fieldSelector`.
#[derive(Default)]
struct Selector {
    fields: Vec<(String, bool, String)>,
}

impl Selector {
    fn parse(params: &BTreeMap<String, String>) -> Result<Self, ApiError> {
        let mut selector = Selector::default();
        let terms = params.get("fieldSelector").map_or("", String::as_str);
        for term in terms.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, equal, value) = split_term(term)
                .ok_or_else(|| ApiError::bad_request(format!("invalid field selector {term:?}")))?;
            if field != "metadata.name" && field != "metadata.namespace" {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            selector.fields.push((field, equal, value));
        }
        if params.contains_key("labelSelector") {
            return Err(ApiError::bad_request(
                "the fake does not support labelSelector: the product never sends one",
            ));
        }
        Ok(selector)
    }

    fn matches(&self, object: &Value) -> bool {
        let meta = &object["metadata"];
        self.fields.iter().all(|(field, equal, value)| {
            let actual = match field.as_str() {
                "metadata.name" => meta["name"].as_str(),
                _ => meta["namespace"].as_str(),
            }
            .unwrap_or("");
            (actual == value) == *equal
        })
    }
}

/// `k=v`, `k==v` (true) or `k!=v` (false).
fn split_term(term: &str) -> Option<(String, bool, String)> {
    if let Some((k, v)) = term.split_once("!=") {
        return Some((k.trim().to_string(), false, v.trim().to_string()));
    }
    let (k, v) = term.split_once("==").or_else(|| term.split_once('='))?;
    Some((k.trim().to_string(), true, v.trim().to_string()))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    shared.store().requests.push(format!(
        "{method} {}",
        uri.path_and_query().map_or("", |p| p.as_str())
    ));
    let result = async {
        if uri.path() == "/version" && method == Method::GET {
            return Ok(version(&shared));
        }
        let target = parse_target(uri.path())?;
        let params = query_params(&uri);
        let watching = matches!(params.get("watch").map(String::as_str), Some("true" | "1"));
        match (method, &target.name) {
            (Method::GET, None) if watching => Ok(watch(shared, target, params).await?),
            (Method::GET, None) => list(&shared, &target, &params),
            (Method::GET, Some(name)) => get(&shared, &target, name),
            (Method::POST, None) if target.kind == Kind::POD => {
                create_pod(&shared, &target, &body).await
            }
            (Method::POST, None) => create(&shared, &target, &body),
            (Method::PUT, Some(name)) => replace(&shared, &target, name, &body),
            (method, _) => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{method} is not supported here"),
            )),
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

fn json_response(code: StatusCode, value: Value) -> Response {
    (code, axum::Json(value)).into_response()
}

fn key_of(target: &Target, name: &str) -> Key {
    Key::new(
        &target.kind,
        target.namespace.as_deref().unwrap_or(""),
        name,
    )
}

fn get(shared: &Shared, target: &Target, name: &str) -> Result<Response, ApiError> {
    let key = key_of(target, name);
    let store = shared.store();
    let object = store
        .objects
        .get(&key)
        .ok_or_else(|| ApiError::not_found(&key))?;
    Ok(json_response(StatusCode::OK, object.clone()))
}

fn list(
    shared: &Shared,
    target: &Target,
    params: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let selector = Selector::parse(params)?;
    let limit: Option<usize> = match params.get("limit") {
        Some(l) => Some(
            l.parse()
                .map_err(|_| ApiError::bad_request("invalid limit"))?,
        ),
        None => None,
    }
    .filter(|l| *l > 0);
    let store = shared.store();
    // The continue token is the last name returned, at the list's version.
    let (rv, after) = match params.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, after) = token
                .split_once(':')
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            (rv.to_string(), Some(after.to_string()))
        }
        None => (store.rv.to_string(), None),
    };
    let mut items: Vec<(&Key, &Value)> = store
        .objects
        .iter()
        .filter(|(k, v)| {
            k.same_collection(&target.kind, target.namespace.as_deref()) && selector.matches(v)
        })
        .filter(|(k, _)| {
            after
                .as_ref()
                .is_none_or(|a| format!("{}/{}", k.namespace, k.name) > *a)
        })
        .collect();
    let mut next = String::new();
    if let Some(limit) = limit
        && items.len() > limit
    {
        items.truncate(limit);
        let (last, _) = items[limit - 1];
        next = format!("{rv}:{}/{}", last.namespace, last.name);
    }
    let items: Vec<Value> = items
        .into_iter()
        .map(|(_, v)| {
            // Items of a list carry no kind or apiVersion; the list does.
            let mut item = v.clone();
            if let Some(map) = item.as_object_mut() {
                map.remove("kind");
                map.remove("apiVersion");
            }
            item
        })
        .collect();
    let mut metadata = json!({ "resourceVersion": rv });
    if !next.is_empty() {
        metadata["continue"] = json!(next);
    }
    Ok(json_response(
        StatusCode::OK,
        json!({
            "kind": format!("{}List", target.kind.kind),
            "apiVersion": target.kind.api_version(),
            "metadata": metadata,
            "items": items,
        }),
    ))
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
}

fn create(shared: &Shared, target: &Target, body: &Bytes) -> Result<Response, ApiError> {
    let object = parse_body(body)?;
    let mut store = shared.store();
    let name = name_of(&store, &object)?;
    store_new(&mut store, target, &name, object)
}

/// The object's name, or one made from its `generateName`.
fn name_of(store: &Store, object: &Value) -> Result<String, ApiError> {
    let meta = &object["metadata"];
    match meta["name"].as_str() {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => match meta["generateName"].as_str() {
            Some(prefix) => Ok(format!("{prefix}{:05x}", store.rv + 1)),
            None => Err(ApiError::bad_request("metadata.name is required")),
        },
    }
}

fn store_new(
    store: &mut Store,
    target: &Target,
    name: &str,
    mut object: Value,
) -> Result<Response, ApiError> {
    let key = key_of(target, name);
    if store.objects.contains_key(&key) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} {name:?} already exists", target.kind.plural),
        ));
    }
    object_meta(&mut object).remove("resourceVersion");
    let stored = store.write(&target.kind, key, Some(object));
    Ok(json_response(StatusCode::CREATED, stored))
}

/// Creates a Pod as kube-apiserver does: through the mutating webhooks
/// ([`admission`]), then the fields and validation of this server's
/// version ([`pod_rules`]); a pod that fails is not stored (422 Invalid).
async fn create_pod(shared: &Shared, target: &Target, body: &Bytes) -> Result<Response, ApiError> {
    let mut pod = parse_body(body)?;
    let (name, webhooks, uid) = {
        let mut store = shared.store();
        let name = name_of(&store, &pod)?;
        store.uid += 1;
        let webhooks: Vec<Value> = store
            .objects
            .iter()
            .filter(|(k, _)| k.same_collection(&Kind::MUTATING_WEBHOOK_CONFIGURATION, None))
            .map(|(_, v)| v.clone())
            .collect();
        (name, webhooks, format!("fake-admission-{}", store.uid))
    };
    let meta = object_meta(&mut pod);
    meta.insert("name".into(), json!(name));
    meta.insert(
        "namespace".into(),
        json!(target.namespace.as_deref().unwrap_or("default")),
    );
    let mut pod = admission::mutate(webhooks, pod, &uid)
        .await
        .map_err(|r| ApiError::new(r.code, r.reason, r.message))?;
    let version = shared
        .git_version
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    pod_rules::drop_disabled_fields(&mut pod, pod_rules::sidecar_containers_on(&version));
    let causes = pod_rules::validate(&pod);
    if !causes.is_empty() {
        return Err(invalid_pod(&name, &causes));
    }
    store_new(&mut shared.store(), target, &name, pod)
}

/// kube-apiserver's 422 for an invalid Pod.
fn invalid_pod(name: &str, causes: &[pod_rules::Cause]) -> ApiError {
    let texts: Vec<String> = causes.iter().map(pod_rules::Cause::text).collect();
    let message = match texts.as_slice() {
        [one] => format!("Pod {name:?} is invalid: {one}"),
        all => format!("Pod {name:?} is invalid: [{}]", all.join(", ")),
    };
    let causes = causes
        .iter()
        .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
        .collect();
    ApiError {
        code: StatusCode::UNPROCESSABLE_ENTITY,
        reason: "Invalid",
        message,
        details: Some(json!({"name": name, "kind": "pods", "causes": Value::Array(causes)})),
    }
}

/// `/version`, as `kubectl version` reads it.
fn version(shared: &Shared) -> Response {
    let git_version = shared
        .git_version
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let core = git_version.trim_start_matches('v');
    let mut parts = core.split('.');
    let major = parts.next().unwrap_or("");
    let minor = parts.next().unwrap_or("");
    json_response(
        StatusCode::OK,
        json!({
            "major": major,
            "minor": minor,
            "gitVersion": git_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }),
    )
}

/// A Node whose kubelet reports `kubelet_version`, for
/// [`FakeApiServer::put`].
pub fn node(name: &str, kubelet_version: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "status": {"nodeInfo": {"kubeletVersion": kubelet_version}},
    })
}

/// 409 when the client names a resourceVersion that is not the current one.
fn check_version(current: &Value, sent: &Value, key: &Key) -> Result<(), ApiError> {
    match sent["metadata"]["resourceVersion"].as_str() {
        Some(rv)
            if !rv.is_empty() && Some(rv) != current["metadata"]["resourceVersion"].as_str() =>
        {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {:?}: the object has been modified; \
                     please apply your changes to the latest version and try again",
                    key.plural, key.name
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn replace(
    shared: &Shared,
    target: &Target,
    name: &str,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let object = parse_body(body)?;
    let key = key_of(target, name);
    let mut store = shared.store();
    let current = store
        .objects
        .get(&key)
        .ok_or_else(|| ApiError::not_found(&key))?;
    check_version(current, &object, &key)?;
    let stored = store.write(&target.kind, key, Some(object));
    Ok(json_response(StatusCode::OK, stored))
}

/// One watch event line.
fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line =
        serde_json::to_vec(&json!({ "type": kind, "object": object })).expect("JSON serializes");
    line.push(b'\n');
    Bytes::from(line)
}

fn bookmark(target: &Target, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if initial_end {
        metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    let object = json!({
        "kind": target.kind.kind,
        "apiVersion": target.kind.api_version(),
        "metadata": metadata,
    });
    event_line("BOOKMARK", &object)
}

/// How a write looks to a watch with `selector`: as it is, as ADDED or
/// DELETED when the object entered or left the selection, or not at all.
fn as_seen(change: &Change, selector: &Selector) -> Option<&'static str> {
    let now = change.kind != "DELETED" && selector.matches(&change.object);
    let before = match change.kind {
        "DELETED" => selector.matches(&change.object),
        _ => change
            .previous
            .as_ref()
            .is_some_and(|p| selector.matches(p)),
    };
    match (before, now) {
        (true, true) => Some("MODIFIED"),
        (false, true) => Some("ADDED"),
        (true, false) => Some("DELETED"),
        (false, false) => None,
    }
}

async fn watch(
    shared: Arc<Shared>,
    target: Target,
    params: BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let selector = Selector::parse(&params)?;
    let bookmarks = params
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true");
    let initial_events = params.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = match params.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| ApiError::bad_request("invalid timeoutSeconds"))?,
        ),
        None => Duration::from_secs(1800),
    };
    let from = params.get("resourceVersion").map_or("", String::as_str);
    let from: Option<u64> = match from {
        "" | "0" => None,
        rv => Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    // While the server is "away", a watch waits for it to come back. An
    // outage closes the gate before it disconnects, so a watch that got
    // past the gate just before is either disconnected or sees it closed.
    let mut open = shared.open.subscribe();
    let disconnect = loop {
        let _ = open.wait_for(|open| *open).await;
        let mut disconnect = shared.disconnect.subscribe();
        disconnect.mark_unchanged();
        if *open.borrow() {
            break disconnect;
        }
    };

    // Under one lock: what the client missed, and the subscription to what
    // follows, so no write falls between them.
    let mut first: Vec<Bytes> = Vec::new();
    let (changes, expired) = {
        let store = shared.store();
        let in_collection =
            |key: &Key| key.same_collection(&target.kind, target.namespace.as_deref());
        let expired = from.is_some_and(|rv| rv < store.compacted);
        if expired {
            let message = format!(
                "too old resource version: {} ({})",
                from.unwrap_or_default(),
                store.compacted
            );
            first.push(event_line(
                "ERROR",
                &status_object(410, "Expired", &message),
            ));
        } else if from.is_none() || initial_events {
            for (key, object) in &store.objects {
                if in_collection(key) && selector.matches(object) {
                    first.push(event_line("ADDED", object));
                }
            }
            if initial_events {
                first.push(bookmark(&target, store.rv, true));
            }
        } else {
            let from = from.unwrap_or_default();
            for change in store
                .history
                .iter()
                .filter(|c| c.rv > from && in_collection(&c.key))
            {
                if let Some(kind) = as_seen(change, &selector) {
                    first.push(event_line(kind, &change.object));
                }
            }
        }
        (store.changes.subscribe(), expired)
    };
    let (lines, body) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let task = WatchTask {
        shared,
        target,
        selector,
        bookmarks,
        timeout,
        lines,
    };
    tokio::spawn(task.run(first, expired, changes, disconnect));
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(ReceiverStream::new(body)))
        .expect("a valid response"))
}

/// Feeds one watch response until the client goes, the timeout passes, the
/// watches are disconnected or the client falls too far behind.
struct WatchTask {
    shared: Arc<Shared>,
    target: Target,
    selector: Selector,
    bookmarks: bool,
    timeout: Duration,
    lines: mpsc::Sender<Result<Bytes, Infallible>>,
}

impl WatchTask {
    async fn run(
        self,
        first: Vec<Bytes>,
        expired: bool,
        mut changes: broadcast::Receiver<Arc<Change>>,
        mut disconnect: watch::Receiver<u64>,
    ) {
        for line in first {
            if disconnect.has_changed().unwrap_or(true) || self.lines.send(Ok(line)).await.is_err()
            {
                return;
            }
        }
        if expired {
            return;
        }
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut ticks = tokio::time::interval(self.shared.bookmark_interval);
        ticks.tick().await;
        loop {
            let line = tokio::select! {
                () = &mut deadline => return,
                _ = disconnect.changed() => return,
                _ = ticks.tick(), if self.bookmarks => {
                    let rv = self.shared.store().rv;
                    bookmark(&self.target, rv, false)
                }
                change = changes.recv() => match change {
                    Ok(change) => {
                        let in_collection = change
                            .key
                            .same_collection(&self.target.kind, self.target.namespace.as_deref());
                        match as_seen(&change, &self.selector).filter(|_| in_collection) {
                            Some(kind) => event_line(kind, &change.object),
                            None => continue,
                        }
                    }
                    // Lagged: like a real server, drop the watch; the
                    // client resumes from what it saw.
                    Err(_) => return,
                },
            };
            // A disconnect ordered before this write happened must win over
            // it, even when both were ready at once: a dropped watch
            // delivers nothing after the drop.
            if disconnect.has_changed().unwrap_or(true) {
                return;
            }
            if self.lines.send(Ok(line)).await.is_err() {
                return;
            }
        }
    }
}
