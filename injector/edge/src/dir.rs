//! The `dir` source: a directory holding the `config`, `values` and `mesh`
//! files (or ConfigMap manifests), loaded at start and reloaded on change.
//!
//! Kubernetes updates a mounted ConfigMap by writing a new timestamped
//! directory and renaming a `..data` symlink onto it, so the key files (links
//! through `..data`) never change in place. Watching the directory itself,
//! not the files, sees that rename as well as plain edits, creates and
//! deletes. Events arrive in bursts (an editor's save, the kubelet's swap),
//! so a reload waits for a short quiet period and is then sent only when the
//! loaded inputs differ from the last ones sent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use injector_engine::config::{CONFIG_KEY, ConfigError, MESH_KEY, RawConfig, VALUES_KEY};

/// How long the directory must be quiet before it is reloaded: long enough
/// to gather one save's events, short enough not to delay a rollout.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(10);

/// Why the directory cannot be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {dir}: {error}")]
pub struct WatchError {
    dir: PathBuf,
    error: notify::Error,
}

/// Why the directory's inputs could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// One load of the directory: the inputs, or why they could not be read.
pub type Load = Result<RawConfig, LoadError>;

/// Reads the files of `dir` that can hold inputs (the key files and YAML
/// manifests; links followed, as kubelet's `..data` links must be) and
/// finds the three inputs in them.
pub fn load(dir: &Path) -> Load {
    let read_err = |path: &Path, error| LoadError::Read {
        path: path.to_path_buf(),
        error,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| read_err(dir, e))? {
        let path = entry.map_err(|e| read_err(dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let relevant = [CONFIG_KEY, VALUES_KEY, MESH_KEY].contains(&name)
            || name.ends_with(".yaml")
            || name.ends_with(".yml");
        if !relevant || !path.is_file() {
            continue;
        }
        let body = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
        files.push((name.to_string(), body));
    }
    Ok(RawConfig::from_dir_files(
        &dir.display().to_string(),
        &files,
    )?)
}

/// Watches `dir` and sends its first load at once, then one load after each
/// burst of changes that alters what it holds. Runs until the receiver is
/// dropped. Must be called within a Tokio runtime.
pub fn watch(dir: &Path, debounce: Duration) -> Result<mpsc::Receiver<Load>, WatchError> {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| changes_content(&e.kind)) {
            // The receiver is gone only when the watch has stopped.
            let _ = events_tx.send(());
        }
    })
    .map_err(|error| WatchError {
        dir: dir.to_path_buf(),
        error,
    })?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|error| WatchError {
            dir: dir.to_path_buf(),
            error,
        })?;
    let (loads_tx, loads_rx) = mpsc::channel(1);
    tokio::spawn(reload_on_change(
        dir.to_path_buf(),
        debounce,
        watcher,
        events_rx,
        loads_tx,
    ));
    Ok(loads_rx)
}

/// Whether an event can mean the directory's content changed. Reading the
/// files (which each reload does) raises access events; counting those would
/// make every reload trigger the next.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

async fn reload_on_change(
    dir: PathBuf,
    debounce: Duration,
    // Owned here so the watch lives exactly as long as this task.
    _watcher: RecommendedWatcher,
    mut events: mpsc::UnboundedReceiver<()>,
    loads: mpsc::Sender<Load>,
) {
    let mut last: Option<Fingerprint> = None;
    loop {
        let load = load(&dir);
        let fingerprint = Fingerprint::of(&load);
        if last.as_ref() != Some(&fingerprint) {
            if loads.send(load).await.is_err() {
                return;
            }
            last = Some(fingerprint);
        }
        if events.recv().await.is_none() {
            return;
        }
        // Gather the rest of the burst.
        while let Ok(Some(())) = tokio::time::timeout(debounce, events.recv()).await {}
    }
}

/// What a load is compared by: the inputs, or the error's message, so an
/// unchanged broken file is reported once rather than on every event.
#[derive(PartialEq)]
enum Fingerprint {
    Loaded(RawConfig),
    Failed(String),
}

impl Fingerprint {
    fn of(load: &Load) -> Self {
        match load {
            Ok(raw) => Fingerprint::Loaded(raw.clone()),
            Err(e) => Fingerprint::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use injector_engine::config::embedded;

    const WAIT: Duration = Duration::from_secs(5);

    fn write_keys(dir: &Path, values: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("config"), embedded::CONFIG).unwrap();
        std::fs::write(dir.join("values"), values).unwrap();
        std::fs::write(dir.join("mesh"), embedded::MESH).unwrap();
    }

    async fn next(loads: &mut mpsc::Receiver<Load>) -> RawConfig {
        tokio::time::timeout(WAIT, loads.recv())
            .await
            .expect("a load within the wait")
            .expect("the watch is running")
            .expect("the directory loads")
    }

    /// Lays the directory out as the kubelet mounts a ConfigMap: the data in
    /// a timestamped directory, `..data` pointing at it, each key a link
    /// through `..data`.
    fn kubelet_mount(dir: &Path, generation: &str, values: &str) {
        write_keys(&dir.join(generation), values);
        let tmp = dir.join("..data_tmp");
        symlink(generation, &tmp).unwrap();
        std::fs::rename(&tmp, dir.join("..data")).unwrap();
    }

    #[tokio::test]
    async fn sees_the_kubelet_symlink_swap() {
        let dir = tempfile::tempdir().unwrap();
        kubelet_mount(dir.path(), "..2026_01", r#"{"generation": 1}"#);
        for key in ["config", "values", "mesh"] {
            symlink(format!("..data/{key}"), dir.path().join(key)).unwrap();
        }
        let mut loads = watch(dir.path(), DEFAULT_DEBOUNCE).unwrap();
        assert!(next(&mut loads).await.values.body.contains("1"));

        kubelet_mount(dir.path(), "..2026_02", r#"{"generation": 2}"#);
        assert!(next(&mut loads).await.values.body.contains("2"));
    }

    #[tokio::test]
    async fn sends_edits_once_and_skips_unchanged_reloads() {
        let dir = tempfile::tempdir().unwrap();
        write_keys(dir.path(), "{}");
        let mut loads = watch(dir.path(), DEFAULT_DEBOUNCE).unwrap();
        assert_eq!(next(&mut loads).await.values.body, "{}");

        // Rewriting the same bytes changes nothing worth sending.
        std::fs::write(dir.path().join("values"), "{}").unwrap();
        std::fs::write(dir.path().join("values"), r#"{"a": 1}"#).unwrap();
        assert_eq!(next(&mut loads).await.values.body, r#"{"a": 1}"#);

        std::fs::remove_file(dir.path().join("mesh")).unwrap();
        let err = tokio::time::timeout(WAIT, loads.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(err.unwrap_err().to_string().contains("\"mesh\""));
    }
}
