//! Entry names, checked and normalised before anything touches the disk, so
//! the file-system code only ever sees plain relative component lists.

use super::Refusal;

/// The prefix OCI uses to mark a deleted file.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// AUFS bookkeeping names (`.wh..wh.plnk`, …) share this prefix.
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
/// Marks a directory whose lower-layer contents are hidden.
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";

/// Longer names cannot be used with path-based tools on Linux, and
/// containers/storage fails on them (ENAMETOOLONG); bounding them also bounds
/// directory depth, and with it the work and descriptors one entry can cost.
const MAX_PATH: usize = libc::PATH_MAX as usize;

/// Turns a raw tar name into `a/b/c` form (no leading, trailing or doubled
/// slashes, no `.`); the empty result names the layer root.
///
/// A leading `/` is dropped rather than refused because GNU tar and
/// containers/storage treat absolute member names as relative to the
/// extraction directory, and real layers contain them. `..` is refused
/// anywhere: resolving it lexically would be safe, but no honest layer
/// contains it, and refusing keeps this rule trivially auditable.
pub(super) fn normalize(raw: &[u8]) -> Result<Vec<u8>, Refusal> {
    if raw.is_empty() {
        return Err(Refusal::EmptyName);
    }
    if raw.contains(&0) {
        return Err(Refusal::NulByte);
    }
    let mut out = Vec::with_capacity(raw.len());
    for component in raw.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(Refusal::DotDot),
            name => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(name);
            }
        }
    }
    if out.len() > MAX_PATH {
        return Err(Refusal::NameTooLong);
    }
    Ok(out)
}

/// Splits a normalised path into its parent directory and final component.
pub(super) fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// Joins a normalised parent path and one component.
pub(super) fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parent.len() + 1 + name.len());
    out.extend_from_slice(parent);
    if !parent.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// What an entry's final component says about whiteouts.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Whiteout<'a> {
    /// An ordinary name.
    None,
    /// `.wh.NAME`: NAME from lower layers is deleted.
    File(&'a [u8]),
    /// `.wh..wh..opq`: the parent directory hides lower layers.
    Opaque,
    /// Other `.wh..wh.*` names: AUFS metadata, meaningless to overlayfs.
    Meta,
}

/// Classifies a final component; a `.wh.` name whose target is not a plain
/// component (`.wh.`, `.wh..`, `.wh...`) is refused so a whiteout can never
/// address the parent or the directory itself.
pub(super) fn whiteout(name: &[u8]) -> Result<Whiteout<'_>, Refusal> {
    if name == WHITEOUT_OPAQUE {
        return Ok(Whiteout::Opaque);
    }
    if name.starts_with(WHITEOUT_META_PREFIX) {
        return Ok(Whiteout::Meta);
    }
    match name.strip_prefix(WHITEOUT_PREFIX) {
        None => Ok(Whiteout::None),
        Some(b"" | b"." | b"..") => Err(Refusal::BadWhiteout),
        Some(target) => Ok(Whiteout::File(target)),
    }
}

/// AUFS keeps its bookkeeping (hard-link farms) in top-level `.wh..wh.*`
/// directories; like containers/storage, their contents are not unpacked.
pub(super) fn is_aufs_meta(path: &[u8]) -> bool {
    let first = path.split(|&b| b == b'/').next().unwrap_or_default();
    first.starts_with(WHITEOUT_META_PREFIX) && first != WHITEOUT_OPAQUE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_strips_slashes_and_dots() {
        assert_eq!(normalize(b"/etc/passwd").unwrap(), b"etc/passwd");
        assert_eq!(normalize(b"./a//b/./c/").unwrap(), b"a/b/c");
        assert_eq!(normalize(b"./").unwrap(), b"");
        assert_eq!(normalize(b"/").unwrap(), b"");
    }

    #[test]
    fn normalize_refuses_hostile_names() {
        assert_eq!(normalize(b""), Err(Refusal::EmptyName));
        assert_eq!(normalize(b"a\0b"), Err(Refusal::NulByte));
        assert_eq!(normalize(b"../x"), Err(Refusal::DotDot));
        assert_eq!(normalize(b"/../x"), Err(Refusal::DotDot));
        assert_eq!(normalize(b"a/../b"), Err(Refusal::DotDot));
        assert_eq!(normalize(b"a/.."), Err(Refusal::DotDot));
        assert_eq!(normalize(b"a/..b").unwrap(), b"a/..b");
        let deep = b"a/".repeat(MAX_PATH / 2 + 1);
        assert_eq!(normalize(&deep), Err(Refusal::NameTooLong));
    }

    #[test]
    fn split_and_join_round_trip() {
        assert_eq!(split_last(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split_last(b"c"), (&b""[..], &b"c"[..]));
        assert_eq!(join(b"a/b", b"c"), b"a/b/c");
        assert_eq!(join(b"", b"c"), b"c");
    }

    #[test]
    fn whiteout_names() {
        assert_eq!(whiteout(b"file"), Ok(Whiteout::None));
        assert_eq!(whiteout(b".wh.file"), Ok(Whiteout::File(b"file")));
        assert_eq!(whiteout(b".wh..wh..opq"), Ok(Whiteout::Opaque));
        assert_eq!(whiteout(b".wh..wh.plnk"), Ok(Whiteout::Meta));
        assert_eq!(whiteout(b".wh."), Err(Refusal::BadWhiteout));
        assert_eq!(whiteout(b".wh.."), Err(Refusal::BadWhiteout));
        assert_eq!(whiteout(b".wh..."), Err(Refusal::BadWhiteout));
        assert!(is_aufs_meta(b".wh..wh.plnk/123"));
        assert!(!is_aufs_meta(b".wh..wh..opq"));
        assert!(!is_aufs_meta(b"a/.wh..wh.plnk"));
    }
}
