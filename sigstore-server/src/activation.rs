//! Socket activation: listening sockets inherited from systemd (a `.socket`
//! unit), `systemd-socket-activate`, or any supervisor speaking the protocol
//! of sd_listen_fds(3), instead of sockets bound by the server.
//!
//! Why: the port is open before the server starts and stays open across
//! restarts, so clients wait in the kernel's queue instead of being refused,
//! and the service needs no privilege to use port 443.
//!
//! The protocol is three environment variables and descriptors from 3 on,
//! so it is written here with std and libc rather than pulling in
//! libsystemd or a crate: `LISTEN_PID` must be our pid (else the variables
//! were meant for a parent and are ignored), `LISTEN_FDS` counts the
//! descriptors, and the optional `LISTEN_FDNAMES` names them. As
//! sd_listen_fds(3) does, the variables are removed once read and the
//! descriptors marked close-on-exec. Only TCP listening sockets are accepted:
//! anything else stops the server with one line naming the descriptor.

use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;
/// More inherited sockets than this is a misconfiguration, not a plan.
const MAX_FDS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("invalid LISTEN_PID {0:?}: expected a process ID")]
    Pid(String),
    #[error("invalid LISTEN_FDS {0:?}: expected a count from 1 to {MAX_FDS}")]
    Count(String),
    #[error("LISTEN_FDNAMES names {names} descriptors, but LISTEN_FDS is {fds}")]
    Names { names: usize, fds: usize },
    #[error("inherited fd {fd} ({name}): {problem}")]
    Fd {
        fd: RawFd,
        name: String,
        problem: FdProblem,
    },
}

/// Why an inherited descriptor cannot be served on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FdProblem {
    #[error("not open")]
    NotOpen,
    #[error("not a socket")]
    NotSocket,
    #[error(
        "not a TCP socket (sigstore-server listens on TCP only: ListenStream=PORT or ADDR:PORT)"
    )]
    NotTcp,
    #[error("not listening (the .socket unit must have Accept=no)")]
    NotListening,
    #[error("{0}")]
    Os(String),
}

/// What the environment asks for, before any descriptor is touched.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Not socket-activated: bind `--listen`.
    Bind,
    /// The variables name another process (a parent that did not `exec` us).
    OtherPid(u32),
    /// Serve on these descriptors, with their names.
    Inherit(Vec<(RawFd, String)>),
}

/// Reads the three variables' values (pure: unit-tested below).
pub fn plan(
    our_pid: u32,
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    names: Option<&str>,
) -> Result<Plan, ActivationError> {
    let Some(pid) = listen_pid else {
        return Ok(Plan::Bind);
    };
    let pid: u32 = pid
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ActivationError::Pid(pid.to_string()))?;
    if pid != our_pid {
        return Ok(Plan::OtherPid(pid));
    }
    let Some(count) = listen_fds else {
        return Ok(Plan::Bind);
    };
    let n: usize = count
        .parse()
        .ok()
        .filter(|n| (1..=MAX_FDS).contains(n))
        .ok_or_else(|| ActivationError::Count(count.to_string()))?;
    let names: Vec<String> = match names {
        None => vec!["unknown".to_string(); n],
        Some(s) => s.split(':').map(str::to_string).collect(),
    };
    if names.len() != n {
        return Err(ActivationError::Names {
            names: names.len(),
            fds: n,
        });
    }
    Ok(Plan::Inherit(
        (LISTEN_FDS_START..).zip(names).take(n).collect(),
    ))
}

/// The listeners passed by a supervisor, or `None` when the server must
/// bind its own. Removes the variables either way; call before any other
/// thread starts (they are process-wide).
pub fn take() -> Result<Option<Vec<(TcpListener, String)>>, ActivationError> {
    let var = |k| std::env::var(k).ok();
    let (pid, fds, names) = (var("LISTEN_PID"), var("LISTEN_FDS"), var("LISTEN_FDNAMES"));
    let planned = plan(
        std::process::id(),
        pid.as_deref(),
        fds.as_deref(),
        names.as_deref(),
    );
    if pid.is_some() || fds.is_some() || names.is_some() {
        for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            std::env::remove_var(k);
        }
    }
    match planned? {
        Plan::Bind => Ok(None),
        Plan::OtherPid(pid) => {
            tracing::warn!(
                listen_pid = pid,
                "LISTEN_FDS is meant for another process; binding --listen instead"
            );
            Ok(None)
        }
        Plan::Inherit(fds) => {
            let mut out = Vec::with_capacity(fds.len());
            for (fd, name) in fds {
                if let Err(problem) = validate(fd) {
                    return Err(ActivationError::Fd { fd, name, problem });
                }
                // SAFETY: LISTEN_PID names this process, so the supervisor
                // passed descriptors 3.. at exec and nothing else owns them;
                // each is taken once, after `validate` saw an open socket.
                let l = unsafe { TcpListener::from_raw_fd(fd) };
                out.push((l, name));
            }
            Ok(Some(out))
        }
    }
}

/// Checks that descriptor `raw` is open and a listening TCP socket, and
/// marks it close-on-exec. Only queries: a raw number, because an
/// inherited descriptor may turn out not to be open at all.
pub fn validate(raw: RawFd) -> Result<(), FdProblem> {
    // SAFETY: fstat into a zeroed stack struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(raw, &mut st) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EBADF) => FdProblem::NotOpen,
            _ => FdProblem::Os(e.to_string()),
        });
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(FdProblem::NotSocket);
    }
    let domain = sockopt(raw, libc::SO_DOMAIN)?;
    let kind = sockopt(raw, libc::SO_TYPE)?;
    let proto = sockopt(raw, libc::SO_PROTOCOL)?;
    if !matches!(domain, libc::AF_INET | libc::AF_INET6)
        || kind != libc::SOCK_STREAM
        || proto != libc::IPPROTO_TCP
    {
        return Err(FdProblem::NotTcp);
    }
    if sockopt(raw, libc::SO_ACCEPTCONN)? == 0 {
        return Err(FdProblem::NotListening);
    }
    // SAFETY: fcntl on a descriptor we hold.
    if unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(FdProblem::Os(std::io::Error::last_os_error().to_string()));
    }
    Ok(())
}

fn sockopt(fd: RawFd, opt: libc::c_int) -> Result<libc::c_int, FdProblem> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `v`.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(FdProblem::Os(std::io::Error::last_os_error().to_string()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn the_variables_are_read_as_sd_listen_fds_reads_them() {
        assert_eq!(plan(7, None, None, None).unwrap(), Plan::Bind);
        // LISTEN_FDS without LISTEN_PID is not for us either.
        assert_eq!(plan(7, None, Some("1"), None).unwrap(), Plan::Bind);
        assert_eq!(
            plan(7, Some("8"), Some("1"), None).unwrap(),
            Plan::OtherPid(8)
        );
        assert_eq!(plan(7, Some("7"), None, None).unwrap(), Plan::Bind);
        assert_eq!(
            plan(7, Some("7"), Some("2"), None).unwrap(),
            Plan::Inherit(vec![(3, "unknown".into()), (4, "unknown".into())])
        );
        assert_eq!(
            plan(7, Some("7"), Some("2"), Some("http:https")).unwrap(),
            Plan::Inherit(vec![(3, "http".into()), (4, "https".into())])
        );
        for bad in ["", "x", "-1", "0"] {
            assert!(
                matches!(
                    plan(7, Some(bad), Some("1"), None),
                    Err(ActivationError::Pid(_))
                ),
                "{bad:?}"
            );
        }
        for bad in ["", "0", "-1", "65", "1x"] {
            let e = plan(7, Some("7"), Some(bad), None).unwrap_err();
            assert!(matches!(e, ActivationError::Count(_)), "{bad:?}: {e}");
        }
        let e = plan(7, Some("7"), Some("2"), Some("one")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "LISTEN_FDNAMES names 1 descriptors, but LISTEN_FDS is 2"
        );
    }

    #[test]
    fn only_listening_tcp_sockets_pass() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(validate(tcp.as_raw_fd()), Ok(()));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(validate(udp.as_raw_fd()), Err(FdProblem::NotTcp));
        let dir = tempfile::tempdir().unwrap();
        let unix = std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap();
        assert_eq!(validate(unix.as_raw_fd()), Err(FdProblem::NotTcp));
        let file = std::fs::File::create(dir.path().join("f")).unwrap();
        assert_eq!(validate(file.as_raw_fd()), Err(FdProblem::NotSocket));
        // A connected (not listening) TCP socket, as Accept=yes would pass.
        let conn = std::net::TcpStream::connect(tcp.local_addr().unwrap()).unwrap();
        assert_eq!(validate(conn.as_raw_fd()), Err(FdProblem::NotListening));
        // (A number no process can have open; a just-closed one could be
        // reused by a concurrent test.)
        assert_eq!(validate(RawFd::MAX), Err(FdProblem::NotOpen));
    }
}
