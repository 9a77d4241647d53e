//! The per-container monitor, conmon's job (containers/conmon src/conmon.c;
//! runtime-notes §1.1): it becomes child-subreaper *before* starting the OCI
//! runtime (so init is re-parented to it, also after a restore), owns the
//! container's stdio (pipes, or a pty received on the console socket with
//! `-t`), writes the k8s-file log, holds the published host ports, reaps
//! init, and on exit releases the ports, tears the container down and only
//! then writes the `exit` file, so an exit file means "fully stopped".
//!
//! `vouch run -d` runs it in a detached process (the hidden `__monitor`
//! subcommand); attached `vouch run` runs it in the CLI process itself,
//! additionally copying output to the terminal and forwarding signals.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Result, RuntimeError};
use crate::logs::LogWriter;
use crate::oci::OciRuntime;
use crate::state::{
    now_rfc3339, pid_start_time, write_json, ContainerConfig, ContainerDir, ExitFile, State, Status,
};

/// What the monitor works with.
pub struct Monitor<'a> {
    pub dir: ContainerDir,
    pub cfg: ContainerConfig,
    pub runtime: &'a dyn OciRuntime,
    /// Host ports held until the container exits.
    pub held_ports: Vec<OwnedFd>,
    /// Copy output to our stdout/stderr, our stdin to the container (-i),
    /// and forward SIGINT/SIGTERM/SIGHUP to init; with -t, the local
    /// terminal is raw and its size follows SIGWINCH.
    pub attach: bool,
    /// Where the console socket goes (short path: sun_path is 108 bytes).
    pub console_dir: PathBuf,
    /// Tears down rootfs and network; called before the exit file is written.
    pub cleanup: &'a dyn Fn(&ContainerConfig) -> Result<()>,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|source| RuntimeError::Sys {
        id: String::new(),
        what: "pipe".into(),
        source,
    })
}

fn set_nonblock(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> isize {
    // SAFETY: reading into a valid buffer.
    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }
}

/// Receives the pty master that runc sends over the console socket.
fn recv_pty(listener: &UnixListener, runtime_pid: i32, id: &str) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener
        .set_nonblocking(true)
        .map_err(crate::error::io("console socket"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // runc failed before connecting: stop waiting.
                if !crate::state::pid_alive(std::path::Path::new("/proc"), runtime_pid, None)
                    || Instant::now() > deadline
                {
                    return Err(RuntimeError::Monitor {
                        id: id.into(),
                        message: "the OCI runtime sent no terminal".into(),
                    });
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(crate::error::io("console socket")(e)),
        }
    };
    stream
        .set_nonblocking(false)
        .map_err(crate::error::io("console socket"))?;
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|source| RuntimeError::Sys {
        id: id.into(),
        what: "receiving the terminal".into(),
        source,
    })?;
    for c in msg.cmsgs().map_err(|source| RuntimeError::Sys {
        id: id.into(),
        what: "receiving the terminal".into(),
        source,
    })? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(RuntimeError::Monitor {
        id: id.into(),
        message: "the OCI runtime sent no terminal".into(),
    })
}

/// Gives back the pages start-up touched: the detached monitor is the same
/// large binary as the CLI, but from here on it only runs its poll loop.
/// In a private, read-only file mapping every page that is still the file's
/// own (pagemap bit 61: a page-cache page, not a private copy such as a
/// relocated RELRO page) can be unmapped with MADV_DONTNEED without losing
/// anything: it faults back in from the page cache when used. Private
/// copies are kept. malloc_trim returns freed heap.
fn trim_memory() {
    use std::os::unix::fs::FileExt;
    let (Ok(maps), Ok(pagemap)) = (
        fs::read_to_string("/proc/self/maps"),
        fs::File::open("/proc/self/pagemap"),
    ) else {
        return;
    };
    const PAGE: usize = 4096;
    const PRESENT: u64 = 1 << 63;
    const FILE_PAGE: u64 = 1 << 61;
    let drop_range = |a: usize, b: usize| {
        if b > a {
            // SAFETY: [a, b) lies in a private, non-writable file mapping and
            // holds no private copies (checked by the caller): dropping it
            // loses nothing.
            unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_DONTNEED) };
        }
    };
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(inode)) = (f.next(), f.next(), f.nth(2)) else {
            continue;
        };
        let Some((Ok(a), Ok(b))) = range
            .split_once('-')
            .map(|(a, b)| (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)))
        else {
            continue;
        };
        if inode == "0" || !perms.starts_with("r-") || !perms.ends_with('p') || a % PAGE != 0 {
            continue;
        }
        let pages = (b - a) / PAGE;
        let mut entries = vec![0u8; pages * 8];
        if pagemap
            .read_exact_at(&mut entries, (a / PAGE * 8) as u64)
            .is_err()
        {
            continue;
        }
        let mut run_start = a;
        for (i, e) in entries.chunks_exact(8).enumerate() {
            let e = u64::from_le_bytes(e.try_into().unwrap_or_default());
            if e & PRESENT != 0 && e & FILE_PAGE == 0 {
                // A private copy (relocated data): keep it.
                let here = a + i * PAGE;
                drop_range(run_start, here);
                run_start = here + PAGE;
            }
        }
        drop_range(run_start, b);
    }
    // SAFETY: glibc call with no preconditions.
    unsafe { libc::malloc_trim(0) };
}

struct Stream {
    fd: OwnedFd,
    name: &'static str,
    /// Where attached output is copied (1 or 2).
    out: RawFd,
    open: bool,
}

impl Monitor<'_> {
    /// Starts the container and supervises it to the end. `ready` gets the
    /// init pid (or the start error) as soon as it is known. Returns the
    /// exit code (conmon's: WEXITSTATUS, or 128+signal).
    pub fn run(self, ready: &mut dyn FnMut(std::result::Result<i32, String>)) -> Result<i32> {
        let id = self.cfg.id.clone();
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        if self.attach {
            for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
                mask.add(s);
            }
            if self.cfg.tty {
                mask.add(Signal::SIGWINCH);
            }
        }
        mask.thread_block().map_err(|source| RuntimeError::Sys {
            id: id.clone(),
            what: "sigprocmask".into(),
            source,
        })?;
        let mut sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|source| RuntimeError::Sys {
            id: id.clone(),
            what: "signalfd".into(),
            source,
        })?;

        match self.start() {
            Err(e) => {
                let msg = e.to_string();
                let _ = (self.cleanup)(&self.cfg);
                drop(self.held_ports);
                ready(Err(msg));
                let _ = mask.thread_unblock();
                Err(e)
            }
            Ok((pid, streams, stdin_w)) => {
                ready(Ok(pid));
                if !self.attach {
                    // The one-time part of log timestamps (which zone) is
                    // done before the trim, so it never comes back.
                    crate::logs::local_zone_is_utc();
                    trim_memory();
                }
                let code = self.supervise(&mut sfd, pid, streams, stdin_w);
                let _ = mask.thread_unblock();
                Ok(code)
            }
        }
    }

    /// Creates stdio, runs `runtime run --detach`, records Running.
    fn start(&self) -> Result<(i32, Vec<Stream>, Option<OwnedFd>)> {
        let id = &self.cfg.id;
        let d = &self.dir;
        let _ = fs::remove_file(d.pidfile());
        let (err_r, err_w) = pipe()?;
        let mut streams = Vec::new();
        let mut stdin_w = None;
        let (child, console) = if self.cfg.tty {
            fs::create_dir_all(&self.console_dir).map_err(crate::error::io(&self.console_dir))?;
            let sock = self
                .console_dir
                .join(format!("{}.sock", crate::id::short(id)));
            let _ = fs::remove_file(&sock);
            let listener = UnixListener::bind(&sock).map_err(crate::error::io(&sock))?;
            let child = self.spawn_init(
                Some(&sock),
                [Stdio::null(), Stdio::null(), Stdio::from(err_w)],
            );
            let child = match child {
                Ok(c) => c,
                Err(e) => {
                    let _ = fs::remove_file(&sock);
                    return Err(e);
                }
            };
            let pty = recv_pty(&listener, child.id() as i32, id);
            let _ = fs::remove_file(&sock);
            (child, Some(pty))
        } else {
            let (out_r, out_w) = pipe()?;
            let (cerr_r, cerr_w) = pipe()?;
            let stdin = if self.cfg.interactive {
                let (r, w) = pipe()?;
                stdin_w = Some(w);
                Stdio::from(r)
            } else {
                Stdio::null()
            };
            // runc's own errors arrive on the container's stderr pipe
            // before the container exists (as with conmon).
            drop(err_w);
            let child = self.spawn_init(None, [stdin, Stdio::from(out_w), Stdio::from(cerr_w)])?;
            streams.push(Stream {
                fd: out_r,
                name: "stdout",
                out: 1,
                open: true,
            });
            streams.push(Stream {
                fd: cerr_r,
                name: "stderr",
                out: 2,
                open: true,
            });
            (child, None)
        };
        let mut child = child;
        let status = child
            .wait()
            .map_err(crate::error::io("waiting for the OCI runtime"))?;
        let err_fd = if self.cfg.tty {
            err_r.as_raw_fd()
        } else {
            streams[1].fd.as_raw_fd()
        };
        if !status.success() {
            set_nonblock(err_fd);
            let mut buf = vec![0u8; 65536];
            let n = read_fd(err_fd, &mut buf).max(0) as usize;
            return Err(RuntimeError::Runtime {
                runtime: self.runtime.name(),
                action: "run",
                id: id.clone(),
                stderr: crate::oci::clean_stderr(&buf[..n]),
            });
        }
        if let Some(pty) = console {
            streams.push(Stream {
                fd: pty?,
                name: "stdout",
                out: 1,
                open: true,
            });
        }
        let pid: i32 = fs::read_to_string(d.pidfile())
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| RuntimeError::Monitor {
                id: id.clone(),
                message: format!("no pid in {}", d.pidfile().display()),
            })?;
        let mut st = d.read_state()?;
        st.status = Some(Status::Running);
        st.pid = Some(pid);
        st.pid_start = pid_start_time(std::path::Path::new("/proc"), pid);
        st.monitor_pid = Some(std::process::id() as i32);
        st.monitor_start = pid_start_time(std::path::Path::new("/proc"), std::process::id() as i32);
        st.started_at = Some(now_rfc3339());
        st.finished_at = None;
        st.exit_code = None;
        d.write_state(&st)?;
        Ok((pid, streams, stdin_w))
    }

    fn supervise(
        self,
        sfd: &mut SignalFd,
        pid: i32,
        mut streams: Vec<Stream>,
        stdin_w: Option<OwnedFd>,
    ) -> i32 {
        let mut log = LogWriter::open(&self.dir.log()).ok();
        for s in &streams {
            set_nonblock(s.fd.as_raw_fd());
        }
        let forward_stdin = self.attach && self.cfg.interactive;
        let mut stdin_open = forward_stdin;
        let pty_fd = if self.cfg.tty {
            streams.first().map(|s| s.fd.as_raw_fd())
        } else {
            None
        };
        let stdin_target: Option<RawFd> = pty_fd.or(stdin_w.as_ref().map(|f| f.as_raw_fd()));
        // Attached with -t: the local terminal goes raw (restored when this
        // returns) and lends its size to the container's pty.
        let _raw = match pty_fd.filter(|_| self.attach) {
            Some(pty) => {
                crate::terminal::copy_size(pty);
                crate::terminal::RawMode::enter()
            }
            None => None,
        };
        let mut stdin_w = stdin_w;
        let mut exit: Option<i32> = None;
        let mut drain_deadline: Option<Instant> = None;
        let mut buf = vec![0u8; 65536];
        loop {
            if exit.is_some()
                && (streams.iter().all(|s| !s.open)
                    || drain_deadline.is_some_and(|d| Instant::now() >= d))
            {
                break;
            }
            let mut pfds = vec![libc::pollfd {
                fd: sfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            for s in &streams {
                pfds.push(libc::pollfd {
                    fd: if s.open { s.fd.as_raw_fd() } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            if stdin_open {
                pfds.push(libc::pollfd {
                    fd: 0,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            let timeout = if exit.is_some() { 50 } else { -1 };
            // SAFETY: pfds is a valid array of pollfd.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                continue; // EINTR
            }
            if pfds[0].revents != 0 {
                while let Ok(Some(si)) = sfd.read_signal() {
                    let sig = si.ssi_signo as i32;
                    if sig == libc::SIGCHLD {
                        loop {
                            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                                Ok(WaitStatus::Exited(p, c)) if p.as_raw() == pid => exit = Some(c),
                                Ok(WaitStatus::Signaled(p, s, _)) if p.as_raw() == pid => {
                                    exit = Some(128 + s as i32)
                                }
                                Ok(WaitStatus::StillAlive) | Err(_) => break,
                                Ok(_) => {}
                            }
                        }
                        if exit.is_some() && drain_deadline.is_none() {
                            drain_deadline = Some(Instant::now() + Duration::from_millis(500));
                        }
                    } else if sig == libc::SIGWINCH {
                        if let Some(pty) = pty_fd {
                            crate::terminal::copy_size(pty);
                        }
                    } else {
                        // podman --sig-proxy: pass the signal to init.
                        // SAFETY: kill(2) of the container's init.
                        unsafe { libc::kill(pid, sig) };
                    }
                }
            }
            for (i, s) in streams.iter_mut().enumerate() {
                let re = pfds[i + 1].revents;
                if !s.open || re == 0 {
                    continue;
                }
                let n = read_fd(s.fd.as_raw_fd(), &mut buf);
                if n > 0 {
                    let data = &buf[..n as usize];
                    if let Some(l) = log.as_mut() {
                        let _ = l.write(s.name, data);
                    }
                    if self.attach {
                        let _ = crate::fdio::write_all(s.out, data);
                    }
                } else if n == 0
                    || std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN)
                {
                    s.open = false; // EOF, or EIO on a pty whose slaves are gone
                }
            }
            if stdin_open {
                if let Some(p) = pfds.last().filter(|p| p.fd == 0 && p.revents != 0) {
                    let _ = p;
                    let n = read_fd(0, &mut buf);
                    if n > 0 {
                        if let Some(t) = stdin_target {
                            let _ = crate::fdio::write_all(t, &buf[..n as usize]);
                        }
                    } else {
                        stdin_open = false;
                        stdin_w = None; // EOF to the container
                    }
                }
            }
        }
        drop(stdin_w);
        if let Some(l) = &log {
            l.sync();
        }
        let code = exit.unwrap_or(-1);
        self.finish(code);
        code
    }

    /// Releases ports, tears down, then writes `exit` and the final state.
    fn finish(self, code: i32) {
        drop(self.held_ports);
        let _ = (self.cleanup)(&self.cfg);
        let finished = now_rfc3339();
        if self.cfg.auto_remove {
            let _ = fs::remove_dir_all(&self.dir.dir);
            return;
        }
        let _ = write_json(
            &self.dir.exit(),
            &ExitFile {
                code,
                finished_at: finished.clone(),
            },
        );
        if let Ok(mut st) = self.dir.read_state() {
            st = State {
                status: Some(Status::Exited),
                exit_code: Some(code),
                finished_at: Some(finished),
                pid: None,
                pid_start: None,
                mounted: false,
                network_up: false,
                ..st
            };
            let _ = self.dir.write_state(&st);
        }
        let _ = std::io::stdout().flush();
    }
}
