use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};

use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/sigstore/testdata")
        .join(name)
}

fn verify(public_pem: &[u8], sig: &SigstoreComponents) {
    let key = VerifyingKey::from(public_key_from_pem(public_pem).unwrap());
    let der = STANDARD
        .decode(&sig.annotations[SIGNATURE_ANNOTATION])
        .unwrap();
    let signature = Signature::from_der(&der).unwrap();
    key.verify(&sig.payload, &signature).unwrap();
}

#[test]
fn generated_pair_signs_and_verifies() {
    let pass = Passphrase::new("correct horse");
    let pair = generate_key_pair(&pass).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.private");
    std::fs::write(&path, &pair.private_pem).unwrap();
    let key = SigstoreSigningKey::load(&path, &pass).unwrap();
    assert_eq!(
        key.public_key_pem().unwrap().as_bytes(),
        pair.public_pem.as_slice()
    );

    let sig = key.sign("localhost:5000/ns/app:v1", DIGEST).unwrap();
    assert_eq!(sig.mime_type, SIMPLE_SIGNING_MEDIA_TYPE);
    assert_eq!(sig.annotations.len(), 1);
    verify(&pair.public_pem, &sig);
    let doc: serde_json::Value = serde_json::from_slice(&sig.payload).unwrap();
    assert_eq!(
        doc["critical"]["identity"]["docker-reference"],
        "localhost:5000/ns/app:v1"
    );
    assert_eq!(doc["critical"]["image"]["docker-manifest-digest"], DIGEST);
    assert_eq!(doc["critical"]["type"], "cosign container image signature");
    assert!(!format!("{key:?}{pair:?}").contains("PRIVATE"));
}

#[test]
fn loads_skopeo_key_and_names_file_on_wrong_passphrase() {
    let pass = Passphrase::read_file(&testdata("skopeo-1.22.passphrase")).unwrap();
    let key = SigstoreSigningKey::load(&testdata("skopeo-1.22.private"), &pass).unwrap();
    let sig = key
        .sign("docker.io/library/busybox:latest", DIGEST)
        .unwrap();
    verify(&std::fs::read(testdata("skopeo-1.22.pub")).unwrap(), &sig);

    let err = SigstoreSigningKey::load(&testdata("skopeo-1.22.private"), &Passphrase::new("nope"))
        .unwrap_err();
    let chain = vouch_image::chain::one_line(&err);
    assert!(chain.contains("skopeo-1.22.private"), "{chain}");
    assert!(
        chain.contains("decryption failed (wrong passphrase"),
        "{chain}"
    );
}

#[test]
fn refuses_references_and_digests_upstream_refuses() {
    let key = SigstoreSigningKey::from_secret_key(&SecretKey::random(&mut rand_core::OsRng));
    let err = key.sign("docker.io/library/busybox", DIGEST).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reference docker.io/library/busybox can’t be signed, it has neither a tag nor a digest"
    );
    assert!(matches!(
        key.sign("busybox:latest", DIGEST),
        Err(SigstoreSignError::Reference { .. })
    ));
    assert!(matches!(
        key.sign("example.com/a:b", "sha256:12"),
        Err(SigstoreSignError::Digest { .. })
    ));
    let pinned = format!("example.com/a@{DIGEST}");
    key.sign(&pinned, DIGEST).unwrap();
}
