//! Runs decompression and hashing on the calling thread and the tar parsing
//! and file-system work on a second one, connected by a short queue of
//! chunks, so the two halves overlap instead of taking turns. On a gzip
//! layer each half costs about the same, so this nearly halves wall time
//! (containers/storage gets the same overlap from its goroutines).
//!
//! The blob reader stays on the calling thread, so it needs no `Send`.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use super::BUF_SIZE;

/// Chunks in flight; enough to ride out a burst of small files on one side
/// or a slow read on the other, with bounded memory (2 MiB).
const QUEUE_DEPTH: usize = 8;

/// Feeds everything `source` yields to `consume`, running on its own
/// thread, and returns how reading ended and what `consume` returned.
///
/// `consume` sees EOF only after `source` did, or early if reading failed;
/// callers must therefore check the read result first. If `consume` returns
/// early, reading stops too.
pub(super) fn run<S, C, T>(source: &mut S, consume: C) -> (io::Result<()>, T)
where
    S: Read,
    C: FnOnce(ChunkReader) -> T + Send,
    T: Send,
{
    let (chunks_tx, chunks_rx) = sync_channel(QUEUE_DEPTH);
    let (spare_tx, spare_rx) = channel();
    let span = tracing::Span::current();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let _entered = span.enter();
            consume(ChunkReader {
                chunks: chunks_rx,
                spare: spare_tx,
                chunk: Vec::new(),
                pos: 0,
            })
        });
        let pumped = pump(source, &chunks_tx, &spare_rx);
        drop(chunks_tx);
        match worker.join() {
            Ok(consumed) => (pumped, consumed),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn pump(
    source: &mut impl Read,
    chunks: &SyncSender<Vec<u8>>,
    spare: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    loop {
        let mut chunk = spare.try_recv().unwrap_or_default();
        chunk.resize(BUF_SIZE, 0);
        let n = loop {
            match source.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        if n == 0 {
            return Ok(());
        }
        chunk.truncate(n);
        if chunks.send(chunk).is_err() {
            // The consumer is done (it failed); nobody needs more data.
            return Ok(());
        }
    }
}

/// The consumer's end: a `BufRead` over the queued chunks that hands each
/// drained chunk back for reuse.
pub(super) struct ChunkReader {
    chunks: Receiver<Vec<u8>>,
    spare: Sender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.chunk.len() {
            let Ok(next) = self.chunks.recv() else {
                return Ok(&[]);
            };
            let done = std::mem::replace(&mut self.chunk, next);
            self.pos = 0;
            if done.capacity() > 0 {
                // The producer may be gone already; then the chunk is freed.
                let _ = self.spare.send(done);
            }
        }
        Ok(&self.chunk[self.pos..])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.chunk.len());
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_everything_through_in_order() {
        let data: Vec<u8> = (0..3 * BUF_SIZE + 17).map(|i| (i % 251) as u8).collect();
        let (read, copied) = run(&mut &data[..], |mut reader| {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        });
        read.unwrap();
        assert_eq!(copied.unwrap(), data);
    }

    #[test]
    fn stops_reading_when_the_consumer_gives_up() {
        let mut endless = io::repeat(7);
        let (read, first) = run(&mut endless, |mut reader| {
            let mut byte = [0u8; 1];
            reader.read_exact(&mut byte).map(|()| byte[0])
        });
        read.unwrap();
        assert_eq!(first.unwrap(), 7);
    }

    #[test]
    fn read_errors_reach_the_caller() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        let (read, consumed) = run(&mut Failing, |mut reader| {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out.len())
        });
        assert_eq!(read.unwrap_err().to_string(), "boom");
        assert_eq!(consumed.unwrap(), 0);
    }
}
