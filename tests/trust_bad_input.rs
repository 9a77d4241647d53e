//! Bad input to the trust core fails closed, end to end: every case goes
//! through `vouch pull` (and `standalone-verify` where it fits) and must end
//! in one clear `Error:` line, exit code 1 for a policy rejection or 2 for
//! an error, and a store with nothing in it. Never an accept on error.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{Gpg, Registry, Vouch};

macro_rules! require_gpg {
    () => {
        require_tools!("gpg")
    };
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The simple-signing payload, as containers/image writes it, with
/// optional extra members in `critical`.
fn payload(digest: &str, reference: &str, extra_critical: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{{extra_critical}"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"atomic container signature"}},"optional":{{"creator":"test","timestamp":{}}}}}"#,
        now()
    )
    .into_bytes()
}

/// `gpg --sign` of `data` (a compressed signed message, as GPGME makes),
/// optionally at a faked time.
fn gpg_sign(home: &Path, key: &str, data: &[u8], at: Option<u64>) -> Vec<u8> {
    let mut c = Command::new("gpg");
    c.arg("--homedir").arg(home);
    c.args([
        "--batch",
        "--yes",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        "-u",
        key,
    ]);
    if let Some(t) = at {
        c.arg("--faked-system-time").arg(format!("{t}!"));
    }
    let mut child = c
        .args(["--sign"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gpg --sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn gpg(home: &Path, args: &[&str]) {
    common::gpg_batch(home, args);
}

/// A GnuPG key that expired 29 days ago, and a signature it made while it
/// was still valid (30 days ago), over `data`.
fn expired_key_signature(data: &[u8], public_out: &Path) -> Vec<u8> {
    let home = tempfile::Builder::new()
        .prefix("gpg")
        .tempdir_in("/tmp")
        .unwrap();
    let born = now() - 30 * 86400;
    gpg(
        home.path(),
        &[
            "--passphrase",
            "",
            "--faked-system-time",
            &format!("{born}!"),
            "--quick-gen-key",
            "expired@example.com",
            "rsa2048",
            "sign",
            "1d",
        ],
    );
    let sig = gpg_sign(home.path(), "expired@example.com", data, Some(born + 3600));
    let out = Command::new("gpg")
        .arg("--homedir")
        .arg(home.path())
        .args(["--batch", "--export", "expired@example.com"])
        .output()
        .unwrap();
    assert!(!out.stdout.is_empty());
    std::fs::write(public_out, out.stdout).unwrap();
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "all"])
        .status();
    sig
}

/// Revokes `g`'s key with the certificate GnuPG made at key generation and
/// exports the revoked public key to `out`.
fn revoke(g: &Gpg, out: &Path) {
    let rev = g
        .home
        .path()
        .join("openpgp-revocs.d")
        .join(format!("{}.rev", g.fingerprint));
    // GnuPG prefixes the armor header with ':' so the file is not imported by accident.
    let text = std::fs::read_to_string(&rev)
        .unwrap()
        .replace(":-----BEGIN", "-----BEGIN");
    let armored = g.home.path().join("revoke.asc");
    std::fs::write(&armored, text).unwrap();
    gpg(g.home.path(), &["--import", armored.to_str().unwrap()]);
    g.export(out);
}

/// fixtures/bad-lookaside.py in one mode, killed on drop.
struct BadLookaside {
    addr: String,
    child: Child,
}

impl BadLookaside {
    fn start(mode: &str) -> Self {
        let mut child = Command::new("python3")
            .arg(common::repo_root().join("fixtures/bad-lookaside.py"))
            .args(["--mode", mode])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("bad-lookaside said {line:?}"))
            .to_string();
        BadLookaside { addr, child }
    }

    fn url(&self) -> String {
        format!("http://{}/sigs", self.addr)
    }
}

impl Drop for BadLookaside {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed image in a registry, the key that signed it, and a store that
/// must stay empty through every rejected pull.
struct World {
    reg: Registry,
    gpg: Gpg,
    tmp: tempfile::TempDir,
    secret: PathBuf,
    key: PathBuf,
    policy: PathBuf,
    image: String,
    digest: String,
    manifest: PathBuf,
    good_signature: Vec<u8>,
    /// The store every rejected pull goes into.
    victim: Vouch,
    cases: std::cell::Cell<usize>,
}

impl World {
    fn new() -> Self {
        let reg = Registry::start();
        let gpg = Gpg::new("signer@example.com");
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret.asc");
        gpg.export_secret(&secret);
        let key = tmp.path().join("key.gpg");
        gpg.export(&key);
        let policy = tmp.path().join("policy.json");
        common::signed_by_policy(&policy, &reg.host(), &key);
        let staging = tmp.path().join("good");
        let regd = common::registries_d(
            tmp.path(),
            &reg.host(),
            &format!("file://{}", staging.display()),
            &staging,
        );
        let v = Vouch::new();
        v.import_httpd("localhost/app");
        let image = format!("{}/app:1", reg.host());
        v.ok(&[
            "--registries.d",
            regd.to_str().unwrap(),
            "push",
            "-q",
            "--tls-verify=false",
            "--sign-by-key",
            secret.to_str().unwrap(),
            "localhost/app",
            &image,
        ]);
        let j: serde_json::Value =
            serde_json::from_str(&v.ok(&["image", "inspect", "localhost/app"])).unwrap();
        let digest = j[0]["Digest"].as_str().unwrap().to_string();
        let manifest = tmp.path().join("manifest.json");
        std::fs::copy(
            v.root()
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
            &manifest,
        )
        .unwrap();
        let good_signature = std::fs::read(
            staging
                .join(format!("app@{}", digest.replace(':', "=")))
                .join("signature-1"),
        )
        .unwrap();
        let w = World {
            reg,
            gpg,
            tmp,
            secret,
            key,
            policy,
            image,
            digest,
            manifest,
            good_signature,
            victim: Vouch::new(),
            cases: std::cell::Cell::new(0),
        };
        // Sanity: the good signature is accepted, so every rejection below
        // is due to the bad input alone.
        let ok = Vouch::new();
        let regd = w.lookaside(&[&w.good_signature]);
        ok.ok(&[
            "--registries.d",
            regd.to_str().unwrap(),
            "pull",
            "-q",
            "--tls-verify=false",
            "--signature-policy",
            w.policy.to_str().unwrap(),
            &w.image,
        ]);
        w
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// A registries.d whose lookaside for the registry is `url`.
    fn regd_for(&self, url: &str) -> PathBuf {
        let n = self.cases.get() + 1;
        self.cases.set(n);
        let d = self.path(&format!("regd-{n}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("case.yaml"),
            format!("docker:\n  {}:\n    lookaside: {url}\n", self.reg.host()),
        )
        .unwrap();
        d
    }

    /// A fresh file:// lookaside holding `sigs` as signature-1, -2, … of the image.
    fn lookaside(&self, sigs: &[&[u8]]) -> PathBuf {
        let base = self.path(&format!("lookaside-{}", self.cases.get() + 1));
        let dir = base.join(format!("app@{}", self.digest.replace(':', "=")));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in sigs.iter().enumerate() {
            std::fs::write(dir.join(format!("signature-{}", i + 1)), s).unwrap();
        }
        self.regd_for(&format!("file://{}", base.display()))
    }

    /// `vouch pull` of the image with `regd` and `policy`; asserts exit
    /// `code`, exactly one stderr line, `Error: …` containing `needle`,
    /// and an empty store. Returns the error line.
    fn pull_fails(&self, regd: &Path, policy: &Path, code: i32, needle: &str) -> String {
        let (got, _, err) = self.victim.run3(&[
            "--registries.d",
            regd.to_str().unwrap(),
            "pull",
            "-q",
            "--tls-verify=false",
            "--signature-policy",
            policy.to_str().unwrap(),
            &self.image,
        ]);
        assert_eq!(got, code, "exit code for {needle:?}: {err}");
        // One line: the error (a logged warning, such as upstream's for a
        // text/html lookaside answer, may precede it).
        let lines: Vec<&str> = err.lines().filter(|l| !l.contains(" WARN")).collect();
        assert_eq!(lines.len(), 1, "not one line: {err}");
        let err = lines[0].to_string();
        assert!(err.starts_with("Error: "), "{err}");
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
        if code == 1 {
            assert!(err.starts_with("Error: Source image rejected: "), "{err}");
        }
        eprintln!("exit {code}: {err}");
        self.assert_store_empty();
        err
    }

    fn assert_store_empty(&self) {
        assert!(self.victim.images().is_empty(), "an image was stored");
        let blobs = self.victim.root().join("blobs/sha256");
        if blobs.exists() {
            let n = std::fs::read_dir(&blobs).unwrap().count();
            assert_eq!(n, 0, "{n} blobs left in the store");
        }
    }

    /// `vouch standalone-verify` with the key file; asserts failure exit
    /// `code` with one `Error:` line containing `needle`.
    fn standalone_fails(
        &self,
        key: &Path,
        manifest: &Path,
        reference: &str,
        sig: &[u8],
        code: i32,
        needle: &str,
    ) {
        let n = self.cases.get() + 1;
        self.cases.set(n);
        let sig_path = self.path(&format!("standalone-{n}.sig"));
        std::fs::write(&sig_path, sig).unwrap();
        let (got, out, err) = self.victim.run3(&[
            "standalone-verify",
            "--public-key-file",
            key.to_str().unwrap(),
            manifest.to_str().unwrap(),
            reference,
            "any",
            sig_path.to_str().unwrap(),
        ]);
        assert_eq!(
            got, code,
            "standalone-verify exit code for {needle:?}: {err}"
        );
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.lines().count(), 1, "not one line: {err}");
        assert!(
            err.starts_with("Error: ") && err.contains(needle),
            "expected {needle:?} in: {err}"
        );
    }

    /// `vouch standalone-sign --key-file` of `manifest` for `reference`.
    fn vouch_sign(&self, manifest: &Path, reference: &str) -> Vec<u8> {
        let n = self.cases.get() + 1;
        self.cases.set(n);
        let out = self.path(&format!("signed-{n}.sig"));
        self.victim.ok(&[
            "standalone-sign",
            "--key-file",
            self.secret.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            manifest.to_str().unwrap(),
            reference,
        ]);
        std::fs::read(out).unwrap()
    }

    fn policy_with_key(&self, name: &str, key: &Path) -> PathBuf {
        let p = self.path(name);
        common::signed_by_policy(&p, &self.reg.host(), key);
        p
    }
}

/// Broken signature bytes: truncated, garbage (with and without a
/// plausible first byte), empty, armored, and a gap-free mix where every
/// signature is bad.
#[test]
fn broken_signature_blobs_are_rejected() {
    require_gpg!();
    let w = World::new();
    let good = w.good_signature.clone();
    let reference = w.image.clone();

    let truncated = &good[..good.len() / 2];
    w.pull_fails(
        &w.lookaside(&[truncated]),
        &w.policy,
        1,
        "Invalid GPG signature",
    );
    w.standalone_fails(
        &w.key,
        &w.manifest,
        &reference,
        truncated,
        1,
        "Invalid GPG signature",
    );

    // Garbage that sniffs as OpenPGP (first byte 0x89) reaches the verifier.
    let mut garbage = vec![0x89u8];
    garbage.extend((0..2000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    w.pull_fails(
        &w.lookaside(&[&garbage]),
        &w.policy,
        1,
        "Invalid GPG signature",
    );
    w.standalone_fails(
        &w.key,
        &w.manifest,
        &reference,
        &garbage,
        1,
        "Invalid GPG signature",
    );

    // Garbage that does not even sniff as a signature: the lookaside is broken.
    w.pull_fails(
        &w.lookaside(&[b"this is not a signature"]),
        &w.policy,
        2,
        "unrecognized signature format, starting with binary 0x74",
    );
    w.pull_fails(&w.lookaside(&[b""]), &w.policy, 2, "empty signature blob");
    let mut bit_flipped = good.clone();
    let last = bit_flipped.len() - 3;
    bit_flipped[last] ^= 0x40;
    w.pull_fails(
        &w.lookaside(&[&bit_flipped]),
        &w.policy,
        1,
        "Invalid GPG signature",
    );
    w.standalone_fails(
        &w.key,
        &w.manifest,
        &reference,
        &bit_flipped,
        1,
        "Invalid GPG signature",
    );

    // Several bad signatures: every reason is given, still a rejection.
    let err = w.pull_fails(
        &w.lookaside(&[truncated, &garbage]),
        &w.policy,
        1,
        "None of the signatures were accepted, reasons: ",
    );
    assert_eq!(err.matches("Invalid GPG signature").count(), 2, "{err}");
}

/// Valid signatures that say the wrong thing: another digest, another
/// identity, an unknown critical member.
#[test]
fn valid_signatures_for_the_wrong_claim_are_rejected() {
    require_gpg!();
    let w = World::new();

    let other_manifest = w.path("other-manifest.json");
    std::fs::write(&other_manifest, br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#).unwrap();
    let other_digest_sig = w.vouch_sign(&other_manifest, &w.image);
    w.pull_fails(
        &w.lookaside(&[&other_digest_sig]),
        &w.policy,
        1,
        "Signature for digest sha256:",
    );
    w.standalone_fails(
        &w.key,
        &w.manifest,
        &w.image,
        &other_digest_sig,
        1,
        "does not match",
    );

    let other_identity = format!("{}/other:1", w.reg.host());
    let other_identity_sig = w.vouch_sign(&w.manifest, &other_identity);
    w.pull_fails(
        &w.lookaside(&[&other_identity_sig]),
        &w.policy,
        1,
        "Signature for identity",
    );
    w.standalone_fails(
        &w.key,
        &w.manifest,
        &w.image,
        &other_identity_sig,
        1,
        "does not match",
    );

    // Same tag in a different repository path, and a tag-less identity.
    let name_only = w.vouch_sign(&w.manifest, &format!("{}/app", w.reg.host()));
    w.pull_fails(
        &w.lookaside(&[&name_only]),
        &w.policy,
        1,
        "Signature for identity",
    );

    // An unknown critical member, signed by the right key with gpg.
    let unknown = gpg_sign(
        w.gpg.home.path(),
        &w.gpg.fingerprint,
        &payload(&w.digest, &w.image, r#""unexpected":"member","#),
        None,
    );
    w.pull_fails(
        &w.lookaside(&[&unknown]),
        &w.policy,
        1,
        r#"Unknown key "unexpected""#,
    );
    w.standalone_fails(
        &w.key,
        &w.manifest,
        &w.image,
        &unknown,
        1,
        r#"Unknown key "unexpected""#,
    );

    // The same payload without it verifies: the rejection above is the member's.
    let fine = gpg_sign(
        w.gpg.home.path(),
        &w.gpg.fingerprint,
        &payload(&w.digest, &w.image, ""),
        None,
    );
    let ok = Vouch::new();
    ok.ok(&[
        "--registries.d",
        w.lookaside(&[&fine]).to_str().unwrap(),
        "pull",
        "-q",
        "--tls-verify=false",
        "--signature-policy",
        w.policy.to_str().unwrap(),
        &w.image,
    ]);
}

/// Keys that must not be trusted: another key, an expired key, a revoked
/// key, and a keyPath that does not exist.
#[test]
fn wrong_expired_revoked_and_missing_keys_are_rejected() {
    require_gpg!();
    let w = World::new();
    let sig = w.good_signature.clone();

    // Another key.
    let other = Gpg::new("mallory@example.com");
    let other_key = w.path("other.gpg");
    other.export(&other_key);
    let wrong = w.policy_with_key("wrong.json", &other_key);
    w.pull_fails(&w.lookaside(&[&sig]), &wrong, 1, "Invalid GPG signature");
    w.standalone_fails(
        &other_key,
        &w.manifest,
        &w.image,
        &sig,
        1,
        "Invalid GPG signature",
    );

    // A key that expired after it signed: rejected (docs/signing.md).
    let expired_key = w.path("expired.gpg");
    let expired_sig = expired_key_signature(&payload(&w.digest, &w.image, ""), &expired_key);
    let expired = w.policy_with_key("expired.json", &expired_key);
    w.pull_fails(
        &w.lookaside(&[&expired_sig]),
        &expired,
        1,
        "is not valid now (expired or invalidated)",
    );
    w.standalone_fails(
        &expired_key,
        &w.manifest,
        &w.image,
        &expired_sig,
        1,
        "not valid now",
    );
    // The shared fixture made by GnuPG 2.2 says the same.
    let fx = |rel: &str| {
        let p = w.path(&rel.replace('/', "_"));
        std::fs::write(&p, common::trust_fixture(rel)).unwrap();
        p
    };
    let fx_payload: serde_json::Value = serde_json::from_slice(&common::trust_fixture(
        "generated/gpg-expired-key/payload.json",
    ))
    .unwrap();
    w.standalone_fails(
        &fx("generated/gpg-expired-key/public-key.gpg"),
        &fx("generated/gpg-expired-key/manifest.json"),
        fx_payload["critical"]["identity"]["docker-reference"]
            .as_str()
            .unwrap(),
        &common::trust_fixture("generated/gpg-expired-key/signature-1"),
        1,
        "not valid now",
    );

    // A revoked key (its own revocation certificate imported).
    let victim = Gpg::new("revoked@example.com");
    let revoked_sig = gpg_sign(
        victim.home.path(),
        &victim.fingerprint,
        &payload(&w.digest, &w.image, ""),
        None,
    );
    let revoked_key = w.path("revoked.gpg");
    revoke(&victim, &revoked_key);
    let revoked = w.policy_with_key("revoked.json", &revoked_key);
    w.pull_fails(&w.lookaside(&[&revoked_sig]), &revoked, 1, "revoked");
    w.standalone_fails(
        &revoked_key,
        &w.manifest,
        &w.image,
        &revoked_sig,
        1,
        "revoked",
    );
    // The upstream fixture's revoked (compromised) subkey.
    w.standalone_fails(
        &fx("signature/fixtures/public-key-with-revoked-subkey.gpg"),
        &fx("signature/fixtures/image.manifest.json"),
        "testing/manifest:latest",
        &common::trust_fixture("signature/fixtures/subkey-revoked.signature"),
        1,
        "Invalid GPG signature",
    );

    // keyPath that does not exist: a rejection naming the path.
    let missing = w.policy_with_key("missing.json", Path::new("/nonexistent/vouch-test/key.gpg"));
    w.pull_fails(
        &w.lookaside(&[&sig]),
        &missing,
        1,
        "/nonexistent/vouch-test/key.gpg",
    );
    let (code, _, err) = w.victim.run3(&[
        "standalone-verify",
        "--public-key-file",
        "/nonexistent/vouch-test/key.gpg",
        w.manifest.to_str().unwrap(),
        &w.image,
        "any",
        w.manifest.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/vouch-test/key.gpg"), "{err}");
}

/// Misbehaving lookaside servers and an over-cap signature: errors (exit
/// 2), nothing stored, and no hang.
#[test]
fn hostile_lookaside_servers_fail_closed() {
    require_gpg!();
    let w = World::new();

    let s = BadLookaside::start("500");
    w.pull_fails(
        &w.regd_for(&s.url()),
        &w.policy,
        2,
        "status 500 (Internal Server Error)",
    );
    drop(s);

    let s = BadLookaside::start("redirect");
    let err = w.pull_fails(
        &w.regd_for(&s.url()),
        &w.policy,
        2,
        "reading signature from http://",
    );
    assert!(err.to_lowercase().contains("redirect"), "{err}");
    drop(s);

    let s = BadLookaside::start("huge");
    let started = std::time::Instant::now();
    w.pull_fails(
        &w.regd_for(&s.url()),
        &w.policy,
        2,
        "body exceeds 4194304 bytes",
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "the huge body was read to the end"
    );
    drop(s);

    // An HTML error page served as 200: not a signature.
    let s = BadLookaside::start("html");
    let regd = w.regd_for(&s.url());
    w.pull_fails(
        &regd,
        &w.policy,
        2,
        "unrecognized signature format, starting with binary 0x3c",
    );
    // Its warning, captured through a pipe, carries no colour codes (nor
    // with NO_COLOR set, whatever stderr is).
    for no_color in [None, Some("1")] {
        let mut cmd = w.victim.cmd();
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd
            .arg("--registries.d")
            .arg(&regd)
            .args(["pull", "-q", "--tls-verify=false", "--signature-policy"])
            .arg(&w.policy)
            .arg(&w.image)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines()
                .any(|l| l.contains("WARN") && l.contains("text/html")),
            "no warning: {err}"
        );
        assert!(!out.stderr.contains(&0x1b), "ESC in piped stderr: {err:?}");
    }
    drop(s);

    // Over the 4 MiB cap from a static server (with Content-Length).
    let big_dir = w.path("big");
    let sig_dir = big_dir.join(format!("app@{}", w.digest.replace(':', "=")));
    std::fs::create_dir_all(&sig_dir).unwrap();
    let mut big = w.good_signature.clone();
    big.resize(4 * 1024 * 1024 + 1, 0);
    std::fs::write(sig_dir.join("signature-1"), &big).unwrap();
    let http = common::StaticHttp::start(&big_dir);
    w.pull_fails(
        &w.regd_for(&http.url()),
        &w.policy,
        2,
        "body exceeds 4194304 bytes",
    );
    // The same file through file:// (which upstream does not cap): vouch
    // caps files too, before reading them whole.
    w.pull_fails(
        &w.regd_for(&format!("file://{}", big_dir.display())),
        &w.policy,
        2,
        "file exceeds 4194304 bytes",
    );
}

/// A signed message around `size` zero bytes, inside one compressed-data
/// packet per entry of `levels` (outermost first), signed by the key in
/// the armored `secret` file. Zeros compress ~1000:1 with zlib and far
/// more with bzip2, so a few KB stand for hundreds of MiB.
fn compression_bomb(
    secret: &Path,
    levels: &[sequoia_openpgp::types::CompressionAlgorithm],
    size: usize,
) -> Vec<u8> {
    use sequoia_openpgp::parse::Parse;
    use sequoia_openpgp::policy::StandardPolicy;
    use sequoia_openpgp::serialize::stream::{Compressor, LiteralWriter, Message, Signer};
    let cert = sequoia_openpgp::Cert::from_file(secret).unwrap();
    let policy = StandardPolicy::new();
    let keypair = cert
        .keys()
        .secret()
        .with_policy(&policy, None)
        .for_signing()
        .next()
        .unwrap()
        .key()
        .clone()
        .into_keypair()
        .unwrap();
    let mut out = Vec::new();
    {
        let mut m = Message::new(&mut out);
        for algo in levels {
            m = Compressor::new(m).algo(*algo).build().unwrap();
        }
        let m = Signer::new(m, keypair).unwrap().build().unwrap();
        let mut w = LiteralWriter::new(m).build().unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..size / chunk.len() {
            w.write_all(&chunk).unwrap();
        }
        w.finalize().unwrap();
    }
    out
}

/// Runs `cmd` under `/usr/bin/time -f %M`; returns its output (the time
/// line removed from stderr) and its peak RSS in KiB.
fn with_peak_rss(cmd: &Command, dir: &Path) -> (std::process::Output, u64) {
    let report = dir.join(format!("rss-{}", std::process::id()));
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%M", "-o"]).arg(&report);
    c.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.output().unwrap();
    let text = std::fs::read_to_string(&report).unwrap();
    let kib = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("/usr/bin/time said {text:?}"));
    (out, kib)
}

/// Peak RSS allowed while refusing a bomb (the bombs expand to 256+ MiB).
const BOMB_RSS_KIB: u64 = 100 * 1024;

/// Compression bombs — compressed data nested in compressed data, and one
/// bzip2 packet expanding to 512 MiB — are refused by pull (a rejection,
/// exit 1), standalone-verify (exit 1) and sigstore-server uploads (400),
/// each in bounded memory.
#[test]
fn compression_bombs_are_refused_in_bounded_memory() {
    use sequoia_openpgp::types::CompressionAlgorithm::{BZip2, Zlib};
    require_gpg!();
    let w = World::new();
    let nested = compression_bomb(&w.secret, &[Zlib, Zlib], 256 << 20);
    let single = compression_bomb(&w.secret, &[BZip2], 512 << 20);
    assert!(
        nested.len() < 16 << 10,
        "nested bomb is {} bytes",
        nested.len()
    );
    assert!(
        single.len() < 16 << 10,
        "bzip2 bomb is {} bytes",
        single.len()
    );
    let cases = [
        (
            &nested,
            "Invalid GPG signature: signature has compressed data nested inside compressed data",
        ),
        (
            &single,
            "Invalid GPG signature: signature decompresses to more than 4194304 bytes",
        ),
    ];
    for (bomb, needle) in cases {
        // pull: the signature is rejected, so the policy says no.
        let regd = w.lookaside(&[bomb]);
        let mut cmd = w.victim.cmd();
        cmd.arg("--registries.d").arg(&regd);
        cmd.args(["pull", "-q", "--tls-verify=false", "--signature-policy"]);
        cmd.arg(&w.policy).arg(&w.image);
        let (out, kib) = with_peak_rss(&cmd, w.tmp.path());
        let err = String::from_utf8_lossy(&out.stderr);
        eprintln!("pull of a {}-byte bomb: peak RSS {kib} KiB", bomb.len());
        assert!(kib < BOMB_RSS_KIB, "pull peaked at {kib} KiB: {err}");
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "not one line: {err}");
        assert!(err.starts_with("Error: Source image rejected: "), "{err}");
        assert!(err.contains(needle), "expected {needle:?} in {err}");
        w.assert_store_empty();

        // standalone-verify: a signature that does not verify is exit 1.
        let sig = w.path("bomb.sig");
        std::fs::write(&sig, bomb).unwrap();
        let mut cmd = w.victim.cmd();
        cmd.args(["standalone-verify", "--public-key-file"])
            .arg(&w.key);
        cmd.arg(&w.manifest).arg(&w.image).arg("any").arg(&sig);
        let (out, kib) = with_peak_rss(&cmd, w.tmp.path());
        let err = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "standalone-verify of a {}-byte bomb: peak RSS {kib} KiB",
            bomb.len()
        );
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "not one line: {err}");
        assert!(
            err.starts_with("Error: Error verifying signature: ") && err.contains(needle),
            "expected {needle:?} in {err}"
        );
        assert!(out.stdout.is_empty());
        assert!(
            kib < BOMB_RSS_KIB,
            "standalone-verify peaked at {kib} KiB: {err}"
        );
    }

    // sigstore-server: an authenticated upload of a bomb is refused with
    // 400, and the server's memory stays bounded. (Both bombs fit under the
    // default 64 KiB body limit, so the check itself must refuse them.)
    let root = w.path("sigstore-root");
    std::fs::create_dir_all(&root).unwrap();
    let tokens = w.path("tokens");
    let token = "bomb-token-0123456789abcdef";
    {
        use sha2::Digest as _;
        let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        std::fs::write(&tokens, format!("sha256:{hash} app\n")).unwrap();
    }
    let server = common::SigServer::start(&root, &["--tokens", tokens.to_str().unwrap()]);
    let hex = w.digest.trim_start_matches("sha256:");
    let auth = format!("Bearer {token}");
    for (bomb, needle) in cases {
        let (status, resp) = server.request(
            "POST",
            &format!("/app@sha256={hex}/signatures"),
            &[("Authorization", auth.as_str())],
            bomb,
        );
        assert_eq!(status, 400, "{resp}");
        let needle = needle.trim_start_matches("Invalid GPG signature: ");
        assert!(resp.contains(needle), "expected {needle:?} in {resp}");
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let hwm: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    eprintln!("sigstore-server after the bomb uploads: VmHWM {hwm} KiB");
    assert!(hwm < BOMB_RSS_KIB, "sigstore-server peaked at {hwm} KiB");
    assert!(
        !root
            .join(format!("app@sha256={hex}"))
            .join("signature-1")
            .exists(),
        "a bomb was stored"
    );
    // The good signature is still accepted, so the refusals were the bombs'.
    let (status, resp) = server.request(
        "POST",
        &format!("/app@sha256={hex}/signatures"),
        &[("Authorization", auth.as_str())],
        &w.good_signature,
    );
    assert_eq!(status, 201, "{resp}");
}

/// A FIFO planted as `signature-1` in a file:// lookaside used to hang the
/// pull forever; a directory or a device node there is not a signature
/// either, nor is a symlink to one. Each pull ends with an error naming the
/// path (exit 2). A symlink to a regular signature is followed, as podman
/// does (upstream's own `dir-img-*` fixtures are symlinks).
#[test]
fn lookaside_files_that_are_not_regular_files_are_refused() {
    require_gpg!();
    let w = World::new();
    for kind in ["fifo", "directory", "char device", "symlink to fifo"] {
        let base = w.path(&format!("special-{}", kind.replace(' ', "-")));
        let dir = base.join(format!("app@{}", w.digest.replace(':', "=")));
        std::fs::create_dir_all(&dir).unwrap();
        let sig = dir.join("signature-1");
        let c = std::ffi::CString::new(sig.to_str().unwrap()).unwrap();
        match kind {
            "fifo" => assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0),
            "directory" => std::fs::create_dir(&sig).unwrap(),
            // A private node with /dev/zero's numbers: endless if read.
            "char device" => assert_eq!(
                unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 5)) },
                0,
                "mknod (needs root): {}",
                std::io::Error::last_os_error()
            ),
            _ => {
                let fifo = dir.join("fifo");
                let f = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
                assert_eq!(unsafe { libc::mkfifo(f.as_ptr(), 0o644) }, 0);
                std::os::unix::fs::symlink(&fifo, &sig).unwrap();
            }
        }
        let regd = w.regd_for(&format!("file://{}", base.display()));
        // The pull must end by itself; a generous ceiling turns a hang into
        // a failure instead of a stuck test run.
        let mut child = w
            .victim
            .cmd()
            .arg("--registries.d")
            .arg(&regd)
            .args(["pull", "-q", "--tls-verify=false", "--signature-policy"])
            .arg(&w.policy)
            .arg(&w.image)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{kind}: the pull hung on a {kind} signature-1");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{kind}: {err}");
        assert_eq!(err.lines().count(), 1, "{kind}: not one line: {err}");
        let expected = format!(
            "reading signature from {:?}: not a regular file",
            sig.to_str().unwrap()
        );
        assert!(
            err.starts_with("Error: ") && err.contains(&expected),
            "{kind}: expected {expected:?} in {err}"
        );
        w.assert_store_empty();
    }
    let base = w.path("special-symlink-to-good");
    let dir = base.join(format!("app@{}", w.digest.replace(':', "=")));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good");
    std::fs::write(&good, &w.good_signature).unwrap();
    std::os::unix::fs::symlink(&good, dir.join("signature-1")).unwrap();
    let regd = w.regd_for(&format!("file://{}", base.display()));
    w.victim.policy_pull_ok(&regd, &w.policy, &w.image);
}

/// Broken policy.json files: errors (exit 2) naming the file, before any
/// registry traffic.
#[test]
fn broken_policy_files_are_errors_naming_the_file() {
    require_gpg!();
    let w = World::new();
    let regd = w.lookaside(&[&w.good_signature.clone()]);
    let key = w.key.to_str().unwrap().to_string();
    let key_data = {
        use std::io::Read;
        let mut b = Vec::new();
        std::fs::File::open(&w.key)
            .unwrap()
            .read_to_end(&mut b)
            .unwrap();
        base64_encode(&b)
    };
    let host = w.reg.host();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown-top.json",
            r#"{"default":[{"type":"insecureAcceptAnything"}],"transprots":{}}"#.into(),
            r#"Unknown key "transprots""#,
        ),
        (
            "unknown-req.json",
            format!(
                r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{key}","keyPth":"x"}}]}}"#
            ),
            r#"Unknown key "keyPth""#,
        ),
        (
            "duplicate.json",
            r#"{"default":[{"type":"reject"}],"default":[{"type":"insecureAcceptAnything"}]}"#
                .into(),
            r#"Duplicate key "default""#,
        ),
        (
            "duplicate-scope.json",
            format!(
                r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}":[{{"type":"reject"}}],"{host}":[{{"type":"insecureAcceptAnything"}}]}}}}}}"#
            ),
            "Duplicate key",
        ),
        (
            "empty-default.json",
            r#"{"default":[]}"#.into(),
            "List of verification policy requirements must not be empty",
        ),
        (
            "empty-scope.json",
            format!(
                r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}":[]}}}}}}"#
            ),
            "List of verification policy requirements must not be empty",
        ),
        (
            "path-and-data.json",
            format!(
                r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{key}","keyData":"{key_data}"}}]}}"#
            ),
            "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present",
        ),
        (
            "not-json.json",
            "{\"default\":[{\"type\":\"reject\"}]".into(),
            "policy",
        ),
        ("empty.json", String::new(), "unexpected end of JSON input"),
    ];
    for (name, text, needle) in cases {
        let p = w.path(name);
        std::fs::write(&p, text).unwrap();
        let err = w.pull_fails(&regd, &p, 2, needle);
        assert!(
            err.contains(p.to_str().unwrap()),
            "{name}: the error does not name the file: {err}"
        );
    }
    // And a policy file that does not exist.
    let p = w.path("no-such-policy.json");
    let err = w.pull_fails(&regd, &p, 2, "no-such-policy.json");
    assert!(err.contains(p.to_str().unwrap()), "{err}");
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
