//! Reading the credentials out of CRIU's per-task images. CRIU restores a
//! task's uids, capabilities and securebits exactly as its images say, as
//! root, so in an imported archive they are hostile input that must be
//! read and judged ([`super::creds`]) before CRIU runs.
//!
//! The format (criu/include/magic.h, criu/protobuf.c): a u32 LE set magic
//! (`IMG_COMMON_MAGIC`), the image's own u32 LE magic, then entries, each a
//! u32 LE length and a protobuf message. CRIU 1.x images without the set
//! magic (inventory `img_version` 1) are refused rather than guessed at.
//! Only the fields needed are declared here (criu `images/core.proto`,
//! `images/creds.proto`); prost skips the rest.

use prost::Message;

/// Every image except the inventory starts with this (magic.h).
pub const IMG_COMMON_MAGIC: u32 = 0x5456_4319;
/// `core-<tid>.img`, one per thread.
pub const CORE_MAGIC: u32 = 0x5505_3847;
/// `creds-<pid>.img`, the old per-task form of the creds.
pub const CREDS_MAGIC: u32 = 0x5402_3547;

/// `fs-<pid>.img`: a task's root and cwd (criu `images/fs.proto`).
pub const FS_MAGIC: u32 = 0x5140_3912;
/// `files.img`: every open file, the root and cwd included (criu
/// `images/fdinfo.proto`).
pub const FILES_MAGIC: u32 = 0x5630_3138;

/// A core image holds registers, FPU state and a few small messages:
/// real ones are a few KB. Checked before the file is read.
pub const MAX_IMAGE: u64 = 1 << 20;
/// Each entry's declared length, checked before it is sliced out.
pub const MAX_ENTRY: u32 = 512 << 10;

/// criu `creds_entry`, every field (so a test can re-encode it whole).
/// The proto2 `required` fields are written even when 0, as protobuf-c
/// needs them to unpack.
#[derive(Clone, PartialEq, Message)]
pub struct CredsEntry {
    #[prost(uint32, required, tag = "1")]
    pub uid: u32,
    #[prost(uint32, required, tag = "2")]
    pub gid: u32,
    #[prost(uint32, required, tag = "3")]
    pub euid: u32,
    #[prost(uint32, required, tag = "4")]
    pub egid: u32,
    #[prost(uint32, required, tag = "5")]
    pub suid: u32,
    #[prost(uint32, required, tag = "6")]
    pub sgid: u32,
    #[prost(uint32, required, tag = "7")]
    pub fsuid: u32,
    #[prost(uint32, required, tag = "8")]
    pub fsgid: u32,
    // proto2 repeated scalars are unpacked on the wire (protobuf-c writes
    // them so); prost reads either form.
    #[prost(uint32, repeated, packed = "false", tag = "9")]
    pub cap_inh: Vec<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "10")]
    pub cap_prm: Vec<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "11")]
    pub cap_eff: Vec<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "12")]
    pub cap_bnd: Vec<u32>,
    #[prost(uint32, required, tag = "13")]
    pub secbits: u32,
    #[prost(uint32, repeated, packed = "false", tag = "14")]
    pub groups: Vec<u32>,
    #[prost(string, optional, tag = "15")]
    pub lsm_profile: Option<String>,
    #[prost(string, optional, tag = "16")]
    pub lsm_sockcreate: Option<String>,
    #[prost(bytes = "vec", optional, tag = "17")]
    pub apparmor_data: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "18")]
    pub no_new_privs: Option<u32>,
    #[prost(uint32, repeated, packed = "false", tag = "19")]
    pub cap_amb: Vec<u32>,
}

/// criu `thread_core_entry`: only `creds`.
#[derive(Clone, PartialEq, Message)]
pub struct ThreadCoreEntry {
    #[prost(message, optional, tag = "10")]
    pub creds: Option<CredsEntry>,
}

/// criu `core_entry`: only `thread_core`.
#[derive(Clone, PartialEq, Message)]
pub struct CoreEntry {
    #[prost(message, optional, tag = "5")]
    pub thread_core: Option<ThreadCoreEntry>,
}

/// Why an image could not be read; the caller names the file.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("is {0} bytes (limit {MAX_IMAGE})")]
    TooBig(u64),
    #[error("truncated header")]
    ShortHeader,
    #[error("set magic {0:#010x} is not CRIU's image magic {IMG_COMMON_MAGIC:#010x}")]
    SetMagic(u32),
    #[error("magic {found:#010x} is not {want:#010x}")]
    Magic { found: u32, want: u32 },
    #[error("no entry")]
    Empty,
    #[error("entry of {0} bytes (limit {MAX_ENTRY})")]
    EntryTooBig(u32),
    #[error("truncated entry")]
    ShortEntry,
    #[error("data after the entry")]
    Trailing,
    #[error("malformed protobuf")]
    Protobuf(#[from] prost::DecodeError),
    #[error("no thread_core (CRIU would restore the task with its own credentials)")]
    NoThreadCore,
}

/// criu `fs_entry`, the field vouch needs.
#[derive(Clone, PartialEq, Message)]
pub struct FsEntry {
    #[prost(uint32, required, tag = "1")]
    pub cwd_id: u32,
    #[prost(uint32, required, tag = "2")]
    pub root_id: u32,
}

/// criu `file_entry`: `type` (`fd_types`, REG = 1), `id`, `reg`.
#[derive(Clone, PartialEq, Message)]
pub struct FileEntry {
    #[prost(int32, required, tag = "1")]
    pub kind: i32,
    #[prost(uint32, required, tag = "2")]
    pub id: u32,
    #[prost(message, optional, tag = "3")]
    pub reg: Option<RegFileEntry>,
}

/// criu `reg_file_entry`, the fields vouch needs.
#[derive(Clone, PartialEq, Message)]
pub struct RegFileEntry {
    #[prost(string, required, tag = "6")]
    pub name: String,
    #[prost(uint32, optional, tag = "10")]
    pub mode: Option<u32>,
}

/// Checks an image's size cap and both magics.
fn header(bytes: &[u8], magic: u32) -> Result<(), ImageError> {
    if bytes.len() as u64 > MAX_IMAGE {
        return Err(ImageError::TooBig(bytes.len() as u64));
    }
    let set = u32_at(bytes, 0).ok_or(ImageError::ShortHeader)?;
    if set != IMG_COMMON_MAGIC {
        return Err(ImageError::SetMagic(set));
    }
    let own = u32_at(bytes, 4).ok_or(ImageError::ShortHeader)?;
    if own != magic {
        return Err(ImageError::Magic {
            found: own,
            want: magic,
        });
    }
    Ok(())
}

/// Every entry of an image whose own magic is `magic`.
pub fn entries(bytes: &[u8], magic: u32) -> Result<Vec<&[u8]>, ImageError> {
    header(bytes, magic)?;
    let mut out = vec![];
    let mut at = 8usize;
    while at < bytes.len() {
        let len = u32_at(bytes, at).ok_or(ImageError::ShortEntry)?;
        if len > MAX_ENTRY {
            return Err(ImageError::EntryTooBig(len));
        }
        let end = at + 4 + len as usize;
        out.push(bytes.get(at + 4..end).ok_or(ImageError::ShortEntry)?);
        at = end;
    }
    Ok(out)
}

/// The mode CRIU recorded for a task's root directory (`fs-<pid>.img`'s
/// `root_id` in `files.img`), which it checks again at restore ("File .
/// has bad mode"). None if files.img does not list it.
pub fn root_mode(fs: &[u8], files: &[u8]) -> Result<Option<u32>, ImageError> {
    let root = FsEntry::decode(single_entry(fs, FS_MAGIC)?)?.root_id;
    for e in entries(files, FILES_MAGIC)? {
        let f = FileEntry::decode(e)?;
        if f.kind == 1 && f.id == root {
            return Ok(f.reg.and_then(|r| r.mode));
        }
    }
    Ok(None)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(w.try_into().ok()?))
}

/// The one entry of an image whose own magic is `magic`. CRIU reads only
/// the first entry of core and creds images; anything after it is refused
/// so that what is checked is all there is.
pub fn single_entry(bytes: &[u8], magic: u32) -> Result<&[u8], ImageError> {
    header(bytes, magic)?;
    let len = u32_at(bytes, 8).ok_or(ImageError::Empty)?;
    if len > MAX_ENTRY {
        return Err(ImageError::EntryTooBig(len));
    }
    let end = 12 + len as usize;
    let entry = bytes.get(12..end).ok_or(ImageError::ShortEntry)?;
    if bytes.len() != end {
        return Err(ImageError::Trailing);
    }
    Ok(entry)
}

/// The creds of a `core-<tid>.img`: None when the thread's creds are in
/// the old `creds-<pid>.img` instead (CRIU then reads that file).
pub fn core_creds(bytes: &[u8]) -> Result<Option<CredsEntry>, ImageError> {
    let core = CoreEntry::decode(single_entry(bytes, CORE_MAGIC)?)?;
    Ok(core.thread_core.ok_or(ImageError::NoThreadCore)?.creds)
}

/// The creds of a `creds-<pid>.img`.
pub fn creds_image(bytes: &[u8]) -> Result<CredsEntry, ImageError> {
    Ok(CredsEntry::decode(single_entry(bytes, CREDS_MAGIC)?)?)
}

/// An image file with `magic` holding `msg`, as CRIU writes it.
pub fn encode(magic: u32, msg: &impl Message) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut out = Vec::with_capacity(12 + body.len());
    out.extend_from_slice(&IMG_COMMON_MAGIC.to_le_bytes());
    out.extend_from_slice(&magic.to_le_bytes());
    // Bodies built here are tiny; MAX_ENTRY is far below u32::MAX.
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_mode_is_the_fs_roots_file() {
        let fs = encode(
            FS_MAGIC,
            &FsEntry {
                cwd_id: 6,
                root_id: 7,
            },
        );
        let file = |id, mode| FileEntry {
            kind: 1,
            id,
            reg: Some(RegFileEntry {
                name: "/".into(),
                mode: Some(mode),
            }),
        };
        let mut files = encode(FILES_MAGIC, &file(6, 0o40755));
        let second = file(7, 0o40555).encode_to_vec();
        files.extend_from_slice(&(second.len() as u32).to_le_bytes());
        files.extend_from_slice(&second);
        assert_eq!(root_mode(&fs, &files).unwrap(), Some(0o40555));
        // A truncated entry is an error, not a guess.
        files.truncate(files.len() - 1);
        assert!(matches!(
            root_mode(&fs, &files),
            Err(ImageError::ShortEntry)
        ));
        assert!(root_mode(&files, &fs).is_err(), "magics are checked");
    }

    fn creds() -> CredsEntry {
        CredsEntry {
            cap_eff: vec![0x20c5fb, 0],
            no_new_privs: Some(1),
            lsm_profile: Some("unconfined".into()),
            ..Default::default()
        }
    }

    fn core(c: Option<CredsEntry>) -> Vec<u8> {
        encode(
            CORE_MAGIC,
            &CoreEntry {
                thread_core: Some(ThreadCoreEntry { creds: c }),
            },
        )
    }

    #[test]
    fn reads_what_it_writes() {
        assert_eq!(core_creds(&core(Some(creds()))).unwrap(), Some(creds()));
        assert_eq!(core_creds(&core(None)).unwrap(), None);
        assert_eq!(
            creds_image(&encode(CREDS_MAGIC, &creds())).unwrap(),
            creds()
        );
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // field 1 (mtype, varint 1) and field 3 (tc, empty message) around thread_core.
        let mut body = vec![0x08, 0x01, 0x1a, 0x00];
        body.extend(
            CoreEntry {
                thread_core: Some(ThreadCoreEntry {
                    creds: Some(creds()),
                }),
            }
            .encode_to_vec(),
        );
        let mut img = Vec::new();
        for w in [IMG_COMMON_MAGIC, CORE_MAGIC, body.len() as u32] {
            img.extend_from_slice(&w.to_le_bytes());
        }
        img.extend(body);
        assert_eq!(core_creds(&img).unwrap(), Some(creds()));
    }

    #[test]
    fn malformed_images_are_errors() {
        let good = core(Some(creds()));
        let mut big = good.clone();
        big.resize(MAX_IMAGE as usize + 1, 0);
        assert_eq!(core_creds(&big), Err(ImageError::TooBig(MAX_IMAGE + 1)));
        assert_eq!(core_creds(&good[..6]), Err(ImageError::ShortHeader));
        assert_eq!(core_creds(&good[..8]), Err(ImageError::Empty));
        assert_eq!(
            core_creds(&good[..good.len() - 1]),
            Err(ImageError::ShortEntry)
        );
        let mut t = good.clone();
        t.push(0);
        assert_eq!(core_creds(&t), Err(ImageError::Trailing));
        let mut m = good.clone();
        m[0] ^= 1;
        assert!(matches!(core_creds(&m), Err(ImageError::SetMagic(_))));
        assert!(matches!(
            creds_image(&good),
            Err(ImageError::Magic {
                want: CREDS_MAGIC,
                ..
            })
        ));
        let mut huge = good[..8].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(core_creds(&huge), Err(ImageError::EntryTooBig(u32::MAX)));
        let mut junk = good[..8].to_vec();
        junk.extend_from_slice(&[2, 0, 0, 0, 0x2a, 0xff]);
        assert!(matches!(core_creds(&junk), Err(ImageError::Protobuf(_))));
        let no_tc = encode(CORE_MAGIC, &CoreEntry { thread_core: None });
        assert_eq!(core_creds(&no_tc), Err(ImageError::NoThreadCore));
    }
}
