//! `kube-inject` and `check`: the files are read and written here, the
//! work is the engine's ([`injector_engine::manifest`]).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use edge::native;
use edge::versioner::{self, BuildError};
use injector_engine::Engine;
use injector_engine::config::{CONFIG_KEY, ConfigError, MESH_KEY, RawConfig, Text, VALUES_KEY};
use injector_engine::manifest::{self, ManifestError};

use crate::cli::{CheckArgs, ConfigArgs, KubeInjectArgs};

/// Why an offline command failed; nothing was written to the output.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("namespace label {0:?} is not key=value")]
    Label(String),
}

pub fn kube_inject(args: &KubeInjectArgs) -> Result<(), OfflineError> {
    let engine = engine(&args.config)?;
    let input = read_input(&args.filename)?;
    let report = manifest::kube_inject::kube_inject(&engine, &input)?;
    for line in &report.skipped {
        eprintln!("{line}");
    }
    match &args.output {
        Some(path) => std::fs::write(path, &report.output).map_err(|error| OfflineError::Write {
            path: path.display().to_string(),
            error,
        }),
        None => std::io::stdout()
            .write_all(report.output.as_bytes())
            .map_err(|error| OfflineError::Write {
                path: "standard output".into(),
                error,
            }),
    }
}

pub fn check(args: &CheckArgs) -> Result<(), OfflineError> {
    let engine = engine(&args.config)?;
    let input = read_input(&args.filename)?;
    let labels = args
        .namespace_labels
        .as_deref()
        .map(parse_labels)
        .transpose()?;
    let report = manifest::check::check(&engine, &input, labels.as_ref())?;
    print!("{report}");
    Ok(())
}

/// The engine of the configuration the flags name, each key from its file
/// or the embedded default.
fn engine(args: &ConfigArgs) -> Result<Engine, OfflineError> {
    let embedded = RawConfig::embedded();
    let raw = RawConfig {
        config: key_file(args.inject_config.as_ref(), CONFIG_KEY, embedded.config)?,
        values: key_file(args.values.as_ref(), VALUES_KEY, embedded.values)?,
        mesh: key_file(args.mesh_config.as_ref(), MESH_KEY, embedded.mesh)?,
        cluster: native::decide(args.native_sidecars, None).facts(),
    };
    Ok(versioner::compile(&raw, 0)?)
}

fn key_file(path: Option<&PathBuf>, key: &str, default: Text) -> Result<Text, OfflineError> {
    let Some(path) = path else {
        return Ok(default);
    };
    let body = read(path)?;
    Ok(Text::from_file(body, &path.display().to_string(), key)?)
}

fn read(path: &Path) -> Result<String, OfflineError> {
    std::fs::read_to_string(path).map_err(|error| OfflineError::Read {
        path: path.display().to_string(),
        error,
    })
}

fn read_input(name: &str) -> Result<String, OfflineError> {
    if name == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|error| OfflineError::Read {
                path: "standard input".into(),
                error,
            })?;
        Ok(s)
    } else {
        read(Path::new(name))
    }
}

/// `k=v,k=v` as a map.
fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, OfflineError> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| OfflineError::Label(pair.to_string()))?;
        labels.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(labels)
}
