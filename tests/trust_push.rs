//! A signed push never leaves a tag without its signature (issue 11 item 7):
//! the key is exercised and the signature stored before any blob moves, so
//! a wrong passphrase (gpg-agent or key file) or a refusing sigstore-server
//! fails the push with nothing in the registry, and a push killed between
//! the signature and the manifest, or in the middle of a `file://` append,
//! is finished by a retry with an image that verifies.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{FaultProxy, Gpg, Registry, SigServer, Vouch};

const PASSPHRASE: &str = "correct horse battery staple";

/// Whether the registry lists `tag` for `repo` (an unknown repository has none).
fn has_tag(port: u16, repo: &str, tag: &str) -> bool {
    let resp = common::http_get(port, &format!("/v2/{repo}/tags/list"));
    let status = common::http_status(&resp.replacen("HTTP/1.0 ", "HTTP/1.1 ", 1));
    if status == 404 {
        return false;
    }
    assert_eq!(status, 200, "{resp}");
    let body = &resp[resp.find("\r\n\r\n").unwrap() + 4..];
    let j: serde_json::Value = serde_json::from_str(body).unwrap();
    j["tags"]
        .as_array()
        .is_some_and(|a| a.iter().any(|t| t.as_str() == Some(tag)))
}

/// Switches a fault proxy's mode at run time.
fn set_proxy_mode(port: u16, mode: &str) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /_fault-proxy/mode HTTP/1.0\r\nHost: x\r\nContent-Length: {}\r\n\r\n{mode}",
        mode.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.contains(" 200 "), "{resp}");
}

/// Whether the registry holds any blob at all: a push that failed before
/// moving a blob leaves its storage without a `blobs` tree.
fn registry_has_blobs(reg: &Registry) -> bool {
    let blobs = reg.dir.path().join("data/docker/registry/v2/blobs");
    walk_files(&blobs) > 0
}

fn walk_files(p: &Path) -> usize {
    match std::fs::read_dir(p) {
        Ok(rd) => rd
            .map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk_files(&e.path())
                } else {
                    1
                }
            })
            .sum(),
        Err(_) => 0,
    }
}

/// Exports `gpg`'s protected secret key, armored, to `path`.
fn export_protected_secret(gpg: &Gpg, path: &Path) {
    let out = Command::new("gpg")
        .arg("--homedir")
        .arg(gpg.home.path())
        .args(["--batch", "--pinentry-mode", "loopback", "--passphrase"])
        .arg(PASSPHRASE)
        .args(["--armor", "--export-secret-keys", &gpg.email])
        .output()
        .unwrap();
    assert!(out.status.success() && !out.stdout.is_empty());
    std::fs::write(path, out.stdout).unwrap();
}

fn digest_of(v: &Vouch, name: &str) -> String {
    let j: serde_json::Value = serde_json::from_str(&v.ok(&["image", "inspect", name])).unwrap();
    j[0]["Digest"].as_str().unwrap().to_string()
}

fn sig_dir(staging: &Path, repo: &str, digest: &str) -> PathBuf {
    staging.join(format!("{repo}@{}", digest.replace(':', "=")))
}

/// Asserts a failed push: exit 2, exactly one line, `Error: …` with `needle`.
fn assert_push_error(out: &std::process::Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {err}");
    assert!(
        lines[0].starts_with("Error: ") && lines[0].contains(needle),
        "expected {needle:?} in {err}"
    );
    lines[0].to_string()
}

#[test]
fn wrong_passphrase_through_gpg_agent_pushes_nothing() {
    let reg = Registry::start();
    let gpg = Gpg::with_passphrase("agent@example.com", PASSPHRASE);
    let tmp = tempfile::tempdir().unwrap();
    let staging = tmp.path().join("staging");
    let regd = common::registries_d(
        tmp.path(),
        &reg.host(),
        &format!("file://{}", staging.display()),
        &staging,
    );
    let wrong = tmp.path().join("wrong-pass");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let v = Vouch::new();
    v.import_httpd("localhost/app");
    let dest = format!("{}/app:1", reg.host());
    let out = v
        .cmd()
        .env("GNUPGHOME", gpg.home.path())
        .arg("--registries.d")
        .arg(&regd)
        .args(["push", "--tls-verify=false", "--sign-by", &gpg.email])
        .arg("--sign-passphrase-file")
        .arg(&wrong)
        .args(["localhost/app", &dest])
        .output()
        .unwrap();
    assert_push_error(&out, "signing ");
    assert!(!has_tag(reg.port, "app", "1"), "the tag was pushed");
    assert!(!registry_has_blobs(&reg), "blobs were uploaded");
    assert_eq!(walk_files(&staging), 0, "a signature was stored");

    // The right passphrase signs and pushes (so the refusal was the passphrase's).
    let right = tmp.path().join("right-pass");
    std::fs::write(&right, format!("{PASSPHRASE}\n")).unwrap();
    let out = v
        .cmd()
        .env("GNUPGHOME", gpg.home.path())
        .arg("--registries.d")
        .arg(&regd)
        .args(["push", "-q", "--tls-verify=false", "--sign-by", &gpg.email])
        .arg("--sign-passphrase-file")
        .arg(&right)
        .args(["localhost/app", &dest])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(has_tag(reg.port, "app", "1"));
}

#[test]
fn wrong_passphrase_for_a_key_file_pushes_nothing() {
    let reg = Registry::start();
    let gpg = Gpg::with_passphrase("file@example.com", PASSPHRASE);
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret.asc");
    export_protected_secret(&gpg, &secret);
    let staging = tmp.path().join("staging");
    let regd = common::registries_d(
        tmp.path(),
        &reg.host(),
        &format!("file://{}", staging.display()),
        &staging,
    );
    let wrong = tmp.path().join("wrong-pass");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let v = Vouch::new();
    v.import_httpd("localhost/app");
    let dest = format!("{}/app:1", reg.host());
    let out = v
        .cmd()
        .arg("--registries.d")
        .arg(&regd)
        .args(["push", "--tls-verify=false", "--sign-by-key"])
        .arg(&secret)
        .arg("--sign-passphrase-file")
        .arg(&wrong)
        .args(["localhost/app", &dest])
        .output()
        .unwrap();
    assert_push_error(&out, "passphrase");
    assert!(!has_tag(reg.port, "app", "1"), "the tag was pushed");
    assert!(!registry_has_blobs(&reg), "blobs were uploaded");
    assert_eq!(walk_files(&staging), 0, "a signature was stored");
}

#[test]
fn sigstore_server_refusing_the_signature_pushes_nothing() {
    let reg = Registry::start();
    let gpg = Gpg::new("ci@example.com");
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret.asc");
    gpg.export_secret(&secret);
    let root = tmp.path().join("sigstore");
    std::fs::create_dir_all(&root).unwrap();
    let tokens = tmp.path().join("tokens");
    {
        use sha2::Digest as _;
        let hash = hex::encode(sha2::Sha256::digest(b"the-real-token-0123456789"));
        std::fs::write(&tokens, format!("sha256:{hash} app\n")).unwrap();
    }
    let server = SigServer::start(&root, &["--tokens", tokens.to_str().unwrap()]);
    let d = tmp.path().join("registries.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("t.yaml"),
        format!(
            "docker:\n  {}:\n    lookaside: http://{addr}\n    lookaside-staging: http://{addr}\n",
            reg.host(),
            addr = server.addr
        ),
    )
    .unwrap();
    let wrong_token = tmp.path().join("token");
    std::fs::write(&wrong_token, "a-wrong-token-0123456789\n").unwrap();
    let v = Vouch::new();
    v.import_httpd("localhost/app");
    let dest = format!("{}/app:1", reg.host());
    let out = v
        .cmd()
        .arg("--registries.d")
        .arg(&d)
        .args(["push", "-q", "--tls-verify=false", "--sign-by-key"])
        .arg(&secret)
        .arg("--sigstore-token-file")
        .arg(&wrong_token)
        .args(["localhost/app", &dest])
        .output()
        .unwrap();
    assert_push_error(&out, "401");
    assert!(!has_tag(reg.port, "app", "1"), "the tag was pushed");
    assert!(!registry_has_blobs(&reg), "blobs were uploaded");
    assert_eq!(walk_files(&root), 0, "a signature was stored");
}

/// What a crash test needs: a registry behind a proxy, a key, a file://
/// staging for the proxy's host, and a policy requiring the key there.
struct CrashWorld {
    reg: Registry,
    proxy: FaultProxy,
    _gpg: Gpg,
    tmp: tempfile::TempDir,
    secret: PathBuf,
    staging: PathBuf,
    regd: PathBuf,
    policy: PathBuf,
    v: Vouch,
    dest: String,
    digest: String,
}

impl CrashWorld {
    fn new(mode: &str) -> Self {
        let reg = Registry::start();
        let proxy = FaultProxy::start(&reg, mode);
        let gpg = Gpg::new("crash@example.com");
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret.asc");
        gpg.export_secret(&secret);
        let key = tmp.path().join("key.gpg");
        gpg.export(&key);
        let staging = tmp.path().join("staging");
        let regd = common::registries_d(
            tmp.path(),
            &proxy.host(),
            &format!("file://{}", staging.display()),
            &staging,
        );
        let policy = tmp.path().join("policy.json");
        common::signed_by_policy(&policy, &proxy.host(), &key);
        let v = Vouch::new();
        v.import_httpd("localhost/app");
        let digest = digest_of(&v, "localhost/app");
        let dest = format!("{}/app:1", proxy.host());
        CrashWorld {
            reg,
            proxy,
            _gpg: gpg,
            tmp,
            secret,
            staging,
            regd,
            policy,
            v,
            dest,
            digest,
        }
    }

    fn push_cmd(&self) -> Command {
        let mut c = self.v.cmd();
        c.arg("--registries.d").arg(&self.regd);
        c.args(["push", "-q", "--tls-verify=false", "--sign-by-key"]);
        c.arg(&self.secret).args(["localhost/app", &self.dest]);
        c
    }

    fn sig_dir(&self) -> PathBuf {
        sig_dir(&self.staging, "app", &self.digest)
    }

    /// The `signature-N` files, each of which must verify as a whole
    /// signature of the image (nothing torn).
    fn assert_signatures_complete(&self) -> usize {
        let manifest = self.tmp.path().join("manifest.json");
        std::fs::copy(
            self.v
                .root()
                .join("blobs/sha256")
                .join(self.digest.trim_start_matches("sha256:")),
            &manifest,
        )
        .unwrap();
        let key = self.tmp.path().join("key.gpg");
        let mut n = 0;
        while self.sig_dir().join(format!("signature-{}", n + 1)).exists() {
            n += 1;
            let sig = self.sig_dir().join(format!("signature-{n}"));
            let out = self.v.output(&[
                "standalone-verify",
                "--public-key-file",
                key.to_str().unwrap(),
                manifest.to_str().unwrap(),
                &self.dest,
                "any",
                sig.to_str().unwrap(),
            ]);
            assert!(
                out.status.success(),
                "signature-{n} is torn: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        n
    }

    /// A retry succeeds, and a pull under the signedBy policy accepts the image.
    fn retry_and_verify(&self) {
        let out = self.push_cmd().output().unwrap();
        assert!(
            out.status.success(),
            "retry failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let w = Vouch::new();
        w.policy_pull_ok(&self.regd, &self.policy, &self.dest);
        self.v.assert_store_consistent();
    }
}

/// SIGKILL while the manifest PUT is in flight — after the signature was
/// stored. The proxy holds the PUT and reports it, so the kill provably
/// lands in that window; the tag is not there, the signature is complete,
/// and a retry gives a verifying image (the extra signature is harmless).
#[test]
fn push_killed_between_signature_and_manifest_is_finished_by_a_retry() {
    let w = CrashWorld::new("hold-manifest-put");
    let mut child = w
        .push_cmd()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let resp = common::http_get(w.proxy.port, "/_fault-proxy/held");
        if resp.trim_end().ends_with("\n1") {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "push ended before its manifest PUT was held"
        );
        assert!(
            Instant::now() < deadline,
            "no manifest PUT reached the proxy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // In the window: the signature is stored, the tag is not there yet.
    assert_eq!(w.assert_signatures_complete(), 1);
    assert!(!has_tag(w.reg.port, "app", "1"), "the tag is already there");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert!(!has_tag(w.reg.port, "app", "1"));

    set_proxy_mode(w.proxy.port, "pass");
    w.retry_and_verify();
    assert_eq!(w.assert_signatures_complete(), 2);
    assert!(has_tag(w.reg.port, "app", "1"));
}

/// SIGKILL in the middle of appending a signature to a file:// staging
/// (half the bytes written; a debug-build pause point announces it): no
/// `signature-N` is torn, and a retry succeeds with a verifying image.
#[test]
fn push_killed_during_a_signature_append_leaves_nothing_torn() {
    let w = CrashWorld::new("pass");
    // A first signed push, so an existing signature-1 is at stake too.
    let out = w.push_cmd().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.assert_signatures_complete(), 1);
    let first = std::fs::read(w.sig_dir().join("signature-1")).unwrap();

    let mut child = w
        .push_cmd()
        .env("VOUCH_TEST_PAUSE", "signature-append")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "vouch-test: paused at signature-append",
        "the push did not reach the append (debug build needed)"
    );
    // Mid-append: a partial temporary file, no new signature-N.
    let temps: Vec<_> = std::fs::read_dir(w.sig_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".signature-"))
        .collect();
    assert_eq!(temps.len(), 1, "{temps:?}");
    let partial = std::fs::metadata(w.sig_dir().join(&temps[0]))
        .unwrap()
        .len();
    assert!(
        partial > 0 && (partial as usize) < first.len(),
        "{partial} bytes"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(
        w.assert_signatures_complete(),
        1,
        "a torn signature-2 appeared"
    );
    assert_eq!(
        std::fs::read(w.sig_dir().join("signature-1")).unwrap(),
        first
    );
    w.retry_and_verify();
    assert_eq!(w.assert_signatures_complete(), 2);
}
