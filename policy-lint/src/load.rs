//! Load errors: the one error containers/image stops at, classified into a
//! rule and given a hint. The verdict and the message come from
//! vouch-verify's policy parser (the same code `vouch pull` uses), so the
//! linter cannot disagree with the tool it guards.

use vouch_verify::json::{JsonErrorKind, JsonPath, Spanned, Value};
use vouch_verify::policy::{PolicyError, PolicyErrorKind, SigstoreRule};

use crate::rules::Rule;
use crate::suggest::closest;

/// Every member name policy.json knows, for "did you mean" hints.
const KNOWN_MEMBERS: &[&str] = &[
    "default",
    "transports",
    "type",
    "keyType",
    "keyPath",
    "keyPaths",
    "keyData",
    "keyDatas",
    "signedIdentity",
    "baseLayerIdentity",
    "dockerReference",
    "dockerRepository",
    "prefix",
    "signedPrefix",
    "fulcio",
    "pki",
    "rekorPublicKeyPath",
    "rekorPublicKeyPaths",
    "rekorPublicKeyData",
    "rekorPublicKeyDatas",
    "caPath",
    "caData",
    "oidcIssuer",
    "subjectEmail",
    "subjectHostname",
    "caRootsPath",
    "caRootsData",
    "caIntermediatesPath",
    "caIntermediatesData",
];

const REQUIREMENT_TYPES: &[&str] = &[
    "insecureAcceptAnything",
    "reject",
    "signedBy",
    "sigstoreSigned",
    "signedBaseLayer",
];

const MATCH_TYPES: &[&str] = &[
    "matchExact",
    "matchRepoDigestOrExact",
    "matchRepository",
    "exactReference",
    "exactRepository",
    "remapIdentity",
];

const KEY_TYPES: &[&str] = &[
    "GPGKeys",
    "signedByGPGKeys",
    "X509Certificates",
    "signedByX509CAs",
];

/// The rule and hint for a parse error; `doc` (when the JSON itself parsed)
/// tells an invalid scope from an unknown member.
pub fn classify(err: &PolicyError, doc: Option<&Spanned>) -> (Rule, String) {
    match &err.kind {
        PolicyErrorKind::Json(j) => classify_json(j, err, doc),
        PolicyErrorKind::DefaultMissing => (
            Rule::MissingDefault,
            r#"add "default": [{"type": "reject"}] and allow what may run per transport and scope"#.into(),
        ),
        PolicyErrorKind::EmptyRequirements => (
            Rule::EmptyRequirements,
            r#"to deny, write [{"type": "reject"}]; to allow, [{"type": "insecureAcceptAnything"}]"#
                .into(),
        ),
        PolicyErrorKind::UnknownRequirementType(t) => (
            Rule::UnknownRequirementType,
            one_of("type", t, REQUIREMENT_TYPES),
        ),
        PolicyErrorKind::UnknownMatchType(t) => {
            (Rule::BadSignedIdentity, one_of("type", t, MATCH_TYPES))
        }
        PolicyErrorKind::InvalidKeyType(t) | PolicyErrorKind::UnrecognizedKeyType(t) => {
            (Rule::BadKeyType, one_of("keyType", t, KEY_TYPES))
        }
        PolicyErrorKind::NoKeySource
        | PolicyErrorKind::SeveralKeySources
        | PolicyErrorKind::EmptyKeySource => (
            Rule::KeySource,
            "give exactly one non-empty keyPath (a file), keyPaths (files, any may sign) or keyData (base64 of the key)".into(),
        ),
        PolicyErrorKind::Base64(_) => (
            Rule::BadKeyData,
            "keyData is standard padded base64 of the key: `base64 -w0 key.gpg`".into(),
        ),
        PolicyErrorKind::BadDockerReference { .. } | PolicyErrorKind::NameOnlyReference(_) => (
            Rule::BadSignedIdentity,
            "dockerReference is a full reference with a tag or digest, lower-case: registry.example.com/ns/app:v1".into(),
        ),
        PolicyErrorKind::BadDockerRepository { .. } => (
            Rule::BadSignedIdentity,
            "dockerRepository is a lower-case repository name: registry.example.com/ns/app".into(),
        ),
        PolicyErrorKind::BadPrefix(_) => (
            Rule::BadSignedIdentity,
            "a prefix is a host[:port] or host/path without tag, digest or trailing slash, lower-case".into(),
        ),
        PolicyErrorKind::Sigstore(SigstoreRule::FulcioNeedsRekor) => (
            Rule::FulcioWithoutRekor,
            "a Fulcio certificate is trusted only with a Rekor SET proving when it was used: add \"rekorPublicKeyPath\" (the Rekor instance's PEM public key) to this requirement".into(),
        ),
        PolicyErrorKind::SigstoreKeySource
        | PolicyErrorKind::NoEntries(_)
        | PolicyErrorKind::Sigstore(_) => (
            Rule::BadSigstore,
            "see containers-policy.json(5), sigstoreSigned".into(),
        ),
    }
}

fn classify_json(kind: &JsonErrorKind, err: &PolicyError, doc: Option<&Spanned>) -> (Rule, String) {
    match kind {
        JsonErrorKind::Syntax(_) => (
            Rule::InvalidJson,
            "containers/image reads strict JSON: one value, no comments, no trailing commas".into(),
        ),
        JsonErrorKind::UnknownKey(k) => {
            if let Some(transport) = doc.and_then(|d| scope_transport(d, err)) {
                return (Rule::InvalidScope, scope_hint(&transport));
            }
            let hint = match closest(k, KNOWN_MEMBERS) {
                Some(s) => format!("did you mean \"{s}\"? Member names are case-sensitive"),
                None => "remove it: containers/image refuses members it does not know".into(),
            };
            (Rule::UnknownKey, hint)
        }
        JsonErrorKind::DuplicateKey(_) => (
            Rule::DuplicateKey,
            "merge the two: containers/image refuses a repeated key (other JSON readers keep the last one)".into(),
        ),
        JsonErrorKind::MissingKey(k) => (Rule::MissingMember, format!("add \"{k}\"")),
        JsonErrorKind::ObjectExpected { .. } | JsonErrorKind::Type { .. } => (
            Rule::WrongType,
            "see containers-policy.json(5) for the member's type; null is not an empty object".into(),
        ),
    }
}

/// The transport whose scope key sits at the error, if the error is a scope key.
fn scope_transport(doc: &Spanned, err: &PolicyError) -> Option<String> {
    let Value::Object(top) = &doc.value else {
        return None;
    };
    let transports = top.iter().find(|m| m.key == "transports")?;
    let Value::Object(ts) = &transports.value.value else {
        return None;
    };
    for t in ts {
        let Value::Object(scopes) = &t.value.value else {
            continue;
        };
        for s in scopes {
            let path = JsonPath::root().key("transports").key(&t.key).key(&s.key);
            if s.key_pos == err.pos && path == err.path {
                return Some(t.key.clone());
            }
        }
    }
    None
}

fn scope_hint(transport: &str) -> String {
    let what = match transport {
        "dir" | "oci" | "oci-archive" | "sif" => "an absolute, clean path other than /",
        "docker-archive" | "tarball" => "no scope but \"\"",
        "docker-daemon" => "a reference, not an algo:hex digest",
        "containers-storage" => "[driver@/root]name[:tag][@digest] or [/root]…",
        "atomic" => "host[:port][/namespace[/stream[:tag]]]",
        _ => "a scope valid for the transport",
    };
    format!("transport \"{transport}\" accepts {what}; containers/image reports invalid scopes as unknown keys")
}

fn one_of(member: &str, got: &str, allowed: &[&str]) -> String {
    let list = allowed.join(", ");
    match closest(got, allowed) {
        Some(s) if !got.is_empty() => format!("did you mean \"{s}\"? {member} is one of {list}"),
        _ => format!("{member} is one of {list}"),
    }
}

/// The value position of member `name` of the object that starts at `pos`.
pub fn member_at(
    doc: &Spanned,
    pos: vouch_verify::json::Pos,
    name: &str,
) -> Option<vouch_verify::json::Pos> {
    match &doc.value {
        Value::Object(members) => {
            if doc.pos == pos {
                if let Some(m) = members.iter().find(|m| m.key == name) {
                    return Some(m.value.pos);
                }
            }
            members.iter().find_map(|m| member_at(&m.value, pos, name))
        }
        Value::Array(items) => items.iter().find_map(|i| member_at(i, pos, name)),
        _ => None,
    }
}
