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
    assert!(table.contains(&gpg.fingerprint), "{table}");
    let rows: serde_json::Value =
        serde_json::from_str(&v.ok(&["image", "trust", "show", "--policypath", p, "--json"]))
            .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
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
    let err = v.fails(&["image", "trust", "set", "--policypath", p, "quay.io"]);
    assert!(err.contains("--pubkeysfile"), "{err}");
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
    assert!(!out.status.success());
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
