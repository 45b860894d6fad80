//! From raw inputs to versioned engines: parse, skip content already
//! served, compile (which proves every template on a probe pod), number.
//!
//! The config server and an injector running without one both turn a
//! stream of directory or ConfigMap loads into engines this way, so both
//! number and deduplicate the same way.

use crate::config::{ConfigError, Origin, RawConfig};
use crate::engine::{self, CompileError, Engine};

/// Why an input could not become an engine.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The templates (in the `config` input named) do not compile or do
    /// not inject the probe pod.
    #[error("{origin}: {source}")]
    Compile {
        origin: Origin,
        source: CompileError,
    },
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
        let hash = engine::content_hash(&config);
        if self.hash.as_ref() == Some(&hash) {
            return Ok(None);
        }
        let engine =
            Engine::compile(config, self.version + 1).map_err(|source| BuildError::Compile {
                origin: raw.config.origin.clone(),
                source,
            })?;
        self.version += 1;
        self.hash = Some(hash);
        Ok(Some(engine))
    }

    /// [`Versioner::build`] on a blocking thread: compiling and probing
    /// takes milliseconds a runtime serving requests should not stall for.
    pub async fn build_blocking(&mut self, raw: RawConfig) -> Result<Option<Engine>, BuildError> {
        let mut worker = self.clone();
        let (worker, result) = tokio::task::spawn_blocking(move || {
            let result = worker.build(&raw);
            (worker, result)
        })
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
        *self = worker;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Text;

    #[test]
    fn versions_only_new_content_and_survives_a_bad_input() {
        let mut versioner = Versioner::new();
        let good = RawConfig::embedded();
        assert_eq!(versioner.build(&good).unwrap().unwrap().version(), 1);

        let mut reformatted = good.clone();
        reformatted.config.body = format!("# a comment\n{}", good.config.body);
        assert!(versioner.build(&reformatted).unwrap().is_none());

        let mut broken = good.clone();
        broken.config = Text::new(
            "templates:\n  sidecar: \"{{#if}}\"\n",
            "test",
            crate::config::CONFIG_KEY,
        );
        assert!(versioner.build(&broken).is_err());

        let mut changed = good.clone();
        let mut values: serde_json::Value = serde_json::from_str(&good.values.body).unwrap();
        values["addedByTest"] = "yes".into();
        changed.values.body = values.to_string();
        let engine = versioner.build(&changed).unwrap().unwrap();
        assert_eq!(engine.version(), 2);
    }
}
