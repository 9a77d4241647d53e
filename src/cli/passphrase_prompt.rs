//! The passphrase prompt skopeo shows for a sigstore key
//! (`promptForPassphrase`): only on a terminal, never echoed; without a
//! terminal the push fails rather than hang or read a pipe as a secret.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use vouch_sign::Passphrase;

/// Asks for the passphrase of `key_file` on the controlling terminal.
pub fn prompt(key_file: &Path) -> anyhow::Result<Passphrase> {
    let stdin = std::io::stdin();
    anyhow::ensure!(
        stdin.is_terminal(),
        "Cannot prompt for a passphrase for key {}, standard input is not a TTY",
        key_file.display()
    );
    let mut err = std::io::stderr();
    write!(err, "Passphrase for key {}: ", key_file.display())?;
    err.flush()?;
    let line = {
        let _quiet = EchoOff::new()?;
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line
    };
    let pass = line.strip_suffix('\n').unwrap_or(&line);
    Ok(Passphrase::new(pass.strip_suffix('\r').unwrap_or(pass)))
}

/// Turns terminal echo off on stdin until dropped.
struct EchoOff(libc::termios);

impl EchoOff {
    fn new() -> std::io::Result<Self> {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        t.c_lflag |= libc::ECHONL;
        // SAFETY: `t` is a valid termios read from the same fd.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the attributes read in `new`.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.0) };
    }
}
