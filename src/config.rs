//! Configuration: defaults in code, an optional `velvet.toml`, then
//! `VELVET_*` environment variables and flags (which clap resolves).
//! Later front ends add their sections here.

use serde::Deserialize;
use std::path::Path;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://velvet.db";
pub const DEFAULT_CONFIG_FILE: &str = "velvet.toml";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Used when neither `--database-url` nor `VELVET_DATABASE_URL` is given.
    pub database_url: Option<String>,
    /// Acting operator when neither `--as` nor `VELVET_OPERATOR` is given.
    pub operator: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not valid velvet configuration: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    /// Loads `path`. A missing default file is fine; a missing file the
    /// user named explicitly is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Read { path: shown, source }),
        };
        Config::parse(&text).map_err(|message| ConfigError::Parse { path: shown, message })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_keys_and_names_unknown_ones() {
        let c = Config::parse("database_url = \"postgres://x@h/db\"\noperator = \"ada\"\n").unwrap();
        assert_eq!(c.database_url.as_deref(), Some("postgres://x@h/db"));
        let err = Config::parse("databse_url = \"x\"").unwrap_err();
        assert!(err.contains("databse_url"), "{err}");
        assert!(Config::load(Path::new("/nonexistent/velvet.toml"), false).is_ok());
        assert!(Config::load(Path::new("/nonexistent/velvet.toml"), true).is_err());
    }
}
