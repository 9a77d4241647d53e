//! `fulcio`: a short-lived certificate from a Fulcio CA, valid at the time
//! Rekor logged the signature, naming the required OIDC issuer and e-mail.
//!
//! containers/image `signature/fulcio_cert.go`. The OIDC issuer is read from
//! Fulcio's extensions 1.3.6.1.4.1.57264.1.1 (v1, the raw bytes) and .1.8
//! (v2, a DER string); if both are present they must agree. The whole chain
//! is verified at the SET's integrated time (not the leaf's NotBefore, as
//! cosign does), and SCTs are not checked, as upstream.

use der::asn1::{Any, ObjectIdentifier};
use der::{Decode, Reader, SliceReader, Tag, Tagged};
use openssl::x509::X509;

use super::certificate::{self, CertError};
use super::public_key::PublicKey;

const OIDC_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const OIDC_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");

/// A `fulcio` trust root, loaded.
#[derive(Clone)]
pub struct FulcioRoot {
    pub ca_certificates: Vec<X509>,
    pub oidc_issuer: String,
    pub subject_email: String,
}

/// The OIDC issuer Fulcio recorded in `cert`.
pub fn issuer(cert: &X509) -> Result<String, CertError> {
    let parsed = certificate::parse_x509_cert(cert)?;
    let (mut v1, mut v2): (Option<String>, Option<String>) = (None, None);
    for ext in parsed.tbs_certificate.extensions.iter().flatten() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == OIDC_ISSUER_V1 {
            if v1.is_some() {
                return Err(CertError::DuplicateIssuer("v1"));
            }
            v1 = Some(String::from_utf8_lossy(value).into_owned());
        } else if ext.extn_id == OIDC_ISSUER_V2 {
            if v2.is_some() {
                return Err(CertError::DuplicateIssuer("v2"));
            }
            v2 = Some(der_string(value)?);
        }
    }
    match (v1, v2) {
        (Some(v1), Some(v2)) if v1 != v2 => Err(CertError::InconsistentIssuer { v1, v2 }),
        (Some(v), _) | (None, Some(v)) => Ok(v),
        (None, None) => Err(CertError::NoIssuer),
    }
}

/// One DER string value, as Go's `asn1.Unmarshal(bytes, &string)` accepts it.
fn der_string(bytes: &[u8]) -> Result<String, CertError> {
    let mut reader = SliceReader::new(bytes).map_err(|e| CertError::IssuerAsn1(e.to_string()))?;
    let any = Any::decode(&mut reader).map_err(|e| CertError::IssuerAsn1(e.to_string()))?;
    if !reader.is_finished() {
        return Err(CertError::IssuerTrailing);
    }
    match any.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::TeletexString
        | Tag::VisibleString => std::str::from_utf8(any.value())
            .map(str::to_string)
            .map_err(|e| CertError::IssuerAsn1(e.to_string())),
        other => Err(CertError::IssuerAsn1(format!(
            "asn1: structure error: tags don't match ({other} is not a string)"
        ))),
    }
}

impl FulcioRoot {
    /// `verifyFulcioCertificateAtTime`: the key of an accepted certificate.
    pub fn verify_at(
        &self,
        at: i64,
        certificate_pem: &[u8],
        chain_pem: Option<&[u8]>,
    ) -> Result<PublicKey, CertError> {
        let intermediates = certificate::offered_intermediates(chain_pem)?;
        let leaf = certificate::parse_leaf(certificate_pem)?;
        certificate::verify_chain(&leaf, &intermediates, &self.ca_certificates, at)?;
        let got = issuer(&leaf)?;
        if got != self.oidc_issuer {
            return Err(CertError::WrongIssuer(got));
        }
        certificate::check_email(&leaf, &self.subject_email)?;
        certificate::public_key(&leaf)
    }
}
