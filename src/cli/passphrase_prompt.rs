//! The passphrase prompts skopeo shows for a sigstore key
//! (`promptForPassphrase`, and `generate-sigstore-key`'s confirmation):
//! only on a terminal, never echoed; without a terminal the command fails
//! rather than hang or read a pipe as a secret. Every prompt of vouch goes
//! through [`read_hidden`], so echo is always restored the same way.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::Context as _;
use nix::sys::termios::{self, LocalFlags, SetArg};
use vouch_sign::Passphrase;

fn require_terminal(key_file: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "Cannot prompt for a passphrase for key {}, standard input is not a TTY",
        key_file.display()
    );
    Ok(())
}

/// Asks for the passphrase of the existing `key_file` on the terminal.
pub fn prompt(key_file: &Path) -> anyhow::Result<Passphrase> {
    require_terminal(key_file)?;
    let line = read_hidden(&format!("Passphrase for key {}: ", key_file.display()))?;
    Ok(Passphrase::new(&line))
}

/// Asks twice for the passphrase of a key about to be written and insists
/// on the same answer: a typo in a passphrase nobody has used yet would
/// lock the key away for good.
pub fn prompt_new(key_file: &Path) -> anyhow::Result<Passphrase> {
    require_terminal(key_file)?;
    let first = read_hidden(&format!("Passphrase for key {}: ", key_file.display()))?;
    let second = read_hidden(&format!(
        "Confirm passphrase for key {}: ",
        key_file.display()
    ))?;
    anyhow::ensure!(
        first == second,
        "passphrases for key {} do not match",
        key_file.display()
    );
    Ok(Passphrase::new(&first))
}

/// One line from the terminal with echo off, restored even on error.
pub(crate) fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).context("reading terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    // Echo goes off before the prompt shows: TCSAFLUSH drops pending
    // input, so an answer typed as soon as the prompt appears is kept.
    termios::tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet).context("turning off echo")?;
    let mut out = std::io::stdout();
    let shown = write!(out, "{prompt}").and_then(|()| out.flush());
    let mut line = String::new();
    let read = shown.and_then(|()| stdin.lock().read_line(&mut line));
    termios::tcsetattr(&stdin, SetArg::TCSAFLUSH, &saved).context("restoring echo")?;
    read.context("reading passphrase")?;
    if line.ends_with('\n') {
        line.pop();
    }
    Ok(line)
}
