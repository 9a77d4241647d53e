//! The `sigstoreSigned` requirement's schema (§5.7).
//!
//! The member rules follow upstream `signature/policy_config_sigstore.go`;
//! evaluation is `crate::sigstore` (upstream `policy_eval_sigstore.go`).

use std::path::PathBuf;

use super::parse::{base64_field, identity_rule, json};
use super::{IdentityRule, PolicyError, PolicyErrorKind};
use crate::json::At;

/// A parsed `sigstoreSigned` requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigstoreSigned {
    pub keys: SigstoreKeys,
    pub rekor_public_keys: Option<PathsOrDatas>,
    pub signed_identity: IdentityRule,
}

/// Where the signing keys (or the certificate authority) come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigstoreKeys {
    Keys(PathsOrDatas),
    Fulcio {
        ca: PathOrData,
        oidc_issuer: String,
        subject_email: String,
    },
    Pki {
        ca_roots: PathOrData,
        ca_intermediates: Option<PathOrData>,
        subject_email: Option<String>,
        subject_hostname: Option<String>,
    },
}

/// `…Path` / `…Paths` / `…Data` / `…Datas`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathsOrDatas {
    Path(PathBuf),
    Paths(Vec<PathBuf>),
    Data(Vec<u8>),
    Datas(Vec<Vec<u8>>),
}

/// `…Path` / `…Data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathOrData {
    Path(PathBuf),
    Data(Vec<u8>),
}

/// Member rules of `sigstoreSigned` and its `fulcio`/`pki` objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigstoreRule {
    #[error("at most one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and rekorPublicKeyDatas can be specified")]
    SeveralRekorKeys,
    #[error("rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData or rekorPublicKeyDatas must be specified with fulcio")]
    FulcioNeedsRekor,
    #[error("rekor public keys must not be specified with pki")]
    PkiWithRekor,
    #[error("exactly one of {0} and {1} must be specified")]
    ExactlyOne(&'static str, &'static str),
    #[error("{0} and {1} cannot be both specified")]
    Both(&'static str, &'static str),
    #[error("{0} not specified")]
    Missing(&'static str),
    #[error("at least one of subjectEmail and subjectHostname must be specified")]
    PkiSubject,
}

const FIELDS: [&str; 12] = [
    "type",
    "keyPath",
    "keyPaths",
    "keyData",
    "keyDatas",
    "fulcio",
    "pki",
    "rekorPublicKeyPath",
    "rekorPublicKeyPaths",
    "rekorPublicKeyData",
    "rekorPublicKeyDatas",
    "signedIdentity",
];

pub(super) fn parse_sigstore_signed(at: &At<'_>) -> Result<SigstoreSigned, PolicyError> {
    let obj = at.object(Some(&FIELDS)).map_err(json)?;
    let rule = |r| obj.error(PolicyErrorKind::Sigstore(r));
    let key_sources = [
        "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki",
    ];
    let present: Vec<&str> = key_sources.iter().copied().filter(|k| obj.has(k)).collect();
    let [source] = present.as_slice() else {
        return Err(obj.error(PolicyErrorKind::SigstoreKeySource));
    };
    let keys = match *source {
        "fulcio" => fulcio(&obj.require("fulcio").map_err(json)?)?,
        "pki" => pki(&obj.require("pki").map_err(json)?)?,
        _ => SigstoreKeys::Keys(
            paths_or_datas(&obj, ["keyPath", "keyPaths", "keyData", "keyDatas"])?
                .ok_or_else(|| obj.error(PolicyErrorKind::SigstoreKeySource))?,
        ),
    };
    let rekor_names = [
        "rekorPublicKeyPath",
        "rekorPublicKeyPaths",
        "rekorPublicKeyData",
        "rekorPublicKeyDatas",
    ];
    if rekor_names.iter().filter(|k| obj.has(k)).count() > 1 {
        return Err(rule(SigstoreRule::SeveralRekorKeys));
    }
    let rekor_public_keys = paths_or_datas(&obj, rekor_names)?;
    match (&keys, &rekor_public_keys) {
        (SigstoreKeys::Fulcio { .. }, None) => return Err(rule(SigstoreRule::FulcioNeedsRekor)),
        (SigstoreKeys::Pki { .. }, Some(_)) => return Err(rule(SigstoreRule::PkiWithRekor)),
        _ => {}
    }
    let signed_identity = match obj.get("signedIdentity") {
        None => IdentityRule::MatchRepoDigestOrExact,
        Some(s) => identity_rule(&s)?,
    };
    Ok(SigstoreSigned {
        keys,
        rekor_public_keys,
        signed_identity,
    })
}

/// The one present member of a `Path`/`Paths`/`Data`/`Datas` family, if any.
/// String members decode as Go does: `null` is the empty string (§1.3 rule 8;
/// skopeo 1.9.3 loads `"keyPath": null`, found by policy-lint's agreement test).
fn paths_or_datas(
    obj: &crate::json::Obj<'_>,
    names: [&'static str; 4],
) -> Result<Option<PathsOrDatas>, PolicyError> {
    let [path, paths, data, datas] = names;
    if let Some(f) = obj.get(path) {
        return Ok(Some(PathsOrDatas::Path(PathBuf::from(
            f.go_string().map_err(json)?,
        ))));
    }
    if let Some(f) = obj.get(paths) {
        let list = f.string_array().map_err(json)?.unwrap_or_default();
        if list.is_empty() {
            return Err(f.error(PolicyErrorKind::NoEntries(paths)));
        }
        return Ok(Some(PathsOrDatas::Paths(
            list.into_iter().map(PathBuf::from).collect(),
        )));
    }
    if let Some(f) = obj.get(data) {
        return Ok(Some(PathsOrDatas::Data(
            base64_field(&f)?.unwrap_or_default(),
        )));
    }
    if let Some(f) = obj.get(datas) {
        let items = f.array().map_err(json)?.unwrap_or_default();
        if items.is_empty() {
            return Err(f.error(PolicyErrorKind::NoEntries(datas)));
        }
        let decoded = items
            .iter()
            .map(|i| base64_field(i).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Some(PathsOrDatas::Datas(decoded)));
    }
    Ok(None)
}

/// Exactly one of `<x>Path` / `<x>Data`; `required` says whether none is allowed.
fn path_or_data(
    obj: &crate::json::Obj<'_>,
    path: &'static str,
    data: &'static str,
    required: bool,
) -> Result<Option<PathOrData>, PolicyError> {
    match (obj.get(path), obj.get(data)) {
        (Some(p), None) => Ok(Some(PathOrData::Path(PathBuf::from(
            p.go_string().map_err(json)?,
        )))),
        (None, Some(d)) => Ok(Some(PathOrData::Data(
            base64_field(&d)?.unwrap_or_default(),
        ))),
        (None, None) if !required => Ok(None),
        (Some(_), Some(_)) if !required => {
            Err(obj.error(PolicyErrorKind::Sigstore(SigstoreRule::Both(path, data))))
        }
        _ => Err(
            obj.error(PolicyErrorKind::Sigstore(SigstoreRule::ExactlyOne(
                path, data,
            ))),
        ),
    }
}

fn required_string(obj: &crate::json::Obj<'_>, name: &'static str) -> Result<String, PolicyError> {
    match obj.get(name) {
        Some(f) => {
            let s = f.go_string().map_err(json)?;
            if s.is_empty() {
                return Err(f.error(PolicyErrorKind::Sigstore(SigstoreRule::Missing(name))));
            }
            Ok(s)
        }
        None => Err(obj.error(PolicyErrorKind::Sigstore(SigstoreRule::Missing(name)))),
    }
}

fn optional_string(obj: &crate::json::Obj<'_>, name: &str) -> Result<Option<String>, PolicyError> {
    obj.get(name).map(|f| f.string().map_err(json)).transpose()
}

fn fulcio(at: &At<'_>) -> Result<SigstoreKeys, PolicyError> {
    let obj = at
        .object(Some(&["caPath", "caData", "oidcIssuer", "subjectEmail"]))
        .map_err(json)?;
    let ca = path_or_data(&obj, "caPath", "caData", true)?.ok_or_else(|| {
        obj.error(PolicyErrorKind::Sigstore(SigstoreRule::ExactlyOne(
            "caPath", "caData",
        )))
    })?;
    Ok(SigstoreKeys::Fulcio {
        ca,
        oidc_issuer: required_string(&obj, "oidcIssuer")?,
        subject_email: required_string(&obj, "subjectEmail")?,
    })
}

fn pki(at: &At<'_>) -> Result<SigstoreKeys, PolicyError> {
    let fields = [
        "caRootsPath",
        "caRootsData",
        "caIntermediatesPath",
        "caIntermediatesData",
        "subjectEmail",
        "subjectHostname",
    ];
    let obj = at.object(Some(&fields)).map_err(json)?;
    let ca_roots = path_or_data(&obj, "caRootsPath", "caRootsData", true)?.ok_or_else(|| {
        obj.error(PolicyErrorKind::Sigstore(SigstoreRule::ExactlyOne(
            "caRootsPath",
            "caRootsData",
        )))
    })?;
    let ca_intermediates = path_or_data(&obj, "caIntermediatesPath", "caIntermediatesData", false)?;
    let subject_email = optional_string(&obj, "subjectEmail")?;
    let subject_hostname = optional_string(&obj, "subjectHostname")?;
    if subject_email.is_none() && subject_hostname.is_none() {
        return Err(obj.error(PolicyErrorKind::Sigstore(SigstoreRule::PkiSubject)));
    }
    Ok(SigstoreKeys::Pki {
        ca_roots,
        ca_intermediates,
        subject_email,
        subject_hostname,
    })
}
