//! `vouch standalone-verify --sigstore-public-key`: offline verification of
//! sigstore signatures, one at a time or as a batch, through the real
//! binary. Keys come from `vouch generate-sigstore-key`, signatures from
//! `vouch standalone-sign --sigstore-private-key` and from upstream's cosign
//! fixture; exit codes are the GPG form's (0 verified, 1 rejected, 2 input
//! error), each failure one line naming the signature or list line.

mod common;

use std::path::PathBuf;

use common::Vouch;

const PASSPHRASE: &str = "standalone sigstore passphrase";
const REF: &str = "registry.example.com/ns/app:1";
const COSIGN: &str = "signature/fixtures";
const COSIGN_REF: &str = "192.168.64.2:5000/cosign-signed-single-sample";

struct Bench {
    v: Vouch,
    tmp: tempfile::TempDir,
}

impl Bench {
    fn new() -> Self {
        let b = Bench {
            v: Vouch::new(),
            tmp: tempfile::tempdir().unwrap(),
        };
        std::fs::write(b.path("pass"), format!("{PASSPHRASE}\n")).unwrap();
        std::fs::write(
            b.path("manifest.json"),
            common::trust_fixture(&format!("{COSIGN}/image.manifest.json")),
        )
        .unwrap();
        b
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    /// `vouch generate-sigstore-key --output-prefix NAME`; returns NAME.pub.
    fn key(&self, name: &str) -> String {
        self.v.ok(&[
            "generate-sigstore-key",
            "--output-prefix",
            &self.s(name),
            "--passphrase-file",
            &self.s("pass"),
        ]);
        self.s(&format!("{name}.pub"))
    }

    /// A signature by key NAME of `manifest` for `reference`, written to `out`.
    fn sign(&self, name: &str, manifest: &str, reference: &str, out: &str) -> String {
        self.sign_as(&[], name, manifest, reference, out)
    }

    /// [`Bench::sign`] with `extra` flags (`--sigstore-bundle`).
    fn sign_as(
        &self,
        extra: &[&str],
        name: &str,
        manifest: &str,
        reference: &str,
        out: &str,
    ) -> String {
        let (key, pass, out_path, manifest) = (
            self.s(&format!("{name}.private")),
            self.s("pass"),
            self.s(out),
            self.s(manifest),
        );
        let mut args = vec!["standalone-sign", "--sigstore-private-key", &key];
        args.extend_from_slice(extra);
        args.extend([
            "--passphrase-file",
            &pass,
            "-o",
            &out_path,
            &manifest,
            reference,
        ]);
        self.v.ok(&args);
        out_path
    }
}

/// A bench with key `k` and its signature `sig` of `manifest.json` for
/// [`REF`]: (bench, public key, signature, manifest) paths.
fn signed() -> (Bench, String, String, String) {
    let b = Bench::new();
    let public = b.key("k");
    let sig = b.sign("k", "manifest.json", REF, "sig");
    let manifest = b.s("manifest.json");
    (b, public, sig, manifest)
}

fn verify_args<'a>(key: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["standalone-verify", "--sigstore-public-key", key];
    a.extend_from_slice(rest);
    a
}

#[test]
fn a_signature_verifies_with_its_key_and_prints_digest_and_identity() {
    let (b, public, sig, manifest) = signed();
    let out = b.v.ok(&verify_args(&public, &[&manifest, REF, &sig]));
    assert_eq!(
        out,
        format!(
            "Signature verified using a sigstore public key, digest {}, identity {REF}\n",
            "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
        )
    );
    // The identity is compared after normalisation, as for GPG.
    b.v.ok(&verify_args(
        &public,
        &[&manifest, "registry.example.com/ns/app:1", &sig],
    ));
    // Bare JSON (the blob without its `\0sigstore-json\n` prefix) is read too.
    let blob = std::fs::read(&sig).unwrap();
    std::fs::write(b.path("bare"), &blob[15..]).unwrap();
    b.v.ok(&verify_args(&public, &[&manifest, REF, &b.s("bare")]));
}

#[test]
fn cosigns_own_signature_verifies_with_its_key_only() {
    let b = Bench::new();
    let dir = common::repo_root().join(format!(
        "fixtures/containers-image/{COSIGN}/dir-img-cosign-valid"
    ));
    let (manifest, sig) = (dir.join("manifest.json"), dir.join("signature-1"));
    let (manifest, sig) = (manifest.to_str().unwrap(), sig.to_str().unwrap());
    let key = |n: &str| {
        common::repo_root()
            .join(format!("fixtures/containers-image/{COSIGN}/{n}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let (cosign, cosign2) = (key("cosign.pub"), key("cosign2.pub"));
    let out = b.v.ok(&verify_args(&cosign, &[manifest, COSIGN_REF, sig]));
    assert!(out.contains(&format!("identity {COSIGN_REF}")), "{out}");
    let err =
        b.v.fails(1, &verify_args(&cosign2, &[manifest, COSIGN_REF, sig]));
    assert_eq!(
        err.trim_end(),
        "Error: Error verifying signature: cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature"
    );
    // Either of two keys will do.
    let mut two = verify_args(&cosign2, &[]);
    two.extend(["--sigstore-public-key", &cosign, manifest, COSIGN_REF, sig]);
    b.v.ok(&two);
}

#[test]
fn rejections_exit_1_with_one_line() {
    let (b, public, sig, manifest) = signed();
    let other = b.key("other");
    let err = b.v.fails(1, &verify_args(&other, &[&manifest, REF, &sig]));
    assert_eq!(
        err.trim_end(),
        "Error: Error verifying signature: cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature"
    );
    let err = b.v.fails(
        1,
        &verify_args(&public, &[&manifest, "registry.example.com/ns/app:2", &sig]),
    );
    assert_eq!(
        err.trim_end(),
        format!("Error: Error verifying signature: Docker reference {REF:?} does not match \"registry.example.com/ns/app:2\"")
    );
    std::fs::write(b.path("other.json"), b"{\"schemaVersion\":2}").unwrap();
    let err =
        b.v.fails(1, &verify_args(&public, &[&b.s("other.json"), REF, &sig]));
    assert!(
        err.starts_with(
            "Error: Error verifying signature: Signature for docker digest \"sha256:20bf21ed"
        ),
        "{err}"
    );
    // A damaged signature annotation is a rejected signature, not a broken file.
    let blob = String::from_utf8(std::fs::read(&sig).unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&blob[15..]).unwrap();
    let mut bad = v.clone();
    bad["annotations"]["dev.cosignproject.cosign/signature"] = "!!!".into();
    std::fs::write(b.path("badsig"), format!("\0sigstore-json\n{bad}")).unwrap();
    let err =
        b.v.fails(1, &verify_args(&public, &[&manifest, REF, &b.s("badsig")]));
    assert!(
        err.starts_with("Error: Error verifying signature: base64 decoding:"),
        "{err}"
    );
}

#[test]
fn broken_inputs_exit_2_naming_the_file() {
    let (b, public, sig, manifest) = signed();
    std::fs::write(b.path("truncated"), b"\0sigstore-json\n{\"mimeType\":").unwrap();
    let err = b.v.fails(
        2,
        &verify_args(&public, &[&manifest, REF, &b.s("truncated")]),
    );
    assert!(
        err.starts_with(&format!(
            "Error: reading signature {}: invalid sigstore-json signature: EOF while parsing",
            b.s("truncated")
        )),
        "{err}"
    );
    std::fs::write(b.path("gpg"), b"\0simple-signing\n\x90\x00").unwrap();
    let err =
        b.v.fails(2, &verify_args(&public, &[&manifest, REF, &b.s("gpg")]));
    assert_eq!(
        err.trim_end(),
        format!(
            "Error: reading signature {}: not a sigstore-json signature blob",
            b.s("gpg")
        )
    );
    let err =
        b.v.fails(2, &verify_args(&public, &[&manifest, REF, &b.s("missing")]));
    assert!(err.contains(&b.s("missing")), "{err}");
    // A private key where the public key belongs.
    let private = b.s("k.private");
    let err =
        b.v.fails(2, &verify_args(&private, &[&manifest, REF, &sig]));
    assert!(
        err.starts_with(&format!("Error: reading sigstore public key {private}: unknown Public key PEM file type: ENCRYPTED")),
        "{err}"
    );
    let err =
        b.v.fails(2, &verify_args(&manifest, &[&manifest, REF, &sig]));
    assert_eq!(
        err.trim_end(),
        format!("Error: reading sigstore public key {manifest}: PEM decoding failed")
    );
}

#[test]
fn a_batch_judges_every_line_and_exits_with_the_worst() {
    let b = Bench::new();
    let public = b.key("k");
    let manifest = b.s("manifest.json");
    let mut list = String::from("# manifest reference signature\n\n");
    for i in 1..=5 {
        let r = format!("registry.example.com/ns/app:{i}");
        let sig = b.sign("k", "manifest.json", &r, &format!("s{i}"));
        // Line 5 (i = 3) claims another identity than its signature's.
        let claimed = if i == 3 {
            "registry.example.com/ns/app:9"
        } else {
            &r
        };
        list.push_str(&format!("{manifest} {claimed} {sig}\n"));
    }
    let list_path = b.s("list");
    std::fs::write(&list_path, &list).unwrap();
    let out = b.v.output(&[
        "standalone-verify",
        "--sigstore-public-key",
        &public,
        "--batch",
        &list_path,
    ]);
    let err = common::assert_fails(1, "batch with one bad line", &out);
    assert_eq!(
        err.trim_end(),
        format!("Error: {list_path}:5: Error verifying signature: Docker reference \"registry.example.com/ns/app:3\" does not match \"registry.example.com/ns/app:9\"")
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stdout
        .lines()
        .all(|l| l.starts_with("Signature verified using a sigstore public key")));

    // A line whose signature is not a sigstore blob at all is an error (2),
    // and the other lines are still judged.
    std::fs::write(b.path("s2"), b"garbage").unwrap();
    let out = b.v.output(&[
        "standalone-verify",
        "--sigstore-public-key",
        &public,
        "--batch",
        &list_path,
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.contains(&format!(
            "Error: {list_path}:4: reading signature {}: not a sigstore-json signature blob",
            b.s("s2")
        )),
        "{err}"
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 3);

    // Batch mode takes no positional arguments; a malformed line is named.
    b.v.fails(
        2,
        &[
            "standalone-verify",
            "--sigstore-public-key",
            &public,
            "--batch",
            &list_path,
            "x",
        ],
    );
    std::fs::write(b.path("short"), format!("{manifest} {REF}\n")).unwrap();
    let err = b.v.fails(
        2,
        &[
            "standalone-verify",
            "--sigstore-public-key",
            &public,
            "--batch",
            &b.s("short"),
        ],
    );
    assert_eq!(
        err.trim_end(),
        format!("Error: {}:1: expected 3 fields, found 2", b.s("short"))
    );
}

#[test]
fn bundles_verify_alone_and_in_a_batch_beside_stored_signatures() {
    let b = Bench::new();
    let public = b.key("k");
    let manifest = b.s("manifest.json");
    let bundle = b.sign_as(
        &["--sigstore-bundle"],
        "k",
        "manifest.json",
        REF,
        "bundle.json",
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(
        doc["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let out = b.v.ok(&verify_args(&public, &[&manifest, REF, &bundle]));
    assert_eq!(
        out,
        format!(
            "Signature verified using a sigstore public key, digest {}, identity {REF}\n",
            "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
        )
    );
    let other = b.key("other");
    let err =
        b.v.fails(1, &verify_args(&other, &[&manifest, REF, &bundle]));
    assert!(
        err.starts_with(
            "Error: Error verifying signature: no trusted public key accepted the bundle"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = b.v.fails(
        1,
        &verify_args(
            &public,
            &[&manifest, "registry.example.com/ns/app:2", &bundle],
        ),
    );
    assert_eq!(
        err.trim_end(),
        format!("Error: Error verifying signature: Docker reference {REF:?} does not match \"registry.example.com/ns/app:2\"")
    );
    // Another manifest: the statement's subject is not its digest.
    std::fs::write(b.path("other.json"), b"{\"schemaVersion\":2}").unwrap();
    let err = b.v.fails(
        1,
        &verify_args(&public, &[&b.s("other.json"), REF, &bundle]),
    );
    assert!(
        err.starts_with(
            "Error: Error verifying signature: in-toto statement has no subject with sha256 digest"
        ),
        "{err}"
    );
    // Rekor keys demand a log entry, which a key-signed bundle made offline lacks.
    let mut logged = verify_args(&public, &["--sigstore-rekor-public-key", &other]);
    logged.extend([manifest.as_str(), REF, &bundle]);
    let err = b.v.fails(1, &logged);
    assert_eq!(
        err.trim_end(),
        "Error: Error verifying signature: no trusted public key accepted the bundle: key 1: Rekor public keys are required but the bundle has no tlog entry"
    );
    // An unknown bundle version is a broken input, named.
    let mut future = doc.clone();
    future["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json".into();
    std::fs::write(b.path("future.json"), future.to_string()).unwrap();
    let err = b.v.fails(
        2,
        &verify_args(&public, &[&manifest, REF, &b.s("future.json")]),
    );
    assert_eq!(
        err.trim_end(),
        format!(
            "Error: reading signature {}: unsupported bundle media type \"application/vnd.dev.sigstore.bundle.v0.9+json\"",
            b.s("future.json")
        )
    );

    // A batch mixes both kinds; each line is told apart on its own.
    let stored = b.sign("k", "manifest.json", REF, "stored");
    let tampered = {
        let mut t = doc.clone();
        t["dsseEnvelope"]["signatures"][0]["sig"] = "MEUCIQ==".into();
        std::fs::write(b.path("tampered.json"), t.to_string()).unwrap();
        b.s("tampered.json")
    };
    let list = format!(
        "{manifest} {REF} {bundle}\n{manifest} {REF} {stored}\n{manifest} {REF} {tampered}\n"
    );
    std::fs::write(b.path("list"), list).unwrap();
    let out = b.v.output(&[
        "standalone-verify",
        "--sigstore-public-key",
        &public,
        "--batch",
        &b.s("list"),
    ]);
    let err = common::assert_fails(1, "batch with a tampered bundle", &out);
    assert!(
        err.starts_with(&format!(
            "Error: {}:3: Error verifying signature:",
            b.s("list")
        )),
        "{err}"
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
}
