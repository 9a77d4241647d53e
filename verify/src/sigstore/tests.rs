//! Upstream's verdicts for the sigstore fixtures (ported from
//! `signature/policy_eval_sigstore_test.go`, `internal/rekor_set_test.go`,
//! `fulcio_cert_test.go`, `pki_cert_test.go`), through `Policy::evaluate_at`
//! and the module entry points.

use std::collections::BTreeMap;

use vouch_image::sigstore_blob::{
    SigstoreComponents, BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION,
    SIGNATURE_ANNOTATION,
};

use super::certificate::{self, CertError};
use super::fulcio::FulcioRoot;
use super::pki::PkiRoot;
use super::public_key::PublicKey;
use super::rekor::{verify_set, RekorError};
use crate::policy::{Accepted, Policy, PolicyImage, Rejected};
use crate::test_support::{fixture, fixture_path, test_now};

const F: &str = "signature/fixtures";
const SINGLE: &str = "192.168.64.2:5000/cosign-signed-single-sample";
const KEY_REKOR: &str = "192.168.64.2:5000/cosign-signed/key-1";
const FULCIO: &str = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1";
const PKI: &str = "localhost:5000/test";
const REPO: &str = r#"{"type":"matchRepository"}"#;
/// The integrated time of the fixture SETs (2022-12-12T18:48:19Z).
const SET_TIME: i64 = 1670870899;

fn path(rel: &str) -> String {
    serde_json::to_string(&fixture_path(&format!("{F}/{rel}")).to_string_lossy()).unwrap()
}

fn paths(rels: &[&str]) -> String {
    format!(
        "[{}]",
        rels.iter().map(|r| path(r)).collect::<Vec<_>>().join(",")
    )
}

fn policy(req: &str) -> Policy {
    let text = format!(r#"{{"default":[{req}]}}"#);
    Policy::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn keyed(keys: &str, identity: &str) -> Policy {
    policy(&format!(
        r#"{{"type":"sigstoreSigned",{keys},"signedIdentity":{identity}}}"#
    ))
}

fn dir(rel: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
    let d = fixture_path(&format!("{F}/{rel}"));
    let manifest = std::fs::read(d.join("manifest.json")).unwrap_or_default();
    let sigs = (1..)
        .map_while(|i| std::fs::read(d.join(format!("signature-{i}"))).ok())
        .collect();
    (manifest, sigs)
}

/// A docker image; upstream's tests use name-only references too.
fn image(reference: &str) -> PolicyImage {
    PolicyImage::from_docker_ref(crate::docker_ref::DockerRef::parse_normalized(reference).unwrap())
}

fn eval_blobs(
    p: &Policy,
    reference: &str,
    manifest: &[u8],
    sigs: &[Vec<u8>],
) -> Result<Accepted, Rejected> {
    p.evaluate_at(&image(reference), manifest, sigs, test_now())
}

fn eval(p: &Policy, image: &str, rel: &str) -> Result<Accepted, Rejected> {
    let (m, s) = dir(rel);
    eval_blobs(p, image, &m, &s)
}

fn reason(r: Result<Accepted, Rejected>) -> String {
    format!(
        "{:#}",
        anyhow::Error::from(r.expect_err("expected a rejection"))
    )
}

fn components(rel: &str) -> SigstoreComponents {
    SigstoreComponents::from_blob(&fixture(&format!("{F}/{rel}"))).unwrap()
}

/// `rel`'s signature-1 with `edit` applied to its annotations.
fn edited(rel: &str, edit: impl FnOnce(&mut BTreeMap<String, String>)) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (m, _) = dir(rel);
    let mut c = components(&format!("{rel}/signature-1"));
    edit(&mut c.annotations);
    (m, vec![c.to_blob()])
}

#[test]
fn key_signatures() {
    let key = format!(r#""keyPath":{}"#, path("cosign.pub"));
    let key_data = format!(
        r#""keyData":"{}""#,
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            fixture(&format!("{F}/cosign.pub"))
        )
    );
    for keys in [
        key.clone(),
        format!(r#""keyPaths":{}"#, paths(&["cosign.pub", "cosign2.pub"])),
        format!(r#""keyPaths":{}"#, paths(&["cosign2.pub", "cosign.pub"])),
        key_data,
    ] {
        let ok = eval(&keyed(&keys, REPO), SINGLE, "dir-img-cosign-valid").unwrap();
        assert_eq!(ok.sigstore_signatures.len(), 1, "{keys}");
        assert_eq!(ok.sigstore_signatures[0].docker_reference, SINGLE);
    }
    let p = keyed(&key, REPO);
    // Two valid; one unknown-key then one valid (in this order).
    eval(&p, SINGLE, "dir-img-cosign-valid-2").unwrap();
    eval(&p, SINGLE, "dir-img-cosign-mixed").unwrap();

    // No signatures; only simple signatures; only other attachments.
    assert_eq!(
        reason(eval(&p, "testing/manifest:latest", "dir-img-unsigned")),
        "Source image rejected: A signature was required, but no signature exists"
    );
    assert!(reason(eval(&p, "testing/manifest:latest", "dir-img-valid"))
        .ends_with("(1 non-sigstore signatures, 0 sigstore non-signature attachments)"));
    assert!(reason(eval(
        &p,
        "testing/manifest:latest",
        "dir-img-cosign-other-attachment"
    ))
    .ends_with("(0 non-sigstore signatures, 1 sigstore non-signature attachments)"));

    // Identity: another repository; two signatures, both refused.
    assert_eq!(
        reason(eval(
            &p,
            "testing/manifest:notlatest",
            "dir-img-cosign-valid"
        )),
        format!("Source image rejected: Signature for identity \"{SINGLE}\" is not accepted")
    );
    let two = reason(eval(&p, "this/does-not:match", "dir-img-cosign-valid-2"));
    assert!(two.starts_with("Source image rejected: None of the signatures were accepted, reasons: Signature for identity"), "{two}");
    let exact = keyed(
        &key,
        r#"{"type":"exactReference","dockerReference":"this/does-not:match"}"#,
    );
    assert!(reason(eval(&exact, SINGLE, "dir-img-cosign-valid")).contains("is not accepted"));

    // matchExact: a tagged signature works for its tag only; cosign's own (untagged) never.
    let m = keyed(&key, r#"{"type":"matchExact"}"#);
    eval(
        &m,
        "192.168.64.2:5000/skopeo-signed:tag",
        "dir-img-cosign-valid-with-tag",
    )
    .unwrap();
    assert!(reason(eval(
        &m,
        "192.168.64.2:5000/skopeo-signed:othertag",
        "dir-img-cosign-valid-with-tag"
    ))
    .contains("Signature for identity"));
    assert!(reason(eval(&m, SINGLE, "dir-img-cosign-valid")).contains("Signature for identity"));

    // Digest: modified manifest, undigestable manifest, no manifest.
    assert!(reason(eval(&p, SINGLE, "dir-img-cosign-modified-manifest"))
        .contains("Signature for digest sha256:"));
    assert!(
        reason(eval(&p, SINGLE, "dir-img-cosign-manifest-digest-error"))
            .contains("manifest digest")
    );
    assert!(reason(eval(&p, SINGLE, "dir-img-cosign-no-manifest")).contains("does not match"));

    // Unknown key; a signature that does not verify; no signature annotation; broken base64.
    let unknown = vec![fixture(&format!("{F}/unknown-cosign-key.signature"))];
    assert_eq!(
        reason(eval_blobs(&p, SINGLE, &dir("dir-img-cosign-valid").0, &unknown)),
        "Source image rejected: cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature"
    );
    let (m, bad) = edited("dir-img-cosign-valid", |a| {
        a.insert(
            SIGNATURE_ANNOTATION.into(),
            "aW52YWxpZCBzaWduYXR1cmU=".into(),
        );
    });
    assert!(reason(eval_blobs(&p, SINGLE, &m, &bad))
        .contains("cryptographic signature verification failed"));
    let (m, none) = edited("dir-img-cosign-valid", BTreeMap::clear);
    assert_eq!(
        reason(eval_blobs(&p, SINGLE, &m, &none)),
        "Source image rejected: missing dev.cosignproject.cosign/signature annotation"
    );
    let (m, b64) = edited("dir-img-cosign-valid", |a| {
        a.insert(SIGNATURE_ANNOTATION.into(), "&".into());
    });
    assert_eq!(
        reason(eval_blobs(&p, SINGLE, &m, &b64)),
        "Source image rejected: base64 decoding: illegal base64 data at input byte 0"
    );
}

#[test]
fn broken_trust_roots_and_blobs() {
    let img = "dir-img-cosign-valid";
    for (keys, want) in [
        (
            format!(r#""keyPath":{}"#, path("image.signature")),
            "parsing public key 1: PEM decoding failed",
        ),
        (
            format!(r#""keyPath":{}"#, path("this/does/not/exist")),
            "reading keyPath file",
        ),
        (
            format!(
                r#""keyPaths":{}"#,
                paths(&["cosign2.pub", "image.signature"])
            ),
            "parsing public key 2:",
        ),
        (
            r#""keyData":"dGhpcyBpcyBpbnZhbGlk""#.to_string(),
            "parsing public key 1: PEM decoding failed",
        ),
        (
            r#""keyDatas":["dGhpcyBpcyBpbnZhbGlk"]"#.to_string(),
            "parsing public key 1:",
        ),
        (
            format!(
                r#""keyPath":{},"rekorPublicKeyPath":{}"#,
                path("cosign.pub"),
                path("some-rsa-key.pub")
            ),
            "Rekor public key 1 is not using ECDSA",
        ),
        (
            format!(
                r#""keyPath":{},"rekorPublicKeyPaths":{}"#,
                path("cosign.pub"),
                paths(&["rekor.pub", "image.signature"])
            ),
            "parsing Rekor public key 2: PEM decoding failed",
        ),
    ] {
        let r = reason(eval(&keyed(&keys, REPO), SINGLE, img));
        assert!(r.contains(want), "{keys}: {r}");
    }
    // A blob that is not a signature fails every requirement; an oversized one is refused unread.
    let p = keyed(&format!(r#""keyPath":{}"#, path("cosign.pub")), REPO);
    let m = dir(img).0;
    assert!(reason(eval_blobs(
        &p,
        SINGLE,
        &m,
        &[b"\0sigstore-json\n{".to_vec()]
    ))
    .starts_with("Source image rejected: parsing signature 1: invalid sigstore-json signature"));
    let mut huge = b"\0sigstore-json\n".to_vec();
    huge.resize(crate::bounds::MAX_SIGNATURE_BYTES + 1, b' ');
    assert!(reason(eval_blobs(&p, SINGLE, &m, &[huge])).contains("over the 4194304-byte limit"));
    // Go's zero values: an empty object is a (non-signature) attachment.
    assert!(reason(eval_blobs(
        &p,
        SINGLE,
        &m,
        &[b"\0sigstore-json\n{}".to_vec()]
    ))
    .ends_with("(0 non-sigstore signatures, 1 sigstore non-signature attachments)"));
}

#[test]
fn key_with_rekor() {
    let img = "dir-img-cosign-key-rekor-valid";
    for keys in [
        &["cosign2.pub"][..],
        &["cosign2.pub", "cosign.pub"],
        &["cosign.pub", "cosign2.pub"],
    ] {
        for rekor in [
            &["rekor.pub"][..],
            &["rekor.pub", "cosign.pub"],
            &["cosign.pub", "rekor.pub"],
        ] {
            let p = keyed(
                &format!(
                    r#""keyPaths":{},"rekorPublicKeyPaths":{}"#,
                    paths(keys),
                    paths(rekor)
                ),
                REPO,
            );
            let ok = eval(&p, KEY_REKOR, img).unwrap();
            assert_eq!(
                ok.sigstore_signatures[0].rekor_integrated_time.is_some(),
                true
            );
        }
    }
    let p = keyed(
        &format!(
            r#""keyPath":{},"rekorPublicKeyPath":{}"#,
            path("cosign2.pub"),
            path("rekor.pub")
        ),
        REPO,
    );
    let (m, no_set) = edited(img, |a| drop(a.remove(BUNDLE_ANNOTATION)));
    assert_eq!(
        reason(eval_blobs(&p, KEY_REKOR, &m, &no_set)),
        "Source image rejected: missing dev.sigstore.cosign/bundle annotation"
    );
    let (m, bad_set) = edited(img, |a| {
        drop(a.insert(BUNDLE_ANNOTATION.into(), "this is not a valid SET".into()))
    });
    assert!(reason(eval_blobs(&p, KEY_REKOR, &m, &bad_set)).starts_with(
        "Source image rejected: No public key verified against the RekorSET: invalid character"
    ));
    // The SET signed by another Rekor key.
    let other_rekor = keyed(
        &format!(
            r#""keyPath":{},"rekorPublicKeyPath":{}"#,
            path("cosign2.pub"),
            path("cosign.pub")
        ),
        REPO,
    );
    assert_eq!(
        reason(eval(&other_rekor, KEY_REKOR, img)),
        "Source image rejected: No public key verified against the RekorSET: cryptographic signature verification of Rekor SET failed"
    );
    // A valid SET for one trusted key on a signature by another trusted key.
    let both = keyed(
        &format!(
            r#""keyPaths":{},"rekorPublicKeyPath":{}"#,
            paths(&["cosign.pub", "cosign2.pub"]),
            path("rekor.pub")
        ),
        REPO,
    );
    let set = components(&format!("{img}/signature-1")).annotations[BUNDLE_ANNOTATION].clone();
    let (m, mixed) = edited("dir-img-cosign-valid", |a| {
        drop(a.insert(BUNDLE_ANNOTATION.into(), set))
    });
    let r = reason(eval_blobs(&both, SINGLE, &m, &mixed));
    assert!(
        r.contains("publicKey in Rekor SET does not match")
            && r.contains("signature in Rekor SET does not match"),
        "{r}"
    );
}

fn fulcio_policy(ca: &str, email: &str, rekor: &str) -> Policy {
    policy(&format!(
        r#"{{"type":"sigstoreSigned","fulcio":{{{ca},"oidcIssuer":"https://github.com/login/oauth","subjectEmail":"{email}"}},{rekor},"signedIdentity":{REPO}}}"#
    ))
}

#[test]
fn fulcio_with_rekor() {
    let img = "dir-img-cosign-fulcio-rekor-valid";
    let ca = format!(r#""caPath":{}"#, path("fulcio_v1.crt.pem"));
    for rekor in [
        &["rekor.pub"][..],
        &["rekor.pub", "cosign.pub"],
        &["cosign.pub", "rekor.pub"],
    ] {
        let p = fulcio_policy(
            &ca,
            "mitr@redhat.com",
            &format!(r#""rekorPublicKeyPaths":{}"#, paths(rekor)),
        );
        let ok = eval(&p, FULCIO, img).unwrap();
        assert_eq!(
            ok.sigstore_signatures[0].rekor_integrated_time,
            Some(1674247893)
        );
    }
    let rekor = format!(r#""rekorPublicKeyPath":{}"#, path("rekor.pub"));
    let p = fulcio_policy(&ca, "mitr@redhat.com", &rekor);
    for (annotation, want) in [
        (
            BUNDLE_ANNOTATION,
            "missing dev.sigstore.cosign/bundle annotation",
        ),
        (
            CERTIFICATE_ANNOTATION,
            "missing dev.sigstore.cosign/certificate annotation",
        ),
        // Without the chain there is no path to the trusted root.
        (
            CHAIN_ANNOTATION,
            "veryfing leaf certificate failed: unable to get local issuer certificate",
        ),
    ] {
        let (m, s) = edited(img, |a| drop(a.remove(annotation)));
        assert_eq!(
            reason(eval_blobs(&p, FULCIO, &m, &s)),
            format!("Source image rejected: {want}")
        );
    }
    // … but it is fine when the intermediates are trusted directly.
    let chain = components(&format!("{img}/signature-1")).annotations[CHAIN_ANNOTATION].clone();
    let ca_data = format!(
        r#""caData":"{}""#,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, chain.as_bytes())
    );
    let (m, s) = edited(img, |a| drop(a.remove(CHAIN_ANNOTATION)));
    eval_blobs(
        &fulcio_policy(&ca_data, "mitr@redhat.com", &rekor),
        FULCIO,
        &m,
        &s,
    )
    .unwrap();

    let (m, s) = edited(img, |a| {
        drop(a.insert(
            CERTIFICATE_ANNOTATION.into(),
            "this is not a valid certificate".into(),
        ))
    });
    assert!(reason(eval_blobs(&p, FULCIO, &m, &s)).contains(
        "public key or cert to be matched against publicKey in Rekor SET is not in PEM format"
    ));
    assert_eq!(
        reason(eval(&fulcio_policy(&ca, "this-does-not-match@example.com", &rekor), FULCIO, img)),
        "Source image rejected: Required email \"this-does-not-match@example.com\" not found (got [\"mitr@redhat.com\"])"
    );
    let wrong_issuer = policy(&format!(
        r#"{{"type":"sigstoreSigned","fulcio":{{{ca},"oidcIssuer":"https://example.com","subjectEmail":"mitr@redhat.com"}},{rekor}}}"#
    ));
    assert_eq!(
        reason(eval(&wrong_issuer, FULCIO, img)),
        "Source image rejected: Unexpected Fulcio OIDC issuer \"https://github.com/login/oauth\""
    );
    // Chained to another CA.
    let other_ca = format!(r#""caPath":{}"#, path("pki_root_crts.pem"));
    assert!(reason(eval(
        &fulcio_policy(&other_ca, "mitr@redhat.com", &rekor),
        FULCIO,
        img
    ))
    .contains("veryfing leaf certificate failed"));
    let (m, s) = edited(img, |a| {
        drop(a.insert(BUNDLE_ANNOTATION.into(), "this is not a valid SET".into()))
    });
    assert!(reason(eval_blobs(&p, FULCIO, &m, &s))
        .starts_with("Source image rejected: invalid character"));
    let by_other = fulcio_policy(
        &ca,
        "mitr@redhat.com",
        &format!(r#""rekorPublicKeyPath":{}"#, path("cosign.pub")),
    );
    assert!(reason(eval(&by_other, FULCIO, img))
        .ends_with("cryptographic signature verification of Rekor SET failed"));
    // A CA file without certificates.
    let no_ca = format!(r#""caPath":{}"#, path("cosign.pub"));
    assert!(reason(eval(
        &fulcio_policy(&no_ca, "mitr@redhat.com", &rekor),
        FULCIO,
        img
    ))
    .ends_with("error loading Fulcio CA certificates"));
}

fn pki_policy(intermediates: bool, subject: &str) -> Policy {
    let inter = if intermediates {
        format!(
            r#","caIntermediatesPath":{}"#,
            path("pki_intermediate_crts.pem")
        )
    } else {
        String::new()
    };
    policy(&format!(
        r#"{{"type":"sigstoreSigned","pki":{{"caRootsPath":{}{inter},{subject}}},"signedIdentity":{REPO}}}"#,
        path("pki_root_crts.pem")
    ))
}

#[test]
fn pki_certificates() {
    let img = "dir-img-cosign-pki-valid";
    let both = r#""subjectEmail":"qiwan@redhat.com","subjectHostname":"myhost.example.com""#;
    eval(&pki_policy(true, both), PKI, img).unwrap();
    eval(
        &pki_policy(false, r#""subjectEmail":"qiwan@redhat.com""#),
        PKI,
        img,
    )
    .unwrap();
    eval(
        &pki_policy(false, r#""subjectHostname":"MyHost.example.com""#),
        PKI,
        img,
    )
    .unwrap();
    let p = pki_policy(true, both);
    let (m, s) = edited(img, |a| drop(a.remove(CERTIFICATE_ANNOTATION)));
    assert!(reason(eval_blobs(&p, PKI, &m, &s))
        .ends_with("missing dev.sigstore.cosign/certificate annotation"));
    // Intermediates from the policy alone are enough …
    let (m, s) = edited(img, |a| drop(a.remove(CHAIN_ANNOTATION)));
    eval_blobs(&p, PKI, &m, &s).unwrap();
    // … from neither, there is no path.
    assert!(reason(eval_blobs(&pki_policy(false, both), PKI, &m, &s))
        .contains("veryfing leaf certificate failed"));
    assert_eq!(
        reason(eval(&pki_policy(true, r#""subjectEmail":"other@example.com""#), PKI, img)),
        "Source image rejected: Required email \"other@example.com\" not found (got [\"qiwan@redhat.com\"])"
    );
    assert_eq!(
        reason(eval(&pki_policy(true, r#""subjectHostname":"other.example.com""#), PKI, img)),
        "Source image rejected: Unexpected subject hostname: x509: certificate is valid for myhost.example.com, not other.example.com"
    );
    // Checked at the evaluation time: after the certificates expire (2052), refused.
    let (m, s) = dir(img);
    let late = std::time::UNIX_EPOCH + std::time::Duration::from_secs(2_600_000_000);
    let r = p.evaluate_at(&image(PKI), &m, &s, late);
    assert!(reason(r).contains("certificate has expired"));
}

#[test]
fn rekor_set_unit() {
    let t = "signature/internal/testdata";
    let rekor = vec![PublicKey::from_pem(&fixture(&format!("{t}/rekor.pub"))).unwrap()];
    let set = fixture(&format!("{t}/rekor-set"));
    let cert = fixture(&format!("{t}/rekor-cert"));
    let sig = String::from_utf8(fixture(&format!("{t}/rekor-sig"))).unwrap();
    let payload = fixture(&format!("{t}/rekor-payload"));
    let other = PublicKey::from_pem(&fixture(&format!("{t}/cosign.pub"))).unwrap();
    for keys in [
        rekor.clone(),
        vec![rekor[0].clone(), other.clone()],
        vec![other.clone(), rekor[0].clone()],
    ] {
        assert_eq!(
            verify_set(&keys, &set, &cert, &sig, &payload)
                .unwrap()
                .integrated_time,
            SET_TIME
        );
    }
    let fails = |keys: &[PublicKey], set: &[u8], cert: &[u8], sig: &str, payload: &[u8]| {
        verify_set(keys, set, cert, sig, payload).unwrap_err()
    };
    assert_eq!(
        fails(&rekor, b"", &cert, &sig, &payload),
        RekorError::SetFormat("unexpected end of JSON input".into())
    );
    assert!(matches!(
        fails(&rekor, b"invalid signature", &cert, &sig, &payload),
        RekorError::SetFormat(_)
    ));
    assert_eq!(
        fails(&[other.clone()], &set, &cert, &sig, &payload),
        RekorError::SetSignature
    );
    assert_eq!(
        fails(&rekor, &set, &cert, &sig, b"this payload does not match"),
        RekorError::PayloadMismatch
    );
    assert_eq!(
        fails(&rekor, &set, &cert, &sig[..sig.len() - 1], &payload)
            .to_string()
            .split(':')
            .next(),
        Some("decoding signature base64")
    );
    for bad in [&b""[..], b"this is not PEM"] {
        assert_eq!(
            fails(&rekor, &set, bad, &sig, &payload),
            RekorError::OursNotPem
        );
    }
    assert_eq!(
        fails(
            &rekor,
            &set,
            &[cert.clone(), cert.clone()].concat(),
            &sig,
            &payload
        ),
        RekorError::OursTrailing
    );
    let other_cert = fixture("signature/fixtures/pki-cert");
    assert_eq!(
        fails(&rekor, &set, &other_cert, &sig, &payload),
        RekorError::KeyMismatch
    );
    // Breaking the SET's own JSON.
    let mut v: serde_json::Value = serde_json::from_slice(&set).unwrap();
    v["unexpected"] = 1.into();
    assert!(fails(
        &rekor,
        &serde_json::to_vec(&v).unwrap(),
        &cert,
        &sig,
        &payload
    )
    .to_string()
    .contains("Unknown key"));
    // Duplicate keys in the payload cannot be canonicalized.
    let dup = br#"{"SignedEntryTimestamp":"","Payload":{"logIndex":1,"integratedTime":2,"body":"abc","logID":"def","body":"ABC"}}"#;
    assert!(matches!(
        fails(&rekor, dup, &cert, &sig, &payload),
        RekorError::Canonical(_)
    ));
}

#[test]
fn certificate_units() {
    let cert = fixture(&format!("{F}/fulcio-cert"));
    let chain = fixture(&format!("{F}/fulcio-chain"));
    let roots = certificate::pool_from_pem(&fixture(&format!("{F}/fulcio_v1.crt.pem")));
    let root = FulcioRoot {
        ca_certificates: roots.clone(),
        oidc_issuer: "https://github.com/login/oauth".into(),
        subject_email: "mitr@redhat.com".into(),
    };
    root.verify_at(SET_TIME, &cert, Some(&chain)).unwrap();
    assert!(matches!(
        root.verify_at(SET_TIME, &cert, Some(b"not a certificate")),
        Err(CertError::Chain(_))
    ));
    assert!(matches!(
        root.verify_at(SET_TIME, b"not a certificate", Some(&chain)),
        Err(CertError::Leaf(_))
    ));
    assert_eq!(certificate::parse_leaf(b"").unwrap_err(), CertError::NoLeaf);
    assert_eq!(
        certificate::parse_leaf(&[cert.clone(), cert.clone()].concat()).unwrap_err(),
        CertError::SeveralLeaves
    );
    // Outside the ten minutes the certificate is valid.
    for at in [SET_TIME - 2, SET_TIME + 600] {
        let e = root
            .verify_at(at, &cert, Some(&chain))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("veryfing leaf certificate failed: certificate"),
            "{at}: {e}"
        );
    }
    assert_eq!(
        super::fulcio::issuer(&certificate::parse_leaf(&cert).unwrap()).unwrap(),
        "https://github.com/login/oauth"
    );

    let pki = PkiRoot {
        ca_roots: certificate::pool_from_pem(&fixture(&format!("{F}/pki_root_crts.pem"))),
        ca_intermediates: Vec::new(),
        subject_email: String::new(),
        subject_hostname: "myhost.example.com".into(),
    };
    let now = super::accept::unix_seconds(test_now());
    let pki_cert = fixture(&format!("{F}/pki-cert"));
    let pki_chain = fixture(&format!("{F}/pki-chain"));
    pki.verify_at(now, &pki_cert, Some(&pki_chain)).unwrap();
    assert!(matches!(
        pki.verify_at(now, &pki_cert, Some(b"not a certificate")),
        Err(CertError::Chain(_))
    ));
    // A Fulcio leaf is not from this CA.
    assert!(matches!(
        pki.verify_at(now, &cert, Some(&chain)),
        Err(CertError::Verify(_))
    ));
}
