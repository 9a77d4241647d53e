//! Writing the k8s-file log as conmon does (src/ctr_logging.c
//! write_k8s_log): `<RFC 3339 local time, 9 fractional digits> <stream>
//! <F|P> <content>`. A read buffer ending without a newline is written with
//! tag `P` and a synthetic newline; the next `F` line completes it. The
//! reading side is `vouch_runtime::logs`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{io, MonitorError};

/// Appends container output to the log.
pub struct LogWriter {
    f: File,
}

impl LogWriter {
    pub fn open(path: &Path) -> Result<Self, MonitorError> {
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
        let ts = crate::state::now_rfc3339();
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
        crate::fdio::write_all(self.f.as_raw_fd(), &out)
    }

    pub fn sync(&self) {
        let _ = self.f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_tags_partial_lines_with_conmons_timestamps() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ctr.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write("stdout", b"a\nb").unwrap();
        w.write("stderr", b"c\n").unwrap();
        let s = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<Vec<&str>> = s.lines().map(|l| l.splitn(4, ' ').collect()).collect();
        assert_eq!(lines.len(), 3, "{s}");
        assert_eq!(lines[0][1..], ["stdout", "F", "a"]);
        assert_eq!(lines[1][1..], ["stdout", "P", "b"]);
        assert_eq!(lines[2][1..], ["stderr", "F", "c"]);
        // 9 fractional digits and a numeric offset, as conmon writes.
        let t = lines[0][0];
        assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{t}");
        assert_eq!(t.split('.').nth(1).unwrap().len(), 9 + 6, "{t}");
    }
}
