//! A stderr writer for tracing that batches lines on worker threads.
//!
//! An access log line per request written straight to stderr costs a
//! `write(2)` per request, about a quarter of the server's CPU time at
//! loopback rates. Worker threads (which call [`enable_for_this_thread`])
//! instead append lines to a thread-local buffer, written out when it passes
//! 16 KiB, by the worker's periodic [`flush_this_thread`] (every 100 ms), and
//! at shutdown — so a line is at most that late, and lines never interleave
//! mid-line because each flush writes whole lines. Every other thread writes
//! through at once.

use std::cell::{Cell, RefCell};
use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

const FLUSH_AT: usize = 16 << 10;

thread_local! {
    static BUFFERED: Cell<bool> = const { Cell::new(false) };
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Buffer this thread's log lines (call on worker threads only, which must
/// then call [`flush_this_thread`] periodically and before exiting).
pub fn enable_for_this_thread() {
    BUFFERED.with(|b| b.set(true));
}

/// Writes out this thread's buffered lines.
pub fn flush_this_thread() {
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        if !buf.is_empty() {
            let _ = std::io::stderr().lock().write_all(&buf);
            buf.clear();
        }
    });
}

/// `MakeWriter` for `tracing_subscriber::fmt`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

/// One event's writer.
pub struct LineWriter;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter
    }
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if !BUFFERED.with(Cell::get) {
            return std::io::stderr().write(data);
        }
        let full = BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.extend_from_slice(data);
            buf.len() >= FLUSH_AT && buf.ends_with(b"\n")
        });
        if full {
            flush_this_thread();
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
