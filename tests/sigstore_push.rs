//! `vouch push --sign-by-sigstore-private-key` against the real peers
//! (issue 12 part 2): a real docker-registry and skopeo 1.22 with sigstore
//! enabled (`skopeo-sigstore`, scripts/install-skopeo-sigstore.sh). vouch's
//! `.sig` attachment must be what skopeo writes, layer by layer; skopeo must
//! accept it under a `sigstoreSigned` policy and reject it under another key;
//! appending must keep every signature; a push that cannot store its
//! signature must leave the registry untouched.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{http_get_with as get, Gpg, Registry, Vouch};

const PASSPHRASE: &str = "sigstore push passphrase";

/// One test's world: a registry, a vouch store with the httpd image, a
/// passphrase file and sigstore key pairs made by skopeo itself.
struct World {
    skopeo: PathBuf,
    reg: Registry,
    v: Vouch,
    tmp: tempfile::TempDir,
}

impl World {
    fn new(skopeo: PathBuf) -> Self {
        let w = World {
            skopeo,
            reg: Registry::start(),
            v: Vouch::new(),
            tmp: tempfile::tempdir().unwrap(),
        };
        std::fs::write(w.pass(), format!("{PASSPHRASE}\n")).unwrap();
        w.v.import_httpd("localhost/app");
        w
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn pass(&self) -> PathBuf {
        self.path("pass")
    }

    /// `skopeo generate-sigstore-key --output-prefix NAME`: NAME.private, NAME.pub.
    fn key(&self, name: &str) -> (PathBuf, PathBuf) {
        let prefix = self.path(name);
        common::peer_ok(
            Command::new(&self.skopeo)
                .arg("generate-sigstore-key")
                .arg("--output-prefix")
                .arg(&prefix)
                .arg("--passphrase-file")
                .arg(self.pass()),
        );
        (
            self.path(&format!("{name}.private")),
            self.path(&format!("{name}.pub")),
        )
    }

    /// A registries.d turning attachments on for the registry (and, with
    /// `staging`, a `file://` lookaside for GPG signatures).
    fn regd(&self, attachments: bool, staging: Option<&Path>) -> PathBuf {
        let d = self.path(if attachments { "regd-on" } else { "regd-off" });
        std::fs::create_dir_all(&d).unwrap();
        let mut yaml = format!("docker:\n  {}:\n", self.reg.host());
        if attachments {
            yaml.push_str("    use-sigstore-attachments: true\n");
        }
        if let Some(s) = staging {
            yaml.push_str(&format!(
                "    lookaside: file://{0}\n    lookaside-staging: file://{0}\n",
                s.display()
            ));
        }
        if !attachments && staging.is_none() {
            yaml.push_str("    lookaside: file:///nonexistent\n");
        }
        std::fs::write(d.join("test.yaml"), yaml).unwrap();
        d
    }

    /// A policy that requires every one of `reqs` for the registry.
    fn policy(&self, name: &str, reqs: serde_json::Value) -> PathBuf {
        let p = self.path(name);
        std::fs::write(
            &p,
            serde_json::json!({
                "default": [{"type": "reject"}],
                "transports": {
                    "docker": {self.reg.host(): reqs},
                    "oci": {"": [{"type": "insecureAcceptAnything"}]}
                }
            })
            .to_string(),
        )
        .unwrap();
        p
    }

    fn dest(&self, repo: &str) -> String {
        format!("{}/{repo}:1", self.reg.host())
    }

    /// `vouch --registries.d REGD push --tls-verify=false EXTRA… localhost/app DEST`.
    fn push(&self, regd: &Path, extra: &[&str], dest: &str) -> Output {
        self.v
            .cmd()
            .arg("--registries.d")
            .arg(regd)
            .args(["push", "--tls-verify=false"])
            .args(extra)
            .args(["localhost/app", dest])
            .output()
            .unwrap()
    }

    /// [`World::push`] at a terminal (fixtures/pty-session.py) that types
    /// the passphrase file's line at every passphrase prompt; returns the
    /// terminal transcript and the exit code.
    fn push_at_terminal(&self, regd: &Path, extra: &[&str], dest: &str) -> (String, String) {
        let session = [
            std::ffi::OsString::from("--passphrase-file"),
            self.pass().into(),
        ];
        let mut c = common::pty_session(session, &self.v.cmd());
        c.arg("--registries.d")
            .arg(regd)
            .args(["push", "--tls-verify=false"])
            .args(extra)
            .args(["localhost/app", dest]);
        common::pty_transcript(&mut c)
    }

    fn push_ok(&self, regd: &Path, extra: &[&str], dest: &str) {
        let out = self.push(regd, extra, dest);
        assert!(
            out.status.success(),
            "vouch push failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `skopeo-sigstore copy docker://IMAGE dir:…` under POLICY and REGD
    /// (`dir:` keeps the signatures it read, as `signature-N`).
    fn skopeo_pull(&self, regd: &Path, policy: &Path, image: &str) -> Output {
        let out = self.path(&format!("oci-{}", rand_suffix()));
        Command::new(&self.skopeo)
            .arg("--policy")
            .arg(policy)
            .arg("--registries.d")
            .arg(regd)
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{image}"))
            .arg(format!("dir:{}", out.display()))
            .output()
            .unwrap()
    }

    /// `skopeo-sigstore copy` of `image` onto itself, adding a signature by `key`.
    fn skopeo_sign(&self, regd: &Path, key: &Path, from: &str, to: &str) {
        let policy = self.path("any.json");
        std::fs::write(
            &policy,
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        common::peer_ok(
            Command::new(&self.skopeo)
                .arg("--policy")
                .arg(&policy)
                .arg("--registries.d")
                .arg(regd)
                .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
                .arg("--sign-by-sigstore-private-key")
                .arg(key)
                .arg("--sign-passphrase-file")
                .arg(self.pass())
                .arg(format!("docker://{from}"))
                .arg(format!("docker://{to}")),
        );
    }

    fn digest(&self) -> String {
        let j: serde_json::Value =
            serde_json::from_str(&self.v.ok(&["image", "inspect", "localhost/app"])).unwrap();
        j[0]["Digest"].as_str().unwrap().to_string()
    }

    /// The `.sig` attachment of the image in `repo`: manifest bytes, config
    /// bytes and layer payloads, straight from the registry.
    fn attachment(&self, repo: &str) -> Option<Attachment> {
        let tag = format!("{}.sig", self.digest().replace(':', "-"));
        let (status, manifest) = get(
            self.reg.port,
            &format!("/v2/{repo}/manifests/{tag}"),
            Some("application/vnd.oci.image.manifest.v1+json"),
        );
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&manifest));
        let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let blob = |d: &serde_json::Value| {
            let (s, b) = get(
                self.reg.port,
                &format!("/v2/{repo}/blobs/{}", d.as_str().unwrap()),
                None,
            );
            assert_eq!(s, 200);
            b
        };
        let config = blob(&m["config"]["digest"]);
        let payloads = m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| blob(&l["digest"]))
            .collect();
        Some(Attachment {
            manifest,
            config,
            payloads,
        })
    }
}

struct Attachment {
    manifest: Vec<u8>,
    config: Vec<u8>,
    payloads: Vec<Vec<u8>>,
}

impl Attachment {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.manifest).unwrap()
    }

    fn layers(&self) -> Vec<serde_json::Value> {
        self.json()["layers"].as_array().unwrap().clone()
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

/// Whether the registry holds any blob at all.
fn registry_has_blobs(reg: &Registry) -> bool {
    fn walk(p: &Path) -> usize {
        match std::fs::read_dir(p) {
            Ok(rd) => rd
                .map(|e| {
                    let e = e.unwrap();
                    if e.file_type().unwrap().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum(),
            Err(_) => 0,
        }
    }
    walk(&reg.dir.path().join("data/docker/registry/v2/blobs")) > 0
}

fn has_any_tag(reg: &Registry, repo: &str) -> bool {
    let (status, body) = get(reg.port, &format!("/v2/{repo}/tags/list"), None);
    if status == 404 {
        return false;
    }
    let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
    j["tags"].as_array().is_some_and(|t| !t.is_empty())
}

fn sigstore_req(public: &Path) -> serde_json::Value {
    serde_json::json!({"type": "sigstoreSigned", "keyPath": public,
        "signedIdentity": {"type": "matchRepoDigestOrExact"}})
}

fn assert_peer_refuses(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{what}: skopeo accepted");
    err
}

/// Replaces every `sha256:<hex>` and every number after `"size":` so two
/// documents that differ only in content digests compare equal.
fn shape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("sha256:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 7..];
        let hex = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        out.push_str("sha256:D");
        rest = &after[hex..];
    }
    out.push_str(rest);
    let mut shaped = String::new();
    let mut rest = out.as_str();
    while let Some(i) = rest.find("\"size\":") {
        shaped.push_str(&rest[..i + 7]);
        let after = &rest[i + 7..];
        let n = after.bytes().take_while(u8::is_ascii_digit).count();
        shaped.push('N');
        rest = &after[n..];
    }
    shaped.push_str(rest);
    shaped
}

fn sig_annotation_shape(att: &Attachment) -> String {
    let mut m = att.json();
    for l in m["layers"].as_array_mut().unwrap() {
        let sig = &mut l["annotations"]["dev.cosignproject.cosign/signature"];
        assert!(sig.is_string(), "no signature annotation in {l}");
        *sig = "SIG".into();
    }
    shape(&m.to_string())
}

#[test]
fn attachment_is_what_skopeo_writes_layer_by_layer() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, _) = w.key("k");
    let regd = w.regd(true, None);
    let pass = w.pass();
    let sign = [
        "--sign-by-sigstore-private-key",
        private.to_str().unwrap(),
        "--sign-passphrase-file",
        pass.to_str().unwrap(),
    ];
    w.push_ok(&regd, &sign, &w.dest("by-vouch"));
    // skopeo copies the unsigned image (same manifest bytes) and signs it.
    w.push_ok(&regd, &[], &w.dest("plain"));
    w.skopeo_sign(&regd, &private, &w.dest("plain"), &w.dest("by-skopeo"));

    let ours = w.attachment("by-vouch").expect("vouch wrote no attachment");
    let theirs = w
        .attachment("by-skopeo")
        .expect("skopeo wrote no attachment");
    // The manifest: same fields, order, media types and annotation keys.
    assert_eq!(sig_annotation_shape(&ours), sig_annotation_shape(&theirs));
    let (m, t) = (ours.json(), theirs.json());
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(m["layers"][0]["mediaType"], t["layers"][0]["mediaType"]);
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    // Raw manifest bytes: Go's serialisation, byte for byte up to digests.
    let raw = |a: &Attachment| {
        let sig = a.json()["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap()
            .to_string();
        shape(
            &String::from_utf8(a.manifest.clone())
                .unwrap()
                .replace(&sig, "SIG"),
        )
    };
    assert_eq!(raw(&ours), raw(&theirs));
    // The config: the same document with the one layer's digest.
    assert_eq!(
        shape(std::str::from_utf8(&ours.config).unwrap()),
        shape(std::str::from_utf8(&theirs.config).unwrap())
    );
    assert_eq!(
        shape(std::str::from_utf8(&ours.config).unwrap()),
        r#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:D"]}}"#
    );
    // The payload: same critical section for the same manifest, same optional keys.
    let p: serde_json::Value = serde_json::from_slice(&ours.payloads[0]).unwrap();
    let q: serde_json::Value = serde_json::from_slice(&theirs.payloads[0]).unwrap();
    assert_eq!(p["critical"]["image"], q["critical"]["image"]);
    assert_eq!(p["critical"]["type"], q["critical"]["type"]);
    assert_eq!(
        p["critical"]["identity"]["docker-reference"],
        w.dest("by-vouch")
    );
    let keys = |v: &serde_json::Value| {
        v["optional"]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(keys(&p), keys(&q));
    assert_eq!(ours.payloads.len(), 1);
}

#[test]
fn skopeo_accepts_vouchs_signature_and_rejects_another_key() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, public) = w.key("signer");
    let (_, other) = w.key("other");
    let regd = w.regd(true, None);
    let pass = w.pass();
    let dest = w.dest("app");
    w.push_ok(
        &regd,
        &[
            "--sign-by-sigstore-private-key",
            private.to_str().unwrap(),
            "--sign-passphrase-file",
            pass.to_str().unwrap(),
        ],
        &dest,
    );
    let good = w.policy("good.json", serde_json::json!([sigstore_req(&public)]));
    let out = w.skopeo_pull(&regd, &good, &dest);
    assert!(
        out.status.success(),
        "skopeo refused vouch's signature:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = w.policy("bad.json", serde_json::json!([sigstore_req(&other)]));
    let err = assert_peer_refuses(&w.skopeo_pull(&regd, &bad, &dest), "wrong key");
    assert!(err.contains("signature"), "{err}");
    // Without attachments turned on for reading, skopeo sees no signature.
    let off = w.regd(false, None);
    let err = assert_peer_refuses(&w.skopeo_pull(&off, &good, &dest), "attachments off");
    assert!(err.contains("signature"), "{err}");
}

#[test]
fn appending_keeps_every_signature() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (a_private, a_public) = w.key("a");
    let (b_private, b_public) = w.key("b");
    let regd = w.regd(true, None);
    let pass = w.pass();
    let dest = w.dest("app");
    let sign_a = [
        "--sign-by-sigstore-private-key",
        a_private.to_str().unwrap(),
        "--sign-passphrase-file",
        pass.to_str().unwrap(),
    ];
    w.push_ok(&regd, &sign_a, &dest);
    // skopeo signs after vouch: it appends.
    w.skopeo_sign(&regd, &b_private, &dest, &dest);
    let after_skopeo = w.attachment("app").unwrap().layers();
    assert_eq!(after_skopeo.len(), 2, "{after_skopeo:?}");
    // vouch signs again after skopeo: it appends too, keeping both.
    w.push_ok(&regd, &sign_a, &dest);
    let after_vouch = w.attachment("app").unwrap().layers();
    assert!(after_vouch.len() >= 2);
    assert_eq!(
        after_vouch[..2],
        after_skopeo[..],
        "existing layers changed"
    );
    // Both keys' signatures are there: a policy requiring both accepts.
    let both = w.policy(
        "both.json",
        serde_json::json!([sigstore_req(&a_public), sigstore_req(&b_public)]),
    );
    let out = w.skopeo_pull(&regd, &both, &dest);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn both_kinds_in_one_push_satisfy_a_mixed_policy() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, public) = w.key("sig");
    let gpg = Gpg::new("mixed@example.com");
    let secret = w.path("gpg.asc");
    gpg.export_secret(&secret);
    let gpg_pub = w.path("gpg.pub");
    gpg.export(&gpg_pub);
    let staging = w.path("lookaside");
    let regd = w.regd(true, Some(&staging));
    let dest = w.dest("app");
    // As with skopeo, the passphrase file serves one key only: the
    // sigstore key's passphrase is typed at the terminal (not echoed).
    let (transcript, code) = w.push_at_terminal(
        &regd,
        &[
            "--sign-by-key",
            secret.to_str().unwrap(),
            "--sign-by-sigstore-private-key",
            private.to_str().unwrap(),
        ],
        &dest,
    );
    assert_eq!(code, "0", "{transcript}");
    assert_eq!(
        transcript.matches("Passphrase for key").count(),
        1,
        "{transcript}"
    );
    assert!(
        transcript.contains(&format!("Passphrase for key {}: ", private.display())),
        "{transcript}"
    );
    assert!(!transcript.contains(PASSPHRASE), "echoed: {transcript}");
    assert_eq!(w.attachment("app").unwrap().layers().len(), 1);
    let gpg_req = serde_json::json!({"type": "signedBy", "keyType": "GPGKeys", "keyPath": gpg_pub});
    let mixed = w.policy(
        "mixed.json",
        serde_json::json!([gpg_req, sigstore_req(&public)]),
    );
    let out = w.skopeo_pull(&regd, &mixed, &dest);
    assert!(
        out.status.success(),
        "skopeo refused the mixed push:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each half is really required: another GPG key is refused.
    let other = Gpg::new("other@example.com");
    let other_pub = w.path("other.pub");
    other.export(&other_pub);
    let wrong = w.policy(
        "wrong.json",
        serde_json::json!([
            {"type": "signedBy", "keyType": "GPGKeys", "keyPath": other_pub},
            sigstore_req(&public)
        ]),
    );
    assert_peer_refuses(&w.skopeo_pull(&regd, &wrong, &dest), "other GPG key");
}

/// Asserts a failed push (exit 2, one `Error:` line naming `needle`) that
/// left the registry without a blob or a tag.
fn assert_nothing_pushed(w: &World, out: &Output, needle: &str) -> String {
    let err = common::assert_fails(2, "vouch push", out);
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(!registry_has_blobs(&w.reg), "blobs were uploaded");
    assert!(!has_any_tag(&w.reg, "app"), "a tag was pushed");
    err
}

#[test]
fn without_use_sigstore_attachments_nothing_is_pushed() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, _) = w.key("k");
    let regd = w.regd(false, None);
    let pass = w.pass();
    let out = w.push(
        &regd,
        &[
            "--sign-by-sigstore-private-key",
            private.to_str().unwrap(),
            "--sign-passphrase-file",
            pass.to_str().unwrap(),
        ],
        &w.dest("app"),
    );
    let err = assert_nothing_pushed(&w, &out, "use-sigstore-attachments: true");
    assert!(err.contains(&w.dest("app")), "{err}");
    assert!(err.contains("sigstore attachments is disabled"), "{err}");
}

#[test]
fn wrong_passphrase_fails_before_anything_is_pushed() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, _) = w.key("k");
    let regd = w.regd(true, None);
    let wrong = w.path("wrong");
    std::fs::write(&wrong, "not it\n").unwrap();
    let out = w.push(
        &regd,
        &[
            "--sign-by-sigstore-private-key",
            private.to_str().unwrap(),
            "--sign-passphrase-file",
            wrong.to_str().unwrap(),
        ],
        &w.dest("app"),
    );
    let err = assert_nothing_pushed(&w, &out, private.to_str().unwrap());
    assert!(err.to_lowercase().contains("passphrase"), "{err}");
}

#[test]
fn no_passphrase_and_no_terminal_fails_before_anything_is_pushed() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, _) = w.key("k");
    let regd = w.regd(true, None);
    let out = w.push(
        &regd,
        &["--sign-by-sigstore-private-key", private.to_str().unwrap()],
        &w.dest("app"),
    );
    assert_nothing_pushed(
        &w,
        &out,
        &format!(
            "Cannot prompt for a passphrase for key {}, standard input is not a TTY",
            private.display()
        ),
    );
}

#[test]
fn standalone_sigstore_signature_is_accepted_by_skopeo_in_a_dir_image() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, public) = w.key("k");
    let (_, other) = w.key("other");
    let regd = w.regd(true, None);
    w.push_ok(&regd, &[], &w.dest("app"));
    let any = w.path("any.json");
    std::fs::write(&any, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    let dir = w.path("image-dir");
    common::peer_ok(
        Command::new(&w.skopeo)
            .arg("--policy")
            .arg(&any)
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{}", w.dest("app")))
            .arg(format!("dir:{}", dir.display())),
    );
    let pass = w.pass();
    w.v.ok(&[
        "standalone-sign",
        "--sigstore-private-key",
        private.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
        "-o",
        dir.join("signature-1").to_str().unwrap(),
        dir.join("manifest.json").to_str().unwrap(),
        &w.dest("app"),
    ]);
    let verify = |key: &Path| {
        let policy = w.path(&format!("dir-{}.json", rand_suffix()));
        std::fs::write(
            &policy,
            serde_json::json!({"default": [{"type": "sigstoreSigned", "keyPath": key,
                "signedIdentity": {"type": "exactReference", "dockerReference": w.dest("app")}}]})
            .to_string(),
        )
        .unwrap();
        Command::new(&w.skopeo)
            .arg("--policy")
            .arg(&policy)
            .arg("copy")
            .arg(format!("dir:{}", dir.display()))
            .arg(format!(
                "dir:{}",
                w.path(&format!("out-{}", rand_suffix())).display()
            ))
            .output()
            .unwrap()
    };
    let ok = verify(&public);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_peer_refuses(&verify(&other), "another key");
}

#[test]
fn one_passphrase_file_is_refused_for_two_keys_as_skopeo_does() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, _) = w.key("k");
    let gpg = Gpg::new("both@example.com");
    let secret = w.path("gpg.asc");
    gpg.export_secret(&secret);
    let staging = w.path("lookaside");
    let regd = w.regd(true, Some(&staging));
    let pass = w.pass();
    const REFUSAL: &str = "Only one of --sign-by, --sign-by-key and --sign-by-sigstore-private-key can be used with --sign-passphrase-file";
    for gpg_flag in [
        ["--sign-by-key", secret.to_str().unwrap()],
        ["--sign-by", "both@example.com"],
    ] {
        let mut args = gpg_flag.to_vec();
        args.extend([
            "--sign-by-sigstore-private-key",
            private.to_str().unwrap(),
            "--sign-passphrase-file",
            pass.to_str().unwrap(),
        ]);
        let out = w.push(&regd, &args, &w.dest("app"));
        let err = assert_nothing_pushed(&w, &out, REFUSAL);
        assert_eq!(err.trim_end(), format!("Error: {REFUSAL}"));
    }
    assert!(!staging.exists(), "a signature was staged");
    // skopeo 1.22 refuses the same combination (it names its own
    // --sign-by-sq-fingerprint where vouch has --sign-by-key).
    let any = w.path("any.json");
    std::fs::write(&any, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    let out = Command::new(&w.skopeo)
        .arg("--policy")
        .arg(&any)
        .args(["copy", "--sign-by", "both@example.com"])
        .arg("--sign-by-sigstore-private-key")
        .arg(&private)
        .arg("--sign-passphrase-file")
        .arg(&pass)
        .arg(format!("dir:{}", w.path("nothing").display()))
        .arg(format!("dir:{}", w.path("out").display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Only one of --sign-by, --sign-by-sq-fingerprint and --sign-by-sigstore-private-key can be used with --sign-passphrase-file"),
        "{err}"
    );
}

#[test]
fn bad_sigstore_key_files_fail_the_push_before_anything_is_pushed() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    let (private, public) = w.key("k");
    let regd = w.regd(true, None);
    let pass = w.pass();

    // The key with one ciphertext byte flipped, PEM and envelope intact.
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut envelope = common::sigstore_key_envelope(&std::fs::read_to_string(&private).unwrap());
    let mut ct = engine
        .decode(envelope["ciphertext"].as_str().unwrap())
        .unwrap();
    ct[0] ^= 1;
    envelope["ciphertext"] = engine.encode(&ct).into();
    let corrupt = common::sigstore_key_pem(&envelope);

    let cases: [(&str, Option<Vec<u8>>, &str); 4] = [
        ("missing.private", None, "reading private key from"),
        (
            "text.private",
            Some(b"not a key\n".to_vec()),
            "invalid pem block",
        ),
        (
            "public.private",
            Some(std::fs::read(&public).unwrap()),
            "unsupported pem type: PUBLIC KEY",
        ),
        (
            "corrupt.private",
            Some(corrupt),
            "encrypted: decryption failed",
        ),
    ];
    for (name, bytes, reason) in cases {
        let file = w.path(name);
        if let Some(b) = bytes {
            std::fs::write(&file, b).unwrap();
        }
        let out = w.push(
            &regd,
            &[
                "--sign-by-sigstore-private-key",
                file.to_str().unwrap(),
                "--sign-passphrase-file",
                pass.to_str().unwrap(),
            ],
            &w.dest("app"),
        );
        let err = assert_nothing_pushed(&w, &out, file.to_str().unwrap());
        assert!(err.contains(reason), "{name}: expected {reason:?} in {err}");
    }
}
