//! The k8s-file log: reading as podman does (libpod/logs/log.go). The
//! monitor writes it as conmon does (`vouch_monitor::log`).
//!
//! Each line is `<RFC3339 local time, 9 fractional digits> <stream> <F|P> <content>`.
//! A read buffer ending without a newline is written with tag `P` and a
//! synthetic newline; the next `F` line completes it. Keep in sync with
//! docs/runtime.md.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use crate::error::{io, Result};

/// One parsed log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine<'a> {
    pub time: &'a str,
    pub stream: &'a str,
    pub partial: bool,
    pub msg: &'a str,
}

/// podman's NewLogLine: fewer than four fields is an error (skipped here).
pub fn parse_line(l: &str) -> Option<LogLine<'_>> {
    let mut it = l.splitn(4, ' ');
    let time = it.next()?;
    let stream = it.next()?;
    let tag = it.next()?;
    let msg = it.next().unwrap_or("");
    Some(LogLine {
        time,
        stream,
        partial: tag == "P",
        msg,
    })
}

/// podman pkg/util ParseInputTime, the common forms: RFC 3339 (with or
/// without fraction), a bare date-time or date (local), a Unix timestamp,
/// or a duration (`10s`, `5m`, `2h`) relative to now.
pub fn parse_since(s: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    let local = |nd: chrono::NaiveDateTime| {
        nd.and_local_timezone(chrono::Local)
            .single()
            .map(|t| t.fixed_offset())
    };
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(nd) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return local(nd);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return local(d.and_hms_opt(0, 0, 0)?);
    }
    if let Ok(secs) = s.parse::<f64>() {
        let ns = (secs * 1e9) as i64;
        return Some(DateTime::from_timestamp_nanos(ns).fixed_offset());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.')?);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Some(
        (chrono::Local::now() - chrono::Duration::milliseconds((secs * 1000.0) as i64))
            .fixed_offset(),
    )
}

/// What `logs` prints.
#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    pub tail: Option<usize>,
    pub since: Option<DateTime<FixedOffset>>,
    pub until: Option<DateTime<FixedOffset>>,
    pub timestamps: bool,
}

/// Renders complete log content to `out`. `--tail N` counts full lines only,
/// keeping the `P` lines that belong to them (podman issue 19545).
pub fn render(content: &str, o: &LogOptions, out: &mut dyn Write) -> std::io::Result<()> {
    let lines: Vec<&str> = content.lines().collect();
    let mut start = 0;
    if let Some(n) = o.tail {
        let mut full = 0;
        start = lines.len();
        while start > 0 {
            let is_full = parse_line(lines[start - 1]).is_some_and(|l| !l.partial);
            let last = start == lines.len();
            if is_full || last {
                if full == n {
                    break;
                }
                full += 1;
            }
            start -= 1;
        }
        // Keep P lines that precede the first kept F line's group.
        while start > 0 && parse_line(lines[start - 1]).is_some_and(|l| l.partial) {
            start -= 1;
        }
        if n == 0 {
            start = lines.len();
        }
    }
    let mut buf = Vec::with_capacity(content.len().saturating_sub(start * 40));
    for l in &lines[start..] {
        let Some(p) = parse_line(l) else { continue };
        if o.since.is_some() || o.until.is_some() {
            let Ok(t) = DateTime::parse_from_rfc3339(p.time) else {
                continue;
            };
            if o.since.is_some_and(|s| t <= s) || o.until.is_some_and(|u| t >= u) {
                continue;
            }
        }
        if o.timestamps {
            buf.extend_from_slice(p.time.as_bytes());
            buf.push(b' ');
        }
        buf.extend_from_slice(p.msg.as_bytes());
        if !p.partial {
            buf.push(b'\n');
        }
    }
    out.write_all(&buf)
}

/// Prints the log, then with `follow` keeps printing new lines until
/// `done()` says the container has exited and the file is drained.
pub fn print(
    path: &Path,
    o: &LogOptions,
    follow: bool,
    done: &dyn Fn() -> bool,
    out: &mut dyn Write,
) -> Result<()> {
    // The monitor creates the log once it runs, so right after `run -d` it
    // may not exist yet: nothing to show, and `-f` waits for it to appear
    // (or for the container to end without one).
    let mut f = loop {
        let finished = follow && done();
        match File::open(path) {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && (!follow || finished) => {
                return Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(io(path)(e)),
        }
    };
    let mut content = String::new();
    f.read_to_string(&mut content).map_err(io(path))?;
    // Only complete lines are rendered now; a torn last line waits for more.
    let cut = content.rfind('\n').map(|i| i + 1).unwrap_or(0);
    render(&content[..cut], o, out).map_err(io(path))?;
    if !follow {
        return Ok(());
    }
    let mut pos = cut as u64;
    let follow_opts = LogOptions {
        tail: None,
        ..o.clone()
    };
    loop {
        let finished = done();
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len < pos {
            pos = 0; // truncated: reopen from the start
        }
        f.seek(SeekFrom::Start(pos)).map_err(io(path))?;
        let mut r = BufReader::new(&f);
        let mut chunk = String::new();
        loop {
            let mut line = String::new();
            let n = r.read_line(&mut line).map_err(io(path))?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            pos += n as u64;
            chunk.push_str(&line);
        }
        render(&chunk, &follow_opts, out).map_err(io(path))?;
        out.flush().map_err(io(path))?;
        if finished {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026-11-28T23:32:10.000000001+00:00 stdout F one\n\
2026-11-28T23:32:11.000000000+00:00 stdout P tw\n\
2026-11-28T23:32:11.000000000+00:00 stdout F o\n\
2026-11-28T23:32:12.000000000+00:00 stderr F three with  spaces\n";

    fn show(o: LogOptions) -> String {
        let mut v = Vec::new();
        render(LOG, &o, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn what_the_monitor_writes_parses_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        let mut w = vouch_monitor::log::LogWriter::open(&p).unwrap();
        w.write("stdout", b"a\nb").unwrap();
        w.write("stderr", b"c\n").unwrap();
        let s = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<_> = s.lines().map(|l| parse_line(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert!(!lines[0].partial && lines[0].msg == "a");
        assert!(lines[1].partial && lines[1].msg == "b");
        assert_eq!(lines[2].stream, "stderr");
        assert!(DateTime::parse_from_rfc3339(lines[0].time).is_ok());
    }

    #[test]
    fn follow_waits_for_a_log_the_monitor_has_not_created_yet() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ctr.log");
        // Absent and the container already gone: nothing, not an error.
        let mut out = Vec::new();
        print(&p, &LogOptions::default(), true, &|| true, &mut out).unwrap();
        assert!(out.is_empty());
        // Absent at first, then written: `-f` shows what arrives.
        let writer = {
            let p = p.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                let mut w = vouch_monitor::log::LogWriter::open(&p).unwrap();
                w.write("stdout", b"late\n").unwrap();
            })
        };
        let done = || writer.is_finished();
        print(&p, &LogOptions::default(), true, &done, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "late\n");
    }

    #[test]
    fn render_joins_partials_and_tails_full_lines() {
        assert_eq!(
            show(LogOptions::default()),
            "one\ntwo\nthree with  spaces\n"
        );
        assert_eq!(
            show(LogOptions {
                tail: Some(2),
                ..Default::default()
            }),
            "two\nthree with  spaces\n"
        );
        assert_eq!(
            show(LogOptions {
                tail: Some(1),
                ..Default::default()
            }),
            "three with  spaces\n"
        );
        assert_eq!(
            show(LogOptions {
                tail: Some(0),
                ..Default::default()
            }),
            ""
        );
        assert_eq!(
            show(LogOptions {
                tail: Some(9),
                ..Default::default()
            }),
            "one\ntwo\nthree with  spaces\n"
        );
    }

    #[test]
    fn since_is_strict_and_timestamps_prefix() {
        let since = parse_since("2026-11-28T23:32:10.5Z");
        assert_eq!(
            show(LogOptions {
                since,
                ..Default::default()
            }),
            "two\nthree with  spaces\n"
        );
        let out = show(LogOptions {
            timestamps: true,
            tail: Some(1),
            ..Default::default()
        });
        assert_eq!(
            out,
            "2026-11-28T23:32:12.000000000+00:00 three with  spaces\n"
        );
        assert!(parse_since("10m").is_some());
        assert!(parse_since("2026-11-28").is_some());
        assert!(parse_since("1764372730.5").is_some());
        assert!(parse_since("yesterday").is_none());
    }
}
