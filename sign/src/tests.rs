//! Signing tests: message shape, key choice, passphrases, and the gpg-agent
//! path against a real `gpg --batch` key in a throwaway GNUPGHOME.

use std::path::{Path, PathBuf};
use std::process::Command;

use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::packet::Packet;
use sequoia_openpgp::parse::{PacketParser, PacketParserResult, Parse};
use sequoia_openpgp::serialize::Serialize;
use sequoia_openpgp::types::KeyFlags;
use sequoia_openpgp::Cert;

use crate::{KeyFileError, Passphrase, Payload, SigningKey};

/// The workspace's one skip rule (recorded, or a failure under VOUCH_NO_SKIP).
#[path = "../../tests/common/skip.rs"]
mod skip;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/containers-image");

fn write_tsk(dir: &Path, certs: &[&Cert]) -> PathBuf {
    let path = dir.join("key.pgp");
    let mut out = Vec::new();
    for c in certs {
        c.as_tsk().serialize(&mut out).unwrap();
    }
    std::fs::write(&path, out).unwrap();
    path
}

/// A cert whose primary key can sign, plus a signing subkey (the primary must win).
fn primary_signer(password: Option<&str>) -> Cert {
    CertBuilder::new()
        .add_userid("Vouch Test <test@example.com>")
        .set_primary_key_flags(KeyFlags::empty().set_signing().set_certification())
        .add_signing_subkey()
        .set_password(password.map(Into::into))
        .generate()
        .unwrap()
        .0
}

/// The packet tags of a message, in order, descending into containers.
fn packet_tags(blob: &[u8]) -> Vec<String> {
    let mut tags = Vec::new();
    let mut ppr = PacketParser::from_bytes(blob).unwrap();
    while let PacketParserResult::Some(pp) = ppr {
        tags.push(format!("{:?}", pp.packet.tag()));
        ppr = pp.recurse().unwrap().1;
    }
    tags
}

fn issuer_of(blob: &[u8]) -> String {
    let mut ppr = PacketParser::from_bytes(blob).unwrap();
    while let PacketParserResult::Some(pp) = ppr {
        if let Packet::Signature(sig) = &pp.packet {
            return sig.issuer_fingerprints().next().unwrap().to_hex();
        }
        ppr = pp.recurse().unwrap().1;
    }
    panic!("no signature packet");
}

#[test]
fn key_file_signature_has_skopeo_compatible_shape() {
    let dir = tempfile::tempdir().unwrap();
    let cert = primary_signer(None);
    let path = write_tsk(dir.path(), &[&cert]);
    let mut key = SigningKey::from_key_file(&path, None).unwrap();
    assert_eq!(key.primary_fingerprint(), cert.fingerprint().to_hex());
    assert_eq!(key.signing_fingerprint(), key.primary_fingerprint());
    assert!(!key.is_subkey());

    let blob = key
        .sign_manifest(b"{}", "docker.io/library/busybox:latest")
        .unwrap();
    assert_eq!(
        blob[0], 0xC4,
        "new-format one-pass signature first (§2.2 sniffing)"
    );
    assert_eq!(packet_tags(&blob), ["OnePassSig", "Literal", "Signature"]);
    assert_eq!(issuer_of(&blob), cert.fingerprint().to_hex());
}

#[test]
fn falls_back_to_signing_subkey_when_primary_cannot_sign() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = CertBuilder::general_purpose(Some("Sub <sub@example.com>"))
        .generate()
        .unwrap();
    let path = write_tsk(dir.path(), &[&cert]);
    let mut key = SigningKey::from_key_file(&path, None).unwrap();
    assert!(key.is_subkey());
    assert_ne!(key.signing_fingerprint(), key.primary_fingerprint());
    let blob = key.sign_manifest(b"{}", "r:1").unwrap();
    assert_eq!(issuer_of(&blob), key.signing_fingerprint());
}

#[test]
fn passphrase_rules() {
    let dir = tempfile::tempdir().unwrap();
    let cert = primary_signer(Some("WithPassphrase123"));
    let path = write_tsk(dir.path(), &[&cert]);
    assert!(matches!(
        SigningKey::from_key_file(&path, None),
        Err(KeyFileError::NeedPassphrase { .. })
    ));
    let wrong = SigningKey::from_key_file(&path, Some(&Passphrase::new("nope"))).unwrap_err();
    assert!(matches!(wrong, KeyFileError::Unlock { .. }), "{wrong}");
    assert!(wrong.to_string().contains(&path.display().to_string()));
    let mut key =
        SigningKey::from_key_file(&path, Some(&Passphrase::new("WithPassphrase123"))).unwrap();
    key.sign_manifest(b"{}", "r:1").unwrap();
}

#[test]
fn key_file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let two = write_tsk(dir.path(), &[&primary_signer(None), &primary_signer(None)]);
    let err = SigningKey::from_key_file(&two, None).unwrap_err();
    assert!(
        matches!(err, KeyFileError::CertCount { count: 2, .. }),
        "{err}"
    );

    let junk = dir.path().join("junk");
    std::fs::write(&junk, "not a key").unwrap();
    let err = SigningKey::from_key_file(&junk, None).unwrap_err();
    assert!(err.to_string().contains("junk"), "{err}");

    let public_only = dir.path().join("pub.pgp");
    let mut out = Vec::new();
    primary_signer(None).serialize(&mut out).unwrap();
    std::fs::write(&public_only, out).unwrap();
    let err = SigningKey::from_key_file(&public_only, None).unwrap_err();
    assert!(matches!(err, KeyFileError::Select { .. }), "{err}");
}

#[test]
fn signs_with_upstream_passphrase_key_from_secring() {
    // §8.1 #41: the GnuPG 1 secring of the upstream fixtures holds
    // F2B5…8093, protected with "WithPassphrase123".
    let secring = std::fs::read(format!("{FIXTURES}/signature/fixtures/secring.gpg")).unwrap();
    let cert = CertParser::from_bytes(&secring)
        .unwrap()
        .filter_map(Result::ok)
        .find(|c| c.fingerprint().to_hex() == "F2B501009F78B0B340221A12A3CD242DA6028093")
        .expect("F2B5… in secring.gpg");
    let dir = tempfile::tempdir().unwrap();
    let path = write_tsk(dir.path(), &[&cert]);
    assert!(SigningKey::from_key_file(&path, Some(&Passphrase::new("wrong"))).is_err());
    let mut key =
        SigningKey::from_key_file(&path, Some(&Passphrase::new("WithPassphrase123"))).unwrap();
    assert_eq!(
        key.primary_fingerprint(),
        "F2B501009F78B0B340221A12A3CD242DA6028093"
    );
    let payload = Payload {
        manifest_digest: "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
            .into(),
        docker_reference: "testing/manifest".into(),
        creator: None,
        timestamp: Some(1_800_000_000),
    };
    let blob = key.sign_payload(&payload).unwrap();
    assert_eq!(issuer_of(&blob), "F2B501009F78B0B340221A12A3CD242DA6028093");
}

/// A throwaway GNUPGHOME whose agent is stopped on drop.
pub(crate) struct GpgHome {
    pub dir: tempfile::TempDir,
}

impl GpgHome {
    /// `gpg --batch --quick-gen-key` as in docs/trust-formats.md §2.3; `None`
    /// when gpg is not installed.
    pub fn generate(uid: &str, passphrase: &str) -> Option<Self> {
        if Command::new("gpg").arg("--version").output().is_err() {
            skip::skip("gpg is not installed (scripts/setup.sh installs it)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("vg")
            .tempdir_in("/tmp")
            .unwrap();
        let home = Self { dir };
        let status = Command::new("gpg")
            .arg("--homedir")
            .arg(home.dir.path())
            .args([
                "--batch",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
            ])
            .args(["--quick-gen-key", uid, "default", "default", "never"])
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "gpg --quick-gen-key: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        Some(home)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn export(&self) -> Vec<u8> {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(self.path())
            .args(["--batch", "--export"])
            .output()
            .unwrap();
        out.stdout
    }
}

impl GpgHome {
    pub fn kill_agent(&self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.dir.path())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        self.kill_agent();
    }
}

#[test]
fn gpg_agent_signs_with_real_gnupg_key() {
    let Some(home) = GpgHome::generate("Agent Signer <agent@example.com>", "agent pass 1") else {
        return;
    };
    let cert = Cert::from_bytes(&home.export()).unwrap();
    let fpr = cert.fingerprint().to_hex();
    let pass_file = home.path().join("passphrase");
    std::fs::write(&pass_file, "agent pass 1\n").unwrap();
    let pass = Passphrase::read_file(&pass_file).unwrap();
    // Key generation left the passphrase in the agent's cache: start afresh so
    // the loopback path is what unlocks the key.
    home.kill_agent();

    for spec in [fpr.as_str(), &fpr[24..], "agent@example.com"] {
        let mut key = SigningKey::from_gpg_agent(spec, Some(home.path()), Some(&pass))
            .unwrap_or_else(|e| panic!("{spec}: {e:?}"));
        assert_eq!(key.primary_fingerprint(), fpr);
        assert!(!key.is_subkey(), "gpg default keys sign with the primary");
        let blob = key
            .sign_manifest(b"{}", "docker.io/library/busybox:latest")
            .unwrap();
        assert_eq!(packet_tags(&blob), ["OnePassSig", "Literal", "Signature"]);
        assert_eq!(issuer_of(&blob), fpr);
    }

    let err =
        SigningKey::from_gpg_agent("nobody@example.com", Some(home.path()), None).unwrap_err();
    assert!(err.to_string().contains("no secret key matching"), "{err}");

    // The agent caches passphrases; a fresh agent must refuse a wrong one.
    home.kill_agent();
    let mut key =
        SigningKey::from_gpg_agent(&fpr, Some(home.path()), Some(&Passphrase::new("wrong")))
            .unwrap();
    assert!(key.sign_manifest(b"{}", "r:1").is_err());
}
