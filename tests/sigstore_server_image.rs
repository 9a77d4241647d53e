//! Issue 16 item 6: the sigstore-server OCI image, built and signed by vouch
//! itself (scripts/sigstore-server-image.sh: rootfs, `vouch import`,
//! `vouch push --sign-by`), pushed to Debian's docker-registry, pulled back
//! by another store under a signedBy policy (and refused under a policy
//! trusting another key), then run with a published port: the server in
//! the container answers.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{
    assert_fails, free_port, http_get, registries_d, repo_root, signed_by_policy, ContainerGuard,
    Gpg, Registry, Vouch,
};

/// The standalone binary `cargo test --workspace` builds beside vouch.
fn server_binary() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_vouch")).with_file_name("sigstore-server");
    assert!(
        p.is_file(),
        "{} is missing: build it with `cargo build -p sigstore-server` \
         (cargo test --workspace does)",
        p.display()
    );
    p
}

#[test]
fn signed_sigstore_server_image_pulls_under_signed_by_and_serves() {
    require_runtime!();
    require_tools!("docker-registry", "gpg", "strip");
    let binary = server_binary();
    let reg = Registry::start();
    let gpg = Gpg::new("release@example.com");
    let work = tempfile::tempdir().unwrap();
    let staging = work.path().join("sigstore");
    let regd = registries_d(
        work.path(),
        &reg.host(),
        &format!("file://{}", staging.display()),
        &staging,
    );
    let builder = Vouch::new();
    let image = format!("{}/sigstore-server:test", reg.host());
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/sigstore-server-image.sh"))
        .arg("--binary")
        .arg(&binary)
        .args(["--sign-by", &gpg.email, "--tls-verify=false", &image])
        .env(
            "VOUCH",
            format!(
                "{} --root {} --registries.d {}",
                env!("CARGO_BIN_EXE_vouch"),
                builder.root().display(),
                regd.display()
            ),
        )
        .env("HOME", builder.home.path())
        .env("GNUPGHOME", gpg.home.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sigstore-server-image.sh: {err}");
    let local = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        local.starts_with("localhost/sigstore-server:"),
        "{local:?}\n{err}"
    );
    // The signature was written where registries.d said.
    let sigs: Vec<_> = walk(&staging)
        .into_iter()
        .filter(|p| p.ends_with("signature-1"))
        .collect();
    assert_eq!(sigs.len(), 1, "{sigs:?}");

    // Another store, with only the public key.
    let key = work.path().join("release.gpg");
    gpg.export(&key);
    let policy = work.path().join("policy.json");
    signed_by_policy(&policy, &reg.host(), &key);
    let other = Gpg::new("mallory@example.com");
    let wrong_key = work.path().join("mallory.gpg");
    other.export(&wrong_key);
    let wrong = work.path().join("wrong.json");
    signed_by_policy(&wrong, &reg.host(), &wrong_key);
    let v = Vouch::new();
    let refused = v.policy_pull(&regd, &wrong, &image);
    assert_fails(1, "pull under a policy trusting another key", &refused);
    v.policy_pull_ok(&regd, &policy, &image);

    let _g = ContainerGuard(&v);
    let port = free_port();
    let id = v
        .ok(&[
            "run",
            "-d",
            "--name",
            "sigs",
            "-p",
            &format!("{port}:8000"),
            &image,
        ])
        .trim()
        .to_string();
    // (http_get speaks HTTP/1.0, and is answered in kind.)
    let health = http_get(port, "/healthz");
    assert!(
        health.starts_with("HTTP/1.0 200") && health.ends_with("ok\n"),
        "{health}"
    );
    let hex = "20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";
    let missing = http_get(port, &format!("/ns/app@sha256={hex}/signature-1"));
    assert!(missing.starts_with("HTTP/1.0 404"), "{missing}");
    assert!(
        missing
            .to_ascii_lowercase()
            .contains("cache-control: no-cache"),
        "{missing}"
    );
    // It runs as the image's unprivileged user, from the image's entrypoint.
    let ctr = v.inspect("sigs");
    assert_eq!(ctr["Config"]["User"], "65532:65532", "{ctr:#}");
    let logs = v.ok(&["logs", "sigs"]);
    let logs = logs + &String::from_utf8_lossy(&v.output(&["logs", "sigs"]).stderr);
    assert!(
        logs.contains("serving /var/lib/sigstore on http://0.0.0.0:8000"),
        "{logs}"
    );
    v.ok(&["rm", "-f", &id]);
    v.assert_container_gone(&id);
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
