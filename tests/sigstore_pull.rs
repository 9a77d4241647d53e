//! Pulling under sigstore policies: signatures read from the registry's
//! `sha256-<hex>.sig` attachments (when registries.d turns
//! `use-sigstore-attachments` on), judged before any layer moves.
//!
//! The peer is skopeo 1.22 with sigstore enabled (`skopeo-sigstore`, see
//! scripts/install-skopeo-sigstore.sh): it signs, and the same policy.json
//! and registries.d must drive it and vouch to the same decisions. Bad
//! attachment input comes from the fault proxy (fixtures/fault-proxy.py) or
//! from crafted `.sig` manifests pushed to the real registry.

mod common;

use common::sha256;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{FaultProxy, Gpg, OciImage, Registry, Vouch};

// ---------------------------------------------------------------- raw registry

/// One HTTP/1.1 request to 127.0.0.1:`port`; (status, Location, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let location = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("location")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, location, resp[split + 4..].to_vec())
}

/// Uploads `bytes` as a blob of `repo` (POST, then a monolithic PUT).
fn push_blob(reg: &Registry, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let (status, location, _) = http(
        reg.port,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        "application/octet-stream",
        b"",
    );
    assert_eq!(status, 202, "starting an upload");
    let path = location
        .strip_prefix(&format!("http://{}", reg.host()))
        .unwrap_or(&location)
        .to_string();
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, _, body) = http(
        reg.port,
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        "application/octet-stream",
        bytes,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    digest
}

/// Puts `manifest` under `reference` (a tag or digest) of `repo`.
fn push_manifest(reg: &Registry, repo: &str, reference: &str, media_type: &str, manifest: &[u8]) {
    let (status, _, body) = http(
        reg.port,
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        media_type,
        manifest,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

/// Pushes a one-layer OCI image to `repo:tag`; returns its manifest digest.
fn push_image(reg: &Registry, repo: &str, tag: &str, content: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let layer = common::layer_with_file("hello.txt", content);
    let digest = common::oci_layout(
        dir.path(),
        &[OciImage::one_layer(
            layer,
            "application/vnd.oci.image.layer.v1.tar",
            "amd64",
        )],
        Some(tag),
    );
    push_layout(reg, dir.path(), repo, tag, &digest);
    digest
}

fn push_layout(reg: &Registry, dir: &Path, repo: &str, tag: &str, digest: &str) {
    let blob = |d: &str| {
        std::fs::read(
            dir.join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let manifest = blob(digest);
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    push_blob(reg, repo, &blob(m["config"]["digest"].as_str().unwrap()));
    for l in m["layers"].as_array().unwrap() {
        push_blob(reg, repo, &blob(l["digest"].as_str().unwrap()));
    }
    push_manifest(reg, repo, tag, m["mediaType"].as_str().unwrap(), &manifest);
}

/// The attachment tag of the manifest `digest`.
fn sig_tag(digest: &str) -> String {
    format!("sha256-{}.sig", digest.trim_start_matches("sha256:"))
}

/// Pushes a crafted `.sig` manifest for `digest` whose layers are
/// `layers` (descriptors as JSON); returns the tag.
fn push_sig_manifest(
    reg: &Registry,
    repo: &str,
    digest: &str,
    media_type: &str,
    layers: Vec<serde_json::Value>,
) -> String {
    let config = push_blob(reg, repo, b"{}");
    let config_type = if media_type.contains("docker") {
        "application/vnd.docker.container.image.v1+json"
    } else {
        "application/vnd.oci.image.config.v1+json"
    };
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": config, "size": 2},
        "layers": layers,
    });
    let tag = sig_tag(digest);
    push_manifest(reg, repo, &tag, media_type, m.to_string().as_bytes());
    tag
}

/// A cosign simple-signing layer descriptor for `blob` as uploaded, with a
/// declared `size`.
fn sig_layer(digest: &str, size: u64) -> serde_json::Value {
    serde_json::json!({
        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "digest": digest, "size": size,
        "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="},
    })
}

// ---------------------------------------------------------------- the world

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

const PASSPHRASE: &str = "sigstore pull test passphrase";

/// A registry, sigstore keys made by skopeo-sigstore (`key`, and `other`
/// for wrong-key policies), a GPG key, a file:// lookaside, and a
/// registries.d that turns attachments on for the registry.
struct World {
    reg: Registry,
    tmp: tempfile::TempDir,
    skopeo: PathBuf,
    gpg: Gpg,
    regd: PathBuf,
}

impl World {
    fn new(skopeo: PathBuf) -> Self {
        let reg = Registry::start();
        let tmp = tempfile::tempdir().unwrap();
        let pass = tmp.path().join("passphrase");
        std::fs::write(&pass, PASSPHRASE).unwrap();
        for prefix in ["key", "other"] {
            common::peer_ok(
                Command::new(&skopeo)
                    .args(["generate-sigstore-key", "--output-prefix"])
                    .arg(tmp.path().join(prefix))
                    .arg("--passphrase-file")
                    .arg(&pass),
            );
        }
        let gpg = Gpg::new("signer@example.com");
        gpg.export(&tmp.path().join("key.gpg"));
        let regd = write_regd(tmp.path(), &reg.host(), &tmp.path().join("lookaside"), true);
        World {
            reg,
            tmp,
            skopeo,
            gpg,
            regd,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn image(&self, repo: &str) -> String {
        format!("{}/{repo}", self.reg.host())
    }

    /// skopeo-sigstore copies a fresh image to `repo:v1`, signing with the
    /// sigstore key and, when `gpg`, also with the GPG key (lookaside).
    fn skopeo_push(&self, repo: &str, gpg: bool) {
        let dir = tempfile::tempdir().unwrap();
        let layer = common::layer_with_file("hello.txt", repo.as_bytes());
        common::oci_layout(
            dir.path(),
            &[OciImage::one_layer(
                layer,
                "application/vnd.oci.image.layer.v1.tar",
                "amd64",
            )],
            Some("v1"),
        );
        let mut c = Command::new(&self.skopeo);
        c.env("GNUPGHOME", self.gpg.home.path())
            .arg("--insecure-policy")
            .arg("--registries.d")
            .arg(&self.regd)
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg("--sign-by-sigstore-private-key")
            .arg(self.path("key.private"))
            .arg("--sign-passphrase-file")
            .arg(self.path("passphrase"));
        let dest = format!("docker://{}:v1", self.image(repo));
        common::peer_ok(c.arg(format!("oci:{}:v1", dir.path().display())).arg(&dest));
        if gpg {
            // skopeo takes one signing passphrase per copy, so the GPG
            // signature is a second copy onto itself (attachments are kept).
            common::peer_ok(
                Command::new(&self.skopeo)
                    .env("GNUPGHOME", self.gpg.home.path())
                    .arg("--insecure-policy")
                    .arg("--registries.d")
                    .arg(&self.regd)
                    .args([
                        "copy",
                        "-q",
                        "--src-tls-verify=false",
                        "--dest-tls-verify=false",
                    ])
                    .args(["--sign-by", &self.gpg.fingerprint])
                    .arg(&dest)
                    .arg(&dest),
            );
        }
    }

    /// policy.json: insecureAcceptAnything, but `requirements` for the registry.
    fn policy(&self, name: &str, requirements: serde_json::Value) -> PathBuf {
        let p = self.path(name);
        std::fs::write(
            &p,
            serde_json::json!({
                "default": [{"type": "insecureAcceptAnything"}],
                "transports": {"docker": {self.reg.host(): requirements}}
            })
            .to_string(),
        )
        .unwrap();
        p
    }

    fn sigstore_key(&self, key: &str) -> serde_json::Value {
        serde_json::json!({"type": "sigstoreSigned", "keyPath": self.path(key),
                           "signedIdentity": {"type": "matchRepository"}})
    }

    fn gpg_key(&self) -> serde_json::Value {
        serde_json::json!({"type": "signedBy", "keyType": "GPGKeys",
                           "keyPath": self.path("key.gpg")})
    }

    /// `skopeo-sigstore --policy P --registries.d D copy docker://IMAGE dir:…`
    /// (dir: keeps sigstore signatures; oci: cannot).
    fn skopeo_pull(&self, policy: &Path, image: &str) -> (bool, String) {
        common::skopeo_pull(&self.skopeo, policy, &self.regd, image)
    }

    /// `vouch pull` into a fresh store; a rejection must exit 1 with one
    /// line and store nothing.
    fn vouch_pull(&self, policy: &Path, image: &str) -> (bool, String) {
        let v = Vouch::new();
        let out = v.policy_pull(&self.regd, policy, image);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            common::assert_fails(1, &format!("vouch pull {image}"), &out);
            assert!(v.images().is_empty(), "rejected image stored");
        }
        (out.status.success(), err)
    }
}

/// A registries.d for `host`: a file:// lookaside and, if `attachments`,
/// `use-sigstore-attachments: true`.
fn write_regd(dir: &Path, host: &str, lookaside: &Path, attachments: bool) -> PathBuf {
    let d = dir.join(format!("registries.d-{}", host.replace(':', "-")));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::create_dir_all(lookaside).unwrap();
    let l = lookaside.display();
    std::fs::write(
        d.join("vouch-test.yaml"),
        format!(
            "docker:\n  {host}:\n    lookaside: file://{l}\n    lookaside-staging: file://{l}\n    use-sigstore-attachments: {attachments}\n"
        ),
    )
    .unwrap();
    d
}

// ---------------------------------------------------------------- peer tests

#[test]
fn skopeo_signs_vouch_accepts_and_rejects_another_key() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    w.skopeo_push("app", false);
    let image = format!("{}:v1", w.image("app"));

    let good = w.policy("good.json", serde_json::json!([w.sigstore_key("key.pub")]));
    let v = Vouch::new();
    v.policy_pull_ok(&w.regd, &good, &image);
    assert_eq!(v.images().len(), 1);

    let bad = w.policy("bad.json", serde_json::json!([w.sigstore_key("other.pub")]));
    let (ok, err) = w.vouch_pull(&bad, &image);
    assert!(!ok, "a signature by another key was accepted");
    assert!(err.contains("Source image rejected"), "{err}");
}

#[test]
fn same_policy_same_decisions_as_skopeo() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(skopeo);
    w.skopeo_push("sigstore-only", false);
    w.skopeo_push("both", true);
    let cases = [
        ("key", serde_json::json!([w.sigstore_key("key.pub")])),
        ("other", serde_json::json!([w.sigstore_key("other.pub")])),
        (
            "mixed",
            serde_json::json!([w.gpg_key(), w.sigstore_key("key.pub")]),
        ),
        (
            "mixed-other",
            serde_json::json!([w.gpg_key(), w.sigstore_key("other.pub")]),
        ),
        ("gpg", serde_json::json!([w.gpg_key()])),
    ];
    // (policy, repo, what skopeo and vouch must both decide)
    let expected = [
        ("key", "sigstore-only", true),
        ("key", "both", true),
        ("other", "sigstore-only", false),
        ("mixed", "both", true),
        ("mixed", "sigstore-only", false),
        ("mixed-other", "both", false),
        ("gpg", "both", true),
        ("gpg", "sigstore-only", false),
    ];
    let mut skopeo_wrong = Vec::new();
    let mut vouch_wrong = Vec::new();
    for (p, repo, want) in expected {
        let reqs = &cases.iter().find(|(n, _)| *n == p).unwrap().1;
        let policy = w.policy(&format!("{p}.json"), reqs.clone());
        let image = format!("{}:v1", w.image(repo));
        let (skopeo_ok, skopeo_err) = w.skopeo_pull(&policy, &image);
        if skopeo_ok != want {
            skopeo_wrong.push(format!("{p} {repo}: {skopeo_err}"));
        }
        let (vouch_ok, vouch_err) = w.vouch_pull(&policy, &image);
        if vouch_ok != want {
            vouch_wrong.push(format!("{p} {repo}: {vouch_err}"));
        }
    }
    assert!(
        skopeo_wrong.is_empty(),
        "skopeo-sigstore decided otherwise: {skopeo_wrong:#?}"
    );
    assert!(
        vouch_wrong.is_empty(),
        "vouch decided otherwise: {vouch_wrong:#?}"
    );
}

// ---------------------------------------------------------------- bad input

/// A registry with one unsigned image, and the pieces to judge a pull of it
/// with signatures required and attachments on, directly or through a
/// fault proxy.
struct Bad {
    reg: Registry,
    tmp: tempfile::TempDir,
    digest: String,
}

impl Bad {
    fn new() -> Self {
        let reg = Registry::start();
        let digest = push_image(&reg, "app", "v1", b"unsigned");
        Bad {
            reg,
            tmp: tempfile::tempdir().unwrap(),
            digest,
        }
    }

    /// A GPG signedBy policy for `host` (signatures needed, so attachments
    /// are read, as containers/image reads every signature source).
    fn signed_by(&self, host: &str) -> PathBuf {
        let gpg = Gpg::new("nobody@example.com");
        let key = self.tmp.path().join("key.gpg");
        gpg.export(&key);
        let p = self
            .tmp
            .path()
            .join(format!("policy-{}.json", host.replace(':', "-")));
        common::signed_by_policy(&p, host, &key);
        p
    }

    fn regd(&self, host: &str) -> PathBuf {
        write_regd(
            self.tmp.path(),
            host,
            &self.tmp.path().join("lookaside"),
            true,
        )
    }

    /// Pulls `host/app:v1` under `policy`; asserts exit `code`, one line,
    /// nothing stored; returns stderr.
    fn pull_fails(&self, host: &str, policy: &Path, code: i32) -> String {
        let v = Vouch::new();
        let out = v.policy_pull(&self.regd(host), policy, &format!("{host}/app:v1"));
        let err = common::assert_fails(code, "vouch pull", &out);
        assert!(v.images().is_empty(), "nothing may be stored: {err}");
        v.assert_store_consistent();
        err
    }

    /// Pushes a `.sig` manifest of `media_type` for the image whose layers
    /// are `count` copies of one simple-signing layer over a real blob,
    /// each declaring `size` bytes.
    fn crafted_sig(&self, media_type: &str, count: usize, size: Option<u64>) {
        let payload = b"a signature payload";
        let blob = push_blob(&self.reg, "app", payload);
        let size = size.unwrap_or(payload.len() as u64);
        let layers = vec![sig_layer(&blob, size); count];
        push_sig_manifest(&self.reg, "app", &self.digest, media_type, layers);
    }

    /// A failure naming the attachment tag.
    fn attachment_error(&self, host: &str) -> String {
        let err = self.pull_fails(host, &self.signed_by(host), 2);
        assert!(err.contains(&sig_tag(&self.digest)), "names the tag: {err}");
        err
    }
}

#[test]
fn registry_500_for_the_sig_tag_is_an_error() {
    let b = Bad::new();
    let proxy = FaultProxy::start(&b.reg, "sig-500");
    let err = b.attachment_error(&proxy.host());
    assert!(err.contains("reading sigstore attachments"), "{err}");
}

#[test]
fn garbage_sig_manifest_is_an_error() {
    let b = Bad::new();
    let proxy = FaultProxy::start(&b.reg, "sig-garbage");
    let err = b.attachment_error(&proxy.host());
    assert!(err.contains("reading sigstore attachments"), "{err}");
}

#[test]
fn sig_manifest_of_another_media_type_is_an_error() {
    let b = Bad::new();
    b.crafted_sig(
        "application/vnd.docker.distribution.manifest.v2+json",
        1,
        None,
    );
    let err = b.attachment_error(&b.reg.host());
    assert!(
        err.contains("unexpected MIME type for sigstore attachment manifest")
            && err.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{err}"
    );
}

#[test]
fn huge_attachment_layer_is_refused_before_reading() {
    let b = Bad::new();
    // The registry does not check declared sizes; vouch must, before the GET.
    b.crafted_sig(OCI_MANIFEST, 1, Some(64 << 20));
    let err = b.attachment_error(&b.reg.host());
    assert!(
        err.contains(&format!("declares {} bytes", 64u64 << 20)),
        "{err}"
    );
}

#[test]
fn too_many_attachment_layers_are_refused() {
    let b = Bad::new();
    b.crafted_sig(OCI_MANIFEST, 129, None);
    let err = b.attachment_error(&b.reg.host());
    assert!(err.contains("has 129 layers, over the limit"), "{err}");
}

#[test]
fn attachment_layer_digest_mismatch_is_an_error() {
    let b = Bad::new();
    b.crafted_sig(OCI_MANIFEST, 1, None);
    // Before the verdict the only blobs fetched are attachment layers, so
    // the proxy corrupts exactly those.
    let proxy = FaultProxy::start(&b.reg, "corrupt-blob");
    let err = b.attachment_error(&proxy.host());
    assert!(err.contains("integrity"), "{err}");
}

#[test]
fn missing_sig_tag_is_no_signature() {
    let b = Bad::new();
    let proxy = FaultProxy::start(&b.reg, "pass");
    let err = b.pull_fails(&proxy.host(), &b.signed_by(&proxy.host()), 1);
    assert!(
        err.contains("A signature was required, but no signature exists"),
        "{err}"
    );
    assert!(
        proxy.sig_requests() >= 1,
        "the .sig tag was never asked for"
    );
}

#[test]
fn bare_404_for_the_sig_tag_is_no_signature() {
    // The distribution spec requires only the status; containers/image
    // takes any 404 as "no attachments".
    let b = Bad::new();
    let proxy = FaultProxy::start(&b.reg, "sig-404-bare");
    let err = b.pull_fails(&proxy.host(), &b.signed_by(&proxy.host()), 1);
    assert!(
        err.contains("A signature was required, but no signature exists"),
        "{err}"
    );
    assert!(proxy.sig_requests() >= 1);
}

#[test]
fn missing_sig_tag_under_sigstore_signed_is_no_signature() {
    let b = Bad::new();
    let key = b.tmp.path().join("cosign.pub");
    std::fs::write(&key, common::trust_fixture("signature/fixtures/cosign.pub")).unwrap();
    let host = b.reg.host();
    let policy = b.tmp.path().join("sigstore.json");
    std::fs::write(
        &policy,
        serde_json::json!({
            "default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {&host: [{"type": "sigstoreSigned", "keyPath": key,
                "signedIdentity": {"type": "matchRepository"}}]}}
        })
        .to_string(),
    )
    .unwrap();
    let err = b.pull_fails(&host, &policy, 1);
    assert!(
        err.contains("A signature was required, but no signature exists"),
        "{err}"
    );
}

#[test]
fn pull_without_signatures_needed_never_asks_for_the_sig_tag() {
    let b = Bad::new();
    let proxy = FaultProxy::start(&b.reg, "pass");
    let host = proxy.host();
    let policy = b.tmp.path().join("accept.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let v = Vouch::new();
    v.policy_pull_ok(&b.regd(&host), &policy, &format!("{host}/app:v1"));
    assert_eq!(v.images().len(), 1);
    assert_eq!(proxy.sig_requests(), 0, "an unneeded .sig request was made");
}

#[test]
fn attachments_off_are_not_read() {
    // Without use-sigstore-attachments the registry's .sig tag is not a
    // signature source, even when the policy needs signatures.
    let b = Bad::new();
    let proxy = FaultProxy::start(&b.reg, "sig-500");
    let host = proxy.host();
    let regd = write_regd(
        &b.tmp.path().join("off"),
        &host,
        &b.tmp.path().join("lookaside"),
        false,
    );
    let v = Vouch::new();
    let out = v.policy_pull(&regd, &b.signed_by(&host), &format!("{host}/app:v1"));
    let err = common::assert_fails(1, "vouch pull", &out);
    assert!(
        err.contains("A signature was required, but no signature exists"),
        "{err}"
    );
    assert_eq!(proxy.sig_requests(), 0);
}
