//! Choosing the lookaside URL for an image (§4.2).
//!
//! Candidates are the image's full identity, its repository and parent
//! namespaces, then `*.domain` wildcards — the same list policy.json scopes
//! use. The first candidate that exists *and* has the wanted URL wins; a
//! scope without it does not stop the walk. Then `default-docker`, then the
//! built-in per-user `file://` default.

use std::path::PathBuf;

use super::{RegistriesD, Section};
use crate::docker_ref::DockerRef;
use crate::lookaside::{LookasideUrl, UrlError};
use crate::policy::docker_namespaces;

/// Why no usable lookaside URL came out of the configuration.
#[derive(Debug, thiserror::Error)]
#[error("Invalid signature storage URL {value}")]
pub struct LookupError {
    pub value: String,
    pub file: Option<PathBuf>,
    #[source]
    pub source: UrlError,
}

/// The built-in location used when no section applies:
/// `/var/lib/containers/sigstore` for root, else
/// `$HOME/.local/share/containers/sigstore`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltinDefault(pub String);

impl BuiltinDefault {
    /// From the effective UID (or `_CONTAINERS_ROOTLESS_UID`) and `$HOME`.
    pub fn from_env() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let rootless = std::env::var("_CONTAINERS_ROOTLESS_UID")
            .ok()
            .and_then(|v| v.parse::<u32>().ok());
        let is_root = euid == 0 && rootless.is_none_or(|u| u == 0);
        let home = std::env::var("HOME").unwrap_or_default();
        Self::for_user(is_root, &home)
    }

    pub fn for_user(is_root: bool, home: &str) -> Self {
        if is_root {
            Self("file:///var/lib/containers/sigstore".to_string())
        } else {
            Self(format!("file://{home}/.local/share/containers/sigstore"))
        }
    }
}

impl RegistriesD {
    /// The sections that apply to `image`, most specific first, then `default-docker`.
    fn walk<'a>(
        &'a self,
        image: &DockerRef,
    ) -> impl Iterator<Item = (&'a Section, &'a std::path::Path)> + 'a {
        let candidates: Vec<String> = std::iter::once(image.to_string())
            .chain(docker_namespaces(image))
            .collect();
        candidates
            .into_iter()
            .filter_map(|c| self.docker.get(&c))
            .chain(self.default_docker.iter())
            .map(|d| (&d.section, d.file.as_path()))
    }

    /// The configured value a reader uses, and the file it came from.
    pub fn read_value(&self, image: &DockerRef) -> Option<(&str, &std::path::Path)> {
        self.walk(image)
            .find_map(|(s, f)| first_set(&[&s.lookaside, &s.sigstore]).map(|v| (v, f)))
    }

    /// The configured value a writer uses (staging preferred).
    pub fn write_value(&self, image: &DockerRef) -> Option<(&str, &std::path::Path)> {
        self.walk(image).find_map(|(s, f)| {
            first_set(&[
                &s.lookaside_staging,
                &s.sigstore_staging,
                &s.lookaside,
                &s.sigstore,
            ])
            .map(|v| (v, f))
        })
    }

    /// The base URL to read `image`'s signatures from, already joined with
    /// the repository path (`<base>/<repo>`).
    pub fn read_base(
        &self,
        image: &DockerRef,
        builtin: &BuiltinDefault,
    ) -> Result<LookasideUrl, LookupError> {
        resolve(self.read_value(image), image, builtin)
    }

    /// The base URL to write `image`'s signatures to, joined with the repository path.
    pub fn write_base(
        &self,
        image: &DockerRef,
        builtin: &BuiltinDefault,
    ) -> Result<LookasideUrl, LookupError> {
        resolve(self.write_value(image), image, builtin)
    }

    /// `use-sigstore-attachments`: first section in the walk that sets it, else false.
    pub fn use_sigstore_attachments(&self, image: &DockerRef) -> bool {
        self.sigstore_attachments_setting(image)
            .is_some_and(|(on, _)| on)
    }

    /// The `use-sigstore-attachments` value that applies to `image` and the
    /// file that set it (for messages that say where to change it).
    pub fn sigstore_attachments_setting(
        &self,
        image: &DockerRef,
    ) -> Option<(bool, &std::path::Path)> {
        self.walk(image)
            .find_map(|(s, f)| s.use_sigstore_attachments.map(|v| (v, f)))
    }

    /// `sigstore-layout` (vouch extension): the first section in the walk
    /// that sets it, and its file, for an error that names it.
    pub fn sigstore_layout(&self, image: &DockerRef) -> Option<(&str, &std::path::Path)> {
        self.walk(image)
            .find_map(|(s, f)| s.sigstore_layout.as_deref().map(|v| (v, f)))
    }
}

fn first_set<'a>(values: &[&'a Option<String>]) -> Option<&'a str> {
    values
        .iter()
        .find_map(|v| v.as_deref().filter(|s| !s.is_empty()))
}

fn resolve(
    value: Option<(&str, &std::path::Path)>,
    image: &DockerRef,
    builtin: &BuiltinDefault,
) -> Result<LookasideUrl, LookupError> {
    let (value, file) = match value {
        Some((v, f)) => (v, Some(f.to_path_buf())),
        None => (builtin.0.as_str(), None),
    };
    let base = LookasideUrl::parse(value).map_err(|source| LookupError {
        value: value.to_string(),
        file,
        source,
    })?;
    Ok(base.for_repository(image))
}
