//! The passphrase prompt skopeo shows for a sigstore key
//! (`promptForPassphrase`): only on a terminal, never echoed; without a
//! terminal the command fails rather than hang or read a pipe as a secret.

use std::io::IsTerminal;
use std::path::Path;

use vouch_sign::Passphrase;

/// Asks for the passphrase of `key_file` on the terminal.
pub fn prompt(key_file: &Path) -> anyhow::Result<Passphrase> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "Cannot prompt for a passphrase for key {}, standard input is not a TTY",
        key_file.display()
    );
    let line =
        super::sigstore_key::read_hidden(&format!("Passphrase for key {}: ", key_file.display()))?;
    Ok(Passphrase::new(&line))
}
