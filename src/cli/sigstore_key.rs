//! `vouch generate-sigstore-key`: skopeo's command, output and refusals
//! (`cmd/skopeo/generate_sigstore_key.go`). The passphrase comes from a file
//! or a no-echo prompt on a terminal, never from the command line, where
//! `ps` and shell history would show it.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use nix::sys::termios::{self, LocalFlags, SetArg};
use vouch_sign::sigstore::key_files::KeyPaths;
use vouch_sign::sigstore::{generate_key_pair, read_passphrase_first_line};
use vouch_sign::Passphrase;

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
        None => prompt_twice(&paths.private)?,
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

/// Asks twice and insists on the same answer: a typo in a passphrase
/// nobody has used yet would lock the key away for good.
fn prompt_twice(private: &Path) -> anyhow::Result<Passphrase> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!(
            "Cannot prompt for a passphrase for key {}, standard input is not a TTY",
            private.display()
        );
    }
    let first = read_hidden(&format!("Passphrase for key {}: ", private.display()))?;
    let second = read_hidden(&format!(
        "Confirm passphrase for key {}: ",
        private.display()
    ))?;
    anyhow::ensure!(
        first == second,
        "passphrases for key {} do not match",
        private.display()
    );
    Ok(Passphrase::new(&first))
}

/// One line from the terminal with echo off, restored even on error.
pub(super) fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).context("reading terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    let mut out = std::io::stdout();
    write!(out, "{prompt}")?;
    out.flush()?;
    termios::tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet).context("turning off echo")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    termios::tcsetattr(&stdin, SetArg::TCSAFLUSH, &saved).context("restoring echo")?;
    read.context("reading passphrase")?;
    if line.ends_with('\n') {
        line.pop();
    }
    Ok(line)
}
