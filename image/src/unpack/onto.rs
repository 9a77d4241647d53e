//! Applying a tar of changes onto an existing directory, such as a restored
//! container's overlay upper directory: the rootfs diff of a checkpoint
//! archive and its list of deleted paths. The same fd-relative, `O_NOFOLLOW`
//! entry code as a layer, so a hostile archive gets no more than a hostile
//! layer; device nodes and FIFOs are refused outright, because a container's
//! own changes never need them and a diff that brings one is an attack.

use std::io::Read;
use std::path::Path;

use tar::EntryType;

use super::apply::Unpacker;
use super::name::{normalize, split_last};
use super::{for_each_entry, open_destination, Refusal, UnpackError, UnpackOptions};

/// Applies the tar `diff` onto the existing directory `dir` with the
/// replacement and whiteout rules of a layer; returns the entry count.
/// Unlike [`super::unpack_layer`], `dir` need not be empty, nothing is
/// hashed, and character/block devices and FIFOs are refused.
pub fn apply_onto<R: Read>(diff: R, dir: &Path, opts: &UnpackOptions) -> Result<u64, UnpackError> {
    let mut unpacker = Unpacker::new(open_destination(dir)?, opts);
    let mut archive = tar::Archive::new(diff);
    let count = for_each_entry(&mut archive, opts, |entry| {
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::Char | EntryType::Block | EntryType::Fifo) {
            return Err(UnpackError::UnsupportedType {
                path: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                kind: char::from(kind.as_byte()),
            });
        }
        unpacker.apply(entry)
    })?;
    unpacker.finish()?;
    Ok(count)
}

/// Marks each of `paths` (rootfs-absolute or relative, as in a checkpoint's
/// `deleted.files`) deleted in `dir` with an overlayfs whiteout, replacing
/// whatever is there, by feeding `.wh.NAME` entries through [`apply_onto`].
/// A path with `..`, a NUL byte, or naming the root is refused.
pub fn whiteout_onto(
    paths: &[String],
    dir: &Path,
    opts: &UnpackOptions,
) -> Result<(), UnpackError> {
    let mut b = tar::Builder::new(Vec::new());
    for p in paths {
        let refused = |reason| UnpackError::Refused {
            path: p.clone(),
            reason,
        };
        let norm = normalize(p.as_bytes()).map_err(refused)?;
        if norm.is_empty() {
            return Err(refused(Refusal::ReplacesRoot));
        }
        let (parent, name) = split_last(&norm);
        let mut wh = parent.to_vec();
        if !wh.is_empty() {
            wh.push(b'/');
        }
        wh.extend_from_slice(b".wh.");
        wh.extend_from_slice(name);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_size(0);
        h.set_mode(0o600);
        let io = |source| UnpackError::Io {
            path: p.clone(),
            op: "building whiteout",
            source,
        };
        let wh_path = String::from_utf8_lossy(&wh).into_owned();
        b.append_data(&mut h, wh_path, &[][..]).map_err(io)?;
    }
    let bytes = b
        .into_inner()
        .map_err(|source| UnpackError::Stream { source })?;
    apply_onto(&bytes[..], dir, opts).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(f: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        f(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }

    #[test]
    fn never_writes_through_a_symlink() {
        let t = tempfile::tempdir().unwrap();
        let (dir, outside) = (t.path().join("upper"), t.path().join("outside"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::create_dir(&outside).unwrap();
        let diff = tar_of(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "esc", &outside).unwrap();
            file(b, "esc/pwned", b"x");
        });
        let e = apply_onto(&diff[..], &dir, &UnpackOptions::default()).unwrap_err();
        assert!(e.to_string().contains("path goes through a symlink"), "{e}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn refuses_devices_and_fifos() {
        let t = tempfile::tempdir().unwrap();
        for kind in [EntryType::Char, EntryType::Block, EntryType::Fifo] {
            let diff = tar_of(|b| {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(kind);
                h.set_size(0);
                b.append_data(&mut h, "dev/x", &[][..]).unwrap();
            });
            let e = apply_onto(&diff[..], t.path(), &UnpackOptions::default()).unwrap_err();
            assert!(
                matches!(e, UnpackError::UnsupportedType { .. }),
                "{kind:?}: {e}"
            );
        }
        assert!(!t.path().join("dev/x").exists());
    }

    #[test]
    fn whiteouts_refuse_dotdot_and_the_root() {
        let t = tempfile::tempdir().unwrap();
        let o = UnpackOptions::default();
        for bad in ["/a/../../x", "/", ""] {
            let e = whiteout_onto(&[bad.to_string()], t.path(), &o).unwrap_err();
            assert!(matches!(e, UnpackError::Refused { .. }), "{bad:?}: {e}");
        }
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }
}
