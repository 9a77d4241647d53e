//! `pki`: a certificate from the user's own CA, checked at the current time.
//!
//! containers/image `signature/pki_cert.go`: intermediates come from the
//! policy (`caIntermediates…`) and from the signature's chain annotation
//! (all but its last certificate); the leaf must chain to `caRoots…` for code
//! signing, and carry the required e-mail and/or host name.

use openssl::x509::X509;

use super::certificate::{self, CertError};
use super::public_key::PublicKey;

/// A `pki` trust root, loaded.
#[derive(Clone)]
pub struct PkiRoot {
    pub ca_roots: Vec<X509>,
    pub ca_intermediates: Vec<X509>,
    /// Empty means "not required" (Go's zero value).
    pub subject_email: String,
    pub subject_hostname: String,
}

impl PkiRoot {
    /// `verifyPKI`: the key of an accepted certificate, at `now` (Unix seconds).
    pub fn verify_at(
        &self,
        now: i64,
        certificate_pem: &[u8],
        chain_pem: Option<&[u8]>,
    ) -> Result<PublicKey, CertError> {
        let mut intermediates = self.ca_intermediates.clone();
        intermediates.extend(certificate::offered_intermediates(chain_pem)?);
        let leaf = certificate::parse_leaf(certificate_pem)?;
        certificate::verify_chain(&leaf, &intermediates, &self.ca_roots, now)?;
        if !self.subject_email.is_empty() {
            certificate::check_email(&leaf, &self.subject_email)?;
        }
        if !self.subject_hostname.is_empty() {
            certificate::check_hostname(
                &leaf,
                &intermediates,
                &self.ca_roots,
                now,
                &self.subject_hostname,
            )?;
        }
        certificate::public_key(&leaf)
    }
}
