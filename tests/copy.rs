//! `vouch copy` between real docker-registry instances, checked by skopeo
//! (issue 14 item 1): a staging registry and a production one, one GPG key,
//! and a policy that requires it on both, with production accepting
//! signatures made for staging names (remapIdentity), as a promotion or a
//! mirror needs. What vouch promotes skopeo must accept; what skopeo
//! mirrored vouch must accept; a refused source leaves production empty.

mod common;

use common::{assert_ok, raw_manifest, sha256};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Gpg, Registry, Vouch};

struct World {
    stage: Registry,
    prod: Registry,
    v: Vouch,
    tmp: tempfile::TempDir,
    gpg: Gpg,
    secret: PathBuf,
    public: PathBuf,
    staging: PathBuf,
    regd: PathBuf,
    policy: PathBuf,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let (stage, prod) = (Registry::start(), Registry::start());
        let gpg = Gpg::new("release@example.com");
        let secret = tmp.path().join("secret.asc");
        gpg.export_secret(&secret);
        let public = tmp.path().join("public.gpg");
        gpg.export(&public);
        let staging = tmp.path().join("lookaside");
        let regd = tmp.path().join("registries.d");
        std::fs::create_dir_all(&regd).unwrap();
        let mut yaml = String::from("docker:\n");
        for host in [stage.host(), prod.host()] {
            yaml.push_str(&format!(
                "  {host}:\n    lookaside: file://{0}\n    lookaside-staging: file://{0}\n",
                staging.display()
            ));
        }
        std::fs::write(regd.join("test.yaml"), yaml).unwrap();
        let policy = tmp.path().join("policy.json");
        let v = Vouch::new();
        v.import_httpd("localhost/app");
        let w = World {
            stage,
            prod,
            v,
            tmp,
            gpg,
            secret,
            public,
            staging,
            regd,
            policy,
        };
        w.write_policy(&w.policy, true);
        w
    }

    /// Both registries need the key; production takes signatures made for
    /// the same path on staging. `stage_signed: false` lets staging images
    /// in unsigned (a copy that signs the destination).
    fn write_policy(&self, path: &Path, stage_signed: bool) {
        let signed =
            serde_json::json!({"type": "signedBy", "keyType": "GPGKeys", "keyPath": self.public});
        let stage = if stage_signed {
            serde_json::json!([signed])
        } else {
            serde_json::json!([{"type": "insecureAcceptAnything"}])
        };
        let mut prod = signed.clone();
        prod["signedIdentity"] = serde_json::json!({
            "type": "remapIdentity",
            "prefix": self.prod.host(),
            "signedPrefix": self.stage.host(),
        });
        std::fs::write(
            path,
            serde_json::json!({
                "default": [{"type": "reject"}],
                "transports": {
                    "docker": {self.stage.host(): stage, self.prod.host(): [prod]},
                    "dir": {"": [{"type": "insecureAcceptAnything"}]},
                    "vouch-store": {"": [{"type": "insecureAcceptAnything"}]}
                }
            })
            .to_string(),
        )
        .unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn at(reg: &Registry, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", reg.host())
    }

    /// `vouch push` of the local image to staging, signed unless `signed` is false.
    fn push_stage(&self, repo_tag: &str, signed: bool) -> String {
        let dest = Self::at(&self.stage, repo_tag);
        let mut c = self.v.cmd();
        c.arg("--registries.d").arg(&self.regd);
        c.args(["push", "-q", "--tls-verify=false"]);
        if signed {
            c.arg("--sign-by-key").arg(&self.secret);
        }
        let out = c.args(["localhost/app", &dest]).output().unwrap();
        assert_ok(&out, "vouch push");
        dest
    }

    /// `vouch --policy P --registries.d D copy --src/dest-tls-verify=false ARGS…`.
    fn copy(&self, policy: &Path, args: &[&str]) -> Output {
        self.copy_in(&self.regd, policy, args)
    }

    /// [`World::copy`] under another registries.d.
    fn copy_in(&self, regd: &Path, policy: &Path, args: &[&str]) -> Output {
        self.v
            .cmd()
            .arg("--policy")
            .arg(policy)
            .arg("--registries.d")
            .arg(regd)
            .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
            .args(args)
            .output()
            .unwrap()
    }

    fn copy_ok(&self, args: &[&str]) -> String {
        let out = self.copy(&self.policy, args);
        assert_ok(&out, &format!("vouch copy {args:?}"));
        String::from_utf8(out.stdout).unwrap()
    }

    /// skopeo 1.9.3 copies `image` out under the policy.
    fn skopeo_accepts(&self, image: &str) -> (bool, String) {
        common::skopeo_pull(Path::new("skopeo"), &self.policy, &self.regd, image)
    }

    fn vouch_pull(&self, image: &str) -> Output {
        Vouch::new().policy_pull(&self.regd, &self.policy, image)
    }

    fn signatures_of(&self, repo: &str, digest: &str) -> usize {
        let dir = self
            .staging
            .join(format!("{repo}@{}", digest.replace(':', "=")));
        (1..)
            .take_while(|i| dir.join(format!("signature-{i}")).exists())
            .count()
    }
}

/// Whether the registry stores any blob at all.
fn has_blobs(reg: &Registry) -> bool {
    let blobs = reg.dir.path().join("data/docker/registry/v2/blobs");
    walk(&blobs) > 0
}

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

#[test]
fn promotion_carries_signatures_and_skopeo_accepts_the_destination() {
    let w = World::new();
    let src = w.push_stage("app:1", true);
    let dst = World::at(&w.prod, "app:1");
    let out = w.copy_ok(&[&format!("docker://{src}"), &format!("docker://{dst}")]);
    // skopeo's lines on a pipe.
    assert!(
        out.starts_with("Getting image source signatures\n"),
        "{out}"
    );
    assert!(out.contains("Copying blob sha256:"), "{out}");
    assert!(out.contains("Copying config sha256:"), "{out}");
    assert!(
        out.contains("Writing manifest to image destination\n"),
        "{out}"
    );
    assert!(out.contains("Storing signatures\n"), "{out}");

    // Digest unchanged; the signature went to production's staging.
    let manifest = raw_manifest(&src);
    assert_eq!(raw_manifest(&dst), manifest);
    let digest = sha256(&manifest);
    assert_eq!(w.signatures_of("app", &digest), 1);
    let (ok, err) = w.skopeo_accepts(&dst);
    assert!(ok, "skopeo refused the promoted image: {err}");
    assert_ok(&w.vouch_pull(&dst), "vouch pull of the promoted image");

    // Copying again adds nothing (a resumed run ends the same).
    let again = w.copy_ok(&[&format!("docker://{src}"), &format!("docker://{dst}")]);
    assert!(again.contains("skipped: already exists"), "{again}");
    assert_eq!(w.signatures_of("app", &digest), 1);
}

#[test]
fn remove_signatures_drops_them_and_skopeo_then_refuses() {
    let w = World::new();
    // A separate staging for production, so the source's signature is not
    // found there by accident.
    let src = w.push_stage("app:1", true);
    let prod_staging = w.path("prod-lookaside");
    let regd = w.path("regd-split");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("t.yaml"),
        format!(
            "docker:\n  {sh}:\n    lookaside: file://{ss}\n    lookaside-staging: file://{ss}\n  {ph}:\n    lookaside: file://{ps}\n    lookaside-staging: file://{ps}\n",
            sh = w.stage.host(),
            ss = w.staging.display(),
            ph = w.prod.host(),
            ps = prod_staging.display()
        ),
    )
    .unwrap();
    let dst = World::at(&w.prod, "bare:1");
    let out = w.copy_in(
        &regd,
        &w.policy,
        &[
            "-q",
            "--remove-signatures",
            &format!("docker://{src}"),
            &format!("docker://{dst}"),
        ],
    );
    assert_ok(&out, "vouch copy --remove-signatures");
    assert!(out.stdout.is_empty(), "-q printed {:?}", out.stdout);
    assert_eq!(walk(&prod_staging), 0, "a signature was written");
    let (ok, _) = common::skopeo_pull(Path::new("skopeo"), &w.policy, &regd, &dst);
    assert!(
        !ok,
        "skopeo accepted an image whose signatures were removed"
    );
}

#[test]
fn an_unsigned_source_is_refused_and_production_stays_empty() {
    let w = World::new();
    let src = w.push_stage("raw:1", false);
    let dst = World::at(&w.prod, "raw:1");
    let out = w.copy(
        &w.policy,
        &[&format!("docker://{src}"), &format!("docker://{dst}")],
    );
    let err = common::assert_fails(1, "vouch copy of an unsigned image", &out);
    assert!(err.contains("Source image rejected"), "{err}");
    assert!(!has_blobs(&w.prod), "production received blobs");
    assert_eq!(walk(&w.staging), 0);
}

#[test]
fn copy_signs_the_destination_for_its_identity() {
    let w = World::new();
    let src = w.push_stage("raw:1", false);
    let policy = w.path("policy-unsigned-stage.json");
    w.write_policy(&policy, false);
    // Production takes signatures for staging's names; sign for that name.
    let identity = World::at(&w.stage, "signed:1");
    let dst = World::at(&w.prod, "signed:1");
    let out = w.copy(
        &policy,
        &[
            "--sign-by-key",
            w.secret.to_str().unwrap(),
            "--sign-identity",
            &identity,
            &format!("docker://{src}"),
            &format!("docker://{dst}"),
        ],
    );
    assert_ok(&out, "vouch copy --sign-by-key");
    let (ok, err) = common::skopeo_pull(Path::new("skopeo"), &policy, &w.regd, &dst);
    assert!(ok, "skopeo refused the image vouch signed: {err}");
    // Signed for another name: refused where that name does not match.
    let other = World::at(&w.prod, "other:1");
    let out = w.copy(
        &policy,
        &[
            "--sign-by-key",
            w.secret.to_str().unwrap(),
            "--sign-identity",
            &identity,
            &format!("docker://{src}"),
            &format!("docker://{other}"),
        ],
    );
    assert_ok(&out, "vouch copy to another name");
    let (ok, _) = common::skopeo_pull(Path::new("skopeo"), &policy, &w.regd, &other);
    assert!(!ok, "skopeo accepted a signature made for another name");
}

#[test]
fn images_skopeo_mirrored_are_accepted_by_vouch() {
    let w = World::new();
    let raw = w.push_stage("raw:1", false);
    let sk = World::at(&w.stage, "sk:1");
    // skopeo 1.9.3 signs with gpg-agent while it mirrors.
    let out = Command::new("skopeo")
        .env("GNUPGHOME", w.gpg.home.path())
        .arg("--insecure-policy")
        .arg("--registries.d")
        .arg(&w.regd)
        .args([
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--sign-by",
            &w.gpg.email,
        ])
        .arg(format!("docker://{raw}"))
        .arg(format!("docker://{sk}"))
        .output()
        .unwrap();
    assert_ok(&out, "skopeo copy --sign-by");
    let dst = World::at(&w.prod, "sk:1");
    w.copy_ok(&["-q", &format!("docker://{sk}"), &format!("docker://{dst}")]);
    assert_ok(&w.vouch_pull(&dst), "vouch pull of the skopeo-signed image");
    let (ok, err) = w.skopeo_accepts(&dst);
    assert!(ok, "{err}");
}

#[test]
fn a_pull_keeps_its_signatures_and_push_and_copy_carry_them() {
    let w = World::new();
    let src = w.push_stage("app:1", true);
    let keeper = Vouch::new();
    let out = keeper.policy_pull(&w.regd, &w.policy, &src);
    assert_ok(&out, "vouch pull");
    let digest = sha256(&raw_manifest(&src));

    // push from the store carries the kept signature to production.
    let pushed = World::at(&w.prod, "app:1");
    let out = keeper
        .cmd()
        .arg("--registries.d")
        .arg(&w.regd)
        .args(["push", "-q", "--tls-verify=false", &src, &pushed])
        .output()
        .unwrap();
    assert_ok(&out, "vouch push of the pulled image");
    let (ok, err) = w.skopeo_accepts(&pushed);
    assert!(ok, "kept signature did not travel with push: {err}");

    // copy out of the store does too, and --remove-signatures does not.
    let split = w.path("regd-prod-only");
    std::fs::create_dir_all(&split).unwrap();
    let prod_staging = w.path("prod-only");
    std::fs::write(
        split.join("t.yaml"),
        format!(
            "docker:\n  {}:\n    lookaside: file://{1}\n    lookaside-staging: file://{1}\n",
            w.prod.host(),
            prod_staging.display()
        ),
    )
    .unwrap();
    for (repo, extra, want) in [
        ("fromstore", None, 1),
        ("stripped", Some("--remove-signatures"), 0),
    ] {
        let copied = World::at(&w.prod, &format!("{repo}:1"));
        let out = keeper
            .cmd()
            .arg("--policy")
            .arg(&w.policy)
            .arg("--registries.d")
            .arg(&split)
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .args(extra)
            .arg(format!("vouch-store:{src}"))
            .arg(format!("docker://{copied}"))
            .output()
            .unwrap();
        assert_ok(&out, "vouch copy vouch-store: → docker://");
        let dir = prod_staging.join(format!("{repo}@{}", digest.replace(':', "=")));
        assert_eq!(walk(&dir), want, "{extra:?}");
    }
}

#[test]
fn registry_to_store_and_back_keeps_the_digest() {
    let w = World::new();
    let src = w.push_stage("app:1", true);
    let other = Vouch::new();
    let policy = w.policy.to_str().unwrap().to_string();
    let out = other
        .cmd()
        .args(["--policy", &policy, "--registries.d"])
        .arg(&w.regd)
        .args(["copy", "-q", "--src-tls-verify=false"])
        .arg(format!("docker://{src}"))
        .arg("vouch-store:localhost/copied:1")
        .output()
        .unwrap();
    assert_ok(&out, "vouch copy docker:// → vouch-store:");
    let images = other.images();
    assert!(
        images
            .iter()
            .any(|i| i.to_string().contains("localhost/copied:1")),
        "{images:?}"
    );
    other.assert_store_consistent();
    let back = World::at(&w.prod, "back:1");
    let out = other
        .cmd()
        .args(["--policy", &policy, "--registries.d"])
        .arg(&w.regd)
        .args(["copy", "-q", "--dest-tls-verify=false"])
        .arg("vouch-store:localhost/copied:1")
        .arg(format!("docker://{back}"))
        .output()
        .unwrap();
    assert_ok(&out, "vouch copy vouch-store: → docker://");
    assert_eq!(raw_manifest(&back), raw_manifest(&src));
}

fn push_list(w: &World) -> (String, Vec<String>) {
    common::push_oci_list(&w.v, &w.stage, "multi")
}

fn image_sign(w: &World, args: &[&str]) {
    let out =
        w.v.cmd()
            .arg("--registries.d")
            .arg(&w.regd)
            .args(["image", "sign", "-q", "--tls-verify=false", "--sign-by-key"])
            .arg(&w.secret)
            .args(args)
            .output()
            .unwrap();
    assert_ok(&out, "vouch image sign");
}

#[test]
fn multi_arch_copy_needs_every_instance_signed_and_carries_them() {
    let w = World::new();
    let (list, instances) = push_list(&w);
    let src = World::at(&w.stage, "multi:1");

    // Only the list signed: the instance a copy takes is not, so refused,
    // as containers/image judges the instance it copies.
    image_sign(&w, &[&format!("docker://{src}")]);
    let one = World::at(&w.prod, "one:1");
    let out = w.copy(
        &w.policy,
        &[&format!("docker://{src}"), &format!("docker://{one}")],
    );
    common::assert_fails(1, "copy of an unsigned instance", &out);

    // Every instance signed: --all copies list and instances, digests kept.
    image_sign(&w, &["--all", &format!("docker://{src}")]);
    let all = World::at(&w.prod, "multi:1");
    let out = w.copy_ok(&[
        "--all",
        &format!("docker://{src}"),
        &format!("docker://{all}"),
    ]);
    assert!(out.contains("Copying image sha256:"), "{out}");
    assert_eq!(sha256(&raw_manifest(&all)), list);
    for d in &instances {
        assert!(w.signatures_of("multi", d) >= 1, "instance {d} unsigned");
        let by_digest = format!("{}/multi@{d}", w.prod.host());
        let (ok, err) = w.skopeo_accepts(&by_digest);
        assert!(ok, "skopeo refused instance {d}: {err}");
    }
    // skopeo copies the whole list under the policy.
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new("skopeo")
        .arg("--policy")
        .arg(&w.policy)
        .arg("--registries.d")
        .arg(&w.regd)
        .args(["copy", "-q", "--all", "--src-tls-verify=false"])
        .arg(format!("docker://{all}"))
        .arg(format!("dir:{}", out_dir.path().join("d").display()))
        .output()
        .unwrap();
    assert_ok(&out, "skopeo copy --all of vouch's copy");

    // Without --all: this platform's instance alone, under the tag.
    w.copy_ok(&["-q", &format!("docker://{src}"), &format!("docker://{one}")]);
    assert_eq!(sha256(&raw_manifest(&one)), instances[0]);
}

#[test]
fn a_corrupt_blob_is_refused_and_no_tag_is_written() {
    let w = World::new();
    let src = w.push_stage("app:1", true);
    let proxy = common::FaultProxy::start(&w.stage, "corrupt-blob");
    let via = src.replace(&w.stage.host(), &proxy.host());
    // The policy's staging scope must match the proxy's host too.
    let policy = w.path("insecure.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let dst = World::at(&w.prod, "app:1");
    let out = w.copy(
        &policy,
        &[
            "--remove-signatures",
            &format!("docker://{via}"),
            &format!("docker://{dst}"),
        ],
    );
    let err = common::assert_fails(2, "copy through a corrupting proxy", &out);
    assert!(err.contains("integrity") || err.contains("digest"), "{err}");
    let tags = common::http_get(w.prod.port, "/v2/app/tags/list");
    assert!(!tags.contains("\"1\""), "a tag was written: {tags}");
}

#[test]
fn bad_names_fail_in_one_line() {
    let w = World::new();
    for (args, needle) in [
        (
            vec!["busybox", "docker://x/y:1"],
            "Invalid source name busybox: Invalid image name \"busybox\", expected colon-separated transport:reference",
        ),
        (
            vec!["ftp:x", "docker://x/y:1"],
            "Invalid source name ftp:x: Invalid image name \"ftp:x\", unknown transport \"ftp\"",
        ),
        (
            vec!["docker://x/y:1", "nope:z"],
            "Invalid destination name nope:z",
        ),
    ] {
        let out = w.copy(&w.policy, &args);
        let err = common::assert_fails(2, &format!("copy {args:?}"), &out);
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn multi_arch_push_all_signs_every_instance_and_the_list() {
    let w = World::new();
    w.v.ok(&[
        "import",
        "--change",
        "CMD [\"/bin/true\"]",
        common::httpd_rootfs().to_str().unwrap(),
        "localhost/other",
    ]);
    w.v.ok(&["manifest", "create", "localhost/multi", "localhost/app"]);
    w.v.ok(&[
        "manifest",
        "add",
        "--arch",
        "arm64",
        "localhost/multi",
        "localhost/other",
    ]);
    let index: serde_json::Value =
        serde_json::from_str(&w.v.ok(&["manifest", "inspect", "localhost/multi"])).unwrap();
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs.len(), 2, "{index}");
    assert!(archs.contains(&"arm64"), "{index}");

    let dest = World::at(&w.stage, "multi:1");
    let push = |extra: &[&str]| {
        w.v.cmd()
            .arg("--registries.d")
            .arg(&w.regd)
            .args(["push", "-q", "--tls-verify=false", "--sign-by-key"])
            .arg(&w.secret)
            .args(extra)
            .args(["localhost/multi", &dest])
            .output()
            .unwrap()
    };
    let err = common::assert_fails(2, "push of a list without --all", &push(&[]));
    assert!(err.contains("--all"), "{err}");
    assert_ok(&push(&["--all"]), "vouch push --all");

    let list = raw_manifest(&dest);
    let parsed: serde_json::Value = serde_json::from_slice(&list).unwrap();
    assert_eq!(parsed, index, "the registry holds another list");
    assert_eq!(w.signatures_of("multi", &sha256(&list)), 1);
    for m in parsed["manifests"].as_array().unwrap() {
        let d = m["digest"].as_str().unwrap();
        assert_eq!(w.signatures_of("multi", d), 1, "instance {d} unsigned");
        let (ok, err) = w.skopeo_accepts(&format!("{}/multi@{d}", w.stage.host()));
        assert!(ok, "skopeo refused instance {d}: {err}");
    }
    let (ok, err) = w.skopeo_accepts(&dest);
    assert!(ok, "skopeo refused the pushed list: {err}");
    assert_ok(&w.vouch_pull(&dest), "vouch pull of the pushed list");
}

#[test]
fn an_air_gapped_mirror_through_dir_keeps_the_signature() {
    let w = World::new();
    let src = w.push_stage("app:1", true);
    let disk = w.path("usb/app-1");
    std::fs::create_dir_all(disk.parent().unwrap()).unwrap();
    w.copy_ok(&[
        "-q",
        &format!("docker://{src}"),
        &format!("dir:{}", disk.display()),
    ]);
    assert!(disk.join("signature-1").exists(), "dir: lost the signature");
    // skopeo reads vouch's dir: (and the signature in it) as its own.
    let out = Command::new("skopeo")
        .args(["--insecure-policy", "copy", "-q", "--dest-tls-verify=false"])
        .arg(format!("dir:{}", disk.display()))
        .arg(format!("docker://{}", World::at(&w.prod, "skopeo-side:1")))
        .arg("--remove-signatures")
        .output()
        .unwrap();
    assert_ok(&out, "skopeo copy from vouch's dir:");
    let dst = World::at(&w.prod, "app:1");
    w.copy_ok(&[
        "-q",
        &format!("dir:{}", disk.display()),
        &format!("docker://{dst}"),
    ]);
    assert_eq!(raw_manifest(&dst), raw_manifest(&src));
    let (ok, err) = w.skopeo_accepts(&dst);
    assert!(ok, "the mirrored image lost its signature: {err}");
}

#[test]
fn a_staging_that_refuses_the_signature_leaves_no_tag() {
    let w = World::new();
    let src = w.push_stage("app:1", true);
    // Production's staging sits under a regular file: storing fails.
    let blocker = w.path("blocker");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let regd = w.path("regd-blocked");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("t.yaml"),
        format!(
            "docker:\n  {sh}:\n    lookaside: file://{ss}\n  {ph}:\n    lookaside-staging: file://{b}/sub\n",
            sh = w.stage.host(),
            ss = w.staging.display(),
            ph = w.prod.host(),
            b = blocker.display()
        ),
    )
    .unwrap();
    let dst = World::at(&w.prod, "app:1");
    let out = w.copy_in(
        &regd,
        &w.policy,
        &["-q", &format!("docker://{src}"), &format!("docker://{dst}")],
    );
    let err = common::assert_fails(2, "copy to a refusing staging", &out);
    assert!(
        err.contains("blocker"),
        "the message does not name the staging: {err}"
    );
    let tags = common::http_get(w.prod.port, "/v2/app/tags/list");
    assert!(!tags.contains("\"1\""), "a tag was written: {tags}");
}

#[test]
fn sigstore_attachments_travel_and_skopeo_1_22_accepts_the_destination() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new();
    let pass = w.path("pass");
    std::fs::write(&pass, "copy sigstore pass\n").unwrap();
    let prefix = w.path("cosign");
    w.v.ok(&[
        "generate-sigstore-key",
        "--output-prefix",
        prefix.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    let regd = w.path("regd-sigstore");
    std::fs::create_dir_all(&regd).unwrap();
    let mut yaml = String::from("docker:\n");
    for host in [w.stage.host(), w.prod.host()] {
        yaml.push_str(&format!("  {host}:\n    use-sigstore-attachments: true\n"));
    }
    std::fs::write(regd.join("t.yaml"), yaml).unwrap();
    let rule = |remap: bool| {
        let mut r = serde_json::json!({"type": "sigstoreSigned", "keyPath": w.path("cosign.pub")});
        if remap {
            r["signedIdentity"] = serde_json::json!({"type": "remapIdentity",
                "prefix": w.prod.host(), "signedPrefix": w.stage.host()});
        }
        serde_json::json!([r])
    };
    let policy = w.path("sigstore-policy.json");
    std::fs::write(
        &policy,
        serde_json::json!({"default": [{"type": "reject"}], "transports": {"docker": {
            w.stage.host(): rule(false), w.prod.host(): rule(true)}}})
        .to_string(),
    )
    .unwrap();
    let src = World::at(&w.stage, "app:1");
    let out =
        w.v.cmd()
            .arg("--registries.d")
            .arg(&regd)
            .args([
                "push",
                "-q",
                "--tls-verify=false",
                "--sign-by-sigstore-private-key",
            ])
            .arg(w.path("cosign.private"))
            .arg("--sign-passphrase-file")
            .arg(&pass)
            .args(["localhost/app", &src])
            .output()
            .unwrap();
    assert_ok(&out, "vouch push --sign-by-sigstore-private-key");
    let dst = World::at(&w.prod, "app:1");
    let out = w.copy_in(
        &regd,
        &policy,
        &["-q", &format!("docker://{src}"), &format!("docker://{dst}")],
    );
    assert_ok(&out, "vouch copy of a sigstore-signed image");
    let (ok, err) = common::skopeo_pull(&skopeo, &policy, &regd, &dst);
    assert!(ok, "skopeo 1.22 refused the copied attachment: {err}");
    // Without the attachment, refused: the check is real.
    let bare = World::at(&w.prod, "bare:1");
    let out = w.copy_in(
        &regd,
        &policy,
        &[
            "-q",
            "--remove-signatures",
            &format!("docker://{src}"),
            &format!("docker://{bare}"),
        ],
    );
    assert_ok(&out, "vouch copy --remove-signatures");
    let (ok, _) = common::skopeo_pull(&skopeo, &policy, &regd, &bare);
    assert!(!ok, "skopeo accepted an image without its attachment");
}
