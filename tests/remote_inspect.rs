//! skopeo's registry housekeeping behind vouch, against a real
//! docker-registry and checked byte for byte against skopeo 1.9.3:
//! `inspect docker://…` (`--raw`, `--config`, the summary, manifest lists
//! and `--override-*`), `list-tags` (with `Link` pages from a stub, since
//! docker-registry 2.8 never paginates) and `delete` with its staged
//! signatures.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::{peer_ok, skopeo_digest, OciImage, Registry, Vouch};

const SKOPEO: &str = "/usr/bin/skopeo";

/// A config with every field skopeo prints, and the traps of Go's JSON:
/// HTML characters, a fractional time in a non-UTC offset, keys in the
/// wrong case, unknown fields, ports and volumes sets.
fn rich_config(img: &OciImage, diff_ids: &[String]) -> serde_json::Value {
    let mut c = serde_json::json!({
        "created": "2024-02-03T04:05:06.120000+05:30",
        "author": "Ann <ann@example.com>",
        "architecture": img.arch,
        "os": "linux",
        "os.version": "6.1",
        "docker_version": "24.0.7",
        "container_config": {"Hostname": "builder"},
        "config": {
            "User": "1000:1000",
            "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
            "env": ["PATH=/bin", "X=<a & b>"],
            "Entrypoint": ["/bin/httpd"],
            "Cmd": ["-f"],
            "Volumes": {"/data": {}},
            "WorkingDir": "/www",
            "Labels": {"z.last": "1", "a.first": "<script>", "m": "&amp;"},
            "StopSignal": "SIGTERM",
            "Healthcheck": {"Test": ["NONE"]}
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2024-02-03T04:05:06Z", "created_by": "ADD file", "comment": "c"},
            {"created_by": "ENV X", "empty_layer": true}
        ]
    });
    if img.arch == "arm" {
        c["variant"] = "v7".into();
        c["created"] = serde_json::Value::Null;
    }
    c
}

fn image(arch: &str) -> OciImage {
    OciImage::one_layer(
        common::layer_with_file("arch", arch.as_bytes()),
        "application/vnd.oci.image.layer.v1.tar",
        arch,
    )
}

fn skopeo_copy(extra: &[&str], src: &str, dst: &str) {
    let mut c = Command::new(SKOPEO);
    c.args(["copy", "-q", "--dest-tls-verify=false"])
        .args(extra);
    peer_ok(c.arg(src).arg(dst));
}

/// Pushes the rich image as OCI (`rich/oci:1`, also tagged `2` and `a<b`-free
/// `latest`), as Docker schema2 (`rich/docker:1`) and a three-platform OCI
/// index (`rich/list:1`) and the same as a Docker manifest list (`rich/dlist:1`).
fn push_rich(reg: &Registry, dir: &Path) {
    for tag in ["1", "2", "latest"] {
        push_one(reg, dir, "amd64", &format!("rich/oci:{tag}"), &[]);
    }
    push_one(reg, dir, "amd64", "rich/docker:1", &["--format", "v2s2"]);
    let multi = dir.join("multi");
    common::oci_layout_with(
        &multi,
        &[image("amd64"), image("arm64"), image("arm")],
        Some("m"),
        rich_config,
    );
    skopeo_copy(
        &["--all"],
        &format!("oci:{}:m", multi.display()),
        &format!("docker://{}/rich/list:1", reg.host()),
    );
    skopeo_copy(
        &["--all", "--format", "v2s2"],
        &format!("oci:{}:m", multi.display()),
        &format!("docker://{}/rich/dlist:1", reg.host()),
    );
}

/// Pushes the rich image for `arch` alone to `repo_tag` on `reg` with skopeo.
fn push_one(reg: &Registry, dir: &Path, arch: &str, repo_tag: &str, extra: &[&str]) {
    let layout = dir.join(format!("one-{arch}"));
    common::oci_layout_with(&layout, &[image(arch)], Some("t"), rich_config);
    skopeo_copy(
        extra,
        &format!("oci:{}:t", layout.display()),
        &format!("docker://{}/{repo_tag}", reg.host()),
    );
}

fn skopeo(global: &[&str], args: &[&str]) -> Output {
    Command::new(SKOPEO)
        .args(global)
        .args(args)
        .output()
        .unwrap()
}

/// The instance the global `--override-*` flags pick is the one skopeo picks.
fn compare_overrides(v: &Vouch, list: &str) {
    for overrides in [
        &["--override-arch", "arm64"][..],
        &["--override-arch", "arm", "--override-variant", "v7"],
        &["--override-arch", "arm"],
    ] {
        for flags in [&["--config", "--raw"][..], &[], &["--config"]] {
            let mut args = vec!["inspect", "--tls-verify=false"];
            args.extend_from_slice(flags);
            args.push(list);
            let theirs = skopeo(overrides, &args);
            assert!(
                theirs.status.success(),
                "skopeo {overrides:?} {args:?}: {theirs:?}"
            );
            // Global flags, as in skopeo (accepted after the subcommand too).
            let mut vargs = overrides.to_vec();
            vargs.extend_from_slice(&args);
            assert_eq!(
                v.ok(&vargs),
                String::from_utf8(theirs.stdout).unwrap(),
                "vouch {vargs:?}"
            );
        }
    }
}

#[test]
fn inspect_is_byte_identical_to_skopeo() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    push_rich(&reg, tmp.path());
    let v = Vouch::new();
    let flag_sets: &[&[&str]] = &[
        &["--raw"],
        &["--config", "--raw"],
        &["--config"],
        &[],
        &["-n"],
    ];
    for repo in ["rich/oci:1", "rich/docker:1", "rich/list:1", "rich/dlist:1"] {
        let r = format!("docker://{}/{repo}", reg.host());
        for flags in flag_sets {
            let mut args = vec!["inspect", "--tls-verify=false"];
            args.extend_from_slice(flags);
            args.push(&r);
            let theirs = skopeo(&[], &args);
            assert!(theirs.status.success(), "skopeo {args:?}: {theirs:?}");
            let ours = v.ok(&args);
            assert_eq!(
                ours,
                String::from_utf8(theirs.stdout).unwrap(),
                "vouch {args:?}"
            );
        }
    }
    // Manifest lists: skopeo's --override-* are global flags, vouch's are inspect's.
    for list in ["rich/list:1", "rich/dlist:1"] {
        let list = format!("docker://{}/{list}", reg.host());
        compare_overrides(&v, &list);
    }
    let list = format!("docker://{}/rich/list:1", reg.host());
    // The comparisons above covered what matters: Go's escaping, the time
    // kept in its offset, sorted maps, an absent `created`.
    let oci = format!("docker://{}/rich/oci:1", reg.host());
    let out = v.ok(&["inspect", "--tls-verify=false", &oci]);
    for want in [
        "\"Created\": \"2024-02-03T04:05:06.12+05:30\"",
        "\"a.first\": \"\\u003cscript\\u003e\"",
    ] {
        assert!(out.contains(want), "{want} in {out}");
    }
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut tags: Vec<&str> = j["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["1", "2", "latest"]);
    let out = v.ok(&["inspect", "--tls-verify=false", "--config", &oci]);
    assert!(
        out.contains("\"ExposedPorts\": {\n            \"443/tcp\": {},"),
        "{out}"
    );
    let out = v.ok(&[
        "inspect",
        "--tls-verify=false",
        "--override-arch",
        "arm",
        &list,
    ]);
    assert!(out.contains("\"Created\": null,"), "{out}");
    let out = v.ok(&[
        "inspect",
        "--tls-verify=false",
        "--override-arch",
        "arm64",
        &list,
    ]);
    assert!(out.contains("\"Architecture\": \"arm64\""), "{out}");
    let err = v.fails(
        2,
        &[
            "inspect",
            "--tls-verify=false",
            "--override-arch",
            "s390x",
            &list,
        ],
    );
    assert!(
        err.contains("no image found in manifest list for architecture s390x"),
        "{err}"
    );
}

#[test]
fn inspect_errors_are_one_line_and_container_inspect_stays() {
    let reg = Registry::start();
    let v = Vouch::new();
    let missing = format!("docker://{}/nothing/here:1", reg.host());
    let err = v.fails(2, &["inspect", "--tls-verify=false", &missing]);
    assert!(err.contains("nothing/here:1"), "{err}");
    assert!(err.contains("manifest unknown"), "{err}");
    let err = v.fails(2, &["inspect", "--raw", "localhost/not-remote"]);
    assert!(err.contains("need a docker:// reference"), "{err}");
    // Without docker://, inspect still means a container or a local image.
    let err = v.fails(2, &["inspect", "no-such-container-or-image"]);
    assert!(err.contains("no-such-container-or-image"), "{err}");
}

/// PUTs one manifest under many tags in one curl run.
fn tag_many(reg: &Registry, repo: &str, tags: &[String]) {
    let raw = Command::new(SKOPEO)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/{repo}:1", reg.host()))
        .output()
        .unwrap();
    assert!(raw.status.success());
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("manifest.json");
    std::fs::write(&m, &raw.stdout).unwrap();
    let mut c = Command::new("curl");
    c.args(["-sSf", "-X", "PUT", "-H"])
        .arg("Content-Type: application/vnd.oci.image.manifest.v1+json")
        .arg("--data-binary")
        .arg(format!("@{}", m.display()));
    for t in tags {
        c.arg(format!("http://{}/v2/{repo}/manifests/{t}", reg.host()));
    }
    let out = c.stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "curl PUT failed");
}

#[test]
fn list_tags_is_byte_identical_to_skopeo() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    push_one(&reg, tmp.path(), "amd64", "many/tags:1", &[]);
    let tags: Vec<String> = (0..130).map(|i| format!("v{i}.{}", i % 7)).collect();
    tag_many(&reg, "many/tags", &tags);
    let v = Vouch::new();
    let repo = format!("docker://{}/many/tags", reg.host());
    let args = ["list-tags", "--tls-verify=false", &repo];
    let theirs = skopeo(&[], &args);
    assert!(theirs.status.success(), "{theirs:?}");
    let ours = v.ok(&args);
    assert_eq!(ours, String::from_utf8(theirs.stdout).unwrap());
    let j: serde_json::Value = serde_json::from_str(&ours).unwrap();
    assert_eq!(j["Tags"].as_array().unwrap().len(), 131);

    // The default inspect lists the same tags.
    let inspect = v.ok(&["inspect", "--tls-verify=false", &format!("{repo}:v3.3")]);
    let j: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(j["RepoTags"].as_array().unwrap().len(), 131);

    let unknown = format!("docker://{}/no/such/repo", reg.host());
    assert!(!skopeo(&[], &["list-tags", "--tls-verify=false", &unknown])
        .status
        .success());
    let err = v.fails(2, &["list-tags", "--tls-verify=false", &unknown]);
    assert!(err.contains("/v2/no/such/repo/tags/list"), "{err}");
    assert!(
        err.contains("repository name not known to registry"),
        "{err}"
    );
    let err = v.fails(
        2,
        &["list-tags", "--tls-verify=false", &format!("{repo}:1")],
    );
    assert!(
        err.contains("No tag or digest allowed in reference"),
        "{err}"
    );
}

/// fixtures/paged-tags.py on a free port, killed on drop.
struct PagedTags {
    port: u16,
    child: Child,
}

impl PagedTags {
    fn start(extra: &[&str]) -> Self {
        let port = common::free_port();
        let (child, _) = common::spawn_listening(
            Command::new("python3")
                .arg(common::repo_root().join("fixtures/paged-tags.py"))
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(extra),
            "paged-tags",
        );
        PagedTags { port, child }
    }
}

impl Drop for PagedTags {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn list_tags_follows_link_pages_as_skopeo_does() {
    let stub = PagedTags::start(&["--tags", "250", "--page", "40"]);
    let repo = format!("docker://127.0.0.1:{}/paged/repo", stub.port);
    let args = ["list-tags", "--tls-verify=false", &repo];
    let theirs = skopeo(&[], &args);
    assert!(theirs.status.success(), "{theirs:?}");
    let v = Vouch::new();
    let ours = v.ok(&args);
    assert_eq!(ours, String::from_utf8(theirs.stdout).unwrap());
    let j: serde_json::Value = serde_json::from_str(&ours).unwrap();
    assert_eq!(j["Tags"].as_array().unwrap().len(), 250);

    // A registry whose Link leads back to the first page is refused.
    let looping = PagedTags::start(&["--tags", "5", "--page", "2", "--loop"]);
    let repo = format!("docker://127.0.0.1:{}/paged/repo", looping.port);
    let err = v.fails(2, &["list-tags", "--tls-verify=false", &repo]);
    assert!(err.contains("/v2/paged/repo/tags/list"), "{err}");
    assert!(err.contains("loop"), "{err}");
}

/// `DIR/registries.d` whose `default-docker` section holds `body`.
fn registries_d(dir: &Path, body: &str) -> std::path::PathBuf {
    let regd = dir.join("registries.d");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("default.yaml"),
        format!("default-docker:\n{body}"),
    )
    .unwrap();
    regd
}

fn write_signatures(staging: &Path, repo: &str, digest: &str, n: usize) -> std::path::PathBuf {
    let dir = staging.join(format!("{repo}@sha256={}", &digest[7..]));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 1..=n {
        std::fs::write(dir.join(format!("signature-{i}")), b"not checked").unwrap();
    }
    dir
}

#[test]
fn delete_removes_the_manifest_and_its_staged_signatures() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    push_one(&reg, tmp.path(), "amd64", "del/me:a", &[]);
    push_one(&reg, tmp.path(), "arm64", "del/me:b", &[]);
    let (da, db) = (
        skopeo_digest(&reg, "del/me:a"),
        skopeo_digest(&reg, "del/me:b"),
    );
    assert_ne!(da, db);
    let staging = tmp.path().join("staging");
    let regd = registries_d(
        tmp.path(),
        &format!(
            "  lookaside: http://127.0.0.1:1/never-read\n  lookaside-staging: file://{}\n",
            staging.display()
        ),
    );
    let sigs_a = write_signatures(&staging, "del/me", &da, 3);
    let sigs_b = write_signatures(&staging, "del/me", &db, 2);

    let v = Vouch::new();
    let regd_s = regd.to_str().unwrap();
    let a = format!("docker://{}/del/me:a", reg.host());
    v.ok(&["--registries.d", regd_s, "delete", "--tls-verify=false", &a]);
    let gone = skopeo(&[], &["inspect", "--tls-verify=false", &a]);
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("manifest unknown"),
        "{gone:?}"
    );
    assert!(!sigs_a.exists(), "the deleted image's signatures are gone");
    assert_eq!(
        std::fs::read_dir(&sigs_b).unwrap().count(),
        2,
        "others stay"
    );
    assert_eq!(skopeo_digest(&reg, "del/me:b"), db);

    // Deleting it again: exit 2, one line naming the reference.
    let err = v.fails(
        2,
        &["--registries.d", regd_s, "delete", "--tls-verify=false", &a],
    );
    assert!(
        err.contains(&format!("Unable to delete {}/del/me:a", reg.host())),
        "{err}"
    );

    // An HTTP staging cannot be written: refused before anything is deleted.
    std::fs::write(
        regd.join("default.yaml"),
        "default-docker:\n  lookaside-staging: http://127.0.0.1:1/staging\n",
    )
    .unwrap();
    let b = format!("docker://{}/del/me:b", reg.host());
    let err = v.fails(
        2,
        &["--registries.d", regd_s, "delete", "--tls-verify=false", &b],
    );
    assert!(err.contains("Configure a lookaside-staging"), "{err}");
    assert_eq!(skopeo_digest(&reg, "del/me:b"), db, "nothing was deleted");
}

#[test]
fn registry_commands_use_the_credentials_given() {
    let reg = Registry::start_htpasswd("ann", "s3cret");
    let tmp = tempfile::tempdir().unwrap();
    push_one(
        &reg,
        tmp.path(),
        "amd64",
        "auth/img:1",
        &["--dest-creds", "ann:s3cret"],
    );
    let v = Vouch::new();
    let img = format!("docker://{}/auth/img:1", reg.host());
    let repo = format!("docker://{}/auth/img", reg.host());
    for args in [
        &[
            "inspect",
            "--tls-verify=false",
            "--creds",
            "ann:s3cret",
            &img,
        ][..],
        &[
            "list-tags",
            "--tls-verify=false",
            "--creds",
            "ann:s3cret",
            &repo,
        ],
    ] {
        let theirs = skopeo(&[], args);
        assert!(theirs.status.success(), "{theirs:?}");
        assert_eq!(
            v.ok(args),
            String::from_utf8(theirs.stdout).unwrap(),
            "{args:?}"
        );
    }
    let err = v.fails(2, &["list-tags", "--tls-verify=false", &repo]);
    assert!(err.contains("authentication required"), "{err}");
    let err = v.fails(
        2,
        &["delete", "--tls-verify=false", "--creds", "ann:wrong", &img],
    );
    assert!(err.contains("authentication required"), "{err}");
    let staging = tmp.path().join("staging");
    let regd = registries_d(
        tmp.path(),
        &format!("  lookaside-staging: file://{}\n", staging.display()),
    );
    v.ok(&[
        "--registries.d",
        regd.to_str().unwrap(),
        "delete",
        "--tls-verify=false",
        "--creds",
        "ann:s3cret",
        &img,
    ]);
    let gone = skopeo(
        &[],
        &[
            "inspect",
            "--tls-verify=false",
            "--creds",
            "ann:s3cret",
            &img,
        ],
    );
    assert!(!gone.status.success(), "{gone:?}");
}

#[test]
fn a_registry_that_refuses_tag_listing_gives_null_repo_tags_as_skopeo() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    push_one(&reg, tmp.path(), "amd64", "blocked/tags:1", &[]);
    let v = Vouch::new();
    let denied = common::FaultProxy::start(&reg, "tags-403");
    let img = format!("docker://{}/blocked/tags:1", denied.host());
    let args = ["inspect", "--tls-verify=false", &img];
    let theirs = skopeo(&[], &args);
    assert!(theirs.status.success(), "{theirs:?}");
    let ours = v.output(&args);
    assert!(ours.status.success(), "{ours:?}");
    assert_eq!(ours.stdout, theirs.stdout);
    let out = String::from_utf8(ours.stdout).unwrap();
    assert!(out.contains("\"RepoTags\": null,"), "{out}");
    let err = String::from_utf8_lossy(&ours.stderr);
    assert!(
        err.contains("Registry disallows tag list retrieval"),
        "{err}"
    );

    // Any other failure of the tag list fails the inspect, in both tools.
    let broken = common::FaultProxy::start(&reg, "tags-500");
    let img = format!("docker://{}/blocked/tags:1", broken.host());
    assert!(!skopeo(&[], &["inspect", "--tls-verify=false", &img])
        .status
        .success());
    let err = v.fails(2, &["inspect", "--tls-verify=false", &img]);
    assert!(err.contains("/v2/blocked/tags/tags/list"), "{err}");
    assert!(err.contains("fault-proxy: injected 500"), "{err}");
    // --no-tags never asks.
    v.ok(&["inspect", "-n", "--tls-verify=false", &img]);
}
