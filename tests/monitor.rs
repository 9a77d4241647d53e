//! The `vouch-monitor` executable through its protocol, without root or an
//! OCI runtime: a shell script stands in for runc's detached `run` (it
//! starts "init" in the background, leaves its pid in the pid file and
//! exits), and another for the exit command. Checks the report, the log,
//! the held port, the order "exit command, then exit file", and that a
//! refused start comes back as the runtime's failure.

use std::fs;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vouch_monitor::protocol::{self, InitCommand, InitMode, Request, StdioMode};
use vouch_monitor::state::{ExitFile, State, Status};
use vouch_monitor::MonitorError;

/// Starts the monitor as `vouch` does: request on stdin, sync pipe on fd
/// 3, `held` from fd 4. Returns the report.
fn start(req: &Request, held: Vec<OwnedFd>) -> Result<i32, MonitorError> {
    let exe = Path::new(env!("CARGO_BIN_EXE_vouch-monitor"));
    let (mut child, rep) = protocol::launch(exe, req, held).unwrap();
    if rep.is_err() {
        child.wait().unwrap();
    } else {
        // It runs until "init" exits; reaped then.
        std::thread::spawn(move || child.wait());
    }
    rep
}

fn sh(script: &str, args: &[&Path]) -> InitCommand {
    let mut a = vec!["-c".to_string(), script.to_string()];
    a.extend(args.iter().map(|p| p.display().to_string()));
    InitCommand {
        program: "/bin/sh".into(),
        args: a,
        env: vec![("MARK".into(), "from-the-request".into())],
    }
}

fn request(dir: &Path, init: InitMode, held_ports: usize) -> Request {
    Request {
        id: "ab".repeat(32),
        dir: dir.to_path_buf(),
        init,
        stdio: StdioMode::Pipes { interactive: false },
        auto_remove: false,
        held_ports,
        // Records whether the exit file existed yet when it ran.
        exit_command: vec![
            "/bin/sh".into(),
            "-c".into(),
            r#"if test -e "$0/exit"; then echo late; else echo first; fi > "$0/cleaned""#.into(),
            dir.display().to_string(),
        ],
    }
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn runs_init_logs_holds_ports_and_cleans_up_before_the_exit_file() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    fs::write(
        d.join("state.json"),
        r#"{"status":"created","pid":null,"pid_start":null,"monitor_pid":null,"monitor_start":null,"started_at":null,"finished_at":null,"exit_code":null,"mounted":true,"network_up":true}"#,
    )
    .unwrap();
    let gate = d.join("gate");
    // "init": prints on both streams, waits for the gate, exits 3.
    let init = sh(
        r#"(echo "out $MARK"; echo err >&2; while ! test -e "$1"; do sleep 0.01; done; exit 3) & echo $! > "$0""#,
        &[&d.join("pidfile"), &gate],
    );
    let port = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = port.local_addr().unwrap();
    let req = request(d, InitMode::Run { command: init }, 1);
    let pid = start(&req, vec![OwnedFd::from(port)]).unwrap();
    let st: State = serde_json::from_slice(&fs::read(d.join("state.json")).unwrap()).unwrap();
    assert_eq!(st.status, Some(Status::Running));
    assert_eq!(st.pid, Some(pid));
    assert!(st.monitor_pid.is_some() && st.pid_start.is_some() && st.started_at.is_some());
    assert!(st.mounted, "the monitor keeps what it does not own: {st:?}");
    // The port is held by the monitor alone now.
    let err = TcpListener::bind(addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    wait_for("the log", || {
        fs::read_to_string(d.join("ctr.log")).is_ok_and(|l| l.lines().count() == 2)
    });
    fs::write(&gate, b"").unwrap();
    wait_for("the exit file", || d.join("exit").exists());
    let x: ExitFile = serde_json::from_slice(&fs::read(d.join("exit")).unwrap()).unwrap();
    assert_eq!(x.code, 3);
    assert_eq!(fs::read_to_string(d.join("cleaned")).unwrap(), "first\n");
    let st: State = serde_json::from_slice(&fs::read(d.join("state.json")).unwrap()).unwrap();
    assert_eq!(
        (st.status, st.exit_code, st.pid),
        (Some(Status::Exited), Some(3), None)
    );
    assert!(!st.mounted && !st.network_up, "{st:?}");
    assert!(TcpListener::bind(addr).is_ok(), "port released");
    let log = fs::read_to_string(d.join("ctr.log")).unwrap();
    let streams: Vec<_> = log
        .lines()
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    assert!(
        streams.contains(&"stdout F out from-the-request".to_string()),
        "{log}"
    );
    assert!(streams.contains(&"stderr F err".to_string()), "{log}");
}

#[test]
fn a_refused_restore_comes_back_as_the_runtimes_failure() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let init = sh(
        r#"echo 'time="x" level=error msg="criu failed: type NOTIFY"' >&2; exit 1"#,
        &[],
    );
    let req = request(d, InitMode::Restore { command: init }, 0);
    match start(&req, vec![]) {
        Err(MonitorError::Runtime {
            runtime,
            action,
            stderr,
        }) => {
            assert_eq!(runtime, "/bin/sh");
            assert_eq!(action, protocol::Action::Restore);
            assert!(
                stderr.contains(r#"msg="criu failed: type NOTIFY""#),
                "{stderr}"
            );
        }
        r => panic!("{r:?}"),
    }
    // Nothing is recorded and nothing torn down: the CLI undoes its work.
    assert!(!d.join("exit").exists() && !d.join("cleaned").exists());
    assert!(!d.join("state.json").exists());
}

#[test]
fn a_request_that_does_not_parse_is_reported() {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let wfd = w.as_raw_fd();
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch-monitor"));
    c.stdin(Stdio::piped()).stderr(Stdio::null());
    // SAFETY: dup2 between fork and exec.
    unsafe {
        c.pre_exec(move || {
            libc::dup2(wfd, 3);
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    drop(w);
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"{\"id\":").unwrap();
    let e = protocol::read_report(fs::File::from(r)).unwrap_err();
    assert!(e.to_string().starts_with("invalid request"), "{e}");
    assert_eq!(child.wait().unwrap().code(), Some(2));
    // Without the sync pipe it refuses plainly.
    let out = Command::new(env!("CARGO_BIN_EXE_vouch-monitor"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("takes no arguments"));
}
