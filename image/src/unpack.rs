//! Unpacking one image layer into a directory that overlayfs can use as a
//! lower layer.
//!
//! A layer blob comes from a registry, so every byte of it is hostile until
//! proven otherwise: a crafted tarball must never create, modify or link
//! anything outside the destination directory. containers/storage gets that
//! guarantee by unpacking inside a chroot; vouch gets it without a helper
//! process by resolving every entry from a directory file descriptor of the
//! destination, one path component at a time, with `O_NOFOLLOW`, so no
//! symlink is ever followed in the parent path of an entry, and by creating
//! the final component with `O_EXCL`-style calls that never follow it either.
//! Names are refused before they reach the file system if they contain `..`,
//! NUL or nothing at all.
//!
//! The layer's diff-id is computed over the whole decompressed stream while
//! it is unpacked, so a layer is read exactly once. Decompression and hashing
//! run on the calling thread and the file-system work on a helper thread
//! (see `pipe`), because together they are twice as slow as either alone.
//!
//! OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) are converted on the way in to
//! the overlayfs format (a 0:0 character device, the `trusted.overlay.opaque`
//! xattr), as podman's overlay driver does.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use sha2::{Digest, Sha256};

mod apply;
mod context;
mod fsops;
mod meta;
mod name;
mod onto;
mod pipe;
mod state;
#[cfg(test)]
mod tests;

use apply::Unpacker;
pub use onto::{apply_onto, whiteout_onto};
use pipe::ChunkReader;

/// Read buffers are this large because the per-read overhead of the
/// decompressor and the tar parser dominates with small buffers.
const BUF_SIZE: usize = 256 * 1024;

/// Knobs for [`unpack_layer`].
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Chown every entry to the uid/gid recorded in the tarball; only
    /// meaningful (and only permitted) when running as root.
    pub preserve_ownership: bool,
    /// A layer with more entries than this is refused, so a "tar bomb" of
    /// empty files cannot exhaust inodes.
    pub max_entries: u64,
    /// A layer whose decompressed stream (or logical file contents, holes
    /// of sparse entries included) exceeds this is refused, so a small
    /// compressed blob cannot fill the disk.
    pub max_total_bytes: u64,
    /// Logical file contents shared by all layers of one image, so many
    /// layers just under the per-layer cap cannot add up unbounded.
    pub image_budget: Option<Arc<ImageBudget>>,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        Self {
            preserve_ownership: nix::unistd::geteuid().is_root(),
            max_entries: 1_000_000,
            max_total_bytes: 64 << 30,
            image_budget: None,
        }
    }
}

/// What the layers of one image may still unpack to, in logical bytes;
/// shared by layers unpacked concurrently.
#[derive(Debug)]
pub struct ImageBudget {
    cap: u64,
    used: AtomicU64,
}

impl ImageBudget {
    pub fn new(cap: u64) -> Self {
        Self {
            cap,
            used: AtomicU64::new(0),
        }
    }

    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Whether `n` more bytes would still fit, without taking them.
    fn fits(&self, n: u64) -> bool {
        n <= self.cap.saturating_sub(self.used.load(Ordering::Relaxed))
    }

    /// Takes `n` bytes, or refuses when they do not fit.
    fn take(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|&total| total <= self.cap)
            })
            .is_ok()
    }
}

/// What the caller needs to record about an unpacked layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackSummary {
    /// `sha256:<hex>` of the decompressed stream, read to EOF including the
    /// tar trailer, so it can be checked against the image config's diff_ids.
    pub diff_id: String,
    /// Length of the decompressed stream in bytes.
    pub uncompressed_size: u64,
    /// Number of tar entries, after long-name and PAX records were merged
    /// into the entries they describe.
    pub entries: u64,
}

/// Why a layer could not be unpacked. Any error means the destination is in
/// an unspecified state and must be thrown away.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("opening layer directory {}", path.display())]
    Destination {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("reading layer")]
    Stream {
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?}: malformed header")]
    Header {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?}: {reason}")]
    Refused {
        path: String,
        #[source]
        reason: Refusal,
    },
    #[error("layer entry {path:?}: unsupported tar entry type {kind:?}")]
    UnsupportedType { path: String, kind: char },
    #[error("layer entry {path:?}: {what} requires root (CAP_MKNOD / CAP_SYS_ADMIN)")]
    NeedsPrivilege {
        path: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?}: {op}")]
    Io {
        path: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("layer has more than {max} entries")]
    TooManyEntries { max: u64 },
    #[error(
        "layer is larger than the layer size cap of {max} bytes uncompressed (--max-layer-size)"
    )]
    TooLarge { max: u64 },
    #[error(
        "image is larger than the image size cap of {max} bytes uncompressed (--max-image-size)"
    )]
    ImageTooLarge { max: u64 },
}

/// The safety rule an entry broke; carried by [`UnpackError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("empty name")]
    EmptyName,
    #[error("name contains a NUL byte")]
    NulByte,
    #[error("path escapes the layer directory")]
    DotDot,
    #[error("name is longer than PATH_MAX")]
    NameTooLong,
    #[error("path goes through a symlink")]
    SymlinkInPath,
    #[error("a parent path component is not a directory")]
    ParentNotDirectory,
    #[error("a non-directory cannot replace the layer root")]
    ReplacesRoot,
    #[error("whiteout does not name a file")]
    BadWhiteout,
    #[error("link entry has no link name")]
    MissingLinkName,
    #[error("does not exist in the layer")]
    Missing,
    #[error("is a directory")]
    IsDirectory,
    #[error("hard link target {target:?}: {problem}")]
    HardLinkTarget {
        target: String,
        problem: Box<Refusal>,
    },
}

/// How a layer blob is compressed, as told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Media types lie (docker v2s2 says "gzip" for zstd layers in the wild), so
/// only the magic bytes are trusted.
pub fn detect_compression(first_bytes: &[u8]) -> Compression {
    if first_bytes.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if first_bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Unpacks `blob` (gzip, zstd or plain tar) into the existing, empty
/// directory `dest`, converting whiteouts to the overlayfs format.
///
/// Entry names are taken relative to `dest`: a leading `/` is stripped (as GNU
/// tar and containers/storage do), and so are empty and `.` components. Any
/// `..` component refuses the whole layer, even one that would stay inside
/// `dest`, because no well-formed layer needs it. An entry naming `dest`
/// itself (`./`) is ignored when it is a directory, as containers/storage
/// does, and refused otherwise.
pub fn unpack_layer<R: Read>(
    blob: R,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackSummary, UnpackError> {
    let root = open_destination(dest)?;
    let mut input = BufReader::with_capacity(BUF_SIZE, blob);
    let (magic, magic_len) = peek_magic(&mut input)?;
    let compressed = (&magic[..magic_len]).chain(input);
    let decoder = Decoder::new(detect_compression(&magic[..magic_len]), compressed)?;
    let exceeded = Cell::new(false);
    let mut hashing = HashingReader::new(decoder, opts.max_total_bytes, &exceeded);

    let mut unpacker = Unpacker::new(root, opts);
    let (read, unpacked) = pipe::run(&mut hashing, |chunks| {
        let entries = unpack_entries(chunks, &mut unpacker, opts)?;
        unpacker.finish().map(|()| entries)
    });
    // Reading errors (the size cap included) come first: to the tar side a
    // failed read looks like EOF, on which a truncated layer may "succeed".
    if exceeded.get() {
        return Err(UnpackError::TooLarge {
            max: opts.max_total_bytes,
        });
    }
    read.map_err(|source| UnpackError::Stream { source })?;
    let entries = unpacked?;
    Ok(UnpackSummary {
        diff_id: format!("sha256:{}", hex::encode(hashing.hasher.finalize())),
        uncompressed_size: hashing.total,
        entries,
    })
}

fn open_destination(dest: &Path) -> Result<OwnedFd, UnpackError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    open(dest, flags, Mode::empty())
        .map(fsops::owned)
        .map_err(|errno| UnpackError::Destination {
            path: dest.to_path_buf(),
            source: errno.into(),
        })
}

/// Reads up to four bytes, looping because a network reader may hand out
/// fewer bytes than asked for even before EOF.
fn peek_magic(input: &mut impl Read) -> Result<([u8; 4], usize), UnpackError> {
    let mut magic = [0u8; 4];
    let mut len = 0;
    while len < magic.len() {
        match input.read(&mut magic[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(UnpackError::Stream { source }),
        }
    }
    Ok((magic, len))
}

/// Feeds every entry of `archive` to `each`, refusing more than
/// `opts.max_entries`; returns the count. Layers and [`onto::apply_onto`]
/// share it, so both stop at the same cap.
fn for_each_entry<R: Read>(
    archive: &mut tar::Archive<R>,
    opts: &UnpackOptions,
    mut each: impl FnMut(&mut tar::Entry<'_, R>) -> Result<(), UnpackError>,
) -> Result<u64, UnpackError> {
    let stream_err = |source| UnpackError::Stream { source };
    let mut count = 0u64;
    for entry in archive.entries().map_err(stream_err)? {
        let mut entry = entry.map_err(stream_err)?;
        count += 1;
        if count > opts.max_entries {
            return Err(UnpackError::TooManyEntries {
                max: opts.max_entries,
            });
        }
        each(&mut entry)?;
    }
    Ok(count)
}

fn unpack_entries(
    stream: ChunkReader,
    unpacker: &mut Unpacker,
    opts: &UnpackOptions,
) -> Result<u64, UnpackError> {
    let stream_err = |source| UnpackError::Stream { source };
    let mut archive = tar::Archive::new(stream);
    let count = for_each_entry(&mut archive, opts, |entry| unpacker.apply(entry))?;
    // The diff-id covers the trailer and any padding after it too.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(stream_err)?;
    Ok(count)
}

/// The decompressor picked by [`detect_compression`]; an enum rather than a
/// boxed trait object so the blob reader needs no `'static` bound.
enum Decoder<B: BufRead> {
    Plain(B),
    Gzip(Box<flate2::bufread::MultiGzDecoder<B>>),
    Zstd(zstd::stream::read::Decoder<'static, B>),
}

impl<B: BufRead> Decoder<B> {
    fn new(compression: Compression, input: B) -> Result<Self, UnpackError> {
        Ok(match compression {
            Compression::None => Decoder::Plain(input),
            // Multi-member gzip (pigz, concatenated streams) is valid and Go's
            // reader, which produced most layers, accepts it.
            Compression::Gzip => {
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(input)))
            }
            Compression::Zstd => Decoder::Zstd(
                zstd::stream::read::Decoder::with_buffer(input)
                    .map_err(|source| UnpackError::Stream { source })?,
            ),
        })
    }
}

impl<B: BufRead> Read for Decoder<B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

/// Hashes and counts the decompressed stream as the tar parser pulls it, and
/// cuts it off at the size cap so a decompression bomb stops early.
struct HashingReader<'c, R> {
    inner: R,
    hasher: Sha256,
    total: u64,
    cap: u64,
    exceeded: &'c Cell<bool>,
}

impl<'c, R: Read> HashingReader<'c, R> {
    fn new(inner: R, cap: u64, exceeded: &'c Cell<bool>) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            total: 0,
            cap,
            exceeded,
        }
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.total += n as u64;
        if self.total > self.cap {
            self.exceeded.set(true);
            return Err(io::Error::other("layer exceeds the uncompressed size cap"));
        }
        Ok(n)
    }
}
