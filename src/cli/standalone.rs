//! `vouch standalone-sign` / `standalone-verify`: skopeo's offline commands
//! for signing a manifest file in a pipeline and checking one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::Args;
use vouch_sign::{Passphrase, SigningKey};
use vouch_verify::keyring::Keyring;
use vouch_verify::standalone::{verify_standalone, ExpectedKeys};

use super::common::Global;
use super::trust::PolicyRejected;

#[derive(Args, Debug)]
pub struct StandaloneSignArgs {
    /// Write the signature here.
    #[arg(short, long)]
    pub output: PathBuf,
    /// File holding the key's passphrase.
    #[arg(long = "passphrase-file")]
    pub passphrase_file: Option<PathBuf>,
    /// Sign with the secret key in this file instead of GnuPG's.
    #[arg(long = "key-file")]
    pub key_file: Option<PathBuf>,
    pub manifest: PathBuf,
    pub docker_reference: String,
    /// GnuPG key (fingerprint, key ID or e-mail); ignored with --key-file.
    pub key_fingerprint: Option<String>,
}

#[derive(Args, Debug)]
pub struct StandaloneVerifyArgs {
    /// Public keys to verify with (default: the GnuPG keyring).
    #[arg(long = "public-key-file")]
    pub public_key_file: Vec<PathBuf>,
    pub manifest: PathBuf,
    pub docker_reference: String,
    /// Expected key fingerprints, comma-separated, or `any` (with --public-key-file).
    pub key_fingerprints: String,
    pub signature: PathBuf,
}

fn read(p: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

pub fn sign(_g: &Global, a: StandaloneSignArgs) -> anyhow::Result<ExitCode> {
    let manifest = read(&a.manifest)?;
    let pass = a.passphrase_file.as_deref().map(Passphrase::read_file).transpose()?;
    let mut key = match (&a.key_file, &a.key_fingerprint) {
        (Some(f), _) => SigningKey::from_key_file(f, pass.as_ref())?,
        (None, Some(spec)) => SigningKey::from_gpg_agent(spec, None, pass.as_ref())?,
        (None, None) => anyhow::bail!("name a GnuPG key (KEY-FINGERPRINT) or --key-file"),
    };
    let sig = key.sign_manifest(&manifest, &a.docker_reference)?;
    vouch_image::store::write_atomic(&a.output, &sig).with_context(|| format!("writing {}", a.output.display()))?;
    Ok(ExitCode::SUCCESS)
}

pub fn verify(_g: &Global, a: StandaloneVerifyArgs) -> anyhow::Result<ExitCode> {
    let manifest = read(&a.manifest)?;
    let signature = read(&a.signature)?;
    let expected = ExpectedKeys::parse(&a.key_fingerprints);
    let keyring = if a.public_key_file.is_empty() {
        anyhow::ensure!(
            expected != ExpectedKeys::Any,
            "\"any\" key fingerprint requires --public-key-file"
        );
        Keyring::from_gnupg_home(None)?
    } else {
        let mut k = Keyring::import(&read(&a.public_key_file[0])?);
        for f in &a.public_key_file[1..] {
            k.add(&read(f)?);
        }
        k
    };
    match verify_standalone(&manifest, &a.docker_reference, &expected, &keyring, &signature, SystemTime::now()) {
        Ok(sig) => {
            println!(
                "Signature verified using fingerprint {}, digest {}",
                sig.key_fingerprint(),
                sig.manifest_digest()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(PolicyRejected(format!(
            "Error verifying signature: {}",
            super::one_line(&anyhow::Error::new(e))
        ))
        .into()),
    }
}
