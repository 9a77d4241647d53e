//! `vouch generate-sigstore-key`: skopeo's command, output and refusals
//! (`cmd/skopeo/generate_sigstore_key.go`). The passphrase comes from a file
//! or a no-echo prompt on a terminal, never from the command line, where
//! `ps` and shell history would show it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use vouch_sign::sigstore::key_files::KeyPaths;
use vouch_sign::sigstore::{generate_key_pair, read_passphrase_first_line};

use super::Global;

#[derive(Args, Debug)]
pub struct GenerateSigstoreKeyArgs {
    /// Write the keys to PREFIX.pub and PREFIX.private.
    #[arg(long = "output-prefix", value_name = "PREFIX")]
    pub output_prefix: PathBuf,
    /// Read a passphrase for the private key from PATH (its first line).
    #[arg(long = "passphrase-file", value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
}

pub fn run(_g: &Global, a: GenerateSigstoreKeyArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !a.output_prefix.as_os_str().is_empty(),
        "Usage: generate-sigstore-key --output-prefix PREFIX"
    );
    let paths = KeyPaths::for_prefix(&a.output_prefix);
    paths.ensure_free()?;
    let passphrase = match &a.passphrase_file {
        Some(f) => read_passphrase_first_line(f)?,
        None => super::passphrase_prompt::prompt_new(&paths.private)?,
    };
    let pair = generate_key_pair(&passphrase).context("generating key pair")?;
    paths.write(&pair)?;
    println!(
        "Key written to {:?} and {:?}",
        paths.private.display().to_string(),
        paths.public.display().to_string()
    );
    Ok(ExitCode::SUCCESS)
}
