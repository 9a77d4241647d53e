//! Upstream evidence: the sigstore-conformance `bundle-verify` assets
//! committed under `fixtures/sigstore-bundles/conformance/` (provenance in
//! fixtures/README.md) give vouch the verdict their source states — a
//! directory ending in `_fail` must be refused, any other accepted — and a
//! refusal must be for the reason the asset was made for.
//!
//! Each asset's trusted_root.json (or the public-good one sigstore-python
//! ships, when the asset has none) is mapped onto what a `sigstoreSigned`
//! requirement can say: its Fulcio CA certificates become `fulcio.caData`
//! (or, with `key.pub`, the key becomes `keyData`), its ECDSA Rekor keys
//! `rekorPublicKeyDatas`; the asset's `identity`/`issuer` are the expected
//! certificate identity.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine;
use vouch_verify::policy::{IdentityRule, PathOrData, PathsOrDatas, SigstoreKeys, SigstoreSigned};
use vouch_verify::sigstore::bundle::{verify_artifact_bundle, Artifact, CertificateIdentity};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Every selected asset and its verdict: `None` = accepted, `Some(fragment)`
/// = refused with a message containing `fragment`.
const EXPECTED: &[(&str, Option<&str>)] = &[
    (
        "bundle-empty-certificate-chain_fail",
        Some("x509CertificateChain is empty"),
    ),
    (
        "bundle-from-wrong-instance_fail",
        Some("signed entry timestamp is not signed by a trusted Rekor key"),
    ),
    ("bundle-invalid-base64-signature_fail", Some("base64")),
    ("bundle-malformed-json_fail", Some("parsing bundle JSON")),
    ("bundle-negative-log-index_fail", Some("logIndex: negative")),
    (
        "bundle-unknown-version_fail",
        Some("unsupported bundle media type"),
    ),
    (
        "bundle-with-root-cert_fail",
        Some("self-signed (root) certificate"),
    ),
    (
        "checkpoint-bad-keyhint_fail",
        Some("checkpoint is not signed by a trusted Rekor key"),
    ),
    (
        "checkpoint-wrong-roothash_fail",
        Some("inclusion proof: checkpoint tree size"),
    ),
    (
        "dsse-invalid-sig_fail",
        Some("cryptographic signature verification failed"),
    ),
    (
        "dsse-mismatch-envelope_fail",
        Some("tlog entry body records another payload"),
    ),
    (
        "dsse-mismatch-sig_fail",
        Some("tlog entry body does not record this signature"),
    ),
    ("happy-path-intoto-in-dsse-v3", None),
    ("happy-path-v0.1", None),
    ("happy-path-v0.2", None),
    ("happy-path-v0.3", None),
    ("happy-path-v0.3-new-mediaType", None),
    (
        "inclusion-proof-corrupted-hash_fail",
        Some("inclusion proof does not hash to its rootHash"),
    ),
    (
        "incorrect-public-key_fail",
        Some("tlog entry body does not record this key or certificate"),
    ),
    (
        "integrated-time-in-future_fail",
        Some("veryfing leaf certificate failed: certificate has expired"),
    ),
    (
        "intoto-expired-certificate_fail",
        Some("veryfing leaf certificate failed: certificate is not yet valid"),
    ),
    ("intoto-log-entry-mismatch_fail", Some("tlog entry body")),
    (
        "intoto-missing-inclusion-proof_fail",
        Some("has no inclusionProof"),
    ),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        Some("veryfing leaf certificate failed: certificate has expired"),
    ),
    ("intoto-with-custom-trust-root", None),
    (
        "invalid-checkpoint-signature_fail",
        Some("checkpoint is not signed by a trusted Rekor key"),
    ),
    ("invalid-inclusion-proof_fail", Some("inclusion proof")),
    ("managed-key-and-trusted-root", None),
    ("managed-key-happy-path", None),
    (
        "managed-key-no-key_fail",
        Some("no certificate found in signature certificate data"),
    ),
    (
        "managed-key-wrong-key_fail",
        Some("parsing public key 1: decode error"),
    ),
    (
        "message-digest-mismatch_fail",
        Some("messageDigest is not the artifact's sha256"),
    ),
    (
        "set-invalid-signature_fail",
        Some("signed entry timestamp is not signed by a trusted Rekor key"),
    ),
    (
        "signature-mismatch_fail",
        Some("cryptographic signature verification failed"),
    ),
    (
        "wrong-hashedrekord-artifact_fail",
        Some("tlog entry body does not record this signature"),
    ),
    (
        "wrong-hashedrekord-cert-and-sig_fail",
        Some("tlog entry body does not record this"),
    ),
    ("wrong-hashedrekord-entry_fail", Some("tlog entry body")),
    (
        "wrong-material_fail",
        Some("messageDigest is not the artifact's sha256"),
    ),
];

fn assets() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/sigstore-bundles"
    ))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn text(dir: &Path, name: &str, default: &str) -> String {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(s) => s.trim().to_string(),
        Err(_) => default.to_string(),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The test-side trusted_root.json reader: (Fulcio CA PEMs, ECDSA Rekor key PEMs).
fn trusted_root(path: &Path) -> (String, Vec<Vec<u8>>) {
    let root: serde_json::Value = serde_json::from_slice(&read(path)).expect("trusted root JSON");
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("rawBytes string"))
            .expect("rawBytes base64")
    };
    let mut cas = String::new();
    for ca in root["certificateAuthorities"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for cert in ca["certChain"]["certificates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            cas.push_str(&pem("CERTIFICATE", &b64(&cert["rawBytes"])));
        }
    }
    let mut rekor = Vec::new();
    for tlog in root["tlogs"].as_array().into_iter().flatten() {
        let details = tlog["publicKey"]["keyDetails"].as_str().unwrap_or_default();
        if details.starts_with("PKIX_ECDSA") {
            rekor.push(pem("PUBLIC KEY", &b64(&tlog["publicKey"]["rawBytes"])).into_bytes());
        }
    }
    (cas, rekor)
}

fn verdict(dir: &Path) -> Result<(), String> {
    let root_path = if dir.join("trusted_root.json").exists() {
        dir.join("trusted_root.json")
    } else {
        assets().join("production_trusted_root.json")
    };
    let (cas, rekor) = trusted_root(&root_path);
    let key = dir.join("key.pub");
    let keys = if key.exists() {
        SigstoreKeys::Keys(PathsOrDatas::Data(read(&key)))
    } else {
        SigstoreKeys::Fulcio {
            ca: PathOrData::Data(cas.into_bytes()),
            oidc_issuer: String::new(),
            subject_email: String::new(),
        }
    };
    let req = SigstoreSigned {
        keys,
        rekor_public_keys: Some(PathsOrDatas::Datas(rekor)),
        signed_identity: IdentityRule::MatchRepoDigestOrExact,
    };
    let identity = CertificateIdentity {
        issuer: text(dir, "issuer", DEFAULT_ISSUER),
        san: text(dir, "identity", DEFAULT_IDENTITY),
    };
    let artifact_path = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        assets().join("conformance/a.txt")
    };
    let artifact = read(&artifact_path);
    verify_artifact_bundle(
        &read(&dir.join("bundle.sigstore.json")),
        Artifact::Bytes(&artifact),
        &req,
        Some(&identity),
        SystemTime::now(),
    )
    .map(drop)
    .map_err(|e| {
        let mut out = e.to_string();
        let mut cur = std::error::Error::source(&e);
        while let Some(s) = cur {
            out.push_str(": ");
            out.push_str(&s.to_string());
            cur = s.source();
        }
        out
    })
}

#[test]
fn every_conformance_asset_gives_its_upstream_verdict() {
    let dir = assets().join("conformance");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("conformance assets")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let listed: Vec<String> = EXPECTED.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        on_disk, listed,
        "every committed asset has a verdict, and only those"
    );

    let mut wrong = Vec::new();
    for (name, expected) in EXPECTED {
        assert_eq!(
            name.ends_with("_fail"),
            expected.is_some(),
            "{name}: verdict contradicts its name"
        );
        let got = verdict(&dir.join(name));
        match (expected, &got) {
            (None, Ok(())) => {}
            (Some(fragment), Err(msg)) if msg.contains(fragment) => {}
            _ => wrong.push(format!("{name}: expected {expected:?}, got {got:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} assets with the wrong verdict:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
