//! X.509 for Fulcio and PKI signatures: reading certificates out of PEM,
//! verifying a leaf up to trusted roots at a given time, and the subject
//! checks both trust roots share.
//!
//! Path building, signatures, validity periods, basic constraints, name
//! constraints and critical-extension handling are OpenSSL's
//! (`X509_verify_cert` with an explicit time). Two Go rules it does not apply
//! itself are added: any certificate of the roots pool is a trust anchor
//! (`PARTIAL_CHAIN`, as Go's `CertPool`), and the chain must allow code
//! signing (Go's `KeyUsages: ExtKeyUsageCodeSigning`; read with x509-cert,
//! because OpenSSL 3.0 has no code-signing purpose). Messages are
//! containers/image's (`signature/fulcio_cert.go`, `signature/pki_cert.go`)
//! with OpenSSL's reason where Go would give its own.

use std::net::IpAddr;

use der::asn1::ObjectIdentifier;
use der::Decode;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509CheckFlags, X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509StoreContext, X509};
use x509_cert::ext::pkix::ExtendedKeyUsage;

use super::pem;
use super::public_key::{openssl_reason, PublicKey};

const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ANY_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Why a certificate was not accepted; containers/image's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("parsing leaf certificate: {0}")]
    Leaf(String),
    #[error("no certificate found in signature certificate data")]
    NoLeaf,
    #[error("unexpected multiple certificates present in signature certificate data")]
    SeveralLeaves,
    #[error("loading certificate chain: {0}")]
    Chain(String),
    #[error("veryfing leaf certificate failed: {0}")]
    Verify(String),
    #[error("Required email {wanted:?} not found (got {})", go_quoted_list(.got))]
    Email { wanted: String, got: Vec<String> },
    #[error("Unexpected subject hostname: {0}")]
    Hostname(String),
    #[error("Fulcio certificate is missing the issuer extension")]
    NoIssuer,
    #[error("Fulcio certificate has a duplicate OIDC issuer {0} extension")]
    DuplicateIssuer(&'static str),
    #[error("invalid ASN.1 in OIDC issuer v2 extension: {0}")]
    IssuerAsn1(String),
    #[error("invalid ASN.1 in OIDC issuer v2 extension, trailing data")]
    IssuerTrailing,
    #[error("inconsistent OIDC issuer extension values: v1 {v1:?}, v2 {v2:?}")]
    InconsistentIssuer { v1: String, v2: String },
    #[error("Unexpected Fulcio OIDC issuer {0:?}")]
    WrongIssuer(String),
    #[error("certificate public key: {0}")]
    Key(String),
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `CertPool.AppendCertsFromPEM`: every `CERTIFICATE` block without
/// headers that parses; others are skipped. Empty means "nothing loaded".
pub fn pool_from_pem(mut data: &[u8]) -> Vec<X509> {
    let mut out = Vec::new();
    while let Some((block, rest)) = pem::decode(data) {
        data = rest;
        if block.kind != "CERTIFICATE" || block.has_headers {
            continue;
        }
        if let Ok(cert) = X509::from_der(&block.der) {
            out.push(cert);
        }
    }
    out
}

/// sigstore's `UnmarshalCertificatesFromPEM`: the whole input must be PEM
/// blocks (of any type) each holding a certificate.
pub fn certificates_from_pem(data: &[u8]) -> Result<Vec<X509>, String> {
    let mut rest = pem::trim_space(data);
    let mut out = Vec::new();
    while !rest.is_empty() {
        let Some((block, after)) = pem::decode(rest) else {
            return Err("error during PEM decoding".into());
        };
        out.push(X509::from_der(&block.der).map_err(|e| openssl_reason(&e))?);
        rest = after;
    }
    Ok(out)
}

/// The one certificate of a signature's certificate annotation.
pub fn parse_leaf(data: &[u8]) -> Result<X509, CertError> {
    let mut certs = certificates_from_pem(data).map_err(CertError::Leaf)?;
    match certs.len() {
        0 => Err(CertError::NoLeaf),
        1 => Ok(certs.remove(0)),
        _ => Err(CertError::SeveralLeaves),
    }
}

/// The intermediates a signature's chain annotation offers: all but the last
/// certificate, which upstream takes to be the root and never trusts.
pub fn offered_intermediates(chain: Option<&[u8]>) -> Result<Vec<X509>, CertError> {
    let Some(chain) = chain.filter(|c| !c.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut certs = certificates_from_pem(chain).map_err(CertError::Chain)?;
    certs.pop();
    Ok(certs)
}

/// Verifies `leaf` through `intermediates` to one of `roots`, at `at` (Unix
/// seconds), for code signing.
pub fn verify_chain(
    leaf: &X509,
    intermediates: &[X509],
    roots: &[X509],
    at: i64,
) -> Result<(), CertError> {
    let verify_error = |e: openssl::error::ErrorStack| CertError::Verify(openssl_reason(&e));
    let mut param = X509VerifyParam::new().map_err(verify_error)?;
    param.set_time(at as libc::time_t);
    param
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(verify_error)?;
    let chain = run_verification(leaf, intermediates, roots, &param)?;
    for cert in &chain {
        if !allows_code_signing(cert)? {
            return Err(CertError::Verify(
                "x509: certificate specifies an incompatible key usage".into(),
            ));
        }
    }
    Ok(())
}

/// One `X509_verify_cert` run; the verified chain (leaf first) on success.
fn run_verification(
    leaf: &X509,
    intermediates: &[X509],
    roots: &[X509],
    param: &X509VerifyParam,
) -> Result<Vec<X509>, CertError> {
    let verify_error = |e: openssl::error::ErrorStack| CertError::Verify(openssl_reason(&e));
    let mut store = X509StoreBuilder::new().map_err(verify_error)?;
    for root in roots {
        store.add_cert(root.clone()).map_err(verify_error)?;
    }
    store.set_param(param).map_err(verify_error)?;
    let store = store.build();
    let mut untrusted = Stack::new().map_err(verify_error)?;
    for cert in intermediates {
        untrusted.push(cert.clone()).map_err(verify_error)?;
    }
    let mut ctx = X509StoreContext::new().map_err(verify_error)?;
    let outcome = ctx
        .init(&store, leaf, &untrusted, |c| {
            Ok(match c.verify_cert()? {
                true => Ok(c
                    .chain()
                    .map(|s| s.iter().map(|x| x.to_owned()).collect())
                    .unwrap_or_default()),
                false => Err(c.error().error_string().to_string()),
            })
        })
        .map_err(verify_error)?;
    outcome.map_err(CertError::Verify)
}

/// Go's EKU rule for one certificate: no EKU extension, `anyExtendedKeyUsage`
/// or `codeSigning`.
fn allows_code_signing(cert: &X509) -> Result<bool, CertError> {
    let parsed = parse_x509_cert(cert)?;
    for ext in parsed.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id == EXT_KEY_USAGE {
            let eku = ExtendedKeyUsage::from_der(ext.extn_value.as_bytes()).map_err(|e| {
                CertError::Verify(format!("x509: invalid extended key usages: {e}"))
            })?;
            return Ok(eku
                .0
                .iter()
                .any(|u| *u == CODE_SIGNING || *u == ANY_EXT_KEY_USAGE));
        }
    }
    Ok(true)
}

/// The certificate as x509-cert reads it, for extensions OpenSSL does not expose.
pub(crate) fn parse_x509_cert(cert: &X509) -> Result<x509_cert::Certificate, CertError> {
    let der = cert
        .to_der()
        .map_err(|e| CertError::Leaf(openssl_reason(&e)))?;
    x509_cert::Certificate::from_der(&der).map_err(|e| CertError::Leaf(e.to_string()))
}

/// The e-mail addresses of the subject alternative name.
pub fn emails(cert: &X509) -> Vec<String> {
    cert.subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.email().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `slices.Contains(cert.EmailAddresses, wanted)`.
pub fn check_email(cert: &X509, wanted: &str) -> Result<(), CertError> {
    let got = emails(cert);
    if got.iter().any(|e| e == wanted) {
        return Ok(());
    }
    Err(CertError::Email {
        wanted: wanted.to_string(),
        got,
    })
}

/// Go's `VerifyHostname`: DNS names (leftmost-label wildcards) or, for an IP
/// address, IP SANs; never the subject CN. Matching is OpenSSL's
/// `X509_check_host`/`X509_check_ip`, run as a verification of the chain
/// already accepted, so any failure here is the name.
pub fn check_hostname(
    leaf: &X509,
    intermediates: &[X509],
    roots: &[X509],
    at: i64,
    hostname: &str,
) -> Result<(), CertError> {
    let host_error = |e: openssl::error::ErrorStack| CertError::Hostname(openssl_reason(&e));
    let mut param = X509VerifyParam::new().map_err(host_error)?;
    param.set_time(at as libc::time_t);
    param
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(host_error)?;
    param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS | X509CheckFlags::NEVER_CHECK_SUBJECT);
    let bare = hostname
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(hostname);
    match bare.parse::<IpAddr>() {
        Ok(ip) => param.set_ip(ip).map_err(host_error)?,
        Err(_) => param.set_host(hostname).map_err(host_error)?,
    }
    if run_verification(leaf, intermediates, roots, &param).is_ok() {
        return Ok(());
    }
    let names: Vec<String> = leaf
        .subject_alt_names()
        .map(|ns| {
            ns.iter()
                .filter_map(|n| n.dnsname().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Err(CertError::Hostname(if names.is_empty() {
        format!("x509: certificate is not valid for any names, but wanted to match {hostname}")
    } else {
        format!(
            "x509: certificate is valid for {}, not {hostname}",
            names.join(", ")
        )
    }))
}

/// The certificate's subject public key.
pub fn public_key(cert: &X509) -> Result<PublicKey, CertError> {
    let key = cert
        .public_key()
        .map_err(|e| CertError::Key(openssl_reason(&e)))?;
    PublicKey::from_pkey(key).map_err(|e| CertError::Key(e.to_string()))
}
