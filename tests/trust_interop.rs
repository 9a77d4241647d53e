//! Interoperability of vouch's simple signing with the real containers/image:
//! Debian 12's skopeo 1.9.3 and podman 4.3.1 (containers/image 5.23) are the
//! peers. Signatures travel both ways, and the same policy.json and
//! registries.d files give every tool the same accept/reject decisions.
//!
//! podman 4.3 has no `--registries.d` flag, so the podman tests write a
//! uniquely named file for the test registry's `host:port` into
//! `/etc/containers/registries.d/` and remove it in a drop guard (also on
//! panic). skopeo and vouch read the same YAML through `--registries.d`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::podman_trust::EtcRegistriesD;
use common::{Gpg, Registry, Vouch};

/// A signed-image world: a registry, a GnuPG key, a file:// lookaside that
/// is also the staging area, the registries.d that says so, and the key's
/// public half (plus another key's, for "wrong key" policies).
struct World {
    reg: Registry,
    gpg: Gpg,
    tmp: tempfile::TempDir,
    staging: PathBuf,
    regd: PathBuf,
    key: PathBuf,
    other_key: PathBuf,
}

impl World {
    fn new() -> Self {
        let reg = Registry::start();
        let gpg = Gpg::new("signer@example.com");
        let tmp = tempfile::tempdir().unwrap();
        let staging = tmp.path().join("sigstore");
        std::fs::create_dir_all(&staging).unwrap();
        let lookaside = format!("file://{}", staging.display());
        let regd = common::registries_d(tmp.path(), &reg.host(), &lookaside, &staging);
        let key = tmp.path().join("key.gpg");
        gpg.export(&key);
        let other_key = tmp.path().join("other.gpg");
        // A second key: the policy that names it must reject.
        let other = Gpg::new("mallory@example.com");
        other.export(&other_key);
        World {
            reg,
            gpg,
            tmp,
            staging,
            regd,
            key,
            other_key,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// signedBy `key` for the registry, insecureAcceptAnything elsewhere.
    fn policy(&self, name: &str, key: &Path) -> PathBuf {
        let p = self.path(name);
        common::signed_by_policy(&p, &self.reg.host(), key);
        p
    }

    fn accept_all(&self) -> PathBuf {
        let p = self.path("accept.json");
        std::fs::write(&p, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
        p
    }

    fn reject_all(&self) -> PathBuf {
        let p = self.path("reject.json");
        std::fs::write(&p, r#"{"default":[{"type":"reject"}]}"#).unwrap();
        p
    }

    fn image(&self, repo: &str) -> String {
        format!("{}/{repo}", self.reg.host())
    }

    /// The registries.d YAML the tests share between all tools.
    fn yaml(&self) -> String {
        std::fs::read_to_string(self.regd.join("vouch-test.yaml")).unwrap()
    }

    /// Imports the httpd fixture into `v` and pushes it to `repo`, signed
    /// through gpg-agent with `--sign-by` when `sign`.
    fn vouch_push(&self, v: &Vouch, repo: &str, sign: bool) {
        if v.images().is_empty() {
            v.import_httpd("localhost/app");
        }
        let dest = self.image(repo);
        let mut c = v.cmd();
        c.env("GNUPGHOME", self.gpg.home.path())
            .args(["--registries.d", self.regd.to_str().unwrap()])
            .args(["push", "-q", "--tls-verify=false"]);
        if sign {
            c.args(["--sign-by", &self.gpg.fingerprint]);
        }
        let out = c.args(["localhost/app", &dest]).output().unwrap();
        assert!(
            out.status.success(),
            "vouch push: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `skopeo --policy P --registries.d D copy docker://IMAGE dir:…`.
    fn skopeo_pull(&self, policy: &Path, image: &str) -> (bool, String) {
        common::skopeo_pull(Path::new("skopeo"), policy, &self.regd, image)
    }

    /// `podman pull --signature-policy P IMAGE` into a fresh store; the
    /// registries.d file must be in /etc (see [`EtcRegistriesD`]).
    fn podman_pull(&self, policy: &Path, image: &str) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let out = podman_cmd(dir.path())
            .args(["pull", "-q", "--tls-verify=false", "--signature-policy"])
            .arg(policy)
            .arg(image)
            .output()
            .unwrap();
        podman_cleanup(dir.path());
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `vouch pull --signature-policy P IMAGE` into a fresh store; on
    /// rejection, asserts exit code 1 and an empty store.
    fn vouch_pull(&self, policy: &Path, image: &str) -> (bool, String) {
        let v = Vouch::new();
        let out = v.output(&[
            "--registries.d",
            self.regd.to_str().unwrap(),
            "pull",
            "-q",
            "--tls-verify=false",
            "--signature-policy",
            policy.to_str().unwrap(),
            image,
        ]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            assert_eq!(out.status.code(), Some(1), "a rejection exits 1: {err}");
            assert!(v.images().is_empty(), "rejected image stored");
        }
        (out.status.success(), err)
    }
}

/// The `<repo>@sha256=<hex>` signature directories of `repo` in a lookaside.
fn sig_dirs(staging: &Path, repo: &str) -> Vec<PathBuf> {
    std::fs::read_dir(staging)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&format!("{repo}@sha256="))
        })
        .collect()
}

/// podman with a throwaway vfs store and no event journal.
fn podman_cmd(dir: &Path) -> Command {
    let mut c = common::podman(dir);
    c.args(["--events-backend", "none", "--cgroup-manager", "cgroupfs"]);
    c
}

/// vfs layers of a throwaway podman store may be read-only or mounted; ask
/// podman to drop them, then remove what is left.
fn podman_cleanup(dir: &Path) {
    let _ = podman_cmd(dir).args(["rmi", "-a", "-f"]).output();
    let _ = Command::new("umount")
        .arg("-R")
        .arg(dir.join("root"))
        .output();
}

/// (a) `vouch push --sign-by` → skopeo accepts under a signedBy policy for
/// the key, and rejects under one for another key.
#[test]
fn vouch_signature_accepted_by_skopeo() {
    require_tools!("skopeo", "gpg");
    let w = World::new();
    let v = Vouch::new();
    w.vouch_push(&v, "app:1", true);
    let image = w.image("app:1");

    let (ok, err) = w.skopeo_pull(&w.policy("right.json", &w.key), &image);
    assert!(ok, "skopeo rejected vouch's signature: {err}");

    let (ok, err) = w.skopeo_pull(&w.policy("wrong.json", &w.other_key), &image);
    assert!(
        !ok,
        "skopeo accepted a signature by a key the policy does not name"
    );
    assert!(err.contains("Source image rejected"), "{err}");

    // The signature is one OpenPGP message, signed by the primary key.
    let digest_dir = sig_dirs(&w.staging, "app")
        .pop()
        .expect("no signature directory for app");
    let sig = digest_dir.join("signature-1");
    let out = Command::new("gpg")
        .arg("--homedir")
        .arg(w.gpg.home.path())
        .args(["--batch", "--list-packets"])
        .arg(&sig)
        .output()
        .unwrap();
    let packets = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        packets.matches(":signature packet:").count(),
        1,
        "{packets}"
    );
    assert!(
        packets.contains(&w.gpg.fingerprint),
        "not signed by the primary key:\n{packets}"
    );
    assert!(!digest_dir.join("signature-2").exists());
}

/// (b) `vouch push --sign-by` → `podman pull --signature-policy` accepts,
/// and rejects with another key's policy.
#[test]
fn vouch_signature_accepted_by_podman() {
    require_tools!("podman", "gpg");
    let w = World::new();
    let _etc = EtcRegistriesD::install(&w.reg.host(), &w.yaml());
    let v = Vouch::new();
    w.vouch_push(&v, "app:1", true);
    let image = w.image("app:1");

    let (ok, err) = w.podman_pull(&w.policy("right.json", &w.key), &image);
    assert!(ok, "podman rejected vouch's signature: {err}");
    let (ok, err) = w.podman_pull(&w.policy("wrong.json", &w.other_key), &image);
    assert!(
        !ok,
        "podman accepted a signature by a key the policy does not name"
    );
    assert!(err.contains("Source image rejected"), "{err}");
}

/// (c) `podman push --sign-by EMAIL` and `skopeo copy --sign-by FPR` →
/// `vouch pull` accepts under the key's policy, rejects under another's.
#[test]
fn podman_and_skopeo_signatures_accepted_by_vouch() {
    require_tools!("podman", "skopeo", "gpg");
    let w = World::new();
    let _etc = EtcRegistriesD::install(&w.reg.host(), &w.yaml());
    let v = Vouch::new();
    w.vouch_push(&v, "src:1", false);
    let accept = w.accept_all();
    let right = w.policy("right.json", &w.key);
    let wrong = w.policy("wrong.json", &w.other_key);

    // podman: pull the unsigned source, push it signed by e-mail.
    let pdir = tempfile::tempdir().unwrap();
    common::peer_ok(
        podman_cmd(pdir.path())
            .args(["pull", "-q", "--tls-verify=false", "--signature-policy"])
            .arg(&accept)
            .arg(w.image("src:1")),
    );
    let podman_signed = w.image("podman-signed:1");
    let out = podman_cmd(pdir.path())
        .env("GNUPGHOME", w.gpg.home.path())
        .args(["push", "-q", "--tls-verify=false", "--signature-policy"])
        .arg(&accept)
        .args(["--sign-by", &w.gpg.email, &w.image("src:1"), &podman_signed])
        .output()
        .unwrap();
    podman_cleanup(pdir.path());
    assert!(
        out.status.success(),
        "podman push --sign-by: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !sig_dirs(&w.staging, "podman-signed").is_empty(),
        "podman wrote no signature into the staging lookaside"
    );

    // skopeo: copy registry to registry, signing by fingerprint.
    let skopeo_signed = w.image("skopeo-signed:1");
    common::peer_ok(
        Command::new("skopeo")
            .env("GNUPGHOME", w.gpg.home.path())
            .arg("--insecure-policy")
            .arg("--registries.d")
            .arg(&w.regd)
            .args([
                "copy",
                "-q",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
            ])
            .args(["--sign-by", &w.gpg.fingerprint])
            .arg(format!("docker://{}", w.image("src:1")))
            .arg(format!("docker://{skopeo_signed}")),
    );

    for image in [&podman_signed, &skopeo_signed] {
        let (ok, err) = w.vouch_pull(&right, image);
        assert!(ok, "vouch rejected the peer's signature on {image}: {err}");
        let (ok, err) = w.vouch_pull(&wrong, image);
        assert!(!ok);
        assert!(
            err.contains("Error: Source image rejected: Invalid GPG signature"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// (d) standalone signatures both ways: skopeo (gpg) → vouch, vouch → skopeo.
#[test]
fn standalone_sign_and_verify_both_ways() {
    require_tools!("skopeo", "gpg");
    let gpg = Gpg::new("standalone@example.com");
    let tmp = tempfile::tempdir().unwrap();
    let manifest = tmp.path().join("manifest.json");
    std::fs::write(
        &manifest,
        common::trust_fixture("generated/gpg-skopeo-standalone/manifest.json"),
    )
    .unwrap();
    let key = tmp.path().join("key.gpg");
    gpg.export(&key);
    let secret = tmp.path().join("secret.asc");
    gpg.export_secret(&secret);
    let reference = "registry.example.com/ns/app:v1";
    let v = Vouch::new();

    // skopeo standalone-sign → vouch standalone-verify
    let by_skopeo = tmp.path().join("by-skopeo.sig");
    common::peer_ok(
        Command::new("skopeo")
            .env("GNUPGHOME", gpg.home.path())
            .args(["standalone-sign", "-o"])
            .arg(&by_skopeo)
            .arg(&manifest)
            .args([reference, &gpg.fingerprint]),
    );
    let m = manifest.to_str().unwrap();
    let out = v.ok(&[
        "standalone-verify",
        "--public-key-file",
        key.to_str().unwrap(),
        m,
        reference,
        &gpg.fingerprint,
        by_skopeo.to_str().unwrap(),
    ]);
    assert!(
        out.starts_with(&format!(
            "Signature verified using fingerprint {}, digest sha256:",
            gpg.fingerprint
        )),
        "{out}"
    );
    // Also from the GnuPG keyring, as skopeo does without --public-key-file.
    let out = v
        .cmd()
        .env("GNUPGHOME", gpg.home.path())
        .args([
            "standalone-verify",
            m,
            reference,
            &gpg.fingerprint,
            by_skopeo.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // vouch standalone-sign (key file, and gpg-agent) → skopeo standalone-verify
    for (name, via_agent) in [("by-vouch-file.sig", false), ("by-vouch-agent.sig", true)] {
        let sig = tmp.path().join(name);
        let mut c = v.cmd();
        c.env("GNUPGHOME", gpg.home.path())
            .args(["standalone-sign", "-o"])
            .arg(&sig);
        if via_agent {
            c.arg(&manifest).args([reference, &gpg.fingerprint]);
        } else {
            c.arg("--key-file")
                .arg(&secret)
                .arg(&manifest)
                .arg(reference);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "vouch standalone-sign: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = common::peer_ok(
            Command::new("skopeo")
                .env("GNUPGHOME", gpg.home.path())
                .arg("standalone-verify")
                .arg(&manifest)
                .args([reference, &gpg.fingerprint])
                .arg(&sig),
        );
        assert!(out.contains("Signature verified"), "{out}");
        // skopeo rejects it for another reference: the identity is signed.
        let out = Command::new("skopeo")
            .env("GNUPGHOME", gpg.home.path())
            .arg("standalone-verify")
            .arg(&manifest)
            .args(["registry.example.com/ns/app:v2", &gpg.fingerprint])
            .arg(&sig)
            .output()
            .unwrap();
        assert!(!out.status.success());
    }
}

/// (e) one policy.json and one registries.d YAML, unchanged, give podman,
/// skopeo and vouch the same decisions.
#[test]
fn same_files_same_decisions() {
    require_tools!("podman", "skopeo", "gpg");
    let w = World::new();
    let _etc = EtcRegistriesD::install(&w.reg.host(), &w.yaml());
    let v = Vouch::new();
    w.vouch_push(&v, "signed:1", true);
    w.vouch_push(&v, "unsigned:1", false);
    let right = w.policy("right.json", &w.key);
    let wrong = w.policy("wrong.json", &w.other_key);
    let reject = w.reject_all();
    let signed = w.image("signed:1");
    let unsigned = w.image("unsigned:1");

    let matrix: [(&str, &Path, &str, bool); 4] = [
        ("right key", &right, &signed, true),
        ("wrong key", &wrong, &signed, false),
        ("unsigned", &right, &unsigned, false),
        ("reject default", &reject, &signed, false),
    ];
    let mut report = String::new();
    for (case, policy, image, expected) in matrix {
        let (podman, perr) = w.podman_pull(policy, image);
        let (skopeo, serr) = w.skopeo_pull(policy, image);
        let (vouch, verr) = w.vouch_pull(policy, image);
        report.push_str(&format!(
            "{case}: podman={podman} skopeo={skopeo} vouch={vouch}\n"
        ));
        assert!(
            podman == expected && skopeo == expected && vouch == expected,
            "{case}: expected {expected}, got podman={podman} ({perr}) skopeo={skopeo} ({serr}) vouch={vouch} ({verr})"
        );
        if !expected {
            for (tool, err) in [("podman", &perr), ("skopeo", &serr), ("vouch", &verr)] {
                assert!(
                    err.contains("Source image rejected"),
                    "{case}: {tool} said {err}"
                );
            }
        }
    }
    eprintln!("{report}");
}

/// The shared fixtures give the decisions the spec says, through the CLI
/// (the libraries check them in detail): skopeo's standalone signature,
/// the expired key, the Sequoia subkey signature.
#[test]
fn shared_fixtures_standalone_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let put = |rel: &str| {
        let p = tmp.path().join(rel.replace('/', "_"));
        std::fs::write(&p, common::trust_fixture(rel)).unwrap();
        p.to_str().unwrap().to_string()
    };
    let v = Vouch::new();
    let verify = |dir: &str, key: &str, sig: &str, reference: &str, fpr: &str| {
        let m = put(&format!("generated/{dir}/manifest.json"));
        let k = put(&format!("generated/{key}"));
        let s = put(&format!("generated/{dir}/{sig}"));
        v.run3(&[
            "standalone-verify",
            "--public-key-file",
            &k,
            &m,
            reference,
            fpr,
            &s,
        ])
    };
    // skopeo 1.9.3 + gpg: accepted.
    let (code, out, err) = verify(
        "gpg-skopeo-standalone",
        "gpg-skopeo-standalone/public-key.gpg",
        "busybox.signature",
        "docker.io/library/busybox:latest",
        "A06D9F7AAD47327032766DEBEB5B0FCF10966A88",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("A06D9F7AAD47327032766DEBEB5B0FCF10966A88"));
    // The short identity `busybox` never matches a tagged expectation.
    let (code, _, err) = verify(
        "gpg-skopeo-standalone",
        "gpg-skopeo-standalone/public-key.gpg",
        "short-identity.signature",
        "docker.io/library/busybox:latest",
        "any",
    );
    assert_eq!(code, 1, "{err}");
    // An expired key: rejected (GPGME's rule; docs/signing.md).
    let payload: serde_json::Value = serde_json::from_slice(&common::trust_fixture(
        "generated/gpg-expired-key/payload.json",
    ))
    .unwrap();
    let reference = payload["critical"]["identity"]["docker-reference"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _, err) = verify(
        "gpg-expired-key",
        "gpg-expired-key/public-key.gpg",
        "signature-1",
        &reference,
        "any",
    );
    assert_eq!(code, 1, "expired key accepted: {err}");
    assert!(err.contains("not valid now"), "{err}");
    // Sequoia's subkey signature maps to its primary (upstream ≥ 5.37).
    let payload: serde_json::Value = serde_json::from_slice(&common::trust_fixture(
        "generated/sequoia-subkey/payload.json",
    ))
    .unwrap();
    let reference = payload["critical"]["identity"]["docker-reference"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out, err) = verify(
        "sequoia-subkey",
        "sequoia-subkey/cert.pgp",
        "signature-1",
        &reference,
        "any",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Signature verified using fingerprint "),
        "{out}"
    );
}

/// `--batch`: one process signs many manifests (each verifiable by skopeo)
/// and checks many signatures, judging every line.
#[test]
fn standalone_batch_mode() {
    require_tools!("skopeo", "gpg");
    let gpg = Gpg::new("batch@example.com");
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret.asc");
    gpg.export_secret(&secret);
    let key = tmp.path().join("key.gpg");
    gpg.export(&key);
    let mut sign_list = String::from("# manifest reference output\n\n");
    let mut verify_list = String::new();
    for i in 0..5 {
        let m = tmp.path().join(format!("m{i}.json"));
        std::fs::write(&m, format!(r#"{{"schemaVersion":2,"n":{i}}}"#)).unwrap();
        let s = tmp.path().join(format!("s{i}.sig"));
        let r = format!("registry.example.com/app:{i}");
        sign_list.push_str(&format!("{} {r} {}\n", m.display(), s.display()));
        verify_list.push_str(&format!("{} {r} {}\n", m.display(), s.display()));
    }
    let sign_path = tmp.path().join("sign.list");
    std::fs::write(&sign_path, &sign_list).unwrap();
    let v = Vouch::new();
    v.ok(&[
        "standalone-sign",
        "--key-file",
        secret.to_str().unwrap(),
        "--batch",
        sign_path.to_str().unwrap(),
    ]);
    // Through gpg-agent too, with the key as the only argument.
    let agent_list = tmp.path().join("agent.list");
    std::fs::write(&agent_list, sign_list.replace(".sig", ".agent.sig")).unwrap();
    let out = v
        .cmd()
        .env("GNUPGHOME", gpg.home.path())
        .args([
            "standalone-sign",
            "--batch",
            agent_list.to_str().unwrap(),
            &gpg.fingerprint,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for sig in ["s3.sig", "s3.agent.sig"] {
        common::peer_ok(
            Command::new("skopeo")
                .env("GNUPGHOME", gpg.home.path())
                .arg("standalone-verify")
                .arg(tmp.path().join("m3.json"))
                .args(["registry.example.com/app:3", &gpg.fingerprint])
                .arg(tmp.path().join(sig)),
        );
    }

    let verify_path = tmp.path().join("verify.list");
    std::fs::write(&verify_path, &verify_list).unwrap();
    let k = key.to_str().unwrap();
    let out = v.ok(&[
        "standalone-verify",
        "--public-key-file",
        k,
        "--batch",
        verify_path.to_str().unwrap(),
        &gpg.fingerprint,
    ]);
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("Signature verified using fingerprint"))
            .count(),
        5,
        "{out}"
    );

    // One line with a swapped signature: that line is rejected (exit 1),
    // the others still verified.
    let swapped = verify_list.replacen("s1.sig", "s2.sig", 1);
    std::fs::write(&verify_path, swapped).unwrap();
    let (code, out, err) = v.run3(&[
        "standalone-verify",
        "--public-key-file",
        k,
        "--batch",
        verify_path.to_str().unwrap(),
        "any",
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("verify.list:2: Error verifying signature:"),
        "{err}"
    );
    // A missing file is an error (exit 2), a malformed line too.
    std::fs::write(
        &verify_path,
        verify_list.replacen("s0.sig", "nonexistent.sig", 1),
    )
    .unwrap();
    let (code, _, err) = v.run3(&[
        "standalone-verify",
        "--public-key-file",
        k,
        "--batch",
        verify_path.to_str().unwrap(),
        "any",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nonexistent.sig"), "{err}");
    std::fs::write(&verify_path, "just two\n").unwrap();
    let (code, _, err) = v.run3(&[
        "standalone-verify",
        "--public-key-file",
        k,
        "--batch",
        verify_path.to_str().unwrap(),
        "any",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("verify.list:1: expected 3 fields, found 2"),
        "{err}"
    );
}

/// (e) Issue 11 item 9: a signing *subkey's* own fingerprint as the expected
/// key. skopeo 1.9.3 (GPGME reports the subkey) accepts upstream's
/// `subkey.signature` for it, and so must vouch; both reject a fingerprint
/// of another key. For the primary's fingerprint vouch accepts too (as
/// containers/image ≥ 5.37 does) where skopeo 1.9.3 refuses: documented in
/// docs/signing.md §4.
#[test]
fn subkey_fingerprint_verdicts_match_skopeo() {
    require_tools!("skopeo", "gpg");
    const PRIMARY: &str = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36";
    const SUBKEY: &str = "57D1D95BBC53BA0EAFF0718CD75B3109B3BAAEAF";
    const OTHER: &str = "08CD26E446E2E95249B7A405E932F44B23E8DD43";
    let tmp = tempfile::tempdir().unwrap();
    let file = |rel: &str, name: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, common::trust_fixture(rel)).unwrap();
        p
    };
    let key = file("signature/fixtures/public-key-with-subkey.gpg", "key.gpg");
    let manifest = file("signature/fixtures/image.manifest.json", "manifest.json");
    let sig = file("signature/fixtures/subkey.signature", "subkey.signature");
    let home = tmp.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    common::peer_ok(
        Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--import"])
            .arg(&key),
    );
    let reference = "testing/manifest:latest";
    let args = |fpr: &str| {
        vec![
            manifest.to_str().unwrap().to_string(),
            reference.to_string(),
            fpr.to_string(),
            sig.to_str().unwrap().to_string(),
        ]
    };
    let v = Vouch::new();
    for (fpr, skopeo_code) in [(SUBKEY, 0), (OTHER, 1), (PRIMARY, 1)] {
        let skopeo = Command::new("skopeo")
            .env("GNUPGHOME", &home)
            .arg("standalone-verify")
            .args(args(fpr))
            .output()
            .unwrap();
        assert_eq!(
            skopeo.status.code(),
            Some(skopeo_code),
            "skopeo for {fpr}: {}",
            String::from_utf8_lossy(&skopeo.stderr)
        );
        let vouch_code = if fpr == PRIMARY { 0 } else { skopeo_code };
        // From the GnuPG keyring (as skopeo) and from a key file.
        let from_home = v
            .cmd()
            .env("GNUPGHOME", &home)
            .arg("standalone-verify")
            .args(args(fpr))
            .output()
            .unwrap();
        let mut with_file = vec!["standalone-verify".to_string(), "--public-key-file".into()];
        with_file.push(key.to_str().unwrap().into());
        with_file.extend(args(fpr));
        let with_file: Vec<&str> = with_file.iter().map(String::as_str).collect();
        for out in [from_home, v.output(&with_file)] {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(vouch_code),
                "vouch for {fpr}: {err}"
            );
            if vouch_code == 0 {
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    stdout.starts_with(&format!(
                        "Signature verified using fingerprint {PRIMARY}, digest sha256:"
                    )),
                    "{stdout}"
                );
            } else {
                assert_eq!(err.lines().count(), 1, "{err}");
                assert!(
                    err.contains(&format!(
                        "Signature by {PRIMARY} does not match expected fingerprint"
                    )),
                    "{err}"
                );
            }
        }
    }
}
