//! policy.json: which images may be pulled and run, and on whose signature.
//!
//! The schema, its strictness and its error messages follow containers/image
//! `signature/policy_config.go` (docs/trust-formats.md §5, keep in sync):
//! every object is parsed paranoidly, invalid scopes are reported as unknown
//! keys, and requirement types outside the closed set are refused. Parsing
//! (`parse`, `sigstore`), scope rules (`scope`), identity rules (`identity`)
//! and evaluation (`eval`) are separate modules; this one holds the types.

mod eval;
mod identity;
mod image;
mod parse;
mod scope;
mod sigstore;

use std::path::{Path, PathBuf};

use crate::docker_ref::{DockerRef, RefError};
use crate::json::{JsonErrorKind, Located};

pub use eval::{Accepted, RejectReason, Rejected, SignatureFailure, SigstoreFailure};
pub use identity::{matches_identity, valid_remap_prefix};
pub use image::{PolicyImage, PolicyImageError};
pub use scope::{docker_namespaces, scope_is_valid};
pub use sigstore::{PathOrData, PathsOrDatas, SigstoreKeys, SigstoreRule, SigstoreSigned};

/// One transport's scopes, in file order: scope key → requirements.
pub type Scopes = Vec<(String, Vec<Requirement>)>;

/// A parsed policy.json.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// `default`: used when no transport scope matches. Never empty.
    pub default: Vec<Requirement>,
    /// `transports`: transport name → scopes (in file order) → requirements.
    pub transports: Vec<(String, Scopes)>,
}

/// One requirement of a list; all requirements of the selected list must allow.
#[derive(Clone, Debug, PartialEq)]
pub enum Requirement {
    InsecureAcceptAnything,
    Reject,
    SignedBy(SignedBy),
    /// Parses; always denies (upstream: "not implemented yet").
    SignedBaseLayer {
        base_layer_identity: IdentityRule,
    },
    /// Cosign/sigstore signatures by a key, Fulcio or PKI certificate
    /// (evaluated by `crate::sigstore`).
    SigstoreSigned(Box<SigstoreSigned>),
}

/// `signedBy`: a simple signature by one of these keys, for an accepted identity.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedBy {
    pub key_type: KeyType,
    pub keys: KeySource,
    pub signed_identity: IdentityRule,
}

/// `keyType`. Only `GPGKeys` is implemented anywhere; the others parse and
/// then reject every image, as upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    GpgKeys,
    SignedByGpgKeys,
    X509Certificates,
    SignedByX509Cas,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::GpgKeys => "GPGKeys",
            KeyType::SignedByGpgKeys => "signedByGPGKeys",
            KeyType::X509Certificates => "X509Certificates",
            KeyType::SignedByX509Cas => "signedByX509CAs",
        }
    }
}

/// Where a `signedBy` requirement's keys come from. Paths are read at
/// evaluation time, relative to the process working directory (not the
/// policy file), as upstream does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Path(PathBuf),
    Paths(Vec<PathBuf>),
    Data(Vec<u8>),
}

/// `signedIdentity` (a "PolicyReferenceMatch"): which signed identities satisfy
/// a requirement for a given image (§5.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityRule {
    MatchExact,
    /// The default when `signedIdentity` is absent.
    MatchRepoDigestOrExact,
    MatchRepository,
    ExactReference(DockerRef),
    ExactRepository(DockerRef),
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

/// Rules a policy broke, with containers/image's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyErrorKind {
    #[error(transparent)]
    Json(JsonErrorKind),
    #[error("Default policy is missing")]
    DefaultMissing,
    #[error("List of verification policy requirements must not be empty")]
    EmptyRequirements,
    #[error("Unknown policy requirement type {0:?}")]
    UnknownRequirementType(String),
    #[error("Unknown policy reference match type {0:?}")]
    UnknownMatchType(String),
    #[error("invalid keyType {0:?}")]
    InvalidKeyType(String),
    #[error("Unrecognized keyType value {0:?}")]
    UnrecognizedKeyType(String),
    #[error(
        "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present"
    )]
    NoKeySource,
    #[error(
        "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present"
    )]
    SeveralKeySources,
    #[error("exactly one of keyPath, keyPaths and keyData must be specified")]
    EmptyKeySource,
    #[error("illegal base64 data at input byte {0}")]
    Base64(usize),
    #[error("Invalid format of dockerReference {value}: {reason}")]
    BadDockerReference { value: String, reason: RefError },
    #[error("dockerReference {0} contains neither a tag nor digest")]
    NameOnlyReference(String),
    #[error("Invalid format of dockerRepository {value}: {reason}")]
    BadDockerRepository { value: String, reason: RefError },
    #[error("prefix {0:?} is not valid")]
    BadPrefix(String),
    #[error(
        "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified"
    )]
    SigstoreKeySource,
    #[error("{0:?} contains no entries")]
    NoEntries(&'static str),
    #[error("{0}")]
    Sigstore(sigstore::SigstoreRule),
}

/// A policy error at a place in the file.
pub type PolicyError = Located<PolicyErrorKind>;

/// Why a policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("reading policy file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// §5.1: neither the per-user nor the system file exists.
    #[error("no policy.json file found; searched paths: {searched:?}")]
    NotFound { searched: Vec<PathBuf> },
    #[error("invalid policy in {path:?}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: PolicyError,
    },
}

impl Policy {
    /// Parses policy.json bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, PolicyError> {
        parse::parse_policy(bytes)
    }

    /// The policy in a document already parsed by [`crate::json::parse_document`]:
    /// the same checks as [`Policy::parse`], for callers that also want the
    /// position-carrying tree (policy-lint). Transports, scopes and
    /// requirements come out in document order, so they line up with the tree.
    pub fn from_document(doc: &crate::json::Spanned) -> Result<Self, PolicyError> {
        parse::policy_from_document(doc)
    }

    /// Reads and parses the policy at `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Self, PolicyLoadError> {
        let bytes = std::fs::read(path).map_err(|source| PolicyLoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes).map_err(|source| PolicyLoadError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The file containers/image would use without an explicit path (§5.1;
    /// [`crate::config_lookup`]): `$CONTAINERS_POLICY_JSON` (which must then
    /// exist, so it is returned as is), else the first existing per-user,
    /// `/etc` or `/usr/share` file.
    pub fn default_path() -> Result<PathBuf, PolicyLoadError> {
        Self::default_path_in(&crate::config_lookup::ConfigEnv::from_process())
    }

    pub fn default_path_in(
        env: &crate::config_lookup::ConfigEnv,
    ) -> Result<PathBuf, PolicyLoadError> {
        if let Some(p) = &env.policy_json {
            return Ok(PathBuf::from(p));
        }
        let candidates = env.policy_candidates();
        match candidates.iter().find(|p| p.exists()) {
            Some(p) => Ok(p.clone()),
            None => Err(PolicyLoadError::NotFound {
                searched: candidates,
            }),
        }
    }

    /// `--insecure-policy`: `{"default":[{"type":"insecureAcceptAnything"}]}`.
    pub fn insecure_accept_anything() -> Self {
        Self {
            default: vec![Requirement::InsecureAcceptAnything],
            transports: Vec::new(),
        }
    }

    /// The scope list that applies to `image` (§5.3): exact identity, then
    /// each namespace, then the transport's `""`, else `default`. Returns the
    /// scope name (`None` for `default`) and its requirements.
    pub fn requirements_for(&self, image: &PolicyImage) -> (Option<&str>, &[Requirement]) {
        if let Some((_, scopes)) = self.transports.iter().find(|(t, _)| t == image.transport()) {
            let candidates = std::iter::once(image.identity())
                .chain(image.namespaces().iter().map(String::as_str))
                .chain(std::iter::once(""));
            for candidate in candidates {
                if let Some((scope, reqs)) = scopes.iter().find(|(s, _)| s == candidate) {
                    return (Some(scope.as_str()), reqs);
                }
            }
        }
        (None, &self.default)
    }
}

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod tests;
