//! Choosing which key of a certificate signs.
//!
//! containers/image ≤ 5.36 (Debian 12's skopeo 1.9.3 / podman 4.3) compares the
//! fingerprint GPGME reports for a signature — the *signing subkey's* when a
//! subkey signs — with the primary fingerprints of the policy's keys, and has
//! no subkey-to-primary step (docs/trust-formats.md §2.6, §9.1). A subkey
//! signature is therefore rejected by those peers. So we sign with the primary
//! key whenever it is signing-capable, alive and unrevoked, and fall back to a
//! signing subkey only when the primary cannot sign (reported through
//! [`ChosenKey::is_subkey`] so the CLI can warn).

use std::time::SystemTime;

use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::packet::key::{PublicParts, UnspecifiedRole};
use sequoia_openpgp::packet::Key;
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::types::RevocationStatus;
use sequoia_openpgp::Cert;

/// Why no key of a certificate can sign.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("certificate {fingerprint} is not valid now")]
    InvalidCert {
        fingerprint: String,
        #[source]
        source: anyhow::Error,
    },
    #[error("certificate {fingerprint} has no alive, unrevoked, signing-capable key with available secret key material")]
    NoSigningKey { fingerprint: String },
}

/// The key that will make the signature.
pub(crate) struct ChosenKey {
    pub key: Key<PublicParts, UnspecifiedRole>,
    pub primary_fingerprint: String,
    pub is_subkey: bool,
}

/// Picks the signing key of `cert` at `now`, preferring the primary (see module docs).
///
/// Only keys for which `has_secret` holds qualify: key files check the secret
/// material in `cert`, the gpg-agent path asks what GnuPG listed as available.
pub(crate) fn choose_signing_key(
    cert: &Cert,
    now: SystemTime,
    has_secret: &dyn Fn(&Key<PublicParts, UnspecifiedRole>) -> bool,
) -> Result<ChosenKey, SelectError> {
    let policy = StandardPolicy::new();
    let primary_fingerprint = cert.fingerprint().to_hex();
    let vc = cert
        .with_policy(&policy, now)
        .map_err(|source| SelectError::InvalidCert {
            fingerprint: primary_fingerprint.clone(),
            source,
        })?;
    let usable = |ka: &ValidErasedKeyAmalgamation<'_, PublicParts>| {
        ka.for_signing()
            && ka.alive().is_ok()
            && matches!(ka.revocation_status(), RevocationStatus::NotAsFarAsWeKnow)
            && has_secret(ka.key().role_as_unspecified())
    };
    let mut candidates = vc.keys().filter(|ka| usable(ka));
    // `keys()` yields the primary first; prefer it explicitly anyway.
    let all: Vec<_> = candidates.by_ref().collect();
    let chosen = all
        .iter()
        .find(|ka| ka.primary())
        .or_else(|| all.first())
        .ok_or(SelectError::NoSigningKey {
            fingerprint: primary_fingerprint.clone(),
        })?;
    Ok(ChosenKey {
        key: chosen.key().clone(),
        primary_fingerprint,
        is_subkey: !chosen.primary(),
    })
}
