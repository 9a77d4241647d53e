//! The k8s-file log: writing as conmon does (src/ctr_logging.c
//! write_k8s_log) and reading as podman does (libpod/logs/log.go).
//!
//! Each line is `<RFC3339 local time, 9 fractional digits> <stream> <F|P> <content>`.
//! A read buffer ending without a newline is written with tag `P` and a
//! synthetic newline; the next `F` line completes it. Keep in sync with
//! docs/runtime.md.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use crate::error::{io, Result};

/// conmon's timestamp: local time with numeric offset, always 9 digits.
///
/// Formatted by hand rather than with chrono's formatter: the monitor writes
/// this for every read of container output for the container's whole life,
/// and zone and format machinery (chrono's, or glibc's tzfile reader on the
/// first `localtime_r`) would add hundreds of KB to every monitor's
/// resident memory. When the local zone is UTC (the usual server set-up) no
/// zone code runs at all; otherwise glibc's `localtime_r` gives the offset.
pub fn timestamp_now() -> String {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let offset = if local_zone_is_utc() {
        0
    } else {
        // SAFETY: an all-zero tm is a valid value; localtime_r fills it and
        // keeps no reference to either pointer.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        if unsafe { libc::localtime_r(&ts.tv_sec, &mut tm) }.is_null() {
            0
        } else {
            tm.tm_gmtoff
        }
    };
    format_timestamp(ts.tv_sec, ts.tv_nsec, offset)
}

/// glibc's rule for the local zone: `TZ` if set (empty means UTC), else
/// /etc/localtime (absent means UTC). Only a zone that is UTC by name
/// counts; anything else goes through `localtime_r`.
pub(crate) fn local_zone_is_utc() -> bool {
    static UTC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *UTC.get_or_init(|| {
        let utc_name = |z: &str| {
            let z = z.trim_start_matches(':');
            let z = z.strip_prefix("Etc/").unwrap_or(z);
            matches!(z, "" | "UTC" | "UTC0" | "UCT" | "Universal" | "Zulu")
        };
        match std::env::var_os("TZ") {
            Some(tz) => tz.to_str().is_some_and(utc_name),
            None => match std::fs::read_link("/etc/localtime") {
                Ok(target) => target
                    .to_str()
                    .and_then(|t| t.split_once("zoneinfo/"))
                    .is_some_and(|(_, zone)| utc_name(zone)),
                Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            },
        }
    })
}

/// `secs` since the epoch at UTC offset `offset` (seconds) as RFC 3339 with
/// nine fractional digits and a `+hh:mm` offset. Digits are pushed one by
/// one (no `format!`): this runs in every monitor's steady state.
fn format_timestamp(secs: i64, nanos: i64, offset: i64) -> String {
    fn push(out: &mut String, n: i64, width: u32) {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10i64.pow(i) % 10) as u8));
        }
    }
    let local = secs + offset;
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let tod = local.rem_euclid(86_400);
    let mut out = String::with_capacity(35);
    push(&mut out, year, 4);
    out.push('-');
    push(&mut out, month, 2);
    out.push('-');
    push(&mut out, day, 2);
    out.push('T');
    push(&mut out, tod / 3600, 2);
    out.push(':');
    push(&mut out, tod / 60 % 60, 2);
    out.push(':');
    push(&mut out, tod % 60, 2);
    out.push('.');
    push(&mut out, nanos, 9);
    out.push(if offset < 0 { '-' } else { '+' });
    push(&mut out, offset.abs() / 3600, 2);
    out.push(':');
    push(&mut out, offset.abs() / 60 % 60, 2);
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar: Howard Hinnant's `civil_from_days` (chrono's date code is
/// larger and sits on pages the idle monitor would not otherwise touch).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends container output to the log.
pub struct LogWriter {
    f: File,
}

impl LogWriter {
    pub fn open(path: &Path) -> Result<Self> {
        let f = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(Self { f })
    }

    /// Writes one read buffer: one timestamp for all its lines (as conmon),
    /// in a single write so lines of two streams never interleave.
    pub fn write(&mut self, stream: &str, buf: &[u8]) -> std::io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let ts = timestamp_now();
        let mut out = Vec::with_capacity(buf.len() + 48);
        for line in buf.split_inclusive(|b| *b == b'\n') {
            let full = line.ends_with(b"\n");
            out.extend_from_slice(ts.as_bytes());
            out.push(b' ');
            out.extend_from_slice(stream.as_bytes());
            out.extend_from_slice(if full { b" F " } else { b" P " });
            out.extend_from_slice(line);
            if !full {
                out.push(b'\n');
            }
        }
        // The raw write(2) the monitor's poll loop already uses, so the
        // steady state touches no further code pages.
        crate::fdio::write_all(self.f.as_raw_fd(), &out)
    }

    pub fn sync(&self) {
        let _ = self.f.sync_all();
    }
}

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

    #[test]
    fn timestamps_are_conmons_and_parse_back() {
        // 2026-11-29T08:34:05Z
        let t = 1_795_941_245;
        assert_eq!(
            format_timestamp(t, 7, -(5 * 3600 + 30 * 60)),
            "2026-11-29T03:04:05.000000007-05:30"
        );
        assert_eq!(
            format_timestamp(t, 999_999_999, 0),
            "2026-11-29T08:34:05.999999999+00:00"
        );
        let now = timestamp_now();
        assert_eq!(now.len(), 35, "{now}");
        // Every day from 1900 to 2200 agrees with chrono.
        for d in -25_567..84_000 {
            let c = chrono::DateTime::from_timestamp(d * 86_400, 0).unwrap();
            use chrono::Datelike;
            let want = (c.year() as i64, c.month() as i64, c.day() as i64);
            assert_eq!(civil_from_days(d), want, "day {d}");
        }
        assert!(chrono::DateTime::parse_from_rfc3339(&now).is_ok(), "{now}");
    }

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
    fn writer_tags_partial_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write("stdout", b"a\nb").unwrap();
        w.write("stderr", b"c\n").unwrap();
        let s = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<_> = s.lines().map(|l| parse_line(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert!(!lines[0].partial && lines[0].msg == "a");
        assert!(lines[1].partial && lines[1].msg == "b");
        assert_eq!(lines[2].stream, "stderr");
        // 9 fractional digits and a numeric offset, as conmon writes.
        let t = lines[0].time;
        assert!(DateTime::parse_from_rfc3339(t).is_ok(), "{t}");
        assert_eq!(t.split('.').nth(1).unwrap().len(), 9 + 6, "{t}");
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
                let mut w = LogWriter::open(&p).unwrap();
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
