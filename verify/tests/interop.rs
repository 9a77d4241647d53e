//! Round trips between vouch-sign, vouch-verify and the real Debian
//! skopeo/GnuPG: a signature vouch makes must verify in vouch and in
//! `skopeo standalone-verify` (containers/image 5.23, GPGME).

use std::path::{Path, PathBuf};
use std::process::Command;

use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::serialize::Serialize;
use sequoia_openpgp::types::KeyFlags;
use vouch_sign::{Passphrase, SigningKey};
use vouch_verify::policy::{Policy, PolicyImage};

/// The workspace's one skip rule (recorded, or a failure under VOUCH_NO_SKIP).
#[path = "../../tests/common/skip.rs"]
mod skip;

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/containers-image"
    ))
}

fn manifest() -> Vec<u8> {
    std::fs::read(fixtures().join("signature/fixtures/image.manifest.json")).unwrap()
}

/// A fresh cert whose primary key signs; TSK and public cert written to `dir`.
fn key_files(dir: &Path) -> (PathBuf, PathBuf, String) {
    let (cert, _) = CertBuilder::new()
        .add_userid("Vouch Interop <interop@example.com>")
        .set_cipher_suite(CipherSuite::RSA3k)
        .set_primary_key_flags(KeyFlags::empty().set_signing().set_certification())
        .set_password(Some("interop pass".into()))
        .generate()
        .unwrap();
    let secret = dir.join("secret.pgp");
    let public = dir.join("public.pgp");
    let mut out = Vec::new();
    cert.as_tsk().serialize(&mut out).unwrap();
    std::fs::write(&secret, out).unwrap();
    let mut out = Vec::new();
    cert.serialize(&mut out).unwrap();
    std::fs::write(&public, out).unwrap();
    (secret, public, cert.fingerprint().to_hex())
}

fn policy_for(public: &Path) -> Policy {
    let text = format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"registry.example.com/ns":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{}}}]}}}}}}"#,
        serde_json::to_string(&public.to_string_lossy()).unwrap()
    );
    Policy::parse(text.as_bytes()).unwrap()
}

#[test]
fn sign_then_verify_in_vouch() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, fpr) = key_files(dir.path());
    let pass_file = dir.path().join("pass");
    std::fs::write(&pass_file, "interop pass\n").unwrap();
    let pass = Passphrase::read_file(&pass_file).unwrap();
    let mut key = SigningKey::from_key_file(&secret, Some(&pass)).unwrap();
    let manifest = manifest();
    let blob = key
        .sign_manifest(&manifest, "registry.example.com/ns/app:v1")
        .unwrap();

    let policy = policy_for(&public);
    let image = PolicyImage::docker("registry.example.com/ns/app:v1").unwrap();
    assert!(policy.needs_signatures(&image));
    let ok = policy
        .evaluate(&image, &manifest, std::slice::from_ref(&blob))
        .unwrap();
    assert_eq!(ok.signatures[0].key_fingerprint(), fpr);
    assert_eq!(ok.signatures[0].creator(), Some(vouch_sign::CREATOR));

    let other_tag = PolicyImage::docker("registry.example.com/ns/app:v2").unwrap();
    assert!(policy.evaluate(&other_tag, &manifest, &[blob]).is_err());
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `skopeo standalone-verify` (1.9.3: fingerprint list, keys from $GNUPGHOME).
fn skopeo_verify(
    home: &Path,
    manifest: &Path,
    reference: &str,
    fpr: &str,
    sig: &Path,
) -> std::process::Output {
    Command::new("skopeo")
        .env("GNUPGHOME", home)
        .arg("standalone-verify")
        .arg(manifest)
        .arg(reference)
        .arg(fpr)
        .arg(sig)
        .output()
        .unwrap()
}

fn gpg(home: &Path) -> Command {
    let mut c = Command::new("gpg");
    c.arg("--homedir").arg(home).args(["--batch", "--no-tty"]);
    c
}

struct AgentGuard(PathBuf);

impl Drop for AgentGuard {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.0)
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

#[test]
fn skopeo_accepts_key_file_signature() {
    if !have("skopeo") || !have("gpg") {
        skip::skip("skopeo or gpg is not installed (scripts/setup.sh installs them)");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("vi")
        .tempdir_in("/tmp")
        .unwrap();
    let home = dir.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let _agent = AgentGuard(home.clone());
    let (secret, public, fpr) = key_files(dir.path());
    let imported = gpg(&home).arg("--import").arg(&public).output().unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    let mut key =
        SigningKey::from_key_file(&secret, Some(&Passphrase::new("interop pass"))).unwrap();
    let manifest_path = fixtures().join("signature/fixtures/image.manifest.json");
    let blob = key
        .sign_manifest(&manifest(), "docker.io/library/busybox:latest")
        .unwrap();
    let sig = dir.path().join("signature-1");
    std::fs::write(&sig, &blob).unwrap();

    let out = skopeo_verify(&home, &manifest_path, "busybox:latest", &fpr, &sig);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "skopeo: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Signature verified"), "{stdout}");
    // And skopeo really checks: another identity is refused.
    let out = skopeo_verify(&home, &manifest_path, "busybox:other", &fpr, &sig);
    assert!(!out.status.success());
}

#[test]
fn skopeo_accepts_gpg_agent_signature() {
    if !have("skopeo") || !have("gpg") {
        skip::skip("skopeo or gpg is not installed (scripts/setup.sh installs them)");
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("vj")
        .tempdir_in("/tmp")
        .unwrap();
    let home = dir.path().to_path_buf();
    let _agent = AgentGuard(home.clone());
    let generated = gpg(&home)
        .args(["--pinentry-mode", "loopback", "--passphrase", "agent pass"])
        .args([
            "--quick-gen-key",
            "Agent Interop <agent-interop@example.com>",
            "default",
            "default",
            "never",
        ])
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    // Forget the cached passphrase so signing exercises the loopback path.
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&home)
        .args(["--kill", "gpg-agent"])
        .output();

    let mut key = SigningKey::from_gpg_agent(
        "agent-interop@example.com",
        Some(&home),
        Some(&Passphrase::new("agent pass")),
    )
    .unwrap();
    let fpr = key.primary_fingerprint().to_string();
    let manifest_path = fixtures().join("signature/fixtures/image.manifest.json");
    let blob = key
        .sign_manifest(&manifest(), "registry.example.com/ns/app:v1")
        .unwrap();
    let sig = home.join("signature-1");
    std::fs::write(&sig, &blob).unwrap();

    let out = skopeo_verify(
        &home,
        &manifest_path,
        "registry.example.com/ns/app:v1",
        &fpr,
        &sig,
    );
    assert!(
        out.status.success(),
        "skopeo: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // vouch agrees, with the home's keyring and with the exported key.
    let ring = vouch_verify::keyring::Keyring::from_gnupg_home(Some(&home)).unwrap();
    assert_eq!(ring.identities(), std::slice::from_ref(&fpr));
    let exported = gpg(&home).arg("--export").arg(&fpr).output().unwrap();
    let public = home.join("public.gpg");
    std::fs::write(&public, exported.stdout).unwrap();
    let image = PolicyImage::docker("registry.example.com/ns/app:v1").unwrap();
    policy_for(&public)
        .evaluate(&image, &manifest(), &[blob])
        .unwrap();
}
