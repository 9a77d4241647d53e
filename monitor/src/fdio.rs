//! Writing a whole buffer with raw write(2): shared by the monitor's poll
//! loop (terminal copies) and the log writer, so the monitor's steady state
//! runs one small piece of code rather than std's `Write` machinery too.

use std::os::fd::RawFd;

/// Writes all of `b` to `fd`, retrying on EINTR and short writes.
pub fn write_all(fd: RawFd, mut b: &[u8]) -> std::io::Result<()> {
    while !b.is_empty() {
        // SAFETY: writing from a valid buffer; the caller owns `fd`.
        let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        b = &b[n as usize..];
    }
    Ok(())
}
