//! The standalone binary under systemd's protocols, without a running
//! systemd: socket activation through Debian's `systemd-socket-activate`
//! (the sockets a `.socket` unit would pass), readiness over a real
//! `NOTIFY_SOCKET`, and the shipped units in dist/systemd checked by
//! `systemd-analyze`. All of these tools come with the `systemd` package
//! (scripts/setup.sh); without them the tests skip through
//! tests/common/skip.rs, which fails them in CI.

#[path = "../../tests/common/skip.rs"]
mod skip;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_sigstore-server");
/// The digest the fixture signature signs (fixtures/containers-image).
const HEX: &str = "20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";
const TOKEN: &str = "activation-token-0123456789";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn signature() -> Vec<u8> {
    std::fs::read(workspace().join("fixtures/containers-image/signature/fixtures/image.signature"))
        .unwrap()
}

/// The tool's path, or `None` after recording the skip.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        skip::skip(&format!(
            "{name} is not installed (scripts/setup.sh installs Debian's systemd)"
        ));
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A root and a token file allowing TOKEN to publish under `ns/app`.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let tokens = dir.path().join("tokens");
    let line = format!("{} ns/app ci\n", sigstore_server::tokens::hash_token(TOKEN));
    std::fs::write(&tokens, line).unwrap();
    (dir, root, tokens)
}

/// Reads stderr until `want` lines starting with `prefix` have come;
/// returns them. Panics with everything read if the process exits first.
fn wait_lines(r: &mut BufReader<ChildStderr>, prefix: &str, want: usize) -> Vec<String> {
    let (mut seen, mut found) = (String::new(), Vec::new());
    while found.len() < want {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            panic!("stderr ended before {want} lines {prefix:?}:\n{seen}");
        }
        seen.push_str(&line);
        if line.starts_with(prefix) {
            found.push(line.trim().to_string());
        }
    }
    found
}

/// Like systemd with `Accept=no`, systemd-socket-activate listens first and
/// starts the server on the first connection; waits for its `n` sockets.
fn activator(child: &mut Child, n: usize) -> BufReader<ChildStderr> {
    let mut r = BufReader::new(child.stderr.take().unwrap());
    wait_lines(&mut r, "Listening on ", n);
    r
}

fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    c.write_all(req.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    out
}

fn body_of(resp: &[u8]) -> &[u8] {
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    &resp[split + 4..]
}

/// SIGTERM, then the rest of stderr (read to the end, so the server never
/// writes to a closed pipe) and a clean exit.
fn terminate(mut child: Child, mut log: BufReader<ChildStderr>) -> String {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let mut rest = String::new();
    log.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}\n{rest}");
    rest
}

fn assert_one_error(out: &Output, want: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let errors: Vec<_> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(errors, [want], "{err}");
}

#[test]
fn socket_activated_server_publishes_and_serves_on_the_inherited_socket() {
    let Some(activate) = tool("systemd-socket-activate") else {
        return;
    };
    let (_d, root, tokens) = setup();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // --listen names an address no interface has: binding it would fail, so
    // a server that ignored LISTEN_FDS could not start at all.
    let mut child = Command::new(&activate)
        .args(["--listen", &addr, "--fdname=http", BIN, "--root"])
        .arg(&root)
        .args(["--listen", "192.0.2.1:80", "--threads", "2", "--tokens"])
        .arg(&tokens)
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = activator(&mut child, 1);
    // The first connection starts the server, and is served by it.
    let first = request(&addr, "GET", "/healthz", &[], b"");
    assert!(
        first.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first)
    );
    let serving = wait_lines(&mut log, "sigstore-server: serving", 1);
    assert_eq!(
        serving,
        [format!(
            "sigstore-server: serving {} on http://{addr} (socket-activated: http)",
            root.display()
        )]
    );

    let dir = format!("/ns/app@sha256={HEX}");
    let auth = format!("Bearer {TOKEN}");
    let resp = request(
        &addr,
        "POST",
        &format!("{dir}/signatures"),
        &[("Authorization", &auth)],
        &signature(),
    );
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    assert!(
        text.contains(&format!("location: {dir}/signature-1")),
        "{text}"
    );
    let got = request(&addr, "GET", &format!("{dir}/signature-1"), &[], b"");
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(body_of(&got), signature());
    assert_eq!(
        std::fs::read(root.join(format!("ns/app@sha256={HEX}/signature-1"))).unwrap(),
        signature()
    );
    let rest = terminate(child, log);
    assert!(!rest.contains("Error"), "{rest}");
}

#[test]
fn every_inherited_socket_is_served() {
    let Some(activate) = tool("systemd-socket-activate") else {
        return;
    };
    let (_d, root, _) = setup();
    let dir = root.join(format!("ns/app@sha256={HEX}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("signature-1"), signature()).unwrap();
    let (a, b) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let mut child = Command::new(&activate)
        .args(["-l", &a, "-l", &b, "--fdname=one:two", BIN, "--root"])
        .arg(&root)
        .args(["--threads", "1"])
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = activator(&mut child, 2);
    request(&b, "GET", "/healthz", &[], b"");
    let serving = wait_lines(&mut log, "sigstore-server: serving", 2);
    assert!(
        serving[0].ends_with(&format!("http://{a} (socket-activated: one)")),
        "{serving:?}"
    );
    assert!(
        serving[1].ends_with(&format!("http://{b} (socket-activated: two)")),
        "{serving:?}"
    );
    for addr in [&a, &b] {
        let got = request(
            addr,
            "GET",
            &format!("/ns/app@sha256={HEX}/signature-1"),
            &[],
            b"",
        );
        assert_eq!(body_of(&got), signature(), "via {addr}");
    }
    terminate(child, log);
}

#[test]
fn an_inherited_descriptor_that_is_no_tcp_listener_is_refused_in_one_line() {
    let Some(activate) = tool("systemd-socket-activate") else {
        return;
    };
    let (d, root, _) = setup();
    // A datagram socket, as `ListenDatagram=` would pass; a first datagram
    // starts the server.
    let udp = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(&activate)
        .args(["--datagram", "-l", &udp, BIN, "--root"])
        .arg(&root)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = activator(&mut child, 1);
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"x", &udp)
        .unwrap();
    let mut rest = Vec::new();
    log.read_to_end(&mut rest).unwrap();
    let out = Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: rest,
    };
    assert_one_error(
        &out,
        "Error: socket activation: inherited fd 3 (unknown): not a TCP socket \
         (sigstore-server listens on TCP only: ListenStream=PORT or ADDR:PORT)",
    );
    // A plain file on fd 3, with LISTEN_PID naming the server (the shell
    // execs it, keeping its pid).
    let file = d.path().join("not-a-socket");
    std::fs::write(&file, "x").unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" --root "$1" 3<"$2""#)
        .arg(BIN)
        .arg(&root)
        .arg(&file)
        .output()
        .unwrap();
    assert_one_error(
        &out,
        "Error: socket activation: inherited fd 3 (unknown): not a socket",
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"LISTEN_PID=$$ LISTEN_FDS=0 exec "$0" --root "$1""#)
        .arg(BIN)
        .arg(&root)
        .output()
        .unwrap();
    assert_one_error(
        &out,
        "Error: socket activation: invalid LISTEN_FDS \"0\": expected a count from 1 to 64",
    );
}

#[test]
fn variables_for_another_process_are_ignored_with_a_warning() {
    let (_d, root, _) = setup();
    let mut child = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDS", "1")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut r = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("sigstore-server: serving") {
        if r.read_line(&mut seen).unwrap() == 0 {
            panic!("stopped:\n{seen}");
        }
    }
    assert!(
        seen.contains("LISTEN_FDS is meant for another process; binding --listen instead"),
        "{seen}"
    );
    let addr = seen.trim().rsplit("://").next().unwrap().to_string();
    let resp = request(&addr, "GET", "/healthz", &[], b"");
    assert!(resp.starts_with(b"HTTP/1.1 200"));
    terminate(child, r);
}

#[test]
fn readiness_and_stopping_are_notified() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let child = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .env("NOTIFY_SOCKET", &sock_path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("no READY=1 within 20 s");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        msg.starts_with("READY=1\nSTATUS=serving on http://127.0.0.1:"),
        "{msg:?}"
    );
    // Ready means accepting: the address in STATUS answers at once.
    let addr = msg
        .lines()
        .nth(1)
        .unwrap()
        .rsplit("://")
        .next()
        .unwrap()
        .to_string();
    assert!(request(&addr, "GET", "/healthz", &[], b"").starts_with(b"HTTP/1.1 200"));
    let pid = child.id();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let n = sock.recv(&mut buf).expect("no STOPPING=1 after SIGTERM");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
}

/// The units of dist/systemd, with ExecStart pointing at the built binary
/// (systemd-analyze checks that it exists), in a fresh directory.
fn units_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for unit in ["sigstore-server.service", "sigstore-server.socket"] {
        let text = std::fs::read_to_string(workspace().join("dist/systemd").join(unit)).unwrap();
        std::fs::write(
            d.path().join(unit),
            text.replace("/usr/bin/sigstore-server", BIN),
        )
        .unwrap();
    }
    d
}

#[test]
fn shipped_units_verify_and_score_as_safe() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let d = units_dir();
    let out = Command::new(&analyze)
        .current_dir(d.path())
        .args([
            "verify",
            "--man=no",
            "./sigstore-server.socket",
            "./sigstore-server.service",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&analyze)
        .current_dir(d.path())
        .args([
            "security",
            "--offline=yes",
            "--no-pager",
            "./sigstore-server.service",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("sigstore-server.service: ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    // 0.4 today ("SAFE"); a weakened unit fails here, not in production.
    assert!(score <= 1.0, "exposure {score}:\n{text}");
    // The socket unit passes what the server accepts: one TCP listener.
    let socket = std::fs::read_to_string(d.path().join("sigstore-server.socket")).unwrap();
    assert!(socket.contains("\nListenStream=") && socket.contains("\nAccept=no\n"));
}
