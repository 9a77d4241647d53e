//! `vouch copy`'s progress output (issue 14 item 8), as skopeo's: live
//! per-blob bars on a real terminal (fixtures/pty-session.py) while a
//! throttling proxy makes the transfer take seconds, skopeo's plain lines
//! when stdout is a pipe or `TERM=dumb`, nothing with `-q`.

mod common;

use std::process::{Command, Output};

use common::{FaultProxy, Registry, Vouch};

/// Incompressible, so the layer blob is as large and takes seconds at RATE.
const LAYER: usize = 4 << 20;
const RATE: u64 = 2 << 20;

struct World {
    /// Kept alive behind the proxy.
    _src: Registry,
    dst: Registry,
    proxy: FaultProxy,
    v: Vouch,
    /// The source image as seen through the proxy.
    image: String,
    layer: String,
    /// The layer's size as skopeo's counters print it ("4.0MiB").
    layer_size: String,
    config: String,
}

impl World {
    fn new() -> Self {
        let src = Registry::start();
        let dst = Registry::start();
        let v = Vouch::new();
        let tar = common::random_rootfs(v.home.path(), LAYER);
        v.ok(&["import", tar.to_str().unwrap(), "localhost/big"]);
        let direct = format!("{}/big:1", src.host());
        v.ok(&["push", "-q", "--tls-verify=false", "localhost/big", &direct]);
        let raw = common::peer_ok(Command::new("skopeo").args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{direct}"),
        ]));
        let m: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let layers = m["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1, "{raw}");
        let layer = layers[0]["digest"].as_str().unwrap().to_string();
        let size = layers[0]["size"].as_u64().unwrap();
        let layer_size = format!("{:.1}MiB", size as f64 / f64::from(1u32 << 20));
        let config = m["config"]["digest"].as_str().unwrap().to_string();
        let proxy = FaultProxy::throttled(&src, RATE);
        let image = format!("docker://{}/big:1", proxy.host());
        World {
            _src: src,
            dst,
            proxy,
            v,
            image,
            layer,
            layer_size,
            config,
        }
    }

    fn dest(&self, tag: &str) -> String {
        format!("docker://{}/big:{tag}", self.dst.host())
    }

    /// `vouch copy` with TLS off at both ends, as a `Command` to adapt.
    fn copy_cmd(&self, extra: &[&str], tag: &str) -> Command {
        let mut c = self.v.cmd();
        c.args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
            .args(extra)
            .arg(&self.image)
            .arg(self.dest(tag));
        c
    }

    /// The copy on a 24x120 terminal with `TERM`; returns the transcript
    /// (Python's repr of the bytes, so `\r` and ESC show as `\\r`, `\\x1b`).
    fn copy_at_terminal(&self, term: &str, tag: &str) -> String {
        self.copy_at_terminal_with(term, tag, None)
    }

    /// [`Self::copy_at_terminal`] with `NO_COLOR` set to `no_color`.
    fn copy_at_terminal_with(&self, term: &str, tag: &str, no_color: Option<&str>) -> String {
        let mut c = common::pty_session(["24", "120"], &self.copy_cmd(&[], tag));
        c.env("TERM", term).env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let (transcript, code) = common::pty_transcript(&mut c);
        assert_eq!(code, "0", "vouch copy at a terminal failed: {transcript}");
        transcript
    }

    fn copy_piped(&self, extra: &[&str], tag: &str) -> Output {
        let out = self.copy_cmd(extra, tag).output().unwrap();
        assert!(
            out.status.success(),
            "vouch copy {extra:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap();
    &hex[..12]
}

/// The byte counters drawn for a bar whose total is `total`.
fn counters<'a>(transcript: &'a str, total: &str) -> Vec<&'a str> {
    let tail = format!(" / {total}");
    transcript
        .match_indices(&tail)
        .map(|(i, _)| {
            let before = &transcript[..i];
            let start = before.rfind(' ').map_or(0, |s| s + 1);
            &before[start..]
        })
        .collect()
}

/// The body of stdout without the steps that are always in one order;
/// blob lines come in the order the blobs start, several at once.
fn lines_sorted(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(
        lines.first().map(String::as_str),
        Some("Getting image source signatures"),
        "{text}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Writing manifest to image destination"),
        "{text}"
    );
    lines.sort();
    lines
}

#[test]
fn a_terminal_gets_live_bars_that_end_done() {
    let w = World::new();
    let before = w.proxy.bytes_passed();
    let t = w.copy_at_terminal("xterm", "1");
    assert!(
        w.proxy.bytes_passed() - before >= LAYER as u64,
        "the layer went through the throttled proxy"
    );
    let blob = format!("Copying blob {}", short(&w.layer));
    // A live bar: skopeo's prefix, a bracketed bar of '=' '>' '-', and
    // byte counters that moved between nothing and the whole layer.
    assert!(t.contains(&format!("{blob} [")), "{t}");
    assert!(t.contains("=>") || t.contains("==="), "{t}");
    let seen = counters(&t, &w.layer_size);
    assert!(
        seen.iter()
            .any(|c| *c != "0.0b" && *c != w.layer_size && c.ends_with("MiB")),
        "no partial byte count among {seen:?}: {t}"
    );
    // Redrawn in place, not printed line after line.
    assert!(t.contains("\\x1b["), "{t}");
    // Each bar ends as one line, as skopeo's do.
    assert!(t.contains(&format!("{blob} done")), "{t}");
    let config = format!("Copying config {}", &short(&w.config)[..10]);
    assert!(t.contains(&format!("{config} done")), "{t}");
    assert!(t.contains("Getting image source signatures"), "{t}");
    assert!(t.contains("Writing manifest to image destination"), "{t}");
    assert!(!t.contains("sha256:"), "bars show short digests: {t}");

    // Again to the same repository: both blobs are there.
    let t = w.copy_at_terminal("xterm-256color", "2");
    assert!(
        t.contains(&format!("{blob} skipped: already exists")),
        "{t}"
    );
    assert!(
        t.contains(&format!("{config} skipped: already exists")),
        "{t}"
    );
    assert!(
        !t.contains(&format!("{blob} [")),
        "a skipped blob has no bar: {t}"
    );
}

/// The SGR (colour) escape sequences of a transcript: `ESC [ digits;… m`.
fn colour_codes(transcript: &str) -> Vec<&str> {
    transcript
        .match_indices("\\x1b[")
        .filter_map(|(i, esc)| {
            let rest = &transcript[i + esc.len()..];
            let end = rest.find(|c: char| !c.is_ascii_digit() && c != ';')?;
            (rest[end..].starts_with('m')).then(|| &transcript[i..i + esc.len() + end + 1])
        })
        .collect()
}

#[test]
fn no_color_keeps_live_bars_without_colour() {
    let w = World::new();
    let t = w.copy_at_terminal_with("xterm-256color", "1", Some("1"));
    let blob = format!("Copying blob {}", short(&w.layer));
    assert!(t.contains(&format!("{blob} [")), "bars are still live: {t}");
    assert!(t.contains("\\x1b["), "still redrawn in place: {t}");
    assert!(t.contains(&format!("{blob} done")), "{t}");
    assert_eq!(colour_codes(&t), Vec::<&str>::new(), "{t}");
    // The detector finds what it looks for.
    assert_eq!(
        colour_codes("a\\x1b[34mDEBUG\\x1b[0m"),
        ["\\x1b[34m", "\\x1b[0m"]
    );
}

#[test]
fn a_pipe_gets_skopeos_plain_lines_and_quiet_gets_nothing() {
    let w = World::new();
    let out = w.copy_piped(&[], "1");
    let mut want = vec![
        "Getting image source signatures".to_string(),
        format!("Copying blob {}", w.layer),
        format!("Copying config {}", w.config),
        "Writing manifest to image destination".to_string(),
    ];
    want.sort();
    assert_eq!(lines_sorted(&out.stdout), want);
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&b'\r'));

    let out = w.copy_piped(&[], "2");
    let mut want = vec![
        "Getting image source signatures".to_string(),
        format!("Copying blob {} skipped: already exists", w.layer),
        format!("Copying config {} skipped: already exists", w.config),
        "Writing manifest to image destination".to_string(),
    ];
    want.sort();
    assert_eq!(lines_sorted(&out.stdout), want);

    let out = w.copy_piped(&["-q"], "3");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // A terminal that cannot redraw gets the plain lines too.
    let t = w.copy_at_terminal("dumb", "4");
    assert!(
        t.contains(&format!("Copying blob {} skipped: already exists", w.layer)),
        "{t}"
    );
    assert!(!t.contains("\\x1b") && !t.contains(" ["), "{t}");
}

#[test]
fn push_all_reports_on_stderr_as_podman_does() {
    let w = World::new();
    w.v.ok(&["manifest", "create", "localhost/multi", "localhost/big"]);
    let dest = format!("{}/multi:1", w.dst.host());
    let push = |extra: &[&str]| {
        let out =
            w.v.cmd()
                .args(["push", "--all", "--tls-verify=false"])
                .args(extra)
                .args(["localhost/multi", &dest])
                .output()
                .unwrap();
        assert!(
            out.status.success(),
            "vouch push --all {extra:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let out = push(&[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("Getting image source signatures\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!("Copying blob {}\n", w.layer)),
        "{err}"
    );
    assert!(err.contains("Copying image sha256:"), "{err}");
    assert!(
        err.ends_with("Writing manifest to image destination\n"),
        "{err}"
    );
    assert!(!err.contains('\x1b') && !err.contains('\r'), "{err}");

    let out = push(&["-q"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
