//! The poll loop: start init through the runtime's command, then own its
//! stdio, write the log, forward signals (attached), reap, and record the
//! end.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{io, sys, MonitorError};
use crate::log::LogWriter;
use crate::protocol::{Request, StdioMode};
use crate::state::{now_rfc3339, pid_start_time, write_json, ExitFile, Files, State, Status};

type Result<T, E = MonitorError> = std::result::Result<T, E>;

/// One container's monitor.
pub struct Monitor {
    pub req: Request,
    /// Host ports held until the container exits.
    pub held_ports: Vec<OwnedFd>,
    /// Copy output to our stdout/stderr, our stdin to the container (-i),
    /// and forward SIGINT/SIGTERM/SIGHUP to init; with -t, the local
    /// terminal is raw and its size follows SIGWINCH.
    pub attach: bool,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))
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

fn proc_alive(pid: u32) -> bool {
    crate::state::pid_alive(Path::new("/proc"), pid as i32, None)
}

/// Receives the pty master that the runtime sends over the console socket.
fn recv_pty(listener: &UnixListener, runtime_pid: u32) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener
        .set_nonblocking(true)
        .map_err(io("console socket"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The runtime failed before connecting: stop waiting.
                if !proc_alive(runtime_pid) || Instant::now() > deadline {
                    return Err(MonitorError::NoTerminal);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(io("console socket")(e)),
        }
    };
    stream
        .set_nonblocking(false)
        .map_err(io("console socket"))?;
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(sys("receiving the terminal"))?;
    for c in msg.cmsgs().map_err(sys("receiving the terminal"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(MonitorError::NoTerminal)
}

struct Stream {
    fd: OwnedFd,
    name: &'static str,
    /// Where attached output is copied (1 or 2).
    out: RawFd,
    open: bool,
}

impl Monitor {
    fn files(&self) -> Files {
        Files {
            dir: self.req.dir.clone(),
        }
    }

    /// Starts the container and supervises it to the end. `ready` gets the
    /// init pid (or the start error) as soon as it is known; on a start
    /// error nothing is torn down (the CLI, which waits for the report,
    /// does that). Once init is gone, `cleanup` tears the container down;
    /// it returns whether that worked. Returns the exit code (conmon's:
    /// WEXITSTATUS, or 128+signal).
    pub fn run(
        self,
        ready: &mut dyn FnMut(Result<i32, &MonitorError>),
        cleanup: &mut dyn FnMut() -> bool,
    ) -> Result<i32> {
        // SAFETY: prctl with integer arguments. Subreaper *before* the
        // runtime starts, so init (also a restored one) is re-parented here.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let tty = self.req.stdio.console_socket().is_some();
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        if self.attach {
            for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
                mask.add(s);
            }
            if tty {
                mask.add(Signal::SIGWINCH);
            }
        }
        mask.thread_block().map_err(sys("sigprocmask"))?;
        let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(sys("signalfd"));
        let started = sfd.and_then(|sfd| self.start().map(|s| (sfd, s)));
        match started {
            Err(e) => {
                drop(self.held_ports);
                ready(Err(&e));
                let _ = mask.thread_unblock();
                Err(e)
            }
            Ok((mut sfd, (pid, streams, stdin_w))) => {
                ready(Ok(pid));
                let code = self.supervise(&mut sfd, pid, streams, stdin_w, cleanup);
                let _ = mask.thread_unblock();
                Ok(code)
            }
        }
    }

    /// Runs the runtime's detached command with `stdio`.
    fn spawn_init(&self, stdio: [Stdio; 3]) -> Result<Child> {
        let c = self.req.init.command();
        let [i, o, e] = stdio;
        Command::new(&c.program)
            .args(&c.args)
            .envs(c.env.iter().map(|(k, v)| (k, v)))
            .stdin(i)
            .stdout(o)
            .stderr(e)
            .spawn()
            .map_err(|e| MonitorError::Runtime {
                runtime: c.program.clone(),
                action: self.req.init.action(),
                stderr: e.to_string(),
            })
    }

    /// Creates stdio, runs the runtime's `run`/`restore --detach`, records
    /// Running.
    fn start(&self) -> Result<(i32, Vec<Stream>, Option<OwnedFd>)> {
        let files = self.files();
        let _ = fs::remove_file(files.pidfile());
        let (err_r, err_w) = pipe()?;
        let mut streams = Vec::new();
        let mut stdin_w = None;
        let (child, console) = match &self.req.stdio {
            StdioMode::Terminal { console_socket, .. } => {
                let sock = console_socket;
                if let Some(parent) = sock.parent() {
                    fs::create_dir_all(parent).map_err(io(parent))?;
                }
                let _ = fs::remove_file(sock);
                let listener = UnixListener::bind(sock).map_err(io(sock))?;
                let child =
                    match self.spawn_init([Stdio::null(), Stdio::null(), Stdio::from(err_w)]) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = fs::remove_file(sock);
                            return Err(e);
                        }
                    };
                let pty = recv_pty(&listener, child.id());
                let _ = fs::remove_file(sock);
                (child, Some(pty))
            }
            StdioMode::Pipes { interactive } => {
                let (out_r, out_w) = pipe()?;
                let (cerr_r, cerr_w) = pipe()?;
                let stdin = if *interactive {
                    let (r, w) = pipe()?;
                    stdin_w = Some(w);
                    Stdio::from(r)
                } else {
                    Stdio::null()
                };
                // The runtime's own errors arrive on the container's stderr
                // pipe before the container exists (as with conmon).
                drop(err_w);
                let child = self.spawn_init([stdin, Stdio::from(out_w), Stdio::from(cerr_w)])?;
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
            }
        };
        let mut child = child;
        let status = child.wait().map_err(io("waiting for the OCI runtime"))?;
        let err_fd = match streams.get(1) {
            Some(s) => s.fd.as_raw_fd(),
            None => err_r.as_raw_fd(),
        };
        if !status.success() {
            set_nonblock(err_fd);
            let mut buf = vec![0u8; 65536];
            let n = read_fd(err_fd, &mut buf).max(0) as usize;
            return Err(MonitorError::Runtime {
                runtime: self.req.init.command().program.clone(),
                action: self.req.init.action(),
                stderr: String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned(),
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
        let pid: i32 = fs::read_to_string(files.pidfile())
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| MonitorError::NoPid(files.pidfile()))?;
        let proc = Path::new("/proc");
        let me = std::process::id() as i32;
        let st = State {
            status: Some(Status::Running),
            pid: Some(pid),
            pid_start: pid_start_time(proc, pid),
            monitor_pid: Some(me),
            monitor_start: pid_start_time(proc, me),
            started_at: Some(now_rfc3339()),
            finished_at: None,
            exit_code: None,
            ..files.read_state()?
        };
        files.write_state(&st)?;
        Ok((pid, streams, stdin_w))
    }

    fn supervise(
        self,
        sfd: &mut SignalFd,
        pid: i32,
        mut streams: Vec<Stream>,
        stdin_w: Option<OwnedFd>,
        cleanup: &mut dyn FnMut() -> bool,
    ) -> i32 {
        let mut log = LogWriter::open(&self.files().log()).ok();
        for s in &streams {
            set_nonblock(s.fd.as_raw_fd());
        }
        let tty = self.req.stdio.console_socket().is_some();
        let forward_stdin = self.attach && self.req.stdio.interactive();
        let mut stdin_open = forward_stdin;
        let pty_fd = if tty {
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
            if pfds.first().is_some_and(|p| p.revents != 0) {
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
            for (s, p) in streams.iter_mut().zip(pfds.iter().skip(1)) {
                if !s.open || p.revents == 0 {
                    continue;
                }
                let n = read_fd(s.fd.as_raw_fd(), &mut buf);
                if n > 0 {
                    let data = buf.get(..n as usize).unwrap_or_default();
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
            if stdin_open && pfds.last().is_some_and(|p| p.fd == 0 && p.revents != 0) {
                let n = read_fd(0, &mut buf);
                if n > 0 {
                    if let Some(t) = stdin_target {
                        let _ =
                            crate::fdio::write_all(t, buf.get(..n as usize).unwrap_or_default());
                    }
                } else {
                    stdin_open = false;
                    stdin_w = None; // EOF to the container
                }
            }
        }
        drop(stdin_w);
        if let Some(l) = &log {
            l.sync();
        }
        let code = exit.unwrap_or(-1);
        self.finish(code, cleanup);
        code
    }

    /// Releases ports, tears down, then writes `exit` and the final state.
    fn finish(self, code: i32, cleanup: &mut dyn FnMut() -> bool) {
        let files = self.files();
        drop(self.held_ports);
        let clean = cleanup();
        let finished = now_rfc3339();
        if self.req.auto_remove {
            let _ = fs::remove_dir_all(&files.dir);
            return;
        }
        let _ = write_json(
            &files.exit(),
            &ExitFile {
                code,
                finished_at: finished.clone(),
            },
        );
        if let Ok(st) = files.read_state() {
            let st = State {
                status: Some(Status::Exited),
                exit_code: Some(code),
                finished_at: Some(finished),
                pid: None,
                pid_start: None,
                // A failed teardown stays on record, for `rm` to retry.
                mounted: st.mounted && !clean,
                network_up: st.network_up && !clean,
                ..st
            };
            let _ = files.write_state(&st);
        }
        let _ = std::io::stdout().flush();
    }
}

/// Runs `argv` (the exit command) to completion with stdio on /dev/null;
/// true when it succeeded.
pub fn run_exit_command(argv: &[String]) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return true;
    };
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
