//! Readiness notification (sd_notify(3)): `READY=1` once every listener is
//! accepting and `STOPPING=1` when shutdown begins, so a `Type=notify` unit
//! is "started" only when the server really serves, and units ordered after
//! it do not race its start. One datagram to the socket in `NOTIFY_SOCKET`
//! (a path, or `@name` for Linux's abstract namespace); a few lines of std
//! instead of libsystemd. Without `NOTIFY_SOCKET` it does nothing.

use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (newline-separated `KEY=VALUE` assignments) to the service
/// manager. `Ok(false)` when there is none to tell.
pub fn notify(state: &str) -> std::io::Result<bool> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let addr = address(target.as_encoded_bytes())?;
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(true)
}

fn address(target: &[u8]) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    if let Some(name) = target.strip_prefix(b"@") {
        SocketAddr::from_abstract_name(name)
    } else if target.starts_with(b"/") {
        SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(target))
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither an absolute path nor @abstract",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_paths_or_abstract_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let addr = address(path.as_os_str().as_encoded_bytes()).unwrap();
        UnixDatagram::unbound()
            .unwrap()
            .send_to_addr(b"READY=1", &addr)
            .unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        assert!(address(b"@vouch-test").is_ok());
        assert!(address(b"relative").is_err());
        assert!(address(b"").is_err());
    }
}
