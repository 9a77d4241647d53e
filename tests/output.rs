//! Well-behaved output (issue 16 item 7): a reader that goes away ends vouch
//! quietly, as podman (killed by SIGPIPE, nothing printed); `--log-level`
//! takes podman's values; logs are coloured on a terminal but never under
//! `NO_COLOR`; errors are one line. Terminal cases run on a real
//! pseudo-terminal (fixtures/pty-session.py).

mod common;

use std::os::unix::process::ExitStatusExt as _;
use std::process::Command;

use common::Vouch;

/// A store holding enough images that `image inspect` of all of them is
/// more than a pipe buffer (64 KiB), so the writer is still writing when the
/// reader leaves.
fn store_with_images(v: &Vouch, n: usize) -> Vec<String> {
    let rootfs = v.home.path().join("rootfs.tar");
    std::fs::write(&rootfs, common::layer_with_file("etc/hello", b"hello\n")).unwrap();
    v.ok(&["import", rootfs.to_str().unwrap(), "localhost/big:0"]);
    let names: Vec<String> = (0..n).map(|i| format!("localhost/big:{i}")).collect();
    for name in &names[1..] {
        v.ok(&["tag", "localhost/big:0", name]);
    }
    names
}

#[test]
fn a_closed_pipe_ends_vouch_quietly_by_sigpipe() {
    let v = Vouch::new();
    let names = store_with_images(&v, 3);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = v
        .cmd()
        .args(["image", "inspect"])
        .args(&names)
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
    assert_eq!(stderr, "", "nothing is printed when the reader is gone");
}

#[test]
fn head_on_a_terminal_shows_no_panic_for_any_listing() {
    let v = Vouch::new();
    let names = store_with_images(&v, 200);
    let vouch = env!("CARGO_BIN_EXE_vouch");
    let root = v.root();
    // As a user types it: the listing piped into head, on a terminal that
    // shows vouch's stderr; pipefail reports vouch's own status.
    let script = format!(
        "set -o pipefail; \"$0\" --root \"$1\" image inspect {names} | head -c1; s=$?; echo; echo status=$s; \
         \"$0\" --root \"$1\" images --format json | head -c1; s=$?; echo; echo status=$s",
        names = names.join(" ")
    );
    let mut sh = Command::new("bash");
    sh.arg("-c").arg(script).arg(vouch).arg(&root);
    sh.env("HOME", v.home.path());
    let mut c = common::pty_session(["24", "120"], &sh);
    let (transcript, code) = common::pty_transcript(&mut c);
    assert_eq!(code, "0", "{transcript}");
    assert!(!transcript.contains("panicked"), "{transcript}");
    assert!(!transcript.contains("Broken pipe"), "{transcript}");
    assert!(!transcript.contains("Error"), "{transcript}");
    // 141 = 128 + SIGPIPE, podman's status in the same pipeline; a short
    // listing may also finish before head leaves (0).
    let statuses: Vec<&str> = transcript
        .match_indices("status=")
        .map(|(i, _)| &transcript[i + 7..i + 10])
        .collect();
    assert_eq!(statuses.len(), 2, "{transcript}");
    assert_eq!(statuses[0], "141", "{transcript}");
    assert!(
        statuses[1] == "141" || statuses[1].starts_with('0'),
        "{transcript}"
    );
}

/// `vouch … pull` from a closed port, on a terminal: fails with debug logs.
fn failing_pull_at_terminal(extra_env: &[(&str, &str)], args: &[&str]) -> String {
    let v = Vouch::new();
    let port = common::free_port();
    let mut cmd = v.cmd();
    cmd.args(args)
        .args(["pull", "--tls-verify=false"])
        .arg(format!("127.0.0.1:{port}/nothing:1"))
        .env_remove("NO_COLOR")
        .env_remove("VOUCH_LOG")
        .env("TERM", "xterm");
    for (k, val) in extra_env {
        cmd.env(k, val);
    }
    let mut c = common::pty_session(["24", "120"], &cmd);
    let (transcript, code) = common::pty_transcript(&mut c);
    assert_eq!(code, "2", "{transcript}");
    transcript
}

/// The `Error:` lines of a transcript (Python's repr, so `\r\n` is literal).
fn error_lines(transcript: &str) -> Vec<&str> {
    transcript
        .split("\\r\\n")
        .filter(|l| l.contains("Error:"))
        .collect()
}

#[test]
fn log_level_debug_logs_in_colour_at_a_terminal_unless_no_color() {
    let t = failing_pull_at_terminal(&[], &["--log-level", "debug"]);
    assert!(t.contains("DEBUG"), "{t}");
    assert!(t.contains("\\x1b[34mDEBUG"), "coloured on a terminal: {t}");
    assert_eq!(error_lines(&t).len(), 1, "{t}");

    let t = failing_pull_at_terminal(&[("NO_COLOR", "1")], &["--log-level", "debug"]);
    assert!(t.contains("DEBUG"), "{t}");
    assert!(!t.contains("\\x1b["), "no escape codes under NO_COLOR: {t}");
    assert_eq!(error_lines(&t).len(), 1, "{t}");
}

#[test]
fn log_levels_are_podmans() {
    // The default (warn) and podman's fatal and panic show no debug logs,
    // but the error itself, on one line, whatever the level.
    for args in [&[][..], &["--log-level", "fatal"], &["--log-level=panic"]] {
        let t = failing_pull_at_terminal(&[], args);
        assert!(
            !t.contains("DEBUG") && !t.contains("TRACE"),
            "{args:?}: {t}"
        );
        let errors = error_lines(&t);
        assert_eq!(errors.len(), 1, "{args:?}: {t}");
        assert!(errors[0].contains("127.0.0.1:"), "{args:?}: {t}");
    }
    let t = failing_pull_at_terminal(&[], &["--log-level", "trace"]);
    assert!(t.contains("TRACE"), "{t}");

    let v = Vouch::new();
    for ok in ["warning", "info", "error"] {
        v.ok(&["--log-level", ok, "images"]);
    }
    let out = v.output(&["--log-level", "loud", "images"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'loud'") && err.contains("fatal, panic"),
        "{err}"
    );
}
