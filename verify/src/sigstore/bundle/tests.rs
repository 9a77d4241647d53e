//! Bundles made here with throwaway keys (a signer and a Rekor log key),
//! in the layout vouch and cosign 3 use for images, each check exercised
//! through `Policy::evaluate_at` as podman would reach it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_image::sigstore_blob::BUNDLE_BLOB_PREFIX;

use super::merkle::leaf_hash;
use crate::policy::{Policy, PolicyImage};
use crate::test_support::test_now;

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
const NAME: &str = "example.com/team/app";
/// Before `test_now`.
const LOGGED_AT: i64 = 1_600_000_000;

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn sign(key: &PKey<Private>, message: &[u8]) -> Vec<u8> {
    let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
    s.update(message).unwrap();
    s.sign_to_vec().unwrap()
}

fn pem(key: &PKey<Private>) -> Vec<u8> {
    key.public_key_to_pem().unwrap()
}

fn manifest_hex() -> String {
    hex::encode(Sha256::digest(MANIFEST))
}

struct Keys {
    signer: PKey<Private>,
    rekor: PKey<Private>,
}

/// What to make; the defaults are a bundle every check accepts.
struct Spec {
    media_type: &'static str,
    payload_type: &'static str,
    subject_digest: String,
    subject_name: Option<&'static str>,
    set: bool,
    proof: bool,
    /// Signs the checkpoint instead of the Rekor key.
    checkpoint_signer: Option<PKey<Private>>,
    /// The root hash the checkpoint commits to instead of the real one.
    checkpoint_root: Option<[u8; 32]>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            media_type: "application/vnd.dev.sigstore.bundle.v0.3+json",
            payload_type: "application/vnd.in-toto+json",
            subject_digest: manifest_hex(),
            subject_name: Some(NAME),
            set: true,
            proof: true,
            checkpoint_signer: None,
            checkpoint_root: None,
        }
    }
}

/// Bundles from v0.2 on must carry an inclusion proof; a SET-only one is v0.1.
const V01: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";

fn make(keys: &Keys, spec: Spec) -> Value {
    let mut subject = json!({"digest": {"sha256": spec.subject_digest}});
    if let Some(name) = spec.subject_name {
        subject["name"] = json!(name);
    }
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [subject],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    });
    let payload = serde_json::to_vec(&statement).unwrap();
    let signature = sign(&keys.signer, &super::dsse::pae(spec.payload_type, &payload));
    let body = serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": "00"},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))},
            "signatures": [{"signature": STANDARD.encode(&signature), "verifier": STANDARD.encode(pem(&keys.signer))}],
        }
    }))
    .unwrap();
    let log_id = Sha256::digest(keys.rekor.public_key_to_der().unwrap());
    let mut entry = json!({
        "logIndex": "0",
        "logId": {"keyId": STANDARD.encode(log_id)},
        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
        "integratedTime": LOGGED_AT.to_string(),
        "canonicalizedBody": STANDARD.encode(&body),
    });
    if spec.set {
        let canonical = serde_json_canonicalizer::to_vec(&json!({
            "body": STANDARD.encode(&body),
            "integratedTime": LOGGED_AT,
            "logID": hex::encode(log_id),
            "logIndex": 0,
        }))
        .unwrap();
        entry["inclusionPromise"] =
            json!({"signedEntryTimestamp": STANDARD.encode(sign(&keys.rekor, &canonical))});
    }
    if spec.proof {
        let root = leaf_hash(&body);
        let text = format!(
            "vouch.test - 1\n1\n{}\n",
            STANDARD.encode(spec.checkpoint_root.unwrap_or(root))
        );
        let note_key = spec.checkpoint_signer.as_ref().unwrap_or(&keys.rekor);
        let hint = Sha256::digest(note_key.public_key_to_der().unwrap());
        let mut sig = hint[..4].to_vec();
        sig.extend(sign(note_key, text.as_bytes()));
        entry["inclusionProof"] = json!({
            "logIndex": "0",
            "rootHash": STANDARD.encode(root),
            "treeSize": "1",
            "hashes": [],
            "checkpoint": {"envelope": format!("{text}\n\u{2014} vouch.test {}\n", STANDARD.encode(sig))},
        });
    }
    let media_type = if !spec.proof && spec.media_type.contains("v0.3") {
        V01
    } else {
        spec.media_type
    };
    let entries = if spec.set || spec.proof {
        vec![entry]
    } else {
        Vec::new()
    };
    json!({
        "mediaType": media_type,
        "verificationMaterial": {"publicKey": {"hint": "anything"}, "tlogEntries": entries},
        "dsseEnvelope": {
            "payload": STANDARD.encode(&payload),
            "payloadType": spec.payload_type,
            "signatures": [{"sig": STANDARD.encode(&signature), "keyid": ""}],
        },
    })
}

fn blob(bundle: &Value) -> Vec<u8> {
    let mut out = BUNDLE_BLOB_PREFIX.to_vec();
    out.extend(serde_json::to_vec(bundle).unwrap());
    out
}

fn policy(trusted: &PKey<Private>, rekor: Option<&PKey<Private>>, identity: &str) -> Policy {
    let rekor = rekor
        .map(|r| format!(r#","rekorPublicKeyData":"{}""#, STANDARD.encode(pem(r))))
        .unwrap_or_default();
    let text = format!(
        r#"{{"default":[{{"type":"sigstoreSigned","keyData":"{}"{rekor},"signedIdentity":{identity}}}]}}"#,
        STANDARD.encode(pem(trusted))
    );
    Policy::parse(text.as_bytes()).unwrap()
}

fn eval(p: &Policy, reference: &str, blobs: &[Vec<u8>]) -> Result<(), String> {
    let image = PolicyImage::from_docker_ref(
        crate::docker_ref::DockerRef::parse_normalized(reference).unwrap(),
    );
    p.evaluate_at(&image, MANIFEST, blobs, test_now())
        .map(drop)
        .map_err(|e| {
            let mut out = String::new();
            let mut cur: Option<&dyn std::error::Error> = Some(&e);
            while let Some(s) = cur {
                if !out.is_empty() {
                    out.push_str(": ");
                }
                out.push_str(&s.to_string());
                cur = s.source();
            }
            out
        })
}

fn keys() -> Keys {
    Keys {
        signer: key(),
        rekor: key(),
    }
}

const REPO: &str = r#"{"type":"matchRepository"}"#;
const TAGGED: &str = "example.com/team/app:v1";

fn digest_of(bundle: &Value) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(serde_json::to_vec(bundle).unwrap()))
    )
}

#[test]
fn a_logged_bundle_is_accepted_with_set_or_proof_alone() {
    let k = keys();
    let p = policy(&k.signer, Some(&k.rekor), REPO);
    for (set, proof) in [(true, true), (true, false), (false, true)] {
        let b = make(
            &k,
            Spec {
                set,
                proof,
                ..Spec::default()
            },
        );
        assert_eq!(
            eval(&p, TAGGED, &[blob(&b)]),
            Ok(()),
            "set={set} proof={proof}"
        );
    }
    let accepted = p
        .evaluate_at(
            &PolicyImage::from_docker_ref(
                crate::docker_ref::DockerRef::parse_normalized(TAGGED).unwrap(),
            ),
            MANIFEST,
            &[blob(&make(&k, Spec::default()))],
            test_now(),
        )
        .unwrap();
    let sig = &accepted.sigstore_signatures[0];
    assert_eq!(sig.docker_reference, NAME);
    assert_eq!(sig.manifest_digest, format!("sha256:{}", manifest_hex()));
    assert_eq!(sig.rekor_integrated_time, Some(LOGGED_AT));
    // Without Rekor keys the log is not consulted at all.
    let b = make(
        &k,
        Spec {
            set: false,
            proof: false,
            ..Spec::default()
        },
    );
    assert_eq!(
        eval(&policy(&k.signer, None, REPO), TAGGED, &[blob(&b)]),
        Ok(())
    );
}

#[test]
fn each_broken_part_is_refused_with_its_reason() {
    let k = keys();
    let p = policy(&k.signer, Some(&k.rekor), REPO);
    let refused = |spec: Spec, tweak: &dyn Fn(&mut Value), want: &str| {
        let mut b = make(&k, spec);
        tweak(&mut b);
        let got = eval(&p, TAGGED, &[blob(&b)]).unwrap_err();
        let label = format!("bundle {}: ", digest_of(&b));
        assert!(got.contains(&label), "{got}");
        assert!(got.contains(want), "want {want:?} in {got}");
    };
    let none = |_: &mut Value| {};
    refused(
        Spec {
            subject_digest: "ab".repeat(32),
            ..Spec::default()
        },
        &none,
        &format!(
            "in-toto statement has no subject with sha256 digest {}",
            manifest_hex()
        ),
    );
    refused(
        Spec {
            proof: false,
            ..Spec::default()
        },
        &|b: &mut Value| {
            let e = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
                ["signedEntryTimestamp"];
            let mut raw = STANDARD.decode(e.as_str().unwrap()).unwrap();
            let last = raw.len() - 1;
            raw[last] ^= 1;
            *e = json!(STANDARD.encode(raw));
        },
        "signed entry timestamp is not signed by a trusted Rekor key",
    );
    refused(
        Spec {
            set: false,
            ..Spec::default()
        },
        &|b: &mut Value| {
            b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"] =
                json!(STANDARD.encode([7u8; 32]));
        },
        "inclusion proof: inclusion proof does not hash to its rootHash",
    );
    refused(
        Spec {
            set: false,
            checkpoint_root: Some([7u8; 32]),
            ..Spec::default()
        },
        &none,
        "inclusion proof: checkpoint root hash is not the proof's rootHash",
    );
    refused(
        Spec {
            set: false,
            checkpoint_signer: Some(key()),
            ..Spec::default()
        },
        &none,
        "inclusion proof: checkpoint is not signed by a trusted Rekor key",
    );
    refused(
        Spec {
            media_type: "application/vnd.dev.sigstore.bundle.v0.4+json",
            ..Spec::default()
        },
        &none,
        "unsupported bundle media type \"application/vnd.dev.sigstore.bundle.v0.4+json\"",
    );
    refused(
        Spec {
            payload_type: "application/json",
            ..Spec::default()
        },
        &none,
        "DSSE payloadType \"application/json\" is not application/vnd.in-toto+json",
    );
    refused(
        Spec {
            subject_name: None,
            ..Spec::default()
        },
        &none,
        "in-toto statement subject for sha256:",
    );
    refused(
        Spec::default(),
        &|b: &mut Value| b["verificationMaterial"]["tlogEntries"] = json!([]),
        "Rekor public keys are required but the bundle has no tlog entry",
    );
    refused(
        Spec::default(),
        &|b: &mut Value| {
            let env = b["dsseEnvelope"].take();
            b["messageSignature"] = json!({"messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(Sha256::digest(MANIFEST))}, "signature": env["signatures"][0]["sig"]});
        },
        "only DSSE bundles are accepted for images",
    );
}

#[test]
fn the_signer_and_identity_are_held_to_the_requirement() {
    let k = keys();
    let b = blob(&make(&k, Spec::default()));
    let other = policy(&key(), Some(&k.rekor), REPO);
    let got = eval(&other, TAGGED, std::slice::from_ref(&b)).unwrap_err();
    assert!(
        got.contains("no trusted public key accepted the bundle: key 1: cryptographic")
            || got.contains("no trusted public key accepted the bundle: key 1: invalid signature"),
        "{got}"
    );
    let other_log = policy(&k.signer, Some(&key()), REPO);
    let got = eval(&other_log, TAGGED, std::slice::from_ref(&b)).unwrap_err();
    assert!(
        got.contains(
            "no tlog entry vouches for the signature: signed entry timestamp is not signed"
        ),
        "{got}"
    );
    let p = policy(&k.signer, Some(&k.rekor), REPO);
    let got = eval(&p, "example.com/other/app:v1", std::slice::from_ref(&b)).unwrap_err();
    assert!(
        got.ends_with(&format!("Signature for identity {NAME:?} is not accepted")),
        "{got}"
    );
    // matchRepoDigestOrExact: a repository-only identity does not vouch for a tag.
    let exact = policy(
        &k.signer,
        Some(&k.rekor),
        r#"{"type":"matchRepoDigestOrExact"}"#,
    );
    assert!(eval(&exact, TAGGED, std::slice::from_ref(&b)).is_err());
    let by_digest = format!("{NAME}@sha256:{}", manifest_hex());
    assert!(eval(&exact, &by_digest, &[b]).is_err());
    // A tagged identity is the exact match it asks for.
    let tagged = blob(&make(
        &k,
        Spec {
            subject_name: Some(TAGGED),
            ..Spec::default()
        },
    ));
    assert_eq!(eval(&exact, TAGGED, std::slice::from_ref(&tagged)), Ok(()));
    assert_eq!(eval(&exact, &by_digest, &[tagged]), Ok(()));
}

#[test]
fn an_unnamed_subject_is_accepted_only_by_digest_under_the_default_rule() {
    // cosign 3 names no image: the digest alone is signed.
    let k = keys();
    let unnamed = make(
        &k,
        Spec {
            subject_name: None,
            ..Spec::default()
        },
    );
    let by_digest = format!("{NAME}@sha256:{}", manifest_hex());
    let default_rule = policy(
        &k.signer,
        Some(&k.rekor),
        r#"{"type":"matchRepoDigestOrExact"}"#,
    );
    assert_eq!(eval(&default_rule, &by_digest, &[blob(&unnamed)]), Ok(()));
    let got = eval(&default_rule, TAGGED, &[blob(&unnamed)]).unwrap_err();
    assert!(
        got.contains("has no name: the bundle signs the digest only"),
        "{got}"
    );
    let exact = policy(&k.signer, Some(&k.rekor), r#"{"type":"matchExact"}"#);
    assert!(eval(&exact, &by_digest, &[blob(&unnamed)]).is_err());
    // Still the trusted key's signature, and still this digest.
    let other = policy(
        &key(),
        Some(&k.rekor),
        r#"{"type":"matchRepoDigestOrExact"}"#,
    );
    assert!(eval(&other, &by_digest, &[blob(&unnamed)]).is_err());
}

#[test]
fn either_kind_may_satisfy_and_every_reason_is_labelled() {
    let k = keys();
    let p = policy(&k.signer, Some(&k.rekor), REPO);
    let good = blob(&make(&k, Spec::default()));
    let bad1 = make(
        &k,
        Spec {
            subject_name: None,
            ..Spec::default()
        },
    );
    let bad2 = make(&keys(), Spec::default());
    assert_eq!(eval(&p, TAGGED, &[blob(&bad1), good]), Ok(()));
    let got = eval(&p, TAGGED, &[blob(&bad1), blob(&bad2)]).unwrap_err();
    assert!(
        got.contains("None of the signatures were accepted, reasons: "),
        "{got}"
    );
    assert!(
        got.contains(&format!(
            "bundle {}: in-toto statement subject",
            digest_of(&bad1)
        )),
        "{got}"
    );
    assert!(
        got.contains(&format!(
            "; bundle {}: no trusted public key",
            digest_of(&bad2)
        )),
        "{got}"
    );
    // An attachment alongside bundles is labelled too.
    let attachment = br#"{"mimeType":"application/vnd.dev.cosign.simplesigning.v1+json","payload":"e30=","annotations":{}}"#;
    let mut att = b"\0sigstore-json\n".to_vec();
    att.extend_from_slice(attachment);
    let got = eval(&p, TAGGED, &[att, blob(&bad1)]).unwrap_err();
    assert!(got.contains("reasons: attachment 1: missing dev.cosignproject.cosign/signature annotation; bundle sha256:"), "{got}");
}

#[test]
fn oversized_and_malformed_bundles_are_refused_unparsed() {
    let big = vec![b' '; super::MAX_BUNDLE_BYTES + 1];
    assert_eq!(
        super::parse(&big).unwrap_err().to_string(),
        format!(
            "bundle is {} bytes, over the {}-byte limit",
            big.len(),
            super::MAX_BUNDLE_BYTES
        )
    );
    assert!(super::parse(b"{")
        .unwrap_err()
        .to_string()
        .starts_with("parsing bundle JSON: "));
    // Unknown members are ignored, as protobuf-JSON parsers do; snake_case names are read.
    let k = keys();
    let mut b = make(&k, Spec::default());
    b["futureField"] = json!({"x": 1});
    let obj = b.as_object_mut().unwrap();
    let v = obj.remove("verificationMaterial").unwrap();
    obj.insert("verification_material".into(), v);
    assert!(super::parse(&serde_json::to_vec(&b).unwrap()).is_ok());
}

#[test]
fn standalone_verify_reads_bundles_with_its_exact_identity() {
    use crate::sigstore::public_key::PublicKey;
    use crate::standalone::StandaloneError;
    use crate::standalone_sigstore::{verify_sigstore_standalone, SigstoreEvidence};
    let k = keys();
    let signer = [PublicKey::from_pem(&pem(&k.signer)).unwrap()];
    let rekor = [PublicKey::from_pem(&pem(&k.rekor)).unwrap()];
    let stranger = [PublicKey::from_pem(&pem(&key())).unwrap()];
    let run = |bundle: &Value, reference: &str, keys: &[PublicKey], log: Option<&[PublicKey]>| {
        let json = serde_json::to_vec(bundle).unwrap();
        let evidence = SigstoreEvidence::parse(&json).unwrap();
        assert!(matches!(evidence, SigstoreEvidence::Bundle(_)));
        verify_sigstore_standalone(MANIFEST, reference, keys, log, &evidence, test_now())
    };
    let named = make(&k, Spec::default());
    let sig = run(&named, NAME, &signer, Some(&rekor)).unwrap();
    assert_eq!(sig.docker_reference, NAME);
    assert_eq!(sig.rekor_integrated_time, Some(LOGGED_AT));
    // Exact, as skopeo's standalone-verify: a tag is another reference.
    assert!(matches!(
        run(&named, TAGGED, &signer, None),
        Err(StandaloneError::Reference { .. })
    ));
    assert!(matches!(
        run(&named, NAME, &stranger, None),
        Err(StandaloneError::Bundle(_))
    ));
    // A log key that did not log it.
    assert!(run(&named, NAME, &signer, Some(&stranger)).is_err());
    let unnamed = make(
        &k,
        Spec {
            subject_name: None,
            ..Spec::default()
        },
    );
    let by_digest = format!("{NAME}@sha256:{}", manifest_hex());
    run(&unnamed, &by_digest, &signer, None).unwrap();
    let err = run(&unnamed, NAME, &signer, None).unwrap_err();
    assert!(err.to_string().contains("has no name"), "{err}");
    let other = make(
        &k,
        Spec {
            subject_digest: "00".repeat(32),
            ..Spec::default()
        },
    );
    assert!(run(&other, NAME, &signer, None).is_err());
    // An unknown bundle version is an input error, not a rejection.
    let mut future = named.clone();
    future["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v0.9+json");
    assert!(SigstoreEvidence::parse(&serde_json::to_vec(&future).unwrap()).is_err());
}
