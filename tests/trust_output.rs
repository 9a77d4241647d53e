//! Input never reaches the terminal raw (issue 11 item 6): control
//! characters from a tar header and a hostile signature server's refusal
//! body are printed escaped, on one line; the server's body is truncated.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{Gpg, Registry, Vouch};

/// A tar holding one regular file whose header name is `name`, raw bytes
/// (the tar crate's path setters refuse `..`, which is the point here).
fn tar_with_raw_name(name: &[u8], mode_field: Option<&[u8]>) -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(0);
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    if let Some(m) = mode_field {
        header.as_old_mut().mode[..m.len()].copy_from_slice(m);
    }
    header.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&header, &b"hi\n"[..]).unwrap();
    b.into_inner().unwrap()
}

/// Asserts one `Error:` line with no raw control byte, holding `escaped`.
fn assert_escaped_error(out: &std::process::Output, escaped: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err:?}");
    for bad in [0x1bu8, b'\r', 0x9b] {
        assert!(!out.stderr.contains(&bad), "raw {bad:#x} in {err:?}");
    }
    assert!(!err.contains('\u{202e}'), "raw bidi override in {err:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {err:?}");
    assert!(lines[0].starts_with("Error: "), "{err:?}");
    assert!(
        lines[0].contains(escaped),
        "expected {escaped:?} in {err:?}"
    );
    lines[0].to_string()
}

#[test]
fn tar_entry_names_are_escaped_in_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let v = Vouch::new();
    // A `..` entry whose name clears the screen and returns the carriage.
    let dotdot = tmp.path().join("dotdot.tar");
    std::fs::write(&dotdot, tar_with_raw_name(b"../\x1b[2J\revil", None)).unwrap();
    let out = v.output(&["import", dotdot.to_str().unwrap(), "localhost/x"]);
    assert_escaped_error(&out, "[2J");
    // A header the tar reader itself refuses, whose message quotes the name.
    let badmode = tmp.path().join("badmode.tar");
    std::fs::write(
        &badmode,
        tar_with_raw_name(b"\x1b[2Jok\rfile", Some(b"zz\x1b[31m")),
    )
    .unwrap();
    let out = v.output(&["import", badmode.to_str().unwrap(), "localhost/y"]);
    assert_escaped_error(&out, "when getting mode for \\x1b[2Jok\\x0dfile");
    assert!(v.images().is_empty());
}

/// fixtures/bad-lookaside.py in `mode`, killed on drop.
struct Hostile {
    addr: String,
    child: Child,
}

impl Hostile {
    fn start(mode: &str) -> Self {
        let mut child = Command::new("python3")
            .arg(common::repo_root().join("fixtures/bad-lookaside.py"))
            .args(["--mode", mode])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("bad-lookaside said {line:?}"))
            .to_string();
        Hostile { addr, child }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_hostile_signature_servers_refusal_is_escaped_and_truncated() {
    let reg = Registry::start();
    let gpg = Gpg::new("ci@example.com");
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("secret.asc");
    gpg.export_secret(&secret);
    let server = Hostile::start("hostile-500");
    let d = tmp.path().join("registries.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("t.yaml"),
        format!(
            "docker:\n  {}:\n    lookaside: http://{addr}/sigs\n    lookaside-staging: http://{addr}/sigs\n",
            reg.host(),
            addr = server.addr
        ),
    )
    .unwrap();
    let v = Vouch::new();
    v.import_httpd("localhost/app");
    let dest = format!("{}/app:1", reg.host());
    let out = v
        .cmd()
        .env("VOUCH_SIGSTORE_TOKEN", "some-token-0123456789")
        .arg("--registries.d")
        .arg(&d)
        .args(["push", "-q", "--tls-verify=false", "--sign-by-key"])
        .arg(&secret)
        .args(["localhost/app", &dest])
        .output()
        .unwrap();
    let line = assert_escaped_error(&out, "500 Internal Server Error: \\x1b[2J\\x1b[31mupload refused\\x0d signature OK \\u{202e}evil");
    // 10 KB of filler, truncated to a readable line.
    assert!(line.len() < 600, "{} bytes: {line}", line.len());
    assert!(line.ends_with('…'), "{line}");
}
