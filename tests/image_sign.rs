//! `vouch image sign` (podman's) end to end, issue 14 item 3: an image a
//! build system already pushed is signed where it is, by digest, with no
//! layer moved and no manifest rewritten. Peers: skopeo 1.9.3 (simple
//! signing), skopeo 1.22 (sigstore), and podman 4.3's own `image sign
//! --directory` for the directory layout.

mod common;

use common::{assert_ok, raw_manifest, sha256};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Gpg, Registry, Vouch};

/// A registry holding `app:1`, pushed unsigned by vouch; a GPG key (its
/// secret in a file, as CI holds it); a registries.d whose staging is the
/// lookaside, and a signedBy policy for the registry.
struct World {
    reg: Registry,
    v: Vouch,
    tmp: tempfile::TempDir,
    gpg: Gpg,
    secret: PathBuf,
    staging: PathBuf,
    regd: PathBuf,
    policy: PathBuf,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let reg = Registry::start();
        let gpg = Gpg::new("signer@example.com");
        let secret = tmp.path().join("secret.asc");
        gpg.export_secret(&secret);
        let public = tmp.path().join("public.gpg");
        gpg.export(&public);
        let staging = tmp.path().join("lookaside");
        let regd = common::registries_d(
            tmp.path(),
            &reg.host(),
            &format!("file://{}", staging.display()),
            &staging,
        );
        let policy = tmp.path().join("policy.json");
        common::signed_by_policy(&policy, &reg.host(), &public);
        let v = Vouch::new();
        v.import_httpd("localhost/app");
        let w = World {
            reg,
            v,
            tmp,
            gpg,
            secret,
            staging,
            regd,
            policy,
        };
        w.v.ok(&[
            "push",
            "-q",
            "--tls-verify=false",
            "localhost/app",
            &w.image("app:1"),
        ]);
        w
    }

    fn image(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.reg.host())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `vouch --registries.d REGD image sign --tls-verify=false ARGS…`.
    fn sign(&self, args: &[&str]) -> Output {
        self.v
            .cmd()
            .env("GNUPGHOME", self.gpg.home.path())
            .arg("--registries.d")
            .arg(&self.regd)
            .args(["image", "sign", "--tls-verify=false"])
            .args(args)
            .output()
            .unwrap()
    }

    fn sign_ok(&self, args: &[&str]) -> String {
        let out = self.sign(args);
        assert_ok(&out, &format!("vouch image sign {args:?}"));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `image sign --sign-by-key SECRET ARGS…`.
    fn sign_by_key(&self, args: &[&str]) -> String {
        let mut all = vec!["--sign-by-key", self.secret.to_str().unwrap()];
        all.extend_from_slice(args);
        self.sign_ok(&all)
    }

    /// skopeo 1.9.3 copies `image` under the signedBy policy.
    fn skopeo_accepts(&self, image: &str) -> (bool, String) {
        common::skopeo_pull(Path::new("skopeo"), &self.policy, &self.regd, image)
    }

    /// A fresh vouch store pulls `image` under the signedBy policy: its exit code.
    fn vouch_pull(&self, image: &str) -> Output {
        Vouch::new().policy_pull(&self.regd, &self.policy, image)
    }

    fn sig_dir(&self, base: &Path, repo: &str, digest: &str) -> PathBuf {
        base.join(format!("{repo}@{}", digest.replace(':', "=")))
    }
}

/// Every file under the registry's storage, with its content hash: any
/// blob, manifest or tag link written shows up as a difference.
fn registry_files(reg: &Registry) -> Vec<(String, String)> {
    fn walk(root: &Path, p: &Path, out: &mut Vec<(String, String)>) {
        let Ok(rd) = std::fs::read_dir(p) else {
            return;
        };
        for e in rd {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.push((rel, sha256(&std::fs::read(e.path()).unwrap())));
            }
        }
    }
    let root = reg.dir.path().join("data");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

/// Relative paths of every file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, p: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                out.push(e.path().strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn gpg_signature_in_place_changes_nothing_and_satisfies_skopeo_and_pull() {
    let w = World::new();
    let image = w.image("app:1");
    let manifest = raw_manifest(&image);
    let registry_before = registry_files(&w.reg);

    // Unsigned: both peers refuse.
    let (ok, err) = w.skopeo_accepts(&image);
    assert!(!ok, "skopeo accepted an unsigned image");
    assert!(err.contains("signature"), "{err}");
    common::assert_fails(1, "vouch pull of the unsigned image", &w.vouch_pull(&image));

    let progress = w.sign_by_key(&[&format!("docker://{image}")]);
    assert!(progress.contains(&sha256(&manifest)), "{progress}");

    // Nothing in the registry changed: same manifest bytes, same files.
    assert_eq!(raw_manifest(&image), manifest);
    assert_eq!(registry_files(&w.reg), registry_before);
    // The signature is in the staging, for the manifest digest.
    let dir = w.sig_dir(&w.staging, "app", &sha256(&manifest));
    assert_eq!(files_under(&dir), ["signature-1"]);

    let (ok, err) = w.skopeo_accepts(&image);
    assert!(ok, "skopeo refused the image signed in place:\n{err}");
    assert_ok(&w.vouch_pull(&image), "vouch pull");

    // The identity is the reference as given: signed for `app:1`, the
    // image pulled as `app:2` (same digest) is refused by both.
    w.v.ok(&[
        "push",
        "-q",
        "--tls-verify=false",
        "localhost/app",
        &w.image("app:2"),
    ]);
    assert!(
        !w.skopeo_accepts(&w.image("app:2")).0,
        "identity not checked"
    );
    common::assert_fails(1, "vouch pull of app:2", &w.vouch_pull(&w.image("app:2")));
}

#[test]
fn a_digest_reference_is_signed_with_the_digest_as_identity() {
    let w = World::new();
    let digest = sha256(&raw_manifest(&w.image("app:1")));
    let by_digest = w.image(&format!("app@{digest}"));
    let progress = w.sign_by_key(&["-q", &format!("docker://{by_digest}")]);
    assert_eq!(progress, "", "-q printed progress");
    let sig = w.sig_dir(&w.staging, "app", &digest).join("signature-1");
    let dump = w.v.ok(&[
        "untrusted-signature-dump-without-verification",
        sig.to_str().unwrap(),
    ]);
    let j: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(j["UntrustedDockerReference"], by_digest.as_str());
    assert_eq!(j["UntrustedDockerManifestDigest"], digest.as_str());
    // matchRepoDigestOrExact: a by-digest pull accepts it.
    assert!(w.skopeo_accepts(&by_digest).0);
}

#[test]
fn directory_layout_is_podmans_and_never_overwrites() {
    let w = World::new();
    let image = w.image("app:1");
    let digest = sha256(&raw_manifest(&image));
    let ours = w.path("ours");
    let theirs = w.path("theirs");
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();

    w.sign_ok(&[
        "--sign-by",
        &w.gpg.email,
        "--directory",
        ours.to_str().unwrap(),
        &format!("docker://{image}"),
    ]);
    // podman 4.3 itself, through the same gpg-agent (its registries.conf
    // marks the test registry insecure: `image sign` has no --tls-verify).
    let conf = w.path("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
            w.reg.host()
        ),
    )
    .unwrap();
    common::peer_ok(
        common::podman(&w.path("podman"))
            .env("GNUPGHOME", w.gpg.home.path())
            .env("CONTAINERS_REGISTRIES_CONF", &conf)
            .args(["image", "sign", "--sign-by", &w.gpg.email, "-d"])
            .arg(&theirs)
            .arg(format!("docker://{image}")),
    );
    let want = format!("app@{}/signature-1", digest.replace(':', "="));
    assert_eq!(
        files_under(&theirs),
        std::slice::from_ref(&want),
        "podman's layout"
    );
    assert_eq!(files_under(&ours), files_under(&theirs));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(ours.join(&want)), mode(theirs.join(&want)));
    // Nothing went to the registries.d staging.
    assert!(!w.staging.exists(), "the staging was written");

    // A second signature is signature-2; signature-1 is left as it was.
    let first = std::fs::read(ours.join(&want)).unwrap();
    w.sign_by_key(&[
        "-q",
        "-d",
        ours.to_str().unwrap(),
        &format!("docker://{image}"),
    ]);
    assert_eq!(
        files_under(&ours),
        [want.clone(), want.replace("signature-1", "signature-2")]
    );
    assert_eq!(std::fs::read(ours.join(&want)).unwrap(), first);

    // The directory is a lookaside as it stands: served as one, both
    // peers accept the image (and podman's signature reads as well).
    for dir in [&ours, &theirs] {
        let regd = common::registries_d(
            &w.path(&format!(
                "regd-{}",
                dir.file_name().unwrap().to_str().unwrap()
            )),
            &w.reg.host(),
            &format!("file://{}", dir.display()),
            dir,
        );
        let (ok, err) = common::skopeo_pull(Path::new("skopeo"), &w.policy, &regd, &image);
        assert!(
            ok,
            "skopeo refused the signatures in {}:\n{err}",
            dir.display()
        );
        assert_ok(
            &Vouch::new().policy_pull(&regd, &w.policy, &image),
            &format!("vouch pull with the signatures in {}", dir.display()),
        );
    }
}

#[test]
fn several_images_are_signed_in_one_run() {
    let w = World::new();
    w.v.ok(&[
        "push",
        "-q",
        "--tls-verify=false",
        "localhost/app",
        &w.image("copy:7"),
    ]);
    let digest = sha256(&raw_manifest(&w.image("app:1")));
    w.sign_by_key(&[
        "-q",
        &format!("docker://{}", w.image("app:1")),
        &format!("docker://{}", w.image("copy:7")),
    ]);
    for repo in ["app", "copy"] {
        let dir = w.sig_dir(&w.staging, repo, &digest);
        assert_eq!(files_under(&dir), ["signature-1"], "{repo}");
    }
    assert!(w.skopeo_accepts(&w.image("copy:7")).0);
}

#[test]
fn directory_must_exist_and_hold_simple_signatures() {
    let w = World::new();
    let image = format!("docker://{}", w.image("app:1"));
    let missing = w.path("missing");
    let out = w.sign(&[
        "--sign-by-key",
        w.secret.to_str().unwrap(),
        "-d",
        missing.to_str().unwrap(),
        &image,
    ]);
    let err = common::assert_fails(2, "image sign -d MISSING", &out);
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    assert!(!missing.exists());
    // Sigstore signatures go to the registry: --directory alone would
    // silently receive nothing.
    let dir = w.path("dir");
    std::fs::create_dir_all(&dir).unwrap();
    let out = w.sign(&[
        "--sign-by-sigstore-private-key",
        w.path("cosign.private").to_str().unwrap(),
        "-d",
        dir.to_str().unwrap(),
        &image,
    ]);
    let err = common::assert_fails(2, "image sign -d with a sigstore key only", &out);
    assert!(err.contains("holds simple signatures"), "{err}");
}

fn push_list(w: &World) -> (String, Vec<String>) {
    common::push_oci_list(&w.v, &w.reg, "multi")
}

#[test]
fn all_signs_every_instance_and_the_list() {
    let w = World::new();
    let (list, instances) = push_list(&w);
    let image = w.image("multi:1");
    let signed = |digest: &str| {
        w.sig_dir(&w.staging, "multi", digest)
            .join("signature-1")
            .is_file()
    };

    // Without --all, podman signs what the reference names: the list.
    w.sign_by_key(&["-q", &format!("docker://{image}")]);
    assert!(signed(&list));
    assert!(instances.iter().all(|d| !signed(d)));
    // containers/image checks the instance it copies: still refused.
    let (ok, err) = w.skopeo_accepts(&image);
    assert!(!ok, "skopeo accepted an unsigned instance");
    assert!(err.contains("signature"), "{err}");

    std::fs::remove_dir_all(&w.staging).unwrap();
    let registry_before = registry_files(&w.reg);
    let progress = w.sign_by_key(&["--all", &format!("docker://{image}")]);
    assert!(signed(&list), "the list is not signed");
    for d in &instances {
        assert!(signed(d), "instance {d} is not signed");
    }
    // The list is signed last, once every instance is.
    let order: Vec<usize> = [&instances[0], &instances[1], &list]
        .iter()
        .map(|d| progress.find(d.as_str()).unwrap())
        .collect();
    assert!(order.windows(2).all(|p| p[0] < p[1]), "{progress}");
    assert_eq!(registry_files(&w.reg), registry_before);

    // skopeo: the tag (this platform's instance), each instance by digest,
    // and the whole list (`--all` checks the list and every instance).
    let (ok, err) = w.skopeo_accepts(&image);
    assert!(ok, "skopeo refused the list's instance:\n{err}");
    for d in &instances {
        let (ok, err) = w.skopeo_accepts(&w.image(&format!("multi@{d}")));
        assert!(ok, "skopeo refused instance {d}:\n{err}");
    }
    let copy_all = |n: usize| {
        let out = Command::new("skopeo")
            .arg("--policy")
            .arg(&w.policy)
            .arg("--registries.d")
            .arg(&w.regd)
            .args(["copy", "-q", "--all", "--src-tls-verify=false"])
            .arg(format!("docker://{image}"))
            .arg(format!(
                "dir:{}",
                w.path(&format!("all-copy-{n}")).display()
            ))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = copy_all(1);
    assert!(ok, "skopeo copy --all refused:\n{err}");
    assert_ok(&w.vouch_pull(&image), "vouch pull of the signed list");
}

#[test]
fn all_on_a_single_image_is_refused() {
    let w = World::new();
    let image = w.image("app:1");
    let out = w.sign(&[
        "--sign-by-key",
        w.secret.to_str().unwrap(),
        "--all",
        &format!("docker://{image}"),
    ]);
    let err = common::assert_fails(2, "image sign --all of one image", &out);
    assert!(
        err.contains(&format!("{image} is not a multi-architecture image (manifest type application/vnd.oci.image.manifest.v1+json)")),
        "{err}"
    );
    assert!(!w.staging.exists(), "a signature was stored");
}

#[test]
fn bad_references_fail_in_one_line() {
    let w = World::new();
    let key = w.secret.to_str().unwrap();
    let unknown = w.image("nosuch:1");
    let cases: Vec<(String, &str)> = vec![
        (format!("docker://{unknown}"), "manifest unknown"),
        ("oci:/tmp/layout:x".into(), "the oci transport is not one"),
        ("dir:/tmp/x".into(), "the dir transport is not one"),
        ("127.0.0.1:5000/app:1".into(), "Invalid image name"),
        (
            format!("docker://{}@sha256:{}", w.image("app:1"), "0".repeat(64)),
            "both a tag and digest",
        ),
    ];
    for (arg, needle) in &cases {
        let out = w.sign(&["--sign-by-key", key, arg]);
        let err = common::assert_fails(2, &format!("image sign {arg}"), &out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{arg}: expected {needle:?} in {err}");
    }
    // Every name is checked before anything is signed.
    let out = w.sign(&[
        "--sign-by-key",
        key,
        &format!("docker://{}", w.image("app:1")),
        "oci:/tmp/layout",
    ]);
    common::assert_fails(2, "image sign GOOD BAD", &out);
    assert!(!w.staging.exists(), "the good image was signed");
    // And an identity is required, as in podman.
    let out = w.sign(&[&format!("docker://{}", w.image("app:1"))]);
    let err = common::assert_fails(2, "image sign without a key", &out);
    assert!(err.contains("please provide an identity"), "{err}");
}

// --- sigstore -------------------------------------------------------------

const PASSPHRASE: &str = "image sign sigstore passphrase";

/// A sigstore key pair made by skopeo-sigstore, a registries.d with
/// attachments on or off for the registry, and a sigstoreSigned policy.
struct Sigstore {
    private: PathBuf,
    pass: PathBuf,
    regd: PathBuf,
    policy: PathBuf,
}

impl Sigstore {
    fn new(w: &World, skopeo: &Path, attachments: bool) -> Self {
        Self::for_host(w, skopeo, attachments, &w.reg.host())
    }

    /// [`Sigstore::new`] for the registry reached at `host` (a proxy's).
    fn for_host(w: &World, skopeo: &Path, attachments: bool, host: &str) -> Self {
        let pass = w.path("pass");
        std::fs::write(&pass, format!("{PASSPHRASE}\n")).unwrap();
        common::peer_ok(
            Command::new(skopeo)
                .arg("generate-sigstore-key")
                .arg("--output-prefix")
                .arg(w.path("cosign"))
                .arg("--passphrase-file")
                .arg(&pass),
        );
        let regd = w.path("regd-sigstore");
        std::fs::create_dir_all(&regd).unwrap();
        std::fs::write(
            regd.join("test.yaml"),
            format!("docker:\n  {host}:\n    use-sigstore-attachments: {attachments}\n"),
        )
        .unwrap();
        let policy = w.path("sigstore-policy.json");
        std::fs::write(
            &policy,
            serde_json::json!({
                "default": [{"type": "insecureAcceptAnything"}],
                "transports": {"docker": {host: [{"type": "sigstoreSigned",
                    "keyPath": w.path("cosign.pub"),
                    "signedIdentity": {"type": "matchRepoDigestOrExact"}}]}}
            })
            .to_string(),
        )
        .unwrap();
        Sigstore {
            private: w.path("cosign.private"),
            pass,
            regd,
            policy,
        }
    }

    /// `vouch image sign --sign-by-sigstore-private-key … EXTRA… docker://IMAGE`.
    fn sign(&self, w: &World, extra: &[&str], image: &str) -> Output {
        w.v.cmd()
            .arg("--registries.d")
            .arg(&self.regd)
            .args(["image", "sign", "-q", "--tls-verify=false"])
            .arg("--sign-by-sigstore-private-key")
            .arg(&self.private)
            .arg("--sign-passphrase-file")
            .arg(&self.pass)
            .args(extra)
            .arg(format!("docker://{image}"))
            .output()
            .unwrap()
    }

    /// A fresh vouch store pulls `image` under the sigstoreSigned policy.
    fn vouch_pull(&self, image: &str) -> Output {
        Vouch::new().policy_pull(&self.regd, &self.policy, image)
    }
}

/// The HTTP status of the `.sig` attachment of `manifest` in `repo`.
fn attachment_status(w: &World, repo: &str, manifest: &[u8]) -> u16 {
    let att = format!("{}.sig", sha256(manifest).replace(':', "-"));
    common::http_get_with(
        w.reg.port,
        &format!("/v2/{repo}/manifests/{att}"),
        Some("application/vnd.oci.image.manifest.v1+json"),
    )
    .0
}

#[test]
fn sigstore_signature_in_place_satisfies_skopeo_1_22_and_pull() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new();
    let sig = Sigstore::new(&w, &skopeo, true);
    let image = w.image("app:1");
    let manifest = raw_manifest(&image);

    let (ok, _) = common::skopeo_pull(&skopeo, &sig.policy, &sig.regd, &image);
    assert!(!ok, "skopeo-sigstore accepted an unsigned image");
    common::assert_fails(1, "vouch pull unsigned", &sig.vouch_pull(&image));

    assert_ok(&sig.sign(&w, &[], &image), "image sign");
    assert_eq!(raw_manifest(&image), manifest, "the manifest changed");
    // The attachment is beside the image, under the manifest digest.
    assert_eq!(attachment_status(&w, "app", &manifest), 200);

    let (ok, err) = common::skopeo_pull(&skopeo, &sig.policy, &sig.regd, &image);
    assert!(
        ok,
        "skopeo-sigstore refused the image signed in place:\n{err}"
    );
    assert_ok(&sig.vouch_pull(&image), "vouch pull");
}

#[test]
fn sigstore_bundle_layout_in_place_satisfies_pull() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new();
    let sig = Sigstore::new(&w, &skopeo, true);
    let image = w.image("app:1");
    let manifest = raw_manifest(&image);
    assert_ok(
        &sig.sign(&w, &["--sigstore-layout", "bundle"], &image),
        "image sign --sigstore-layout bundle",
    );
    assert_eq!(raw_manifest(&image), manifest, "the manifest changed");
    // Only the bundle referrer: no `.sig` attachment.
    assert_eq!(attachment_status(&w, "app", &manifest), 404);
    assert_ok(
        &sig.vouch_pull(&image),
        "vouch pull of the bundle-signed image",
    );
}

#[test]
fn sigstore_without_attachments_is_refused_as_push_refuses() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new();
    let sig = Sigstore::new(&w, &skopeo, false);
    let image = w.image("app:1");
    let before = registry_files(&w.reg);
    let out = sig.sign(&w, &[], &image);
    let err = common::assert_fails(2, "image sign without attachments", &out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{image}: writing sigstore attachments is disabled by configuration: set use-sigstore-attachments: true")),
        "{err}"
    );
    assert_eq!(registry_files(&w.reg), before, "the registry was written");
}

#[test]
fn sigstore_all_attaches_to_every_instance_and_the_list() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new();
    let (list, instances) = push_list(&w);
    let sig = Sigstore::new(&w, &skopeo, true);
    let image = w.image("multi:1");
    let list_bytes = raw_manifest(&image);
    assert_eq!(sha256(&list_bytes), list);
    assert_ok(&sig.sign(&w, &["--all"], &image), "image sign --all");
    assert_eq!(raw_manifest(&image), list_bytes, "the list changed");
    assert_eq!(attachment_status(&w, "multi", &list_bytes), 200, "list");
    for d in &instances {
        let m = raw_manifest(&w.image(&format!("multi@{d}")));
        assert_eq!(attachment_status(&w, "multi", &m), 200, "instance {d}");
        let (ok, err) = common::skopeo_pull(
            &skopeo,
            &sig.policy,
            &sig.regd,
            &w.image(&format!("multi@{d}")),
        );
        assert!(ok, "skopeo-sigstore refused instance {d}:\n{err}");
    }
    let (ok, err) = common::skopeo_pull(&skopeo, &sig.policy, &sig.regd, &image);
    assert!(ok, "skopeo-sigstore refused the list's instance:\n{err}");
    assert_ok(&sig.vouch_pull(&image), "vouch pull of the list");
}

#[test]
fn a_list_whose_instance_cannot_be_signed_is_left_unsigned_and_named() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new();
    let (list, instances) = push_list(&w);
    // Attachment tags answer 500 through the proxy: the first instance's
    // signature cannot be attached.
    let proxy = common::FaultProxy::start(&w.reg, "sig-500");
    let sig = Sigstore::for_host(&w, &skopeo, true, &proxy.host());
    let image = format!("{}/multi:1", proxy.host());
    let out = sig.sign(&w, &["--all"], &image);
    let err = common::assert_fails(2, "image sign --all through sig-500", &out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "signing {image} manifest {} (manifests already signed: none)",
            instances[0]
        )),
        "{err}"
    );
    // The list, signed last, is not signed; nor is any instance.
    assert_eq!(
        attachment_status(&w, "multi", &raw_manifest(&w.image("multi:1"))),
        404
    );
    assert_eq!(sha256(&raw_manifest(&w.image("multi:1"))), list);
    for d in &instances {
        let m = raw_manifest(&w.image(&format!("multi@{d}")));
        assert_eq!(attachment_status(&w, "multi", &m), 404, "instance {d}");
    }
}
