//! From raw inputs to versioned engines: parse, skip content already
//! served, compile (which proves every template on a probe pod), number.
//!
//! The config server, an injector running without one, and an injector
//! taking a snapshot from the stream all compile here, off the async
//! runtime's threads, so all three number, deduplicate and report errors
//! the same way.

use injector_engine::config::{Config, ConfigError, Origin, RawConfig};
use injector_engine::engine::{CompileError, Engine};

/// Why an input could not become an engine.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Load(#[from] crate::dir::LoadError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The templates (in the `config` input named) do not compile or do
    /// not inject the probe pod.
    #[error("{origin}: {error}")]
    Compile { origin: Origin, error: CompileError },
    #[error("cannot hash the configuration: {0}")]
    Hash(serde_json::Error),
    /// The texts are more than a snapshot message can carry.
    #[error(
        "the configuration is {bytes} bytes, over the {limit} bytes a snapshot can carry \
         (the gRPC message limit); it is not published"
    )]
    TooLarge { bytes: usize, limit: usize },
    /// The compilation task panicked or was cancelled; nothing changes.
    #[error("compiling the configuration did not finish: {0}")]
    Aborted(String),
}

/// Parses and compiles `raw` as version `version`.
pub fn compile(raw: &RawConfig, version: u64) -> Result<Engine, BuildError> {
    compile_parsed(raw, raw.parse()?, version)
}

fn compile_parsed(raw: &RawConfig, config: Config, version: u64) -> Result<Engine, BuildError> {
    Engine::compile(config, version).map_err(|error| BuildError::Compile {
        origin: raw.config.origin.clone(),
        error,
    })
}

/// [`compile`] on a blocking thread: compiling and probing takes
/// milliseconds that a runtime serving requests should not stall for.
pub async fn compile_blocking(raw: RawConfig, version: u64) -> Result<Engine, BuildError> {
    off_runtime(move || compile(&raw, version)).await?
}

/// Runs `work` on the runtime's blocking pool. A panic in it is an error,
/// not a crash: the caller keeps what it was serving.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BuildError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|join| BuildError::Aborted(join.to_string()))
}

/// Numbers successive configurations 1, 2, 3... and remembers the content
/// hash of the last one, so a reload that changes nothing the engine reads
/// (a comment, formatting, a touched file) is not a new version.
#[derive(Clone, Debug, Default)]
pub struct Versioner {
    version: u64,
    hash: Option<String>,
}

impl Versioner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The engine for `raw` under the next version, `None` when its content
    /// is what the last engine was built from. A failed build leaves the
    /// version and hash as they were.
    pub fn build(&mut self, raw: &RawConfig) -> Result<Option<Engine>, BuildError> {
        let config = raw.parse()?;
        let hash = config.hash().map_err(BuildError::Hash)?;
        if self.hash.as_ref() == Some(&hash) {
            return Ok(None);
        }
        let engine = compile_parsed(raw, config, self.version + 1)?;
        self.version += 1;
        self.hash = Some(hash);
        Ok(Some(engine))
    }

    /// [`Versioner::build`] off the runtime's threads.
    pub async fn build_blocking(&mut self, raw: RawConfig) -> Result<Option<Engine>, BuildError> {
        let mut worker = self.clone();
        let (worker, result) = off_runtime(move || {
            let result = worker.build(&raw);
            (worker, result)
        })
        .await?;
        *self = worker;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use injector_engine::config::{CONFIG_KEY, Text};

    fn broken() -> RawConfig {
        let mut broken = RawConfig::embedded();
        broken.config = Text::new("templates:\n  sidecar: \"{{#if}}\"\n", "test", CONFIG_KEY);
        broken
    }

    #[test]
    fn versions_only_new_content_and_survives_a_bad_input() {
        let mut versioner = Versioner::new();
        let good = RawConfig::embedded();
        assert_eq!(versioner.build(&good).unwrap().unwrap().version(), 1);

        let mut reformatted = good.clone();
        reformatted.config.body = format!("# a comment\n{}", good.config.body);
        assert!(versioner.build(&reformatted).unwrap().is_none());

        assert!(versioner.build(&broken()).is_err());

        let mut changed = good.clone();
        changed.values.body = good
            .values
            .body
            .replacen('{', r#"{"addedByTest": "yes","#, 1);
        let engine = versioner.build(&changed).unwrap().unwrap();
        assert_eq!(engine.version(), 2);
    }

    #[tokio::test]
    async fn compiles_off_the_runtime_naming_the_input() {
        let engine = compile_blocking(RawConfig::embedded(), 7).await.unwrap();
        assert_eq!(engine.version(), 7);
        let error = compile_blocking(broken(), 8).await.unwrap_err().to_string();
        assert!(error.starts_with("test (key \"config\"): "), "{error}");
        assert_eq!(error.matches("does not compile").count(), 1, "{error}");
    }
}
