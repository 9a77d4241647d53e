//! The public keys a `signedBy` requirement trusts.
//!
//! containers/image imports `keyPath`/`keyPaths`/`keyData` into an empty,
//! throwaway keyring and trusts exactly what the import reports: the primary
//! fingerprints, in order (docs/trust-formats.md §2.5). GPGME's import is
//! forgiving — junk yields no keys rather than an error, several armor blocks
//! with prose around them all import (podman's own test policy relies on it) —
//! so this import is forgiving the same way, and "no keys at all" is decided
//! by the caller (`No public keys imported`).

use std::path::{Path, PathBuf};
use std::process::Command;

use sequoia_openpgp::cert::CertParser;
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::Cert;

/// Trusted certificates, in import order.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    certs: Vec<Cert>,
    identities: Vec<String>,
}

const ARMOR_BEGIN: &[u8] = b"-----BEGIN PGP ";
const ARMOR_END: &[u8] = b"-----END PGP ";

impl Keyring {
    /// Imports every certificate in `blob`: binary, one armor block, or
    /// several armor blocks with text between them. Never fails.
    pub fn import(blob: &[u8]) -> Self {
        let mut ring = Self::default();
        ring.add(blob);
        ring
    }

    /// Adds the certificates of another blob (for `keyPaths`, which pools keys).
    pub fn add(&mut self, blob: &[u8]) {
        let blocks = armor_blocks(blob);
        if blocks.is_empty() {
            self.add_parsed(blob);
        } else {
            for block in blocks {
                self.add_parsed(block);
            }
        }
    }

    fn add_parsed(&mut self, bytes: &[u8]) {
        let Ok(parser) = CertParser::from_bytes(bytes) else {
            return;
        };
        for cert in parser.flatten() {
            let fpr = cert.fingerprint().to_hex();
            self.identities.push(fpr);
            match self
                .certs
                .iter_mut()
                .find(|c| c.fingerprint() == cert.fingerprint())
            {
                Some(existing) => {
                    if let Ok(merged) = existing.clone().merge_public(cert) {
                        *existing = merged;
                    }
                }
                None => self.certs.push(cert),
            }
        }
    }

    /// Primary fingerprints as GPGME's import reports them: upper-case hex,
    /// in order, duplicates kept.
    pub fn identities(&self) -> &[String] {
        &self.identities
    }

    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// The imported certificates, merged per fingerprint (for callers that
    /// inspect key quality, e.g. policy-lint).
    pub fn certs(&self) -> &[Cert] {
        &self.certs
    }
}

/// The user IDs `gpg --with-colons FILE` lists for the keys in `blob` (what
/// podman's `trust show` prints): key by key in file order, each key's valid
/// user IDs (revoked ones included) in the order of their packets. Sequoia's
/// certificates sort their user IDs, so the order comes from the packets and
/// the validity from the certificate. Junk yields nothing, as gpg's failure does.
pub fn listed_user_ids(blob: &[u8]) -> Vec<String> {
    use sequoia_openpgp::{Packet, PacketPile};
    let blocks = armor_blocks(blob);
    let blocks = if blocks.is_empty() {
        vec![blob]
    } else {
        blocks
    };
    let mut out = Vec::new();
    for block in blocks {
        let Ok(pile) = PacketPile::from_bytes(block) else {
            continue;
        };
        let mut groups: Vec<Vec<Packet>> = Vec::new();
        for p in pile.into_children() {
            if matches!(p, Packet::PublicKey(_) | Packet::SecretKey(_)) || groups.is_empty() {
                groups.push(Vec::new());
            }
            if let Some(g) = groups.last_mut() {
                g.push(p);
            }
        }
        for group in groups {
            let order: Vec<Vec<u8>> = group
                .iter()
                .filter_map(|p| match p {
                    Packet::UserID(u) => Some(u.value().to_vec()),
                    _ => None,
                })
                .collect();
            let Ok(cert) = Cert::from_packets(group.into_iter()) else {
                continue;
            };
            let mut seen: Vec<&[u8]> = Vec::new();
            for uid in &order {
                if seen.contains(&uid.as_slice())
                    || !cert.userids().any(|u| u.userid().value() == uid.as_slice())
                {
                    continue;
                }
                seen.push(uid);
                out.push(String::from_utf8_lossy(uid).into_owned());
            }
        }
    }
    out
}

/// Why the user's GnuPG keyring could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum GnupgExportError {
    #[error("running gpg --export for GnuPG home {home}")]
    Spawn {
        home: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("gpg --export for GnuPG home {home} failed: {stderr}")]
    Failed { home: PathBuf, stderr: String },
}

impl Keyring {
    /// Every public key of a GnuPG home (default `$GNUPGHOME`, else
    /// `~/.gnupg`), for `standalone-verify` without `--public-key-file`.
    /// GnuPG's keybox is read through `gpg --export`.
    pub fn from_gnupg_home(home: Option<&Path>) -> Result<Self, GnupgExportError> {
        let mut cmd = Command::new("gpg");
        if let Some(h) = home {
            cmd.arg("--homedir").arg(h);
        }
        let shown = home
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("(default)"));
        let out = cmd
            .args(["--batch", "--no-tty", "--export"])
            .output()
            .map_err(|source| GnupgExportError::Spawn {
                home: shown.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(GnupgExportError::Failed {
                home: shown,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(Self::import(&out.stdout))
    }
}

/// The armor blocks in `blob`, each from its BEGIN line through its END line.
fn armor_blocks(blob: &[u8]) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut rest = blob;
    let mut offset = 0;
    while let Some(start) = find(rest, ARMOR_BEGIN) {
        let after_begin = start + ARMOR_BEGIN.len();
        let Some(end_rel) = find(&rest[after_begin..], ARMOR_END) else {
            break;
        };
        let end = after_begin + end_rel;
        let line_end = rest[end..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| end + i + 1);
        blocks.push(&blob[offset + start..offset + line_end]);
        offset += line_end;
        rest = &rest[line_end..];
    }
    blocks
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fixture, TEST_KEY};

    const PASS_KEY: &str = "F2B501009F78B0B340221A12A3CD242DA6028093";
    const SUBKEY_PRIMARY: &str = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36";
    const REVOKED_PRIMARY: &str = "6D88C5A1993648A17B2BB0DC6B8499AF63388D63";

    fn ids(blob: &[u8]) -> Vec<String> {
        Keyring::import(blob).identities().to_vec()
    }

    #[test]
    fn imports_like_gpgme() {
        // §8.1 #1–#6.
        assert_eq!(
            ids(&fixture("signature/fixtures/public-key.gpg")),
            [TEST_KEY]
        );
        assert_eq!(
            ids(&fixture("signature/fixtures/public-key-1.gpg")),
            [TEST_KEY]
        );
        assert_eq!(
            ids(&fixture("signature/fixtures/public-key-2.gpg")),
            [PASS_KEY]
        );
        assert_eq!(
            ids(&fixture("signature/fixtures/public-key-with-subkey.gpg")),
            [SUBKEY_PRIMARY]
        );
        assert_eq!(
            ids(&fixture(
                "signature/fixtures/public-key-with-revoked-subkey.gpg"
            )),
            [REVOKED_PRIMARY]
        );
        let ring = [PASS_KEY, TEST_KEY, SUBKEY_PRIMARY, REVOKED_PRIMARY];
        assert_eq!(ids(&fixture("signature/fixtures/pubring.gpg")), ring);
        let twice = [
            fixture("signature/fixtures/pubring.gpg"),
            fixture("signature/fixtures/pubring.gpg"),
        ]
        .concat();
        assert_eq!(ids(&twice), [ring, ring].concat());
        let mut pooled = Keyring::import(&fixture("signature/fixtures/public-key-1.gpg"));
        pooled.add(&fixture("signature/fixtures/public-key-2.gpg"));
        assert_eq!(pooled.identities(), [TEST_KEY, PASS_KEY]);
        assert_eq!(pooled.certs().len(), 2);
        assert!(Keyring::import(b"").is_empty());
        assert!(Keyring::import(b"This is invalid").is_empty());
        assert_eq!(
            ids(&fixture("generated/gpg-skopeo-standalone/public-key.asc")),
            ["A06D9F7AAD47327032766DEBEB5B0FCF10966A88"]
        );
    }

    #[test]
    fn user_ids_as_gpg_lists_them() {
        assert_eq!(
            listed_user_ids(&fixture("signature/fixtures/public-key.gpg")),
            ["skopeo testing key"]
        );
        // What `gpg --with-colons pubring.gpg` lists, key by key.
        assert_eq!(
            listed_user_ids(&fixture("signature/fixtures/pubring.gpg")),
            [
                "With Passphrase (Skopeo Test) <with@passphrase.email>",
                "skopeo testing key",
                "c/image test key with subkey",
                "c/image test key with a REVOKED subkey"
            ]
        );
        assert!(listed_user_ids(b"This is invalid").is_empty());
    }

    #[test]
    fn imports_armor_blocks_among_prose() {
        let armored = String::from_utf8(fixture("signature/fixtures/public-key.gpg")).unwrap();
        let other =
            String::from_utf8(fixture("signature/fixtures/public-key-with-subkey.gpg")).unwrap();
        let blob = format!("Some prose first.\n{armored}\nand in between\n{other}\ntrailing words");
        assert_eq!(ids(blob.as_bytes()), [TEST_KEY, SUBKEY_PRIMARY]);
    }
}
