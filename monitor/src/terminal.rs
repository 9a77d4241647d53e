//! The user's terminal during an attached `run -t`: raw mode while attached
//! (so keys such as Ctrl-C and arrows reach the container's pty instead of
//! being handled by the local line discipline) and the window size copied to
//! the container's pty, at start and on every SIGWINCH. podman does both
//! (pkg/domain/infra/abi/terminal: setRawTerminal, resize on SIGWINCH).

use std::os::fd::{AsFd, RawFd};

use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// Puts the terminal on stdin into raw mode and restores the saved mode
/// when dropped, however the attach ends.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Raw mode on stdin, or `None` when stdin is not a terminal (then
    /// there is nothing to restore either).
    pub fn enter() -> Option<Self> {
        let stdin = std::io::stdin();
        let fd = stdin.as_fd();
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

/// (rows, columns) of the local terminal, if there is one.
pub fn local_size() -> Option<(u16, u16)> {
    local_winsize().map(|w| (w.ws_row, w.ws_col))
}

/// The size of the first of stdin, stdout, stderr that is a terminal.
fn local_winsize() -> Option<libc::winsize> {
    (0..3).find_map(|fd| {
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes a winsize into the buffer we pass.
        (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0).then_some(ws)
    })
}

/// Gives the container's pty (its master) the local terminal's size; the
/// kernel then sends SIGWINCH to the container's foreground process group.
/// Returns false when there is no local terminal to copy from.
pub fn copy_size(pty_master: RawFd) -> bool {
    local_winsize().is_some_and(|ws| set_size(pty_master, ws))
}

fn set_size(pty_master: RawFd, ws: libc::winsize) -> bool {
    // SAFETY: TIOCSWINSZ reads the winsize we pass; the caller owns the fd.
    unsafe { libc::ioctl(pty_master, libc::TIOCSWINSZ, &ws) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_size_set_on_the_master_is_what_the_slave_sees() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let ws = libc::winsize {
            ws_row: 41,
            ws_col: 132,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert!(set_size(pty.master.as_raw_fd(), ws));
        let mut got: libc::winsize = unsafe { std::mem::zeroed() };
        assert_eq!(
            unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCGWINSZ, &mut got) },
            0
        );
        assert_eq!((got.ws_row, got.ws_col), (41, 132));
    }
}
