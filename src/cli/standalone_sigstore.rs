//! `vouch standalone-verify --sigstore-public-key KEY`: the GPG command's
//! shape (one signature, or `--batch LISTFILE` against keys loaded once)
//! for sigstore signatures, judged by
//! [`vouch_verify::standalone_sigstore`].
//!
//! Exit codes as for GPG: 1 when a signature is rejected, 2 when an input
//! (key, manifest, signature file) cannot be read or is not a sigstore
//! signature at all. A signature file may be the stored form or a Sigstore
//! bundle; each line of a batch is told apart on its own.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use vouch_verify::sigstore::public_key::PublicKey;
use vouch_verify::sigstore::SigstoreSignature;
use vouch_verify::standalone::StandaloneError;
use vouch_verify::standalone_sigstore::{verify_sigstore_standalone, SigstoreEvidence};

use super::standalone::{batch_lines, read_capped, rejected};
use super::trust::PolicyRejected;

/// Reads every key file: a file that is not one PEM public key is an
/// error, named, before any signature is looked at.
fn load_keys(files: &[PathBuf], what: &str) -> anyhow::Result<Vec<PublicKey>> {
    files
        .iter()
        .map(|f| {
            let pem = read_capped(f)?;
            PublicKey::from_pem(&pem).with_context(|| format!("reading {what} {}", f.display()))
        })
        .collect()
}

/// The signing keys, and the Rekor keys when any are given.
struct Keys {
    signers: Vec<PublicKey>,
    rekor: Option<Vec<PublicKey>>,
}

impl Keys {
    fn load(signers: &[PathBuf], rekor: &[PathBuf]) -> anyhow::Result<Self> {
        let signers = load_keys(signers, "sigstore public key")?;
        let rekor = if rekor.is_empty() {
            None
        } else {
            let keys = load_keys(rekor, "Rekor public key")?;
            if let Some((_, f)) = keys.iter().zip(rekor).find(|(k, _)| !k.is_ecdsa()) {
                anyhow::bail!("Rekor public key {} is not using ECDSA", f.display());
            }
            Some(keys)
        };
        Ok(Self { signers, rekor })
    }
}

/// The manifest and the parsed signature of one line; `Err` is exit 2.
fn inputs(manifest: &Path, signature: &Path) -> anyhow::Result<(Vec<u8>, SigstoreEvidence)> {
    let manifest = read_capped(manifest)?;
    let blob = read_capped(signature)?;
    let evidence = SigstoreEvidence::parse(&blob)
        .with_context(|| format!("reading signature {}", signature.display()))?;
    Ok((manifest, evidence))
}

fn verified(sig: &SigstoreSignature) -> String {
    let identity = if sig.docker_reference.is_empty() {
        "none (the digest only)".to_string()
    } else {
        super::escape::escape(&sig.docker_reference)
    };
    format!(
        "Signature verified using a sigstore public key, digest {}, identity {identity}",
        sig.manifest_digest,
    )
}

fn judge(
    keys: &Keys,
    manifest: &[u8],
    reference: &str,
    evidence: &SigstoreEvidence,
) -> Result<SigstoreSignature, StandaloneError> {
    verify_sigstore_standalone(
        manifest,
        reference,
        &keys.signers,
        keys.rekor.as_deref(),
        evidence,
        SystemTime::now(),
    )
}

/// `standalone-verify --sigstore-public-key K… [--batch LIST] [MANIFEST REF SIG]`.
pub fn verify(
    key_files: &[PathBuf],
    rekor_files: &[PathBuf],
    batch: Option<&Path>,
    args: &[String],
) -> anyhow::Result<ExitCode> {
    let Some(list) = batch else {
        let [manifest, reference, signature] = args else {
            anyhow::bail!(
                "usage: vouch standalone-verify --sigstore-public-key KEY MANIFEST DOCKER-REFERENCE SIGNATURE"
            );
        };
        let keys = Keys::load(key_files, rekor_files)?;
        let (manifest, evidence) = inputs(Path::new(manifest), Path::new(signature))?;
        return match judge(&keys, &manifest, reference, &evidence) {
            Ok(sig) => {
                println!("{}", verified(&sig));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(PolicyRejected(rejected(e)).into()),
        };
    };
    anyhow::ensure!(
        args.is_empty(),
        "with --batch and --sigstore-public-key, there are no arguments"
    );
    let lines = batch_lines(list)?;
    let keys = Keys::load(key_files, rekor_files)?;
    // Every line is judged; the exit code is the worst outcome.
    let (mut errors, mut rejections) = (0usize, 0usize);
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for (n, [manifest, reference, signature]) in lines {
        let at = super::escape::escape(&format!("{}:{n}", list.display()));
        let (manifest, evidence) = match inputs(Path::new(&manifest), Path::new(&signature)) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("Error: {at}: {}", super::one_line(&e));
                errors += 1;
                continue;
            }
        };
        match judge(&keys, &manifest, &reference, &evidence) {
            Ok(sig) => writeln!(stdout, "{}", verified(&sig)).context("writing to stdout")?,
            Err(e) => {
                eprintln!("Error: {at}: {}", rejected(e));
                rejections += 1;
            }
        }
    }
    stdout.flush().context("writing to stdout")?;
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else if rejections > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
