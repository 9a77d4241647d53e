//! `vouch push --sigstore-layout` and registries.d's `sigstore-layout`
//! (issue 13 part 3) against a real docker-registry: the layout is chosen
//! before a blob moves, a bad configured value is refused naming its file,
//! and the attachment layout a registries.d asks for is what is written.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Registry, Vouch};

struct World {
    reg: Registry,
    v: Vouch,
    tmp: tempfile::TempDir,
    key: PathBuf,
}

impl World {
    fn new() -> Self {
        let w = World {
            reg: Registry::start(),
            v: Vouch::new(),
            tmp: tempfile::tempdir().unwrap(),
            key: PathBuf::new(),
        };
        std::fs::write(w.pass(), "layout passphrase\n").unwrap();
        w.v.import_httpd("localhost/app");
        let prefix = w.tmp.path().join("k");
        w.v.ok(&[
            "generate-sigstore-key",
            "--output-prefix",
            prefix.to_str().unwrap(),
            "--passphrase-file",
            w.pass().to_str().unwrap(),
        ]);
        World {
            key: w.tmp.path().join("k.private"),
            ..w
        }
    }

    fn pass(&self) -> PathBuf {
        self.tmp.path().join("pass")
    }

    /// A registries.d with attachments on for the registry, plus `extra`.
    fn regd(&self, extra: &str) -> PathBuf {
        let d = self.tmp.path().join("regd");
        std::fs::create_dir_all(&d).unwrap();
        let yaml = format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n{extra}",
            self.reg.host()
        );
        std::fs::write(d.join("layout.yaml"), yaml).unwrap();
        d
    }

    fn push(&self, regd: &Path, extra: &[&str]) -> Output {
        self.v
            .cmd()
            .arg("--registries.d")
            .arg(regd)
            .args([
                "push",
                "--tls-verify=false",
                "--sign-by-sigstore-private-key",
            ])
            .arg(&self.key)
            .arg("--sign-passphrase-file")
            .arg(self.pass())
            .args(extra)
            .arg("localhost/app")
            .arg(format!("{}/app:1", self.reg.host()))
            .output()
            .unwrap()
    }

    /// A successful push with `--sigstore-layout layout`; the manifest digest.
    fn push_layout(&self, regd: &Path, layout: &str) -> String {
        let digestfile = self.tmp.path().join("digest");
        let out = self.push(
            regd,
            &[
                "--sigstore-layout",
                layout,
                "--digestfile",
                digestfile.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&digestfile).unwrap()
    }

    /// The registry's tags for `app` (empty when the repository is unknown).
    fn tags(&self) -> Vec<String> {
        let resp = common::http_get(self.reg.port, "/v2/app/tags/list");
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|j| j["tags"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect()
    }

    fn assert_nothing_pushed(&self, out: &Output, needle: &str) {
        let err = common::assert_fails(2, "vouch push", out);
        assert_eq!(err.lines().count(), 1, "not one line: {err}");
        assert!(err.contains(needle), "expected {needle:?} in {err}");
        assert!(
            self.tags().is_empty(),
            "a tag was pushed: {:?}",
            self.tags()
        );
    }
}

#[test]
fn configured_attachment_layout_writes_the_sig_tag() {
    let w = World::new();
    let regd = w.regd("    sigstore-layout: attachment\n");
    let out = w.push(&regd, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tags = w.tags();
    assert!(tags.contains(&"1".to_string()), "{tags:?}");
    assert!(
        tags.iter()
            .any(|t| t.starts_with("sha256-") && t.ends_with(".sig")),
        "{tags:?}"
    );
}

#[test]
fn a_bad_configured_layout_is_refused_naming_the_file() {
    let w = World::new();
    let regd = w.regd("    sigstore-layout: referrers\n");
    let out = w.push(&regd, &[]);
    w.assert_nothing_pushed(
        &out,
        &format!(
            "{}: sigstore-layout \"referrers\" is not attachment, bundle or both",
            regd.join("layout.yaml").display()
        ),
    );
}

/// The bundle JSON of every referrer in the `sha256-<hex>` tag index of
/// `digest`, read over plain HTTP (docker-registry 2.8 has no Referrers
/// API, so the tag schema is where cosign 3 and vouch put them).
fn referrer_bundles(w: &World, digest: &str) -> Vec<Vec<u8>> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let (status, index) = common::http_get_with(
        w.reg.port,
        &format!("/v2/app/manifests/sha256-{hex}"),
        Some("application/vnd.oci.image.index.v1+json"),
    );
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200);
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    let mut out = Vec::new();
    for d in index["manifests"].as_array().unwrap() {
        assert_eq!(
            d["artifactType"], "application/vnd.dev.sigstore.bundle.v0.3+json",
            "{d}"
        );
        let (_, m) = common::http_get_with(
            w.reg.port,
            &format!("/v2/app/manifests/{}", d["digest"].as_str().unwrap()),
            Some("application/vnd.oci.image.manifest.v1+json"),
        );
        let m: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(m["subject"]["digest"], digest, "{m}");
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        let (status, blob) =
            common::http_get_with(w.reg.port, &format!("/v2/app/blobs/{layer}"), None);
        assert_eq!(status, 200);
        out.push(blob);
    }
    out
}

/// A policy trusting only `key` (a PEM public key) for the test registry.
fn sigstore_policy(w: &World, name: &str, key: &Path) -> PathBuf {
    let p = w.tmp.path().join(name);
    let policy = serde_json::json!({
        "default": [{"type": "reject"}],
        "transports": {"docker": {w.reg.host(): [{
            "type": "sigstoreSigned", "keyPath": key,
            "signedIdentity": {"type": "matchRepoDigestOrExact"}}]}}
    });
    std::fs::write(&p, policy.to_string()).unwrap();
    p
}

fn other_public_key(w: &World) -> PathBuf {
    let prefix = w.tmp.path().join("other");
    w.v.ok(&[
        "generate-sigstore-key",
        "--output-prefix",
        prefix.to_str().unwrap(),
        "--passphrase-file",
        w.pass().to_str().unwrap(),
    ]);
    w.tmp.path().join("other.pub")
}

/// cosign 3's layout end to end: vouch pushes a bundle referrer, sigstore-js
/// (an independent Sigstore implementation) verifies what the registry
/// holds, and `vouch pull` accepts it under `sigstoreSigned` by tag and by
/// digest, and refuses it under another key with nothing stored.
#[test]
fn bundle_layout_is_verified_by_sigstore_js_and_gates_vouch_pull() {
    let harness = require_sigstore_js!();
    let w = World::new();
    let regd = w.regd("");
    let digest = w.push_layout(&regd, "bundle");
    let tags = w.tags();
    assert!(tags.contains(&"1".to_string()), "{tags:?}");
    assert!(
        !tags.iter().any(|t| t.ends_with(".sig")),
        "bundle layout wrote a .sig attachment: {tags:?}"
    );
    let bundles = referrer_bundles(&w, &digest);
    assert_eq!(bundles.len(), 1);

    // The independent verifier: with the key, and with another key.
    let public = w.tmp.path().join("k.pub");
    let other = other_public_key(&w);
    let bundle_file = w.tmp.path().join("bundle.json");
    std::fs::write(&bundle_file, &bundles[0]).unwrap();
    let js = |key: &Path| {
        Command::new("node")
            .arg(&harness)
            .arg(&bundle_file)
            .arg(key)
            .arg(&digest)
            .output()
            .unwrap()
    };
    let ok = js(&public);
    assert!(
        ok.status.success(),
        "sigstore-js refused vouch's bundle: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(js(&other).status.code(), Some(1));

    // vouch pull, from a fresh store.
    let puller = Vouch::new();
    let trusted = sigstore_policy(&w, "trusted.json", &public);
    let image = format!("{}/app:1", w.reg.host());
    puller.policy_pull_ok(&regd, &trusted, &image);
    puller.policy_pull_ok(&regd, &trusted, &format!("{}/app@{digest}", w.reg.host()));

    let fresh = Vouch::new();
    let wrong = sigstore_policy(&w, "wrong.json", &other);
    let out = fresh.policy_pull(&regd, &wrong, &image);
    let err = common::assert_fails(1, "vouch pull", &out);
    assert!(
        err.contains("bundle sha256:") && err.contains("no trusted public key accepted the bundle"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(fresh.images().is_empty(), "a refused pull stored an image");
}

/// `both`: the `.sig` attachment podman and skopeo read and the bundle
/// cosign 3 reads, for one push; skopeo 1.22 accepts the attachment.
#[test]
fn both_layouts_serve_skopeo_and_the_bundle_reader() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new();
    let regd = w.regd("");
    let digest = w.push_layout(&regd, "both");
    assert!(w.tags().iter().any(|t| t.ends_with(".sig")));
    assert_eq!(referrer_bundles(&w, &digest).len(), 1);
    let public = w.tmp.path().join("k.pub");
    let trusted = sigstore_policy(&w, "trusted.json", &public);
    let (ok, err) =
        common::skopeo_pull(&skopeo, &trusted, &regd, &format!("{}/app:1", w.reg.host()));
    assert!(ok, "skopeo 1.22 refused the attachment: {err}");

    // The flag beats registries.d.
    let w = World::new();
    let regd = w.regd("    sigstore-layout: bundle\n");
    let out = w.push(&regd, &["--sigstore-layout", "attachment"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(w.tags().iter().any(|t| t.ends_with(".sig")));
}

#[test]
fn the_layout_flag_needs_a_sigstore_key() {
    let w = World::new();
    let regd = w.regd("");
    let out =
        w.v.cmd()
            .arg("--registries.d")
            .arg(&regd)
            .args(["push", "--tls-verify=false", "--sigstore-layout", "bundle"])
            .arg("localhost/app")
            .arg(format!("{}/app:1", w.reg.host()))
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--sign-by-sigstore-private-key"),
        "clap names the missing flag: {err}"
    );
    assert!(w.tags().is_empty());
}
