//! Whether the keys of `signedBy` requirements can verify anything, and how
//! good they are. Keys are imported as containers/image imports them
//! (vouch-verify's forgiving [`Keyring`]); quality is judged with Sequoia:
//! expiry and revocation make GPGME refuse every signature, RSA under 2048
//! bits, DSA and SHA-1 self-signatures are weak. Results are cached per file
//! and per keyData blob: large policies repeat one key thousands of times.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use sequoia_openpgp as openpgp;

use openpgp::policy::NullPolicy;
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm, RevocationStatus};
use openpgp::Cert;
use vouch_verify::json::At;
use vouch_verify::keyring::Keyring;
use vouch_verify::policy::{KeySource, Requirement};

use crate::finding::Finding;
use crate::layout::List;
use crate::rules::Rule;

/// A problem with an imported key.
#[derive(Clone, Debug)]
struct Issue {
    rule: Rule,
    message: String,
    hint: &'static str,
}

/// What a key file or blob holds.
enum Keys {
    Unreadable(String),
    Imported(Rc<Vec<Issue>>),
    Empty,
}

/// Imported keys, by file and by keyData content.
#[derive(Default)]
pub struct KeyCache {
    files: HashMap<PathBuf, Rc<Keys>>,
    blobs: HashMap<Vec<u8>, Rc<Keys>>,
}

impl KeyCache {
    fn file(&mut self, path: &Path) -> Rc<Keys> {
        self.files
            .entry(path.to_path_buf())
            .or_insert_with(|| {
                Rc::new(match std::fs::read(path) {
                    Ok(bytes) => import(&bytes),
                    Err(e) => Keys::Unreadable(e.to_string()),
                })
            })
            .clone()
    }

    fn blob(&mut self, bytes: &[u8]) -> Rc<Keys> {
        if let Some(k) = self.blobs.get(bytes) {
            return k.clone();
        }
        let k = Rc::new(import(bytes));
        self.blobs.insert(bytes.to_vec(), k.clone());
        k
    }

    /// Checks every signedBy requirement of `list`.
    pub fn check(&mut self, file: &Path, list: &List<'_>, out: &mut Vec<Finding>) {
        for r in &list.reqs {
            let Requirement::SignedBy(s) = r.req else {
                continue;
            };
            match &s.keys {
                KeySource::Path(p) => {
                    if let Some(at) = r.member("keyPath") {
                        self.path(file, p, &at, "keyPath", out);
                    }
                }
                KeySource::Paths(ps) => {
                    let Some(Ok(Some(items))) = r.member("keyPaths").map(|a| a.array()) else {
                        continue;
                    };
                    for (p, at) in ps.iter().zip(items) {
                        self.path(file, p, &at, "keyPaths entry", out);
                    }
                }
                KeySource::Data(d) => {
                    if let Some(at) = r.member("keyData") {
                        let keys = self.blob(d);
                        report(file, &at, "keyData", &keys, out);
                    }
                }
            }
        }
    }

    fn path(&mut self, file: &Path, p: &Path, at: &At<'_>, what: &str, out: &mut Vec<Finding>) {
        if p.is_relative() {
            out.push(relative_path(file, at, what, p));
            return;
        }
        let keys = self.file(p);
        let shown = format!("{what} \"{}\"", p.display());
        report(file, at, &shown, &keys, out);
    }
}

/// PL108 for a key or CA path (signedBy and sigstoreSigned alike).
pub(crate) fn relative_path(file: &Path, at: &At<'_>, what: &str, p: &Path) -> Finding {
    Finding::new(
        file,
        at.value.pos,
        Rule::RelativeKeyPath,
        format!(
            "{what} \"{}\" is relative: podman and skopeo resolve it against their own working directory, not the policy's",
            p.display()
        ),
    )
    .hint("use an absolute path such as /etc/pki/containers/<name>.gpg (or .pub)")
    .at(&at.path)
}

fn report(file: &Path, at: &At<'_>, what: &str, keys: &Keys, out: &mut Vec<Finding>) {
    let finding =
        |rule, message: String| Finding::new(file, at.value.pos, rule, message).at(&at.path);
    match keys {
        Keys::Unreadable(e) => out.push(
            finding(Rule::KeyFileMissing, format!("{what} cannot be read: {e}"))
                .hint("every image under this scope is rejected until the file exists on the host"),
        ),
        Keys::Empty => out.push(
            finding(Rule::NoPublicKey, format!("{what} holds no OpenPGP public key"))
                .hint("export the key with `gpg --export KEYID > file` (binary or ASCII-armored); every image is rejected with \"No public keys imported\""),
        ),
        Keys::Imported(issues) => {
            for i in issues.iter() {
                out.push(finding(i.rule, format!("{what}: {}", i.message)).hint(i.hint));
            }
        }
    }
}

fn import(bytes: &[u8]) -> Keys {
    let ring = Keyring::import(bytes);
    if ring.is_empty() {
        return Keys::Empty;
    }
    Keys::Imported(Rc::new(ring.certs().iter().flat_map(judge).collect()))
}

/// The problems of one certificate.
fn judge(cert: &Cert) -> Vec<Issue> {
    // SAFETY (API contract, not memory): the null policy accepts everything,
    // which is what we want to look at weak algorithms instead of failing on them.
    let null = unsafe { NullPolicy::new() };
    let fpr = cert.fingerprint().to_hex();
    let mut issues = Vec::new();
    if let RevocationStatus::Revoked(_) = cert.revocation_status(&null, None) {
        issues.push(Issue {
            rule: Rule::KeyRevoked,
            message: format!("key {fpr} is revoked"),
            hint: "signatures by a revoked key are refused: trust its replacement",
        });
    }
    let Ok(vc) = cert.with_policy(&null, None) else {
        return issues;
    };
    if vc.alive().is_err() {
        let when = vc
            .primary_key()
            .key_expiration_time()
            .map(|t| {
                let secs = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                format!(" (expired {} days ago)", days_since(secs))
            })
            .unwrap_or_default();
        issues.push(Issue {
            rule: Rule::KeyExpired,
            message: format!("key {fpr} has expired{when}"),
            hint: "GPGME refuses signatures by an expired key: extend it (`gpg --quick-set-expire`) and re-export",
        });
    }
    for ka in vc.keys() {
        let key = ka.key();
        let which = if key.fingerprint() == cert.fingerprint() {
            format!("primary key {fpr}")
        } else {
            format!("subkey {} of {fpr}", key.fingerprint().to_hex())
        };
        #[allow(deprecated)] // DSA and RSASign are deprecated: that is the point.
        let weak = match key.pk_algo() {
            PublicKeyAlgorithm::DSA => Some("DSA".to_string()),
            PublicKeyAlgorithm::RSAEncryptSign | PublicKeyAlgorithm::RSASign => key
                .mpis()
                .bits()
                .filter(|b| *b < 2048)
                .map(|b| format!("RSA-{b}")),
            _ => None,
        };
        if let Some(alg) = weak {
            issues.push(Issue {
                rule: Rule::WeakKey,
                message: format!("{which} is {alg}"),
                hint: "use RSA-3072 or larger, or Ed25519 where every verifier supports it",
            });
        }
        if ka.binding_signature().hash_algo() == HashAlgorithm::SHA1 {
            issues.push(Issue {
                rule: Rule::WeakKey,
                message: format!("{which} is bound with a SHA-1 self-signature"),
                hint: "SHA-1 is broken for signatures: re-sign the bindings with SHA-256 (`gpg --cert-digest-algo SHA256 --quick-set-expire …`)",
            });
        }
    }
    issues
}

fn days_since(secs: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    now.saturating_sub(secs) / 86_400
}
