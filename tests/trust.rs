//! The trust core end to end: the podman tutorial "How to sign and
//! distribute container images" with vouch, and the rejections.

mod common;

use std::path::Path;

use common::{Gpg, Registry, Vouch};

/// The `<repo>@sha256=<hex>` directory of a signed image in a staging tree.
fn sig_dir(staging: &Path, repo: &str, digest: &str) -> std::path::PathBuf {
    staging.join(format!("{repo}@{}", digest.replace(':', "=")))
}

fn digest_of(v: &Vouch, name: &str) -> String {
    let j: serde_json::Value = serde_json::from_str(&v.ok(&["image", "inspect", name])).unwrap();
    j[0]["Digest"].as_str().unwrap().to_string()
}

#[test]
fn signing_tutorial_push_sign_serve_pull() {
    let reg = Registry::start();
    let gpg = Gpg::new("you@example.com");
    let tmp = tempfile::tempdir().unwrap();
    let staging = tmp.path().join("sigstore");
    std::fs::create_dir_all(&staging).unwrap();
    // The staging directory is served by sigstore-server (the tutorial used
    // python's http.server).
    let server = common::SigServer::start(&staging, &[]);
    let regd = common::registries_d(
        tmp.path(),
        &reg.host(),
        &format!("http://{}", server.addr),
        &staging,
    );
    let key = tmp.path().join("key.gpg");
    gpg.export(&key);
    let policy = tmp.path().join("policy.json");
    common::signed_by_policy(&policy, &reg.host(), &key);

    // GNUPGHOME=… vouch push --tls-verify=false --sign-by you@example.com HOST/alpine
    let v = Vouch::new();
    v.import_httpd("localhost/alpine");
    let dest = format!("{}/alpine", reg.host());
    let out = v
        .cmd()
        .env("GNUPGHOME", gpg.home.path())
        .args(["--registries.d", regd.to_str().unwrap()])
        .args([
            "push",
            "--tls-verify=false",
            "--sign-by",
            "you@example.com",
            "localhost/alpine",
            &dest,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Storing signatures"));
    let digest = digest_of(&v, "localhost/alpine");
    let dir = sig_dir(&staging, "alpine", &digest);
    assert!(
        dir.join("signature-1").is_file(),
        "no signature-1 in {}",
        dir.display()
    );

    // Another signature goes to signature-2; signature-1 is never overwritten.
    let before = std::fs::read(dir.join("signature-1")).unwrap();
    let out = v
        .cmd()
        .env("GNUPGHOME", gpg.home.path())
        .args(["--registries.d", regd.to_str().unwrap()])
        .args([
            "push",
            "-q",
            "--tls-verify=false",
            "--sign-by",
            &gpg.fingerprint,
            "localhost/alpine",
            &dest,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.join("signature-1")).unwrap(), before);
    assert!(dir.join("signature-2").is_file());

    // vouch rmi; vouch pull under the signedBy policy is accepted.
    v.ok(&["rmi", "localhost/alpine"]);
    let r = regd.to_str().unwrap();
    let p = policy.to_str().unwrap();
    v.policy_pull_ok(&regd, &policy, &dest);
    assert_eq!(v.images().len(), 1);
    // The global --policy flag does the same.
    let w = Vouch::new();
    w.ok(&[
        "--registries.d",
        r,
        "--policy",
        p,
        "pull",
        "-q",
        "--tls-verify=false",
        &dest,
    ]);

    // The wrong key: rejected, exit code 1, nothing stored.
    let other = Gpg::new("mallory@example.com");
    let other_key = tmp.path().join("other.gpg");
    other.export(&other_key);
    let wrong = tmp.path().join("wrong.json");
    common::signed_by_policy(&wrong, &reg.host(), &other_key);
    let x = Vouch::new();
    let out = x.policy_pull(&regd, &wrong, &dest);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Source image rejected: ") && err.contains("Invalid GPG signature"),
        "{err}"
    );
    assert!(x.images().is_empty());
    assert_eq!(
        std::fs::read_dir(x.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );

    // An unsigned image under the same policy: no signature exists.
    v.ok(&[
        "push",
        "--tls-verify=false",
        &dest,
        &format!("{}/unsigned:1", reg.host()),
    ]);
    let out = x.policy_pull(&regd, &policy, &format!("{}/unsigned:1", reg.host()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Source image rejected: A signature was required, but no signature exists"),
        "{err}"
    );

    // A reject policy.
    let reject = tmp.path().join("reject.json");
    std::fs::write(&reject, r#"{"default":[{"type":"reject"}]}"#).unwrap();
    let out = x.policy_pull(&regd, &reject, &dest);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "Running image docker://{dest}:latest is rejected by policy."
        )),
        "{err}"
    );
    assert!(x.images().is_empty());
}

#[test]
fn sign_with_a_key_file_as_ci_does() {
    let reg = Registry::start();
    let gpg = Gpg::new("ci@example.com");
    let tmp = tempfile::tempdir().unwrap();
    let staging = tmp.path().join("sigstore");
    let regd = common::registries_d(
        tmp.path(),
        &reg.host(),
        &format!("file://{}", staging.display()),
        &staging,
    );
    let secret = tmp.path().join("secret.asc");
    gpg.export_secret(&secret);
    let key = tmp.path().join("key.gpg");
    gpg.export(&key);
    let policy = tmp.path().join("policy.json");
    common::signed_by_policy(&policy, &reg.host(), &key);
    let v = Vouch::new();
    v.import_httpd("localhost/app");
    let dest = format!("{}/team/app:1", reg.host());
    let r = regd.to_str().unwrap();
    v.ok(&[
        "--registries.d",
        r,
        "push",
        "--tls-verify=false",
        "--sign-by-key",
        secret.to_str().unwrap(),
        "localhost/app",
        &dest,
    ]);
    Vouch::new().policy_pull_ok(&regd, &policy, &dest);
}

#[test]
fn image_trust_set_and_show_edit_policy_json_as_podman() {
    let gpg = Gpg::new("trust@example.com");
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key.gpg");
    gpg.export(&key);
    let pol = tmp.path().join("policy.json");
    let p = pol.to_str().unwrap();
    let v = Vouch::new();
    v.ok(&[
        "image",
        "trust",
        "set",
        "--policypath",
        p,
        "-t",
        "reject",
        "default",
    ]);
    v.ok(&[
        "image",
        "trust",
        "set",
        "--policypath",
        p,
        "-f",
        key.to_str().unwrap(),
        "registry.example.com:5000",
    ]);
    v.ok(&[
        "image",
        "trust",
        "set",
        "--policypath",
        p,
        "-t",
        "accept",
        "docker.io",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&pol).unwrap()).unwrap();
    assert_eq!(doc["default"][0]["type"], "reject");
    assert_eq!(
        doc["transports"]["docker"]["registry.example.com:5000"][0]["type"],
        "signedBy"
    );
    assert_eq!(
        doc["transports"]["docker"]["docker.io"][0]["type"],
        "insecureAcceptAnything"
    );
    let table = v.ok(&["image", "trust", "show", "--policypath", p]);
    assert!(
        table.lines().next().unwrap().starts_with("TRANSPORT"),
        "{table}"
    );
    // podman shows the e-mail of the key's user ID (tests/trust_sigstore_tools.rs
    // compares the whole output with podman's).
    assert!(table.contains(&gpg.email), "{table}");
    let rows: serde_json::Value =
        serde_json::from_str(&v.ok(&["image", "trust", "show", "--policypath", p, "--json"]))
            .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    // --format: podman's Go field names, the table prefix, json as --json.
    let lines = v.ok(&[
        "image",
        "trust",
        "show",
        "--policypath",
        p,
        "--format",
        "{{.RepoName}}|{{.Type}}|{{.GPGId}}",
    ]);
    assert!(
        lines.contains("registry.example.com:5000|signed|") && lines.contains(&gpg.email),
        "{lines}"
    );
    assert!(lines.contains("docker.io|accept|\n"), "{lines}");
    let tab = v.ok(&[
        "image",
        "trust",
        "show",
        "--policypath",
        p,
        "--format",
        "table {{.Transport}} {{.Type}}",
    ]);
    assert_eq!(tab.lines().count(), 4, "{tab}");
    assert!(tab.starts_with("TRANSPORT"), "{tab}");
    let as_json = v.ok(&[
        "image",
        "trust",
        "show",
        "--policypath",
        p,
        "--format",
        "json",
    ]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&as_json).unwrap(),
        rows
    );
    let err = v.fails(
        2,
        &[
            "image",
            "trust",
            "show",
            "--policypath",
            p,
            "--format",
            "{{.Type",
        ],
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // skopeo loads what we wrote.
    let out = std::process::Command::new("skopeo")
        .args([
            "--policy",
            p,
            "copy",
            "dir:/nonexistent-vouch",
            "dir:/tmp/never",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("policy"), "skopeo refused the policy: {err}");
    // A signedBy without keys is refused and the file is unchanged.
    let before = std::fs::read(&pol).unwrap();
    let err = v.fails(2, &["image", "trust", "set", "--policypath", p, "quay.io"]);
    assert!(
        err.contains("at least one public key must be defined for type 'signedBy'"),
        "{err}"
    );
    assert_eq!(std::fs::read(&pol).unwrap(), before);
}

/// vouch's registries.d extension: an http(s) staging URL is a
/// sigstore-server, and `push --sign-by` publishes there with a token.
#[test]
fn push_publishes_signatures_to_sigstore_server() {
    use sha2::Digest as _;
    let reg = Registry::start();
    let gpg = Gpg::new("pipeline@example.com");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sigroot");
    std::fs::create_dir_all(&root).unwrap();
    let token = "s3cret-pipeline-token";
    let tokens = tmp.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("sha256:{} team\n", hex::encode(sha2::Sha256::digest(token))),
    )
    .unwrap();
    let key = tmp.path().join("key.gpg");
    gpg.export(&key);
    let server = common::SigServer::start(
        &root,
        &[
            "--tokens",
            tokens.to_str().unwrap(),
            "--require-signer",
            key.to_str().unwrap(),
        ],
    );
    let url = format!("http://{}", server.addr);
    let regd = tmp.path().join("registries.d");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("server.yaml"),
        format!(
            "docker:\n  {}:\n    lookaside: {url}\n    lookaside-staging: {url}\n",
            reg.host()
        ),
    )
    .unwrap();
    let r = regd.to_str().unwrap();
    let v = Vouch::new();
    v.import_httpd("localhost/app");
    let dest = format!("{}/team/app:1", reg.host());
    let push = |extra: &[&str], env_token: Option<&str>| {
        let mut c = v.cmd();
        c.env("GNUPGHOME", gpg.home.path()).args([
            "--registries.d",
            r,
            "push",
            "--tls-verify=false",
            "--sign-by",
            &gpg.email,
        ]);
        c.args(extra).args(["localhost/app", &dest]);
        if let Some(t) = env_token {
            c.env("VOUCH_SIGSTORE_TOKEN", t);
        }
        c.output().unwrap()
    };
    // No token: refused before anything is pushed.
    let out = push(&[], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sigstore-token-file"));
    // A wrong token: the server says 401 and nothing is written.
    let out = push(&[], Some("wrong"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a refused upload is an error, not a policy decision"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The token from a file, then from the environment: signature-1 and -2.
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let out = push(
        &["--sigstore-token-file", token_file.to_str().unwrap()],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = push(&[], Some(token));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = digest_of(&v, "localhost/app");
    let dir = sig_dir(&root, "team/app", &digest);
    assert!(dir.join("signature-1").is_file() && dir.join("signature-2").is_file());
    // And hosts pull through the policy, reading from the same server.
    let policy = tmp.path().join("policy.json");
    common::signed_by_policy(&policy, &reg.host(), &key);
    Vouch::new().policy_pull_ok(&regd, &policy, &dest);
}

/// A registry holding the httpd fixture as `httpd:1` and `other:1`.
fn registry_with_httpd() -> (Registry, String, String) {
    let reg = Registry::start();
    let v = Vouch::new();
    v.import_httpd("localhost/httpd");
    let httpd = format!("{}/httpd:1", reg.host());
    let other = format!("{}/other:1", reg.host());
    for dest in [&httpd, &other] {
        v.ok(&["push", "-q", "--tls-verify=false", "localhost/httpd", dest]);
    }
    (reg, httpd, other)
}

const REJECT_ALL: &str = r#"{"default":[{"type":"reject"}]}"#;
const ACCEPT_ALL: &str = r#"{"default":[{"type":"insecureAcceptAnything"}]}"#;

/// Asserts that `out` is a policy rejection of `image` (exit 1, one line)
/// and that the store of `v` holds nothing.
fn assert_rejected(v: &Vouch, out: &std::process::Output, image: &str) {
    let err = common::assert_fails(1, &format!("pull of {image}"), out);
    assert!(
        err.contains(&format!(
            "Running image docker://{image} is rejected by policy."
        )),
        "{err}"
    );
    assert_store_empty(v);
}

fn assert_store_empty(v: &Vouch) {
    if v.root().join("images").exists() {
        assert!(v.images().is_empty(), "an image was stored");
    }
    let blobs = v.root().join("blobs/sha256");
    if blobs.exists() {
        assert_eq!(
            std::fs::read_dir(&blobs).unwrap().count(),
            0,
            "blobs stored"
        );
    }
}

/// `--policy` and `--insecure-policy` decide, not the home's own policy:
/// each case is set up so that the home policy would decide otherwise.
#[test]
fn policy_flags_override_the_home_policy() {
    let (_reg, image, _) = registry_with_httpd();
    let tmp = tempfile::tempdir().unwrap();
    let reject = tmp.path().join("reject.json");
    std::fs::write(&reject, REJECT_ALL).unwrap();
    let accept = tmp.path().join("accept.json");
    std::fs::write(&accept, ACCEPT_ALL).unwrap();
    let (reject, accept) = (reject.to_str().unwrap(), accept.to_str().unwrap());
    let pull = ["pull", "-q", "--tls-verify=false", &image];

    // The home accepts everything; --policy FILE rejects.
    let v = Vouch::new();
    let out = v.output(&[&["--policy", reject][..], &pull].concat());
    assert_rejected(&v, &out, &image);
    // A --policy file that does not exist is an error naming it, not a
    // fallback to the home policy.
    let missing = tmp.path().join("missing.json");
    let missing = missing.to_str().unwrap();
    let err = v.fails(2, &[&["--policy", missing][..], &pull].concat());
    assert!(err.contains(missing), "{err}");
    assert_store_empty(&v);

    // The home rejects everything: so does a plain pull, but not
    // --insecure-policy, nor --policy with an accepting file.
    let w = Vouch::new();
    std::fs::write(
        w.home.path().join(".config/containers/policy.json"),
        REJECT_ALL,
    )
    .unwrap();
    let out = w.output(&pull);
    assert_rejected(&w, &out, &image);
    w.ok(&[&["--insecure-policy"][..], &pull].concat());
    assert_eq!(w.images().len(), 1);
    w.ok(&["rmi", &image]);
    w.ok(&[&["--policy", accept][..], &pull].concat());
    assert_eq!(w.images().len(), 1);
    w.ok(&["rmi", &image]);
    // --insecure-policy wins over a rejecting --policy, as in skopeo
    // (its policy context checks --insecure-policy first).
    w.ok(&[&["--insecure-policy", "--policy", reject][..], &pull].concat());
    assert_eq!(w.images().len(), 1);
    w.ok(&["rmi", &image]);
    // pull --signature-policy beats the global --policy.
    let out = w.output(&[
        "--policy",
        accept,
        "pull",
        "-q",
        "--tls-verify=false",
        "--signature-policy",
        reject,
        &image,
    ]);
    assert_rejected(&w, &out, &image);
}

/// Without `~/.config/containers/policy.json`, `/etc/containers/policy.json`
/// decides; with it, the home's file does. The system policy written here
/// rejects only this test's registry, so other users of the machine are
/// not disturbed while it is in place.
#[test]
fn system_policy_is_the_fallback() {
    let (reg, image, other) = registry_with_httpd();
    let scoped_reject = serde_json::json!({
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"docker": {format!("{}/httpd", reg.host()): [{"type": "reject"}]}}
    })
    .to_string();
    let system = common::SystemPolicy::replace(&scoped_reject);
    let v = Vouch::new();
    std::fs::remove_file(v.home.path().join(".config/containers/policy.json")).unwrap();
    let out = v.output(&["pull", "-q", "--tls-verify=false", &image]);
    assert_rejected(&v, &out, &image);
    // The same file accepts another repository of the registry.
    v.ok(&["pull", "-q", "--tls-verify=false", &other]);
    assert_eq!(v.images().len(), 1);

    // A home policy wins over the system one.
    system.set(REJECT_ALL);
    let w = Vouch::new();
    w.ok(&["pull", "-q", "--tls-verify=false", &image]);
    assert_eq!(w.images().len(), 1);
    drop(system);
}

/// `vouch run` of an image that is not stored pulls it under the policy:
/// a rejected image is refused with exit 1, and neither the image nor a
/// container is left.
#[test]
fn run_refuses_an_image_the_policy_rejects() {
    require_runtime!();
    let (_reg, image, _) = registry_with_httpd();
    let tmp = tempfile::tempdir().unwrap();
    let reject = tmp.path().join("reject.json");
    std::fs::write(&reject, REJECT_ALL).unwrap();
    let v = Vouch::new();
    let _g = common::ContainerGuard(&v);
    let out = v.output(&[
        "--policy",
        reject.to_str().unwrap(),
        "run",
        "--rm",
        "--network",
        "none",
        "--tls-verify=false",
        &image,
        "true",
    ]);
    assert_rejected(&v, &out, &image);
    let ps = v.ok(&["ps", "-a", "-q"]);
    assert!(ps.trim().is_empty(), "containers: {ps}");
    let containers = v.root().join("containers");
    if containers.exists() {
        assert_eq!(std::fs::read_dir(&containers).unwrap().count(), 0);
    }
}
