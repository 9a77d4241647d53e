//! Golden evaluation tests over the fixture corpus (§8.2 and the
//! `generated/` fixtures), plus the per-signature verdicts of §8.2 #64.

use std::path::Path;

use super::eval::error_chain;
use super::*;
use crate::test_support::{fixture, fixture_path, test_now, TEST_DIGEST, TEST_KEY};

const PUB: &str = "signature/fixtures/public-key.gpg";

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn key_path(rel: &str) -> String {
    format!(
        r#""keyPath":{}"#,
        json_str(&fixture_path(rel).to_string_lossy())
    )
}

/// A policy whose `default` is the given requirement list (JSON).
fn policy(default: &str) -> Policy {
    let text = format!(r#"{{"default":{default}}}"#);
    Policy::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn signed_by(keys: &str, identity: &str) -> String {
    format!(r#"{{"type":"signedBy","keyType":"GPGKeys",{keys},"signedIdentity":{identity}}}"#)
}

const EXACT: &str = r#"{"type":"matchExact"}"#;
const REPO: &str = r#"{"type":"matchRepository"}"#;

/// A `dir:`-layout fixture: manifest (empty if absent) and signature-1, -2, … until the first gap.
fn dir_image(rel: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
    let dir = fixture_path(rel);
    let manifest = std::fs::read(dir.join("manifest.json")).unwrap_or_default();
    let mut sigs = Vec::new();
    for i in 1.. {
        match std::fs::read(dir.join(format!("signature-{i}"))) {
            Ok(b) => sigs.push(b),
            Err(_) => break,
        }
    }
    (manifest, sigs)
}

fn eval(p: &Policy, image: &str, rel: &str) -> Result<Accepted, Rejected> {
    let (manifest, sigs) = dir_image(rel);
    p.evaluate_at(
        &PolicyImage::docker(image).unwrap(),
        &manifest,
        &sigs,
        test_now(),
    )
}

fn reason(r: Result<Accepted, Rejected>) -> String {
    match r {
        Ok(a) => panic!("unexpectedly accepted: {a:?}"),
        Err(e) => error_chain(&e),
    }
}

const IMAGE: &str = "testing/manifest:latest";

#[test]
fn signed_by_upstream_cases() {
    let exact = policy(&format!("[{}]", signed_by(&key_path(PUB), EXACT)));
    // #42
    let ok = eval(&exact, IMAGE, "signature/fixtures/dir-img-valid").unwrap();
    assert_eq!(ok.signatures.len(), 1);
    assert_eq!(
        ok.signatures[0].docker_reference(),
        "testing/manifest:latest"
    );
    assert_eq!(ok.signatures[0].manifest_digest(), TEST_DIGEST);
    assert_eq!(ok.signatures[0].key_fingerprint(), TEST_KEY);
    assert_eq!(ok.scope, None);
    // #54
    assert_eq!(
        reason(eval(
            &exact,
            IMAGE,
            "signature/fixtures/dir-img-modified-manifest"
        )),
        format!("Source image rejected: Signature for digest {TEST_DIGEST} does not match")
    );
    // #53
    assert!(reason(eval(
        &exact,
        IMAGE,
        "signature/fixtures/dir-img-manifest-digest-error"
    ))
    .contains("computing the manifest digest"));
    // #56
    assert_eq!(
        reason(eval(&exact, IMAGE, "signature/fixtures/dir-img-unsigned")),
        "Source image rejected: A signature was required, but no signature exists"
    );
    // #57
    assert!(reason(eval(
        &exact,
        "testing/manifest:notlatest",
        "signature/fixtures/dir-img-valid"
    ))
    .contains(r#"Signature for identity "testing/manifest:latest" is not accepted"#));
    // #58
    eval(&exact, IMAGE, "signature/fixtures/dir-img-valid-2").unwrap();
    let both = reason(eval(
        &exact,
        "testing/manifest:notlatest",
        "signature/fixtures/dir-img-valid-2",
    ));
    assert_eq!(
        both,
        r#"Source image rejected: None of the signatures were accepted, reasons: Signature for identity "testing/manifest:latest" is not accepted; Signature for identity "testing/manifest:latest" is not accepted"#
    );
    // #59
    eval(&exact, IMAGE, "signature/fixtures/dir-img-mixed").unwrap();
    // #60 (upstream behaviour: subkey signature maps to the listed primary)
    let subkey = policy(&format!(
        "[{}]",
        signed_by(
            &key_path("signature/fixtures/public-key-with-subkey.gpg"),
            EXACT
        )
    ));
    let ok = eval(&subkey, IMAGE, "signature/fixtures/dir-img-valid-subkey").unwrap();
    assert_eq!(
        ok.signatures[0].key_fingerprint(),
        "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36"
    );
    // #61
    let two = policy(&format!("[{0},{0}]", signed_by(&key_path(PUB), REPO)));
    assert_eq!(
        eval(&two, IMAGE, "signature/fixtures/dir-img-mixed")
            .unwrap()
            .signatures
            .len(),
        2
    );
    // #62
    let then_reject = policy(&format!(
        r#"[{},{{"type":"reject"}}]"#,
        signed_by(&key_path(PUB), EXACT)
    ));
    assert_eq!(
        reason(eval(&then_reject, IMAGE, "signature/fixtures/dir-img-valid")),
        "Source image rejected: Running image docker://testing/manifest:latest is rejected by policy."
    );
}

#[test]
fn key_sources() {
    let pk1 = fixture_path("signature/fixtures/public-key-1.gpg");
    let pk2 = fixture_path("signature/fixtures/public-key-2.gpg");
    let paths = |a: &Path, b: &Path| {
        format!(
            r#""keyPaths":[{},{}]"#,
            json_str(&a.to_string_lossy()),
            json_str(&b.to_string_lossy())
        )
    };
    // #43
    for keys in [
        paths(&pk1, &pk1),
        paths(&pk2, &pk1),
        format!(
            r#""keyData":"{}""#,
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, fixture(PUB))
        ),
    ] {
        let p = policy(&format!("[{}]", signed_by(&keys, EXACT)));
        eval(&p, IMAGE, "signature/fixtures/dir-img-valid")
            .unwrap_or_else(|e| panic!("{keys}: {}", error_chain(&e)));
    }
    // #44
    for kt in ["signedByGPGKeys", "X509Certificates", "signedByX509CAs"] {
        let text = format!(
            r#"[{{"type":"signedBy","keyType":"{kt}",{}}}]"#,
            key_path(PUB)
        );
        assert!(reason(eval(
            &policy(&text),
            IMAGE,
            "signature/fixtures/dir-img-valid"
        ))
        .contains(&format!(r#"Unimplemented "keyType" value "{kt}""#)));
    }
    // #46
    let missing = policy(&format!(
        "[{}]",
        signed_by(r#""keyPath":"/this/does/not/exist""#, EXACT)
    ));
    let r = reason(eval(&missing, IMAGE, "signature/fixtures/dir-img-valid"));
    assert!(
        r.contains("reading key file /this/does/not/exist: No such file or directory"),
        "{r}"
    );
    let some_missing = policy(&format!(
        "[{}]",
        signed_by(
            &format!(
                r#""keyPaths":[{},"/this/does/not/exist"]"#,
                json_str(&pk1.to_string_lossy())
            ),
            EXACT
        )
    ));
    assert!(reason(eval(
        &some_missing,
        IMAGE,
        "signature/fixtures/dir-img-valid"
    ))
    .contains("/this/does/not/exist"));
    // #47
    for keys in [r#""keyData":"""#, r#""keyPaths":[]"#] {
        let p = policy(&format!("[{}]", signed_by(keys, EXACT)));
        assert_eq!(
            reason(eval(&p, IMAGE, "signature/fixtures/dir-img-valid")),
            "Source image rejected: No public keys imported"
        );
    }
}

#[test]
fn bad_signatures() {
    let exact = policy(&format!("[{}]", signed_by(&key_path(PUB), EXACT)));
    let (manifest, _) = dir_image("signature/fixtures/dir-img-valid");
    let image = PolicyImage::docker(IMAGE).unwrap();
    let run = |sig: Vec<u8>| reason(exact.evaluate_at(&image, &manifest, &[sig], test_now()));
    // #48
    assert!(run(b"invalid signature".to_vec())
        .contains("unrecognized signature format, starting with binary 0x69"));
    // #49
    assert!(run(fixture("signature/fixtures/unknown-key.signature"))
        .contains("Invalid GPG signature: signed by unknown key 5F9470E3BC6C3B55"));
    // #50
    assert!(run(fixture("signature/fixtures/invalid-blob.signature"))
        .contains("invalid character 'T' looking for beginning of value"));
    // corrupt, expired, armored
    assert!(run(fixture("signature/fixtures/corrupt.signature"))
        .contains("Invalid GPG signature: bad signature"));
    assert!(run(fixture("signature/fixtures/expired.signature")).contains("Invalid GPG signature"));
    assert!(
        run(fixture("signature/fixtures/invalid-cleartext.signature"))
            .contains("starting with binary 0x2d")
    );
    // #51
    let other = policy(&format!(
        "[{}]",
        signed_by(
            &key_path(PUB),
            r#"{"type":"exactReference","dockerReference":"this/does-not:match"}"#
        )
    ));
    assert!(
        reason(eval(&other, IMAGE, "signature/fixtures/dir-img-valid"))
            .contains("Signature for identity")
    );
    // A sigstore attachment is invisible to signedBy.
    assert_eq!(
        run(b"\0sigstore-json\n{}".to_vec()),
        "Source image rejected: A signature was required, but no signature exists"
    );
    // A \0simple-signing\n prefix is accepted.
    let prefixed = [
        b"\0simple-signing\n".to_vec(),
        dir_image("signature/fixtures/dir-img-valid").1.remove(0),
    ]
    .concat();
    exact
        .evaluate_at(&image, &manifest, &[prefixed], test_now())
        .unwrap();
}

#[test]
fn list_level_rules() {
    // #63
    let empty = Policy {
        default: Vec::new(),
        transports: Vec::new(),
    };
    assert_eq!(
        reason(eval(&empty, IMAGE, "signature/fixtures/dir-img-valid")),
        "Source image rejected: List of verification policy requirements must not be empty"
    );
    let anything = Policy::insecure_accept_anything();
    assert!(
        eval(&anything, IMAGE, "signature/fixtures/dir-img-unsigned")
            .unwrap()
            .signatures
            .is_empty()
    );
    let base = policy(r#"[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchExact"}}]"#);
    assert!(
        reason(eval(&base, IMAGE, "signature/fixtures/dir-img-valid"))
            .ends_with("signedBaseLayer not implemented yet!")
    );
    // A sigstoreSigned ignores simple signatures, and says how many it skipped.
    let sigstore = policy(r#"[{"type":"sigstoreSigned","keyData":"bm9uc2Vuc2U="}]"#);
    assert_eq!(
        reason(eval(&sigstore, IMAGE, "signature/fixtures/dir-img-valid")),
        "Source image rejected: A signature was required, but no signature exists (1 non-sigstore signatures, 0 sigstore non-signature attachments)"
    );
}

#[test]
fn needs_signatures() {
    let img = PolicyImage::docker(IMAGE).unwrap();
    let sb = signed_by(&key_path(PUB), EXACT);
    let cases = [
        (r#"[{"type":"insecureAcceptAnything"}]"#.to_string(), false),
        (r#"[{"type":"reject"}]"#.to_string(), false),
        (format!("[{sb}]"), true),
        (
            format!(r#"[{{"type":"insecureAcceptAnything"}},{sb}]"#),
            true,
        ),
        (format!(r#"[{{"type":"reject"}},{sb}]"#), false),
    ];
    for (list, want) in cases {
        assert_eq!(policy(&list).needs_signatures(&img), want, "{list}");
    }
}

#[test]
fn per_signature_verdicts() {
    // #64: kept iff some requirement accepts and none rejects.
    let sb = signed_by(&key_path(PUB), EXACT);
    let (manifest, sigs) = dir_image("signature/fixtures/dir-img-valid");
    let img = PolicyImage::docker(IMAGE).unwrap();
    let base = r#"{"type":"signedBaseLayer","baseLayerIdentity":{"type":"matchExact"}}"#;
    let cases = [
        (format!("[{sb},{sb}]"), 1),
        (format!(r#"[{sb},{{"type":"reject"}}]"#), 0),
        (format!("[{sb},{base}]"), 1),
        (format!(r#"[{{"type":"reject"}},{base}]"#), 0),
        (format!("[{base}]"), 0),
        (r#"[{"type":"insecureAcceptAnything"}]"#.to_string(), 0),
    ];
    for (list, want) in cases {
        assert_eq!(
            policy(&list)
                .accepted_signatures(&img, &manifest, &sigs, test_now())
                .len(),
            want,
            "{list}"
        );
    }
}

#[test]
fn digest_references_check_the_manifest_first() {
    let p = Policy::insecure_accept_anything();
    let (manifest, _) = dir_image("signature/fixtures/dir-img-valid");
    let good = PolicyImage::docker(&format!("testing/manifest@{TEST_DIGEST}")).unwrap();
    p.evaluate_at(&good, &manifest, &[], test_now()).unwrap();
    let other = format!("testing/manifest@sha256:{}", "0".repeat(64));
    let err = p
        .evaluate_at(
            &PolicyImage::docker(&other).unwrap(),
            &manifest,
            &[],
            test_now(),
        )
        .unwrap_err();
    assert!(error_chain(&err).contains("Manifest does not match provided manifest digest"));
}

#[test]
fn generated_fixtures() {
    // gpg-skopeo-standalone: skopeo 1.9.3 standalone-sign output.
    let key = key_path("generated/gpg-skopeo-standalone/public-key.gpg");
    let manifest = fixture("generated/gpg-skopeo-standalone/manifest.json");
    let busybox = PolicyImage::docker("busybox:latest").unwrap();
    let default_rule = policy(&format!(
        r#"[{{"type":"signedBy","keyType":"GPGKeys",{key}}}]"#
    ));
    let sig = fixture("generated/gpg-skopeo-standalone/busybox.signature");
    let short = fixture("generated/gpg-skopeo-standalone/short-identity.signature");
    let ok = default_rule
        .evaluate_at(&busybox, &manifest, &[sig], test_now())
        .unwrap();
    assert_eq!(
        ok.signatures[0].key_fingerprint(),
        "A06D9F7AAD47327032766DEBEB5B0FCF10966A88"
    );
    assert_eq!(ok.signatures[0].creator(), Some("atomic 5.23.1"));
    let err = default_rule
        .evaluate_at(
            &busybox,
            &manifest,
            std::slice::from_ref(&short),
            test_now(),
        )
        .unwrap_err();
    assert!(error_chain(&err).contains(r#"Signature for identity "busybox" is not accepted"#));
    policy(&format!("[{}]", signed_by(&key, REPO)))
        .evaluate_at(&busybox, &manifest, &[short], test_now())
        .unwrap();

    // skopeo-copy-sign-by-dir: a dir: image; only value-based identity rules can match.
    let dir = fixture_path("generated/skopeo-copy-sign-by-dir");
    let (manifest, sigs) = dir_image("generated/skopeo-copy-sign-by-dir");
    let image = PolicyImage::dir(&dir).unwrap();
    let key = key_path("generated/skopeo-copy-sign-by-dir.public-key.gpg");
    let dir_policy = |identity: &str| {
        let text = format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"dir":{{"":[{}]}}}}}}"#,
            signed_by(&key, identity)
        );
        Policy::parse(text.as_bytes()).unwrap()
    };
    for identity in [
        r#"{"type":"exactReference","dockerReference":"registry.example.com/ns/app:v1"}"#,
        r#"{"type":"exactRepository","dockerRepository":"registry.example.com/ns/app"}"#,
    ] {
        let ok = dir_policy(identity)
            .evaluate_at(&image, &manifest, &sigs, test_now())
            .unwrap();
        assert_eq!(ok.scope.as_deref(), Some(""));
    }
    for identity in [
        r#"{"type":"matchRepoDigestOrExact"}"#,
        r#"{"type":"exactReference","dockerReference":"registry.example.com/ns/app:v2"}"#,
    ] {
        let err = dir_policy(identity)
            .evaluate_at(&image, &manifest, &sigs, test_now())
            .unwrap_err();
        assert!(
            error_chain(&err).contains(
                r#"Signature for identity "registry.example.com/ns/app:v1" is not accepted"#
            ),
            "{identity}"
        );
    }

    // sequoia-subkey: a subkey signature is attributed to the listed primary.
    let app = PolicyImage::docker("registry.example.com/ns/app:v1").unwrap();
    let p = policy(&format!(
        r#"[{{"type":"signedBy","keyType":"GPGKeys",{}}}]"#,
        key_path("generated/sequoia-subkey/cert.pgp")
    ));
    let ok = p
        .evaluate_at(
            &app,
            &fixture("generated/sequoia-subkey/manifest.json"),
            &[fixture("generated/sequoia-subkey/signature-1")],
            test_now(),
        )
        .unwrap();
    assert_eq!(
        ok.signatures[0].key_fingerprint(),
        "84E2C6EC0D4D7BE93561F7BB56593D53D63CCFC7"
    );

    // gpg-expired-key: rejected (documented decision, see mechanism.rs).
    let p = policy(&format!(
        r#"[{{"type":"signedBy","keyType":"GPGKeys",{}}}]"#,
        key_path("generated/gpg-expired-key/public-key.gpg")
    ));
    let err = p
        .evaluate_at(
            &app,
            &fixture("generated/gpg-expired-key/manifest.json"),
            &[fixture("generated/gpg-expired-key/signature-1")],
            test_now(),
        )
        .unwrap_err();
    assert!(
        error_chain(&err).contains(
            "Invalid GPG signature: key 8B49CD6BA1AAE8449249EB8094BB3DB35C0876D4 is not valid now"
        ),
        "{}",
        error_chain(&err)
    );
}
