//! registries.d: where an image's lookaside signatures live.
//!
//! The files come from one directory (`--registries.d`) or from the drop-in
//! directories containers/image searches ([`Search`]). Every `*.yaml` file
//! (not `.yml`; other names and subdirectories are ignored) is read, in name
//! order, and merged: `default-docker` may be defined in at most one
//! file and each `docker:` scope in at most one file, even if the contents
//! agree (containers/image `docker/registries_d.go`; docs/trust-formats.md §4.1,
//! keep in sync). Keys are case-sensitive and unknown keys are ignored.
//! YAML is read with `serde_norway`, a maintained fork of serde_yaml.

mod lookup;
mod search;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use lookup::{BuiltinDefault, LookupError};
pub use search::Search;

/// One section (`default-docker` or a `docker:` scope).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Section {
    pub lookaside: Option<String>,
    #[serde(rename = "lookaside-staging")]
    pub lookaside_staging: Option<String>,
    /// Deprecated alias of `lookaside`.
    pub sigstore: Option<String>,
    /// Deprecated alias of `lookaside-staging`.
    #[serde(rename = "sigstore-staging")]
    pub sigstore_staging: Option<String>,
    #[serde(rename = "use-sigstore-attachments")]
    pub use_sigstore_attachments: Option<bool>,
    /// vouch extension: the sigstore layout a push writes for the scope
    /// (`attachment`, `bundle` or `both`; see `vouch push --sigstore-layout`).
    /// containers/image reads registries.d with a non-strict YAML decoder
    /// (`docker/registries_d.go`), so podman ignores the key.
    #[serde(rename = "sigstore-layout")]
    pub sigstore_layout: Option<String>,
}

/// The per-file YAML mapping.
#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    #[serde(rename = "default-docker")]
    default_docker: Option<Section>,
    docker: Option<BTreeMap<String, Option<Section>>>,
}

/// A section and the file that defined it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defined {
    pub section: Section,
    pub file: PathBuf,
}

/// The merged configuration of a registries.d directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistriesD {
    pub default_docker: Option<Defined>,
    pub docker: BTreeMap<String, Defined>,
}

/// Why a registries.d directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistriesDError {
    #[error("reading registries.d directory {dir}")]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {path}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_norway::Error,
    },
    #[error("Error parsing signature storage configuration: \"default-docker\" defined both in {first:?} and {second:?}")]
    DuplicateDefault { first: PathBuf, second: PathBuf },
    #[error("Error parsing signature storage configuration: \"docker\" namespace {scope:?} defined both in {first:?} and {second:?}")]
    DuplicateScope {
        scope: String,
        first: PathBuf,
        second: PathBuf,
    },
}

impl RegistriesD {
    /// Reads and merges every `*.yaml` file in `dir` (`--registries.d`). A
    /// missing directory is an empty configuration.
    pub fn load(dir: &Path) -> Result<Self, RegistriesDError> {
        Self::load_search(&Search::explicit(dir))
    }

    /// Reads and merges the files `search` selects ([`Search::files`]); a
    /// file that vanishes while reading is skipped.
    pub fn load_search(search: &Search) -> Result<Self, RegistriesDError> {
        let mut merged = Self::default();
        for path in search.files()? {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(RegistriesDError::ReadFile { path, source }),
            };
            merged.merge(Self::parse_file(&text, &path)?, &path)?;
        }
        Ok(merged)
    }

    fn parse_file(text: &str, path: &Path) -> Result<FileConfig, RegistriesDError> {
        // An empty (or comments-only) document is an empty configuration.
        let parsed: Option<FileConfig> =
            serde_norway::from_str(text).map_err(|source| RegistriesDError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(parsed.unwrap_or_default())
    }

    fn merge(&mut self, file: FileConfig, path: &Path) -> Result<(), RegistriesDError> {
        if let Some(section) = file.default_docker {
            if let Some(first) = &self.default_docker {
                return Err(RegistriesDError::DuplicateDefault {
                    first: first.file.clone(),
                    second: path.to_path_buf(),
                });
            }
            self.default_docker = Some(Defined {
                section,
                file: path.to_path_buf(),
            });
        }
        for (scope, section) in file.docker.unwrap_or_default() {
            if let Some(first) = self.docker.get(&scope) {
                return Err(RegistriesDError::DuplicateScope {
                    scope,
                    first: first.file.clone(),
                    second: path.to_path_buf(),
                });
            }
            self.docker.insert(
                scope,
                Defined {
                    section: section.unwrap_or_default(),
                    file: path.to_path_buf(),
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
