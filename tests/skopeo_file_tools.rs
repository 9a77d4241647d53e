//! skopeo's file-only tools behind vouch: `manifest-digest` (plain manifests
//! and JWS-signed schema1 ones, signature stripped) and
//! `untrusted-signature-dump-without-verification` print what skopeo prints.

use std::path::Path;
use std::process::Command;

const TESTDATA: &str = "fixtures/containers-image/internal/manifest/testdata";

fn run(bin: &str, file: &Path) -> std::process::Output {
    Command::new(bin)
        .arg("manifest-digest")
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn manifest_digest_matches_skopeo() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(TESTDATA);
    for name in [
        "v2s1.manifest.json",
        "v2s1-unsigned.manifest.json",
        "v2s2.manifest.json",
        "ociv1.manifest.json",
        "v2list.manifest.json",
        "ociv1.image.index.json",
    ] {
        let f = dir.join(name);
        let ours = run(env!("CARGO_BIN_EXE_vouch"), &f);
        let theirs = run("/usr/bin/skopeo", &f);
        assert!(theirs.status.success(), "skopeo failed on {name}");
        assert_eq!(ours.status.code(), Some(0), "{name}: {ours:?}");
        assert_eq!(ours.stdout, theirs.stdout, "{name}");
    }
}

#[test]
fn manifest_digest_errors_exit_2_naming_the_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(TESTDATA);
    let bad = dir.join("v2s1-invalid-signatures.manifest.json");
    let o = run(env!("CARGO_BIN_EXE_vouch"), &bad);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("v2s1-invalid-signatures.manifest.json"),
        "{err}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.json");
    let o = run(env!("CARGO_BIN_EXE_vouch"), &missing);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing.json"), "{err}");
}

const SIGNATURES: &str = "fixtures/containers-image/signature/fixtures";

fn dump(bin: &str, file: &Path, tz: &str) -> std::process::Output {
    Command::new(bin)
        .arg("untrusted-signature-dump-without-verification")
        .arg(file)
        .env("TZ", tz)
        .output()
        .unwrap()
}

#[test]
fn untrusted_dump_matches_skopeo_in_any_zone() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SIGNATURES);
    for name in [
        "image.signature",
        "no-optional-fields.signature",
        "unknown-key.signature",
        "subkey.signature",
    ] {
        for tz in ["UTC", "America/New_York", "Asia/Kolkata"] {
            let f = dir.join(name);
            let ours = dump(env!("CARGO_BIN_EXE_vouch"), &f, tz);
            let theirs = dump("/usr/bin/skopeo", &f, tz);
            assert!(theirs.status.success(), "skopeo failed on {name}");
            assert_eq!(ours.status.code(), Some(0), "{name}: {ours:?}");
            assert_eq!(
                String::from_utf8_lossy(&ours.stdout),
                String::from_utf8_lossy(&theirs.stdout),
                "{name} TZ={tz}"
            );
        }
    }
}

#[test]
fn untrusted_dump_of_a_non_signature_exits_2_naming_the_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(TESTDATA);
    let f = dir.join("v2s2.manifest.json");
    let o = dump(env!("CARGO_BIN_EXE_vouch"), &f, "UTC");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("v2s2.manifest.json"), "{err}");

    // A signed message whose payload is not JSON: skopeo fails too, with
    // the same JSON error.
    let sigs = Path::new(env!("CARGO_MANIFEST_DIR")).join(SIGNATURES);
    let f = sigs.join("expired.signature");
    assert!(!dump("/usr/bin/skopeo", &f, "UTC").status.success());
    let o = dump(env!("CARGO_BIN_EXE_vouch"), &f, "UTC");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("invalid character 'T' looking for beginning of value"),
        "{err}"
    );
}
