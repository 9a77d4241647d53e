//! Whether the PEM material a `sigstoreSigned` requirement names can be used
//! at all, judged the way containers/image loads it (sigstore's `cryptoutils`
//! over Go's `encoding/pem` and `crypto/x509`), so a tool can refuse it before
//! every pull is rejected: `trust set -t sigstoreSigned -f`, policy-lint.
//!
//! * a public key (`keyPath`/`keyData`…): the *first* PEM block, of type
//!   `PUBLIC KEY` (SubjectPublicKeyInfo) or `PKCS1 PUBLIC KEY` (RSA);
//! * a Rekor key: the same, and it must be ECDSA;
//! * a CA pool (Fulcio `caPath`, PKI `caRootsPath`): at least one
//!   `CERTIFICATE` block without headers that parses (`AppendCertsFromPEM`
//!   skips the others);
//! * intermediates (PKI `caIntermediatesPath`): every block is a certificate.
//!
//! Parsing is done by RustCrypto's `pem`, `spki`/`x509-cert`, `pkcs1` and
//! `p256` crates; nothing here decodes ASN.1 by hand.

use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::Decode;
use x509_cert::spki::SubjectPublicKeyInfoRef;

/// Largest key or certificate file read (a CA bundle is a few hundred KiB).
pub const MAX_MATERIAL_BYTES: u64 = 4 * 1024 * 1024;

/// What a policy member must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Material {
    PublicKey,
    RekorKey,
    CaCertificates,
    IntermediateCertificates,
}

/// Why material cannot be used; upstream's wording where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaterialError {
    #[error("PEM decoding failed")]
    NoPem,
    #[error("unknown Public key PEM file type: {0}. Are you passing the correct public key?")]
    KeyPemType(String),
    #[error("the PUBLIC KEY block is not a SubjectPublicKeyInfo: {0}")]
    Spki(String),
    #[error("the PKCS1 PUBLIC KEY block is not an RSA public key: {0}")]
    Pkcs1(String),
    #[error("x509: unknown public key algorithm {0}")]
    Algorithm(String),
    #[error("x509: unsupported elliptic curve {0}")]
    Curve(String),
    #[error("x509: failed to unmarshal elliptic curve point")]
    Point,
    #[error("the key is not using ECDSA (Rekor keys must)")]
    NotEcdsa,
    #[error("no CERTIFICATE block parses as a certificate")]
    NoCertificate,
    #[error("PEM block {index} is {tag:?}, not CERTIFICATE")]
    NotCertificate { index: usize, tag: String },
    #[error("certificate {index}: {reason}")]
    Certificate { index: usize, reason: String },
}

const RSA: &str = "1.2.840.113549.1.1.1";
const EC: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";
const DSA: &str = "1.2.840.10040.4.1";
const X25519: &str = "1.3.101.110";
const P256: &str = "1.2.840.10045.3.1.7";
/// Curves Go's x509 accepts besides P-256, with their uncompressed point sizes.
const OTHER_CURVES: [(&str, usize); 3] = [
    ("1.3.132.0.33", 57),
    ("1.3.132.0.34", 97),
    ("1.3.132.0.35", 133),
];

/// Checks `bytes` against what `what` requires.
pub fn check(bytes: &[u8], what: Material) -> Result<(), MaterialError> {
    match what {
        Material::PublicKey => public_key(bytes).map(|_| ()),
        Material::RekorKey => match public_key(bytes)? {
            KeyKind::Ecdsa => Ok(()),
            KeyKind::Other => Err(MaterialError::NotEcdsa),
        },
        Material::CaCertificates => ca_pool(bytes),
        Material::IntermediateCertificates => all_certificates(bytes),
    }
}

enum KeyKind {
    Ecdsa,
    Other,
}

fn public_key(bytes: &[u8]) -> Result<KeyKind, MaterialError> {
    let block = pem::parse(bytes).map_err(|_| MaterialError::NoPem)?;
    match block.tag() {
        "PUBLIC KEY" => spki_key(block.contents()),
        "PKCS1 PUBLIC KEY" => pkcs1::RsaPublicKey::from_der(block.contents())
            .map(|_| KeyKind::Other)
            .map_err(|e| MaterialError::Pkcs1(e.to_string())),
        other => Err(MaterialError::KeyPemType(other.to_string())),
    }
}

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

fn spki_key(der: &[u8]) -> Result<KeyKind, MaterialError> {
    let spki =
        SubjectPublicKeyInfoRef::from_der(der).map_err(|e| MaterialError::Spki(e.to_string()))?;
    let alg = spki.algorithm.oid;
    let key = spki.subject_public_key.raw_bytes();
    if alg == oid(EC) {
        let curve = spki
            .algorithm
            .parameters_oid()
            .map_err(|e| MaterialError::Spki(e.to_string()))?;
        if curve == oid(P256) {
            // Go accepts only the uncompressed form, on the curve.
            if key.first() != Some(&4) || p256::PublicKey::from_sec1_bytes(key).is_err() {
                return Err(MaterialError::Point);
            }
        } else {
            let Some((_, len)) = OTHER_CURVES.iter().find(|(c, _)| curve == oid(c)) else {
                return Err(MaterialError::Curve(curve.to_string()));
            };
            if key.len() != *len || key.first() != Some(&4) {
                return Err(MaterialError::Point);
            }
        }
        return Ok(KeyKind::Ecdsa);
    }
    if alg == oid(RSA) {
        pkcs1::RsaPublicKey::from_der(key).map_err(|e| MaterialError::Spki(e.to_string()))?;
        return Ok(KeyKind::Other);
    }
    if alg == oid(ED25519) || alg == oid(X25519) {
        if key.len() != 32 {
            return Err(MaterialError::Spki(format!(
                "a {}-byte key where 32 are expected",
                key.len()
            )));
        }
        return Ok(KeyKind::Other);
    }
    if alg == oid(DSA) {
        return Ok(KeyKind::Other);
    }
    Err(MaterialError::Algorithm(alg.to_string()))
}

fn blocks(bytes: &[u8]) -> Result<Vec<pem::Pem>, MaterialError> {
    pem::parse_many(bytes).map_err(|_| MaterialError::NoPem)
}

fn ca_pool(bytes: &[u8]) -> Result<(), MaterialError> {
    let usable = blocks(bytes)?.iter().any(|b| {
        b.tag() == "CERTIFICATE"
            && b.headers().iter().next().is_none()
            && x509_cert::Certificate::from_der(b.contents()).is_ok()
    });
    if usable {
        Ok(())
    } else {
        Err(MaterialError::NoCertificate)
    }
}

fn all_certificates(bytes: &[u8]) -> Result<(), MaterialError> {
    let list = blocks(bytes)?;
    if list.is_empty() && !bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(MaterialError::NoPem);
    }
    for (i, b) in list.iter().enumerate() {
        let index = i + 1;
        if b.tag() != "CERTIFICATE" {
            return Err(MaterialError::NotCertificate {
                index,
                tag: b.tag().to_string(),
            });
        }
        x509_cert::Certificate::from_der(b.contents()).map_err(|e| MaterialError::Certificate {
            index,
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// Reads a material file, refusing one larger than [`MAX_MATERIAL_BYTES`]
/// before reading it.
pub fn read_capped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_MATERIAL_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_MATERIAL_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_MATERIAL_BYTES} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/containers-image/signature/fixtures")
            .join(name);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn upstream_material_is_accepted() {
        check(&fixture("cosign.pub"), Material::PublicKey).unwrap();
        check(&fixture("rekor.pub"), Material::RekorKey).unwrap();
        check(&fixture("fulcio_v1.crt.pem"), Material::CaCertificates).unwrap();
        check(&fixture("pki_root_crts.pem"), Material::CaCertificates).unwrap();
        check(
            &fixture("pki_intermediate_crts.pem"),
            Material::IntermediateCertificates,
        )
        .unwrap();
    }

    #[test]
    fn wrong_material_is_refused() {
        let gpg = fixture("public-key.gpg");
        assert_eq!(check(&gpg, Material::PublicKey), Err(MaterialError::NoPem));
        let cert = fixture("fulcio_v1.crt.pem");
        assert_eq!(
            check(&cert, Material::PublicKey),
            Err(MaterialError::KeyPemType("CERTIFICATE".into()))
        );
        let key = fixture("cosign.pub");
        assert_eq!(
            check(&key, Material::CaCertificates),
            Err(MaterialError::NoCertificate)
        );
        assert!(matches!(
            check(&key, Material::IntermediateCertificates),
            Err(MaterialError::NotCertificate { index: 1, .. })
        ));
        // A P-256 point off the curve.
        let text = String::from_utf8(key).unwrap();
        let bad = text.replace("vRuLu/z39pmb", "vRuLu/z39pma");
        assert_eq!(
            check(bad.as_bytes(), Material::PublicKey),
            Err(MaterialError::Point)
        );
        // Garbage inside a PUBLIC KEY block.
        let garbage = "-----BEGIN PUBLIC KEY-----\naGVsbG8=\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            check(garbage.as_bytes(), Material::PublicKey),
            Err(MaterialError::Spki(_))
        ));
    }
}
