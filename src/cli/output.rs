//! What happens when the reader of vouch's output goes away
//! (`vouch images | head -1`): the process ends quietly, killed by SIGPIPE
//! as podman is (Go's runtime dies of SIGPIPE on stdout and stderr), instead
//! of Rust's default, which ignores the signal and makes every `println!`
//! panic with "failed printing to stdout".

/// Restores SIGPIPE's default action (terminate, no core, no message).
/// Called once at the start of a command, before any thread is started.
pub fn die_quietly_on_broken_pipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL has no handler to
    // run; it only undoes the SIG_IGN the Rust runtime installed at start.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
