//! The standalone `sigstore-server` binary: `hash-token` lines are accepted
//! by `--tokens`, and the server starts, serves, and exits 0 on SIGTERM.
//! (The fault cases run against `vouch sigstore-server` in the workspace's
//! tests/sigstore_server.rs; both front ends share `sigstore_server::cli`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_sigstore-server");

fn hash_token(token: &str, args: &[&str]) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("hash-token")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hash_token_then_serve_and_stop() {
    let out = hash_token(
        "a-long-random-token-value\n",
        &["--prefix", "ns/app", "--prefix", "other", "--label", "ci"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with("sha256:") && line.trim_end().ends_with(" ns/app,other ci"),
        "{line}"
    );
    let bad = hash_token("short\n", &["--prefix", "ns"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = hash_token("a-long-random-token-value\n", &["--prefix", "../etc"]);
    assert_eq!(bad.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, &line).unwrap();
    let mut child = Command::new(BIN)
        .arg("--root")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--threads", "1", "--tokens"])
        .arg(&tokens)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first.trim().rsplit("://").next().unwrap().to_string();
    assert!(first.contains("sigstore-server: serving"), "{first}");
    let mut c = TcpStream::connect(&addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.ends_with("ok\n"),
        "{resp}"
    );
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("SIGTERM received"), "{rest}");
    assert!(
        rest.contains("GET") && rest.contains("/healthz"),
        "access line missing: {rest}"
    );
}

#[test]
fn missing_root_is_one_error_line() {
    let out = Command::new(BIN)
        .args(["--root", "/nonexistent/dir", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("Error: opening lookaside root /nonexistent/dir"),
        "{err}"
    );
}
