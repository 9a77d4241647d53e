//! `vouch-monitor`: the detached per-container monitor that `vouch run -d`,
//! `start` and `restore` start (the `vouch_monitor` crate; its protocol is
//! `vouch_monitor::protocol`). It runs in its own session with stdio on
//! /dev/null, so it reports on the sync pipe and nowhere else. It uses only
//! the monitor crate: none of the CLI's dependencies is linked in.

use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;

use vouch_monitor::protocol::{self, Report, PORTS_FD, SYNC_FD};
use vouch_monitor::{run_exit_command, Monitor};

/// Whether `fd` is open; sets close-on-exec on it so the runtime and the
/// exit command do not inherit it.
fn claim(fd: RawFd) -> bool {
    // SAFETY: fcntl on a descriptor number; no memory is involved.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) == 0
    }
}

fn main() -> ExitCode {
    if std::env::args_os().len() > 1 || !claim(SYNC_FD) {
        eprintln!(
            "vouch-monitor takes no arguments: vouch starts it with a request on stdin and a sync pipe on fd {SYNC_FD}"
        );
        return ExitCode::from(2);
    }
    // SAFETY: fd 3 is open (checked) and ours: the CLI placed it.
    let mut sync = Some(unsafe { File::from_raw_fd(SYNC_FD) });
    let report = |sync: &mut Option<File>, r: Report| {
        if let Some(s) = sync.take() {
            let _ = protocol::write_report(s, &r);
        }
    };
    let req = protocol::read_request(std::io::stdin().lock());
    // Stdin was the request pipe; the container's stdio is its own.
    if let Ok(null) = File::open("/dev/null") {
        // SAFETY: dup2 onto fd 0, which we own.
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) };
    }
    let req = match req {
        Ok(r) => r,
        Err(e) => {
            report(&mut sync, Report::Failed((&e).into()));
            return ExitCode::from(2);
        }
    };
    let held: Vec<OwnedFd> = (0..req.held_ports as RawFd)
        .map(|i| PORTS_FD + i)
        .filter(|fd| claim(*fd))
        // SAFETY: the CLI placed the held ports here (checked open).
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    let exit_command = req.exit_command.clone();
    let m = Monitor {
        req,
        held_ports: held,
        attach: false,
    };
    let r = m.run(
        &mut |res| match res {
            Ok(pid) => report(&mut sync, Report::Started { pid }),
            Err(e) => report(&mut sync, Report::Failed(e.into())),
        },
        &mut || run_exit_command(&exit_command),
    );
    if r.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
