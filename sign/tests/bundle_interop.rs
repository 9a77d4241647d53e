//! The bundles vouch writes, checked by sigstore-js (@sigstore/verify and
//! @sigstore/bundle at the versions tests/interop/sigstore-js pins; installed
//! by scripts/install-sigstore-js.sh), through the harness
//! tests/interop/sigstore-js/verify-bundle.js: exit 0 when their library
//! accepts the bundle for the key and the statement names the digest.

#[path = "../../tests/common/skip.rs"]
mod skip;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use vouch_sign::sigstore::bundle::public_key_hint;
use vouch_sign::sigstore::{public_key_from_pem, sign_image_bundle, SigstoreSigningKey};

const DIGEST: &str = "sha256:3b8b2f6d2c8a1e4f5a6b7c8d9e0f112233445566778899aabbccddeeff001122";
const OTHER_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

#[path = "../../tests/common/sigstore_js.rs"]
mod sigstore_js;

/// The harness, or why it cannot run here.
fn harness() -> Result<PathBuf, String> {
    sigstore_js::harness(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

fn key() -> SigstoreSigningKey {
    SigstoreSigningKey::from_secret_key(&p256::SecretKey::random(&mut rand_core::OsRng))
}

struct Case {
    dir: tempfile::TempDir,
    harness: PathBuf,
}

impl Case {
    fn new() -> Option<Self> {
        match harness() {
            Ok(harness) => Some(Self {
                dir: tempfile::tempdir().unwrap(),
                harness,
            }),
            Err(reason) => {
                skip::skip(&reason);
                None
            }
        }
    }

    /// Runs the harness on `bundle` with `key`'s public half and `digest`.
    fn verify(&self, bundle: &[u8], key: &SigstoreSigningKey, digest: &str) -> Output {
        let bundle_path = self.dir.path().join("bundle.sigstore.json");
        let key_path = self.dir.path().join("key.pub");
        std::fs::write(&bundle_path, bundle).unwrap();
        std::fs::write(&key_path, key.public_key_pem().unwrap()).unwrap();
        Command::new("node")
            .arg(&self.harness)
            .arg(&bundle_path)
            .arg(&key_path)
            .arg(digest)
            .output()
            .unwrap()
    }
}

fn assert_refused(out: &Output, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(why), "want {why:?}, got: {stderr}");
}

fn edit(bundle: &[u8], f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn sigstore_js_verifies_vouch_bundles() {
    let Some(case) = Case::new() else { return };
    let key = key();
    let bundle = sign_image_bundle(&key, DIGEST, None, &BTreeMap::new()).unwrap();
    let out = case.verify(&bundle, &key, DIGEST);
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("verified: "));

    // With cosign's -a annotations on the subject too.
    let annotations = BTreeMap::from([("org.example/built-by".to_string(), "ci".to_string())]);
    let bundle = sign_image_bundle(&key, DIGEST, None, &annotations).unwrap();
    assert!(case.verify(&bundle, &key, DIGEST).status.success());

    // With vouch's subject name (the signed docker reference).
    let bundle = sign_image_bundle(
        &key,
        DIGEST,
        Some("registry.example.com/ns/app:1"),
        &BTreeMap::new(),
    )
    .unwrap();
    assert!(case.verify(&bundle, &key, DIGEST).status.success());
}

#[test]
fn sigstore_js_refuses_another_key() {
    let Some(case) = Case::new() else { return };
    let (signer, other) = (key(), key());
    let bundle = sign_image_bundle(&signer, DIGEST, None, &BTreeMap::new()).unwrap();
    // The hint names the signer, so their key lookup fails first...
    assert_refused(&case.verify(&bundle, &other, DIGEST), "key not found");
    // ...and with the hint pointed at the other key, their signature check does.
    let other_public = public_key_from_pem(other.public_key_pem().unwrap().as_bytes()).unwrap();
    let hint = public_key_hint(&other_public).unwrap();
    let rehinted = edit(&bundle, |v| {
        v["verificationMaterial"]["publicKey"]["hint"] = hint.into();
    });
    assert_refused(
        &case.verify(&rehinted, &other, DIGEST),
        "signature verification failed",
    );
}

#[test]
fn sigstore_js_refuses_a_tampered_payload() {
    let Some(case) = Case::new() else { return };
    let key = key();
    let bundle = sign_image_bundle(&key, DIGEST, None, &BTreeMap::new()).unwrap();
    // The statement of another image, under the original signature.
    let tampered = edit(&bundle, |v| {
        let payload = STANDARD
            .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let text = String::from_utf8(payload).unwrap();
        let swapped = text.replace(&DIGEST[7..], &OTHER_DIGEST[7..]);
        assert_ne!(swapped, text);
        v["dsseEnvelope"]["payload"] = STANDARD.encode(swapped).into();
    });
    assert_refused(
        &case.verify(&tampered, &key, OTHER_DIGEST),
        "signature verification failed",
    );
    // A changed payload type breaks the PAE the signature covers.
    let retyped = edit(&bundle, |v| {
        v["dsseEnvelope"]["payloadType"] = "application/json".into();
    });
    assert_refused(
        &case.verify(&retyped, &key, DIGEST),
        "signature verification failed",
    );
}

#[test]
fn harness_refuses_a_bundle_for_another_digest() {
    let Some(case) = Case::new() else { return };
    let key = key();
    let bundle = sign_image_bundle(&key, OTHER_DIGEST, None, &BTreeMap::new()).unwrap();
    assert_refused(
        &case.verify(&bundle, &key, DIGEST),
        &format!("statement subject does not name {DIGEST}"),
    );
    let old_version = edit(&bundle, |v| {
        v["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
    });
    assert_refused(
        &case.verify(&old_version, &key, OTHER_DIGEST),
        "bundle mediaType",
    );
}
