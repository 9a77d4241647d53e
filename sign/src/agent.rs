//! Signing through gpg-agent with a key from a GnuPG home (`--sign-by FPR`).
//!
//! skopeo/podman select the key with `gpgme_get_key(spec, secret=1)`, which
//! takes any GnuPG key specifier (fingerprint, key ID, e-mail) that matches
//! exactly one secret key (docs/trust-formats.md §2.3). We ask `gpg` itself
//! to resolve the specifier and export the certificate — GnuPG's keybox is not
//! a format Sequoia reads — and let gpg-agent do the private-key operation
//! through sequoia-gpg-agent. A passphrase is handed over with loopback
//! pinentry, which GnuPG ≥ 2.1.12 allows by default; presetting would need
//! `allow-preset-passphrase` in the user's agent configuration.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use sequoia_gpg_agent::gnupg;
use sequoia_gpg_agent::KeyPair;
use sequoia_openpgp::crypto;
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::Cert;

use crate::passphrase::Passphrase;
use crate::select::{choose_signing_key, SelectError};
use crate::SigningKey;

/// Why a key in the GnuPG home cannot be used for signing.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("running {program} to look up signing key {spec:?}")]
    Spawn {
        program: &'static str,
        spec: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no secret key matching {spec:?} in GnuPG home {home}")]
    NotFound { spec: String, home: String },
    #[error("signing key {spec:?} is ambiguous in GnuPG home {home}: matches {fingerprints:?}")]
    Ambiguous {
        spec: String,
        home: String,
        fingerprints: Vec<String>,
    },
    #[error("gpg --export {fingerprint} failed: {stderr}")]
    Export { fingerprint: String, stderr: String },
    #[error("certificate {fingerprint} exported by gpg does not parse")]
    Parse {
        fingerprint: String,
        #[source]
        source: anyhow::Error,
    },
    #[error("signing key {spec:?}")]
    Select {
        spec: String,
        #[source]
        source: SelectError,
    },
    #[error("connecting to gpg-agent for GnuPG home {home}")]
    Agent {
        home: String,
        #[source]
        source: sequoia_gpg_agent::Error,
    },
}

/// Keys as `gpg --list-secret-keys --with-colons` reports them.
#[derive(Debug, Default, PartialEq)]
struct SecretListing {
    /// Primary fingerprints of matching certificates, in listing order.
    primaries: Vec<String>,
    /// Fingerprints whose secret part is absent (`#`: stub or offline).
    unavailable: HashSet<String>,
}

/// Parses colon listings (`sec`/`ssb` records, each followed by `fpr`).
fn parse_listing(text: &str) -> SecretListing {
    let mut out = SecretListing::default();
    let mut pending: Option<(bool, bool)> = None; // (is primary, unavailable)
    for line in text.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.first().copied() {
            Some(kind @ ("sec" | "ssb")) => {
                let token = fields.get(14).copied().unwrap_or("");
                pending = Some((kind == "sec", token.starts_with('#')));
            }
            Some("fpr") => {
                if let (Some((primary, unavailable)), Some(fpr)) = (pending.take(), fields.get(9)) {
                    if primary {
                        out.primaries.push(fpr.to_string());
                    }
                    if unavailable {
                        out.unavailable.insert(fpr.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn gpg(home: Option<&Path>) -> Command {
    let mut cmd = Command::new("gpg");
    if let Some(h) = home {
        cmd.arg("--homedir").arg(h);
    }
    cmd.args(["--batch", "--no-tty"]);
    cmd
}

impl SigningKey {
    /// Resolves `spec` (fingerprint, key ID or e-mail) to exactly one secret
    /// key in `gnupg_home` (default: `$GNUPGHOME`, else `~/.gnupg`) and
    /// returns a signer backed by gpg-agent. The passphrase, if given, is
    /// used through loopback pinentry when signing.
    pub fn from_gpg_agent(
        spec: &str,
        gnupg_home: Option<&Path>,
        passphrase: Option<&Passphrase>,
    ) -> Result<Self, AgentError> {
        let home_name = gnupg_home
            .map(Path::to_path_buf)
            .unwrap_or_else(default_gnupg_home)
            .display()
            .to_string();
        let listed = gpg(gnupg_home)
            .args([
                "--with-colons",
                "--fixed-list-mode",
                "--list-secret-keys",
                "--",
            ])
            .arg(spec)
            .output()
            .map_err(|source| AgentError::Spawn {
                program: "gpg",
                spec: spec.to_string(),
                source,
            })?;
        let listing = parse_listing(&String::from_utf8_lossy(&listed.stdout));
        let fingerprint = match listing.primaries.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(AgentError::NotFound {
                    spec: spec.to_string(),
                    home: home_name,
                })
            }
            many => {
                return Err(AgentError::Ambiguous {
                    spec: spec.to_string(),
                    home: home_name,
                    fingerprints: many.to_vec(),
                })
            }
        };
        let exported = gpg(gnupg_home)
            .args(["--export", "--"])
            .arg(&fingerprint)
            .output()
            .map_err(|source| AgentError::Spawn {
                program: "gpg",
                spec: spec.to_string(),
                source,
            })?;
        if !exported.status.success() || exported.stdout.is_empty() {
            return Err(AgentError::Export {
                fingerprint,
                stderr: String::from_utf8_lossy(&exported.stderr).trim().to_string(),
            });
        }
        let cert = Cert::from_bytes(&exported.stdout).map_err(|source| AgentError::Parse {
            fingerprint: fingerprint.clone(),
            source,
        })?;
        let now = SystemTime::now();
        let available = |k: &sequoia_openpgp::packet::Key<_, _>| {
            !listing.unavailable.contains(&k.fingerprint().to_hex())
        };
        let chosen =
            choose_signing_key(&cert, now, &available).map_err(|source| AgentError::Select {
                spec: spec.to_string(),
                source,
            })?;
        let agent_err = |source| AgentError::Agent {
            home: home_name.clone(),
            source,
        };
        let ctx = match gnupg_home {
            Some(h) => gnupg::Context::with_homedir(h),
            None => gnupg::Context::new(),
        }
        .map_err(agent_err)?;
        // gpg --list-secret-keys normally started it already; make sure.
        ctx.start("gpg-agent").map_err(agent_err)?;
        let mut keypair = KeyPair::new_for_gnupg_context(&ctx, &chosen.key).map_err(agent_err)?;
        let policy = StandardPolicy::new();
        if let Ok(vc) = cert.with_policy(&policy, now) {
            keypair = keypair.with_cert(&vc);
        }
        if let Some(p) = passphrase {
            keypair = keypair.with_password(p.password().clone());
        }
        let signing_fingerprint = chosen.key.fingerprint().to_hex();
        let signer: Box<dyn crypto::Signer + Send + Sync> = Box::new(keypair);
        Ok(SigningKey::new(
            signer,
            chosen.primary_fingerprint,
            signing_fingerprint,
            chosen.is_subkey,
        ))
    }
}

/// Where gpg looks when no home is given (named in error messages).
fn default_gnupg_home() -> PathBuf {
    std::env::var_os("GNUPGHOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".gnupg")))
        .unwrap_or_else(|| PathBuf::from(".gnupg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_colon_listing() {
        let text = "\
sec:u:3072:1:EB5B0FCF10966A88:1795908251:::u:::scESC:::+:::23::0:
fpr:::::::::A06D9F7AAD47327032766DEBEB5B0FCF10966A88:
grp:::::::::0123:
uid:u::::1795908251::HASH::Throwaway Signer <signer@example.com>::::::::::0:
ssb:u:3072:1:1111111111111111:1795908251::::::e:::#:::23:
fpr:::::::::1111111111111111111111111111111111111111:
";
        let listing = parse_listing(text);
        assert_eq!(
            listing.primaries,
            vec!["A06D9F7AAD47327032766DEBEB5B0FCF10966A88"]
        );
        assert!(listing
            .unavailable
            .contains("1111111111111111111111111111111111111111"));
        assert_eq!(listing.unavailable.len(), 1);
    }
}
