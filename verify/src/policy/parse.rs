//! policy.json bytes → [`Policy`], with upstream's strictness and messages
//! (`signature/policy_config.go`; docs/trust-formats.md §5.2, §5.4, §8.5).
//!
//! Like upstream, requirement and `signedIdentity` objects are read twice: a
//! lenient first look at `type` (Go struct decoding: case-insensitive, last
//! match wins) chooses the variant, then a paranoid walk checks the exact
//! member set — which is why `{"Type": "reject"}` reports `Unknown key "Type"`.

use std::path::PathBuf;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use super::identity::valid_remap_prefix;
use super::scope::scope_is_valid;
use super::sigstore::parse_sigstore_signed;
use super::{
    IdentityRule, KeySource, KeyType, Policy, PolicyError, PolicyErrorKind, Requirement, SignedBy,
};
use crate::docker_ref::DockerRef;
use crate::json::{parse_document, At, JsonError, JsonPath, Obj, Spanned, Value};

pub(super) fn json(e: JsonError) -> PolicyError {
    e.map(PolicyErrorKind::Json)
}

pub(super) fn parse_policy(bytes: &[u8]) -> Result<Policy, PolicyError> {
    let doc = parse_document(bytes).map_err(json)?;
    policy_from_document(&doc)
}

/// The policy in an already parsed document (the linter keeps the tree for positions).
pub(super) fn policy_from_document(doc: &Spanned) -> Result<Policy, PolicyError> {
    let top = Obj::new(doc, JsonPath::root(), Some(&["default", "transports"])).map_err(json)?;
    let default = match top.get("default") {
        Some(d) => requirement_list(&d)?,
        None => return Err(top.error(PolicyErrorKind::DefaultMissing)),
    };
    let mut transports = Vec::new();
    if let Some(t) = top.get("transports") {
        let t = t.object(None).map_err(json)?;
        for (name, _, scopes_at) in t.members() {
            let scopes_obj = scopes_at.object(None).map_err(json)?;
            let mut scopes = Vec::new();
            for (scope, key_pos, list) in scopes_obj.members() {
                if !scope_is_valid(name, scope) {
                    return Err(PolicyError {
                        path: list.path.clone(),
                        pos: key_pos,
                        kind: PolicyErrorKind::Json(crate::json::JsonErrorKind::UnknownKey(
                            scope.to_string(),
                        )),
                    });
                }
                scopes.push((scope.to_string(), requirement_list(&list)?));
            }
            transports.push((name.to_string(), scopes));
        }
    }
    Ok(Policy {
        default,
        transports,
    })
}

/// A non-empty array of requirements (`null` counts as empty).
fn requirement_list(at: &At<'_>) -> Result<Vec<Requirement>, PolicyError> {
    let items = at.array().map_err(json)?.unwrap_or_default();
    if items.is_empty() {
        return Err(at.error(PolicyErrorKind::EmptyRequirements));
    }
    items.iter().map(requirement).collect()
}

/// The lenient `type` look: any string (null → ""); a non-object is a type
/// error. Duplicates are left to the paranoid pass that follows.
fn lenient_type(at: &At<'_>, go_type: &'static str) -> Result<String, PolicyError> {
    match &at.value.value {
        Value::Null => Ok(String::new()),
        Value::Object(members) => match members
            .iter()
            .rev()
            .find(|m| m.key.eq_ignore_ascii_case("type"))
        {
            None => Ok(String::new()),
            Some(m) => At::new(&m.value, at.path.key(&m.key))
                .go_string()
                .map_err(json),
        },
        other => Err(
            at.error(PolicyErrorKind::Json(crate::json::JsonErrorKind::Type {
                got: other.kind(),
                expected: go_type,
            })),
        ),
    }
}

fn requirement(at: &At<'_>) -> Result<Requirement, PolicyError> {
    let kind = lenient_type(at, "signature.prCommon")?;
    match kind.as_str() {
        "insecureAcceptAnything" => {
            at.object(Some(&["type"])).map_err(json)?;
            Ok(Requirement::InsecureAcceptAnything)
        }
        "reject" => {
            at.object(Some(&["type"])).map_err(json)?;
            Ok(Requirement::Reject)
        }
        "signedBy" => signed_by(at).map(Requirement::SignedBy),
        "signedBaseLayer" => {
            let obj = at
                .object(Some(&["type", "baseLayerIdentity"]))
                .map_err(json)?;
            let identity = obj.require("baseLayerIdentity").map_err(json)?;
            Ok(Requirement::SignedBaseLayer {
                base_layer_identity: identity_rule(&identity)?,
            })
        }
        "sigstoreSigned" => {
            parse_sigstore_signed(at).map(|s| Requirement::SigstoreSigned(Box::new(s)))
        }
        _ => Err(at.error(PolicyErrorKind::UnknownRequirementType(kind))),
    }
}

fn signed_by(at: &At<'_>) -> Result<SignedBy, PolicyError> {
    let fields = [
        "type",
        "keyType",
        "keyPath",
        "keyPaths",
        "keyData",
        "signedIdentity",
    ];
    let obj = at.object(Some(&fields)).map_err(json)?;
    // Walk-time decoding, in document order as upstream.
    let mut key_type: Option<KeyType> = None;
    let mut key_path: Option<String> = None;
    let mut key_paths: Option<Option<Vec<String>>> = None;
    let mut key_data: Option<Option<Vec<u8>>> = None;
    for (name, _, field) in obj.members() {
        match name {
            "keyType" => key_type = parse_key_type(&field)?,
            "keyPath" => key_path = Some(field.go_string().map_err(json)?),
            "keyPaths" => key_paths = Some(field.string_array().map_err(json)?),
            "keyData" => key_data = Some(base64_field(&field)?),
            _ => {}
        }
    }
    let signed_identity = match obj.get("signedIdentity") {
        None => IdentityRule::MatchRepoDigestOrExact,
        Some(s) => identity_rule(&s)?,
    };
    let present = [key_path.is_some(), key_paths.is_some(), key_data.is_some()];
    match present.iter().filter(|p| **p).count() {
        0 => return Err(obj.error(PolicyErrorKind::NoKeySource)),
        1 => {}
        _ => return Err(obj.error(PolicyErrorKind::SeveralKeySources)),
    }
    let Some(key_type) = key_type else {
        return Err(obj.error(PolicyErrorKind::InvalidKeyType(String::new())));
    };
    let keys = match (key_path, key_paths, key_data) {
        (Some(p), None, None) if !p.is_empty() => KeySource::Path(PathBuf::from(p)),
        (None, Some(Some(ps)), None) => {
            KeySource::Paths(ps.into_iter().map(PathBuf::from).collect())
        }
        (None, None, Some(Some(d))) => KeySource::Data(d),
        _ => return Err(obj.error(PolicyErrorKind::EmptyKeySource)),
    };
    Ok(SignedBy {
        key_type,
        keys,
        signed_identity,
    })
}

/// `keyType`: `null` and unknown strings are refused while walking; a missing
/// or empty value is refused afterwards as `invalid keyType ""` (§5.4).
fn parse_key_type(field: &At<'_>) -> Result<Option<KeyType>, PolicyError> {
    let value = match &field.value.value {
        Value::Null => return Err(field.error(PolicyErrorKind::UnrecognizedKeyType(String::new()))),
        _ => field.string().map_err(json)?,
    };
    Ok(Some(match value.as_str() {
        "" => return Ok(None),
        "GPGKeys" => KeyType::GpgKeys,
        "signedByGPGKeys" => KeyType::SignedByGpgKeys,
        "X509Certificates" => KeyType::X509Certificates,
        "signedByX509CAs" => KeyType::SignedByX509Cas,
        _ => return Err(field.error(PolicyErrorKind::UnrecognizedKeyType(value))),
    }))
}

/// Go decodes `[]byte` from standard, padded base64, skipping `\r` and `\n`
/// and tolerating non-zero trailing bits; `null` is `None`.
pub(super) fn base64_field(field: &At<'_>) -> Result<Option<Vec<u8>>, PolicyError> {
    if let Value::Null = field.value.value {
        return Ok(None);
    }
    let text = field.string().map_err(json)?;
    decode_go_base64(&text)
        .map(Some)
        .map_err(|offset| field.error(PolicyErrorKind::Base64(offset)))
}

fn decode_go_base64(text: &str) -> Result<Vec<u8>, usize> {
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let cleaned: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    GO_STD.decode(&cleaned).map_err(|e| match e {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => offset,
        base64::DecodeError::InvalidLength(len) => len - len % 4,
        base64::DecodeError::InvalidPadding => cleaned.find('=').unwrap_or(0),
    })
}

/// `signedIdentity` / `baseLayerIdentity`.
pub(super) fn identity_rule(at: &At<'_>) -> Result<IdentityRule, PolicyError> {
    let kind = lenient_type(at, "signature.prmCommon")?;
    let exact = |extra: &[&str]| -> Result<Obj<'_>, PolicyError> {
        let mut fields = vec!["type"];
        fields.extend_from_slice(extra);
        let obj = at.object(Some(&fields)).map_err(json)?;
        for f in extra {
            obj.require(f).map_err(json)?;
        }
        Ok(obj)
    };
    match kind.as_str() {
        "matchExact" => exact(&[]).map(|_| IdentityRule::MatchExact),
        "matchRepoDigestOrExact" => exact(&[]).map(|_| IdentityRule::MatchRepoDigestOrExact),
        "matchRepository" => exact(&[]).map(|_| IdentityRule::MatchRepository),
        "exactReference" => {
            let obj = exact(&["dockerReference"])?;
            let field = obj.require("dockerReference").map_err(json)?;
            let value = field.go_string().map_err(json)?;
            let r = DockerRef::parse_normalized(&value).map_err(|reason| {
                field.error(PolicyErrorKind::BadDockerReference {
                    value: value.clone(),
                    reason,
                })
            })?;
            if r.is_name_only() {
                return Err(field.error(PolicyErrorKind::NameOnlyReference(value)));
            }
            Ok(IdentityRule::ExactReference(r))
        }
        "exactRepository" => {
            let obj = exact(&["dockerRepository"])?;
            let field = obj.require("dockerRepository").map_err(json)?;
            let value = field.go_string().map_err(json)?;
            let r = DockerRef::parse_normalized(&value).map_err(|reason| {
                field.error(PolicyErrorKind::BadDockerRepository {
                    value: value.clone(),
                    reason,
                })
            })?;
            Ok(IdentityRule::ExactRepository(r))
        }
        "remapIdentity" => {
            let obj = exact(&["prefix", "signedPrefix"])?;
            let mut values = Vec::new();
            for name in ["prefix", "signedPrefix"] {
                let field = obj.require(name).map_err(json)?;
                let value = field.go_string().map_err(json)?;
                if !valid_remap_prefix(&value) {
                    return Err(field.error(PolicyErrorKind::BadPrefix(value)));
                }
                values.push(value);
            }
            let signed_prefix = values.pop().unwrap_or_default();
            let prefix = values.pop().unwrap_or_default();
            Ok(IdentityRule::RemapIdentity {
                prefix,
                signed_prefix,
            })
        }
        _ => Err(at.error(PolicyErrorKind::UnknownMatchType(kind))),
    }
}

#[cfg(test)]
mod tests {
    use super::decode_go_base64;

    #[test]
    fn base64_like_go() {
        assert_eq!(decode_go_base64("bm9uc2Vuc2U="), Ok(b"nonsense".to_vec()));
        assert_eq!(
            decode_go_base64("bm9u\nc2Vu\r\nc2U="),
            Ok(b"nonsense".to_vec())
        );
        assert_eq!(decode_go_base64("!!"), Err(0));
        assert_eq!(decode_go_base64("this is invalid base64"), Err(4));
        assert_eq!(decode_go_base64(""), Ok(Vec::new()));
    }
}
