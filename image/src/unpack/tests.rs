//! Behaviour tests for [`unpack_layer`]: round trips, whiteouts, replacement,
//! and one test per attack, each also checking that nothing outside the
//! destination changed.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use super::*;

/// The workspace's one skip rule (recorded, or a failure under VOUCH_NO_SKIP).
#[path = "../../../tests/common/skip.rs"]
mod skip;

const MTIME: u64 = 1_600_000_000;

/// `TMP/dest` is unpacked into; `TMP/sentinel/secret.txt` is what attacks
/// aim at and must never change.
struct Fixture {
    tmp: tempfile::TempDir,
    dest: PathBuf,
    sentinel: PathBuf,
    before: BTreeMap<PathBuf, String>,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        let sentinel = tmp.path().join("sentinel");
        fs::create_dir(&dest).unwrap();
        fs::create_dir(&sentinel).unwrap();
        fs::write(sentinel.join("secret.txt"), "original").unwrap();
        let mut fixture = Fixture {
            tmp,
            dest,
            sentinel,
            before: BTreeMap::new(),
        };
        fixture.before = fixture.outside();
        fixture
    }

    fn unpack(&self, layer: &[u8]) -> Result<UnpackSummary, UnpackError> {
        unpack_layer(layer, &self.dest, &UnpackOptions::default())
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }

    /// Everything in the temp dir except `dest`, described well enough to
    /// notice a new file, a changed byte, mode, owner, time or link count.
    fn outside(&self) -> BTreeMap<PathBuf, String> {
        let mut seen = BTreeMap::new();
        describe_tree(self.tmp.path(), &self.dest, &mut seen);
        seen
    }

    fn assert_outside_untouched(&self) {
        assert_eq!(
            self.outside(),
            self.before,
            "something outside dest changed"
        );
    }

    /// The sentinel directory as an absolute symlink target.
    fn sentinel_abs(&self) -> Vec<u8> {
        self.sentinel.as_os_str().as_encoded_bytes().to_vec()
    }
}

fn describe_tree(dir: &Path, skip: &Path, seen: &mut BTreeMap<PathBuf, String>) {
    let meta = fs::symlink_metadata(dir).unwrap();
    seen.insert(dir.to_path_buf(), describe(dir, &meta));
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            describe_tree(&path, skip, seen);
        } else {
            seen.insert(path.clone(), describe(&path, &meta));
        }
    }
}

fn describe(path: &Path, meta: &fs::Metadata) -> String {
    let content = if meta.is_file() {
        fs::read_to_string(path).unwrap()
    } else if meta.file_type().is_symlink() {
        fs::read_link(path).unwrap().display().to_string()
    } else {
        String::new()
    };
    format!(
        "mode={:o} uid={} nlink={} mtime={} content={content:?}",
        meta.mode(),
        meta.uid(),
        meta.nlink(),
        meta.mtime()
    )
}

/// Writes headers byte by byte, so names `tar::Builder` refuses (`..`,
/// absolute, empty) can be expressed.
#[derive(Default)]
struct RawTar(Vec<u8>);

impl RawTar {
    fn entry(
        &mut self,
        name: &[u8],
        kind: EntryType,
        link: &[u8],
        mode: u32,
        data: &[u8],
    ) -> &mut Self {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(MTIME);
        header.set_uid(0);
        header.set_gid(0);
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
        old.linkname[..link.len()].copy_from_slice(link);
        header.set_cksum();
        self.0.extend_from_slice(header.as_bytes());
        self.data(data)
    }

    fn data(&mut self, data: &[u8]) -> &mut Self {
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0, pad));
        self
    }

    fn file(&mut self, name: &[u8], data: &[u8]) -> &mut Self {
        self.entry(name, EntryType::Regular, b"", 0o644, data)
    }

    fn dir(&mut self, name: &[u8]) -> &mut Self {
        self.entry(name, EntryType::Directory, b"", 0o755, b"")
    }

    fn symlink(&mut self, name: &[u8], target: &[u8]) -> &mut Self {
        self.entry(name, EntryType::Symlink, target, 0o777, b"")
    }

    fn hard_link(&mut self, name: &[u8], target: &[u8]) -> &mut Self {
        self.entry(name, EntryType::Link, target, 0o644, b"")
    }

    /// A PAX header applying `records` to the next entry.
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut body = Vec::new();
        for (key, value) in records {
            body.extend_from_slice(&pax_record(key, value));
        }
        self.entry(b"PaxHeaders/x", EntryType::XHeader, b"", 0o644, &body)
    }

    fn finish(&self) -> Vec<u8> {
        let mut out = self.0.clone();
        out.extend_from_slice(&[0; 1024]);
        out
    }
}

/// `"<len> key=value\n"` where len counts itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let name = CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

fn refusal(result: Result<UnpackSummary, UnpackError>) -> Refusal {
    match result {
        Err(UnpackError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn link_refusal(result: Result<UnpackSummary, UnpackError>) -> Refusal {
    match refusal(result) {
        Refusal::HardLinkTarget { problem, .. } => *problem,
        other => panic!("expected a hard link refusal, got {other:?}"),
    }
}

fn normal_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add =
        |name: &str, kind: EntryType, mode: u32, mtime: u64, link: Option<&str>, data: &[u8]| {
            let mut h = Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_mtime(mtime);
            h.set_size(data.len() as u64);
            h.set_uid(if name == "home/user/file" { 1000 } else { 0 });
            h.set_gid(if name == "home/user/file" { 1000 } else { 0 });
            if let Some(link) = link {
                h.set_link_name(link).unwrap();
            }
            b.append_data(&mut h, name, data).unwrap();
        };
    add("etc", EntryType::Directory, 0o755, 1_500_000_000, None, b"");
    add(
        "etc/hosts",
        EntryType::Regular,
        0o644,
        MTIME,
        None,
        b"127.0.0.1 localhost\n",
    );
    add(
        "etc/hosts.link",
        EntryType::Link,
        0o644,
        MTIME,
        Some("etc/hosts"),
        b"",
    );
    add(
        "etc/shadow",
        EntryType::Regular,
        0o600,
        MTIME,
        None,
        b"root:*\n",
    );
    add(
        "usr/bin/su",
        EntryType::Regular,
        0o4755,
        MTIME,
        None,
        b"#!/bin/true\n",
    );
    add(
        "lib",
        EntryType::Symlink,
        0o777,
        MTIME,
        Some("usr/lib"),
        b"",
    );
    add(
        "abs",
        EntryType::Symlink,
        0o777,
        MTIME,
        Some("/etc/hosts"),
        b"",
    );
    add("tmp", EntryType::Directory, 0o1777, MTIME, None, b"");
    add(
        "home/user/file",
        EntryType::Regular,
        0o640,
        MTIME,
        None,
        b"mine",
    );
    add(
        "private",
        EntryType::Directory,
        0o700,
        1_400_000_000,
        None,
        b"",
    );
    add(
        "private/inner",
        EntryType::Regular,
        0o444,
        MTIME,
        None,
        b"ro",
    );
    add("run/fifo", EntryType::Fifo, 0o600, MTIME, None, b"");
    b.into_inner().unwrap()
}

#[test]
fn normal_layer_round_trips() {
    let fx = Fixture::new();
    let layer = normal_layer();
    let summary = fx.unpack(&layer).unwrap();
    assert_eq!(summary.entries, 12);

    assert_eq!(
        fs::read(fx.path("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    let hosts = fs::metadata(fx.path("etc/hosts")).unwrap();
    let link = fs::metadata(fx.path("etc/hosts.link")).unwrap();
    assert_eq!(hosts.ino(), link.ino());
    assert_eq!(hosts.nlink(), 2);
    assert_eq!(hosts.mtime(), MTIME as i64);
    assert_eq!(hosts.mode() & 0o7777, 0o644);
    assert_eq!(
        fs::metadata(fx.path("etc/shadow")).unwrap().mode() & 0o7777,
        0o600
    );
    assert_eq!(
        fs::metadata(fx.path("usr/bin/su")).unwrap().mode() & 0o7777,
        0o4755
    );
    assert_eq!(fs::read_link(fx.path("lib")).unwrap(), Path::new("usr/lib"));
    assert_eq!(
        fs::read_link(fx.path("abs")).unwrap(),
        Path::new("/etc/hosts")
    );
    assert_eq!(
        fs::metadata(fx.path("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    assert_eq!(
        fs::symlink_metadata(fx.path("abs")).unwrap().mtime(),
        MTIME as i64
    );

    // Directory times survive the children written after them.
    assert_eq!(fs::metadata(fx.path("etc")).unwrap().mtime(), 1_500_000_000);
    let private = fs::metadata(fx.path("private")).unwrap();
    assert_eq!(
        (private.mode() & 0o7777, private.mtime()),
        (0o700, 1_400_000_000)
    );
    assert_eq!(fs::read(fx.path("private/inner")).unwrap(), b"ro");
    assert_eq!(
        fs::metadata(fx.path("private/inner")).unwrap().mode() & 0o7777,
        0o444
    );
    // Parents the layer did not list are created 0755.
    assert_eq!(
        fs::metadata(fx.path("usr/bin")).unwrap().mode() & 0o7777,
        0o755
    );
    assert!(fs::metadata(fx.path("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());

    if is_root() {
        let owned = fs::metadata(fx.path("home/user/file")).unwrap();
        assert_eq!((owned.uid(), owned.gid()), (1000, 1000));
    }
    fx.assert_outside_untouched();
}

#[test]
fn devices_are_created_as_root() {
    if !is_root() {
        skip::skip("needs root (device nodes, trusted.* xattrs)");
        return;
    }
    let fx = Fixture::new();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Char);
    h.set_mode(0o666);
    h.set_size(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    b.append_data(&mut h, "dev/null", &[][..]).unwrap();
    fx.unpack(&b.into_inner().unwrap()).unwrap();
    let meta = fs::symlink_metadata(fx.path("dev/null")).unwrap();
    assert!(meta.file_type().is_char_device());
    assert_eq!(meta.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(meta.mode() & 0o7777, 0o666);
}

#[test]
fn pax_long_names_xattrs_and_fractional_mtime() {
    let fx = Fixture::new();
    let long = format!("{}/file", "d".repeat(200));
    let layer = RawTar::default()
        .pax(&[
            ("path", long.as_bytes()),
            ("mtime", b"1600000000.25"),
            ("SCHILY.xattr.user.note", b"hello"),
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
            ("SCHILY.xattr.user.overlay.opaque", b"y"),
        ])
        .file(b"placeholder", b"data")
        .finish();
    fx.unpack(&layer).unwrap();
    let path = fx.path(&long);
    assert_eq!(fs::read(&path).unwrap(), b"data");
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(
        (meta.mtime(), meta.mtime_nsec()),
        (1_600_000_000, 250_000_000)
    );
    assert_eq!(
        get_xattr(&path, "user.note").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(get_xattr(&path, "trusted.overlay.redirect"), None);
    assert_eq!(get_xattr(&path, "user.overlay.opaque"), None);
    assert!(!fx.path("placeholder").exists());
}

#[test]
fn compression_is_detected_by_magic() {
    assert_eq!(detect_compression(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
    assert_eq!(
        detect_compression(&[0x28, 0xb5, 0x2f, 0xfd]),
        Compression::Zstd
    );
    assert_eq!(detect_compression(b"etc/"), Compression::None);
    assert_eq!(detect_compression(&[0x1f]), Compression::None);
    assert_eq!(detect_compression(&[]), Compression::None);
}

#[test]
fn diff_id_is_the_same_for_plain_gzip_and_zstd() {
    let mut layer = normal_layer();
    // Trailing padding beyond the end-of-archive blocks is part of the diff-id.
    layer.extend_from_slice(&[0; 8192]);
    let want = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&layer[..], 3).unwrap();

    for blob in [&layer, &gz, &zst] {
        let fx = Fixture::new();
        let summary = fx.unpack(blob).unwrap();
        assert_eq!(summary.diff_id, want);
        assert_eq!(summary.uncompressed_size, layer.len() as u64);
        assert_eq!(summary.entries, 12);
        assert_eq!(fs::read(fx.path("home/user/file")).unwrap(), b"mine");
    }
}

#[test]
fn empty_blob_is_an_empty_layer() {
    let fx = Fixture::new();
    let summary = fx.unpack(b"").unwrap();
    assert_eq!(summary.entries, 0);
    assert_eq!(
        summary.diff_id,
        format!("sha256:{}", hex::encode(Sha256::digest(b"")))
    );
}

#[test]
fn whiteout_becomes_a_character_device() {
    if !is_root() {
        skip::skip("needs root (device nodes, trusted.* xattrs)");
        return;
    }
    let fx = Fixture::new();
    let layer = RawTar::default()
        .dir(b"etc/")
        .file(b"etc/.wh.passwd", b"")
        .file(b".wh.gone", b"")
        .finish();
    fx.unpack(&layer).unwrap();
    for path in ["etc/passwd", "gone"] {
        let meta = fs::symlink_metadata(fx.path(path)).unwrap();
        assert!(meta.file_type().is_char_device(), "{path}");
        assert_eq!(meta.rdev(), 0);
    }
    assert!(fs::symlink_metadata(fx.path("etc/.wh.passwd")).is_err());
    fx.assert_outside_untouched();
}

#[test]
fn opaque_marker_sets_the_overlay_xattr() {
    if !is_root() {
        skip::skip("needs root (device nodes, trusted.* xattrs)");
        return;
    }
    let fx = Fixture::new();
    let layer = RawTar::default()
        .dir(b"var/")
        .file(b"var/.wh..wh..opq", b"")
        .file(b"var/keep", b"x")
        .file(b"unlisted/.wh..wh..opq", b"")
        .dir(b".wh..wh.plnk/")
        .file(b".wh..wh.plnk/1234.5678", b"aufs")
        .finish();
    fx.unpack(&layer).unwrap();
    for dir in ["var", "unlisted"] {
        assert_eq!(
            get_xattr(&fx.path(dir), "trusted.overlay.opaque").as_deref(),
            Some(&b"y"[..])
        );
    }
    assert!(!fx.path("var/.wh..wh..opq").exists());
    assert!(!fx.path(".wh..wh.plnk").exists());
    assert_eq!(fs::read(fx.path("var/keep")).unwrap(), b"x");
}

#[test]
fn later_entries_replace_earlier_ones() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .file(b"a", b"first")
        .file(b"a", b"second")
        .file(b"f2d", b"file")
        .dir(b"f2d/")
        .file(b"f2d/child", b"c")
        .dir(b"d2f/")
        .dir(b"d2f/sub/")
        .file(b"d2f/sub/deep", b"deep")
        .file(b"d2f", b"now a file")
        .file(b"orig", b"1")
        .hard_link(b"linked", b"orig")
        .file(b"linked", b"2")
        .dir(b"merge/")
        .file(b"merge/old", b"old")
        .entry(b"merge/", EntryType::Directory, b"", 0o750, b"")
        .finish();
    fx.unpack(&layer).unwrap();
    assert_eq!(fs::read(fx.path("a")).unwrap(), b"second");
    assert_eq!(fs::read(fx.path("f2d/child")).unwrap(), b"c");
    assert_eq!(fs::read(fx.path("d2f")).unwrap(), b"now a file");
    // Replacing one name of a hard-linked pair leaves the other alone.
    assert_eq!(fs::read(fx.path("orig")).unwrap(), b"1");
    assert_eq!(fs::read(fx.path("linked")).unwrap(), b"2");
    assert_eq!(fs::read(fx.path("merge/old")).unwrap(), b"old");
    assert_eq!(
        fs::metadata(fx.path("merge")).unwrap().mode() & 0o7777,
        0o750
    );
    fx.assert_outside_untouched();
}

#[test]
fn deep_trees_are_replaced_and_deep_names_refused() {
    let fx = Fixture::new();
    let deep = "d/".repeat(500);
    let mut layer = RawTar::default();
    layer
        .pax(&[("path", format!("{deep}leaf").as_bytes())])
        .file(b"x", b"leaf");
    layer.file(b"d", b"flat now");
    fx.unpack(&layer.finish()).unwrap();
    assert_eq!(fs::read(fx.path("d")).unwrap(), b"flat now");

    let too_deep = "d/".repeat(2100);
    let layer = RawTar::default()
        .pax(&[("path", too_deep.as_bytes())])
        .dir(b"x/")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::NameTooLong);
    fx.assert_outside_untouched();
}

#[test]
fn leading_slash_is_stripped() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .file(b"/abs/file", b"inside")
        .hard_link(b"/abs/link", b"/abs/file")
        .finish();
    fx.unpack(&layer).unwrap();
    assert_eq!(fs::read(fx.path("abs/file")).unwrap(), b"inside");
    assert_eq!(fs::read(fx.path("abs/link")).unwrap(), b"inside");
    fx.assert_outside_untouched();
}

#[test]
fn root_directory_entry_is_ignored_but_not_replaced() {
    let fx = Fixture::new();
    fx.unpack(&RawTar::default().dir(b"./").file(b"./x", b"x").finish())
        .unwrap();
    assert_eq!(fs::read(fx.path("x")).unwrap(), b"x");
    let layer = RawTar::default().file(b"./", b"x").finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::ReplacesRoot);
    fx.assert_outside_untouched();
}

// ---- attacks --------------------------------------------------------------

#[test]
fn refuses_dotdot() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .file(b"../sentinel/evil", b"pwned")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::DotDot);
    let layer = RawTar::default()
        .file(b"a/../../sentinel/evil", b"pwned")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::DotDot);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_absolute_dotdot() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .file(b"/../sentinel/evil", b"pwned")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::DotDot);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_nul_and_empty_names() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .pax(&[("path", b"evil\0/x")])
        .file(b"x", b"")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::NulByte);
    let layer = RawTar::default().file(b"", b"").finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::EmptyName);
    let layer = RawTar::default()
        .pax(&[("linkpath", b"a\0b")])
        .symlink(b"s", b"t")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::NulByte);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_writing_through_an_absolute_symlink() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .symlink(b"link", &fx.sentinel_abs())
        .file(b"link/evil", b"pwned")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::SymlinkInPath);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_writing_through_a_relative_symlink() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .symlink(b"link", b"../../../../../../../../..")
        .file(b"link/evil", b"pwned")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::SymlinkInPath);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_a_symlinked_parent_deeper_in_the_path() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .dir(b"a/")
        .dir(b"a/b/")
        .symlink(b"a/b/c", b"../../../sentinel")
        .file(b"a/b/c/d/evil", b"pwned")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::SymlinkInPath);
    // Also as a directory entry, which would otherwise be "merged".
    let fx = Fixture::new();
    let layer = RawTar::default()
        .symlink(b"s", &fx.sentinel_abs())
        .dir(b"s/sub/")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::SymlinkInPath);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_a_directory_replaced_by_a_symlink() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .dir(b"d/")
        .file(b"d/ok", b"fine")
        .symlink(b"d", &fx.sentinel_abs())
        .file(b"d/evil", b"pwned")
        .finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::SymlinkInPath);
    fx.assert_outside_untouched();
}

#[test]
fn final_symlink_is_replaced_not_followed() {
    let fx = Fixture::new();
    let secret = fx.sentinel.join("secret.txt");
    let secret = secret.as_os_str().as_encoded_bytes();
    let layer = RawTar::default()
        .symlink(b"f", secret)
        .file(b"f", b"pwned")
        .symlink(b"d", &fx.sentinel_abs())
        .entry(b"d/", EntryType::Directory, b"", 0o777, b"")
        .symlink(b"h", secret)
        .file(b"src", b"src")
        .hard_link(b"h", b"src")
        .symlink(b"n", secret)
        .entry(b"n", EntryType::Fifo, b"", 0o666, b"")
        .finish();
    fx.unpack(&layer).unwrap();
    assert_eq!(fs::read(fx.path("f")).unwrap(), b"pwned");
    assert!(fs::symlink_metadata(fx.path("d")).unwrap().is_dir());
    assert_eq!(fs::read(fx.path("h")).unwrap(), b"src");
    assert!(fs::symlink_metadata(fx.path("n"))
        .unwrap()
        .file_type()
        .is_fifo());
    fx.assert_outside_untouched();
}

#[test]
fn refuses_hard_link_escapes() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .hard_link(b"h", b"../sentinel/secret.txt")
        .finish();
    assert_eq!(link_refusal(fx.unpack(&layer)), Refusal::DotDot);
    // Absolute targets are taken inside the layer too, where this is missing.
    let mut abs = fx.sentinel_abs();
    abs.extend_from_slice(b"/secret.txt");
    let layer = RawTar::default().hard_link(b"h", &abs).finish();
    assert_eq!(link_refusal(fx.unpack(&layer)), Refusal::Missing);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_hard_link_through_a_symlink() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .symlink(b"s", &fx.sentinel_abs())
        .hard_link(b"h", b"s/secret.txt")
        .finish();
    assert_eq!(link_refusal(fx.unpack(&layer)), Refusal::SymlinkInPath);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_hard_link_to_a_directory() {
    let fx = Fixture::new();
    let layer = RawTar::default().dir(b"d/").hard_link(b"h", b"d").finish();
    assert_eq!(link_refusal(fx.unpack(&layer)), Refusal::IsDirectory);
    let layer = RawTar::default().hard_link(b"h", b"./").finish();
    assert_eq!(link_refusal(fx.unpack(&layer)), Refusal::IsDirectory);
    fx.assert_outside_untouched();
}

#[test]
fn hard_link_to_a_symlink_links_the_symlink() {
    let fx = Fixture::new();
    let secret = fx.sentinel.join("secret.txt");
    let layer = RawTar::default()
        .symlink(b"s", secret.as_os_str().as_encoded_bytes())
        .hard_link(b"h", b"s")
        .finish();
    fx.unpack(&layer).unwrap();
    assert_eq!(fs::read_link(fx.path("h")).unwrap(), secret);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_entries_below_a_file() {
    let fx = Fixture::new();
    let layer = RawTar::default().file(b"f", b"").file(b"f/x", b"").finish();
    assert_eq!(refusal(fx.unpack(&layer)), Refusal::ParentNotDirectory);
    fx.assert_outside_untouched();
}

#[test]
fn refuses_whiteouts_of_dot_and_dotdot() {
    let fx = Fixture::new();
    for name in [&b".wh.."[..], b"a/.wh...", b".wh."] {
        let layer = RawTar::default().file(name, b"").finish();
        assert_eq!(refusal(fx.unpack(&layer)), Refusal::BadWhiteout);
    }
    fx.assert_outside_untouched();
}

#[test]
fn refuses_unknown_entry_types() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .entry(b"vol", EntryType::new(b'V'), b"", 0o644, b"")
        .finish();
    assert!(matches!(
        fx.unpack(&layer),
        Err(UnpackError::UnsupportedType { kind: 'V', .. })
    ));
}

#[test]
fn enforces_entry_and_size_caps() {
    let fx = Fixture::new();
    let layer = RawTar::default()
        .file(b"a", b"")
        .file(b"b", b"")
        .file(b"c", b"")
        .finish();
    let opts = UnpackOptions {
        max_entries: 2,
        ..UnpackOptions::default()
    };
    let err = unpack_layer(&layer[..], &fx.dest, &opts).unwrap_err();
    assert!(
        matches!(err, UnpackError::TooManyEntries { max: 2 }),
        "{err:?}"
    );

    // A small gzip blob expanding far beyond the cap stops early.
    let big = RawTar::default().file(b"zeros", &vec![0; 1 << 20]).finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&big).unwrap();
    let gz = gz.finish().unwrap();
    let opts = UnpackOptions {
        max_total_bytes: 64 * 1024,
        ..UnpackOptions::default()
    };
    let err = unpack_layer(&gz[..], &fx.dest, &opts).unwrap_err();
    assert!(matches!(err, UnpackError::TooLarge { .. }), "{err:?}");
    fx.assert_outside_untouched();
}

#[test]
fn errors_display_on_one_line() {
    let fx = Fixture::new();
    let layer = RawTar::default().file(b"../etc/passwd", b"").finish();
    let err = fx.unpack(&layer).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer entry \"../etc/passwd\": path escapes the layer directory"
    );
}

#[test]
fn missing_destination_is_reported() {
    let fx = Fixture::new();
    let err = unpack_layer(&b""[..], &fx.dest.join("nope"), &UnpackOptions::default()).unwrap_err();
    assert!(matches!(err, UnpackError::Destination { .. }));
}

/// The tarballs the end-to-end tests use, refused here already. Skipped
/// when python3 is not installed.
#[test]
fn refuses_every_evil_fixture() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/evil-layers.py");
    let out = tempfile::tempdir().unwrap();
    let Ok(status) = std::process::Command::new("python3")
        .arg(&script)
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .status()
    else {
        skip::skip("python3 is not installed (scripts/setup.sh installs it)");
        return;
    };
    assert!(status.success(), "{} failed", script.display());
    let expected = |name: &str| -> Refusal {
        let link = |problem| Refusal::HardLinkTarget {
            target: String::new(),
            problem: Box::new(problem),
        };
        match name {
            "dotdot.tar" | "absolute-dotdot.tar" => Refusal::DotDot,
            "hardlink-escape.tar" => link(Refusal::DotDot),
            "hardlink-absolute.tar" => link(Refusal::Missing),
            "hardlink-through-symlink.tar" => link(Refusal::SymlinkInPath),
            "whiteout-dotdot.tar" => Refusal::BadWhiteout,
            "nul-name.tar" => Refusal::NulByte,
            _ => Refusal::SymlinkInPath,
        }
    };
    let mut seen = 0;
    for file in fs::read_dir(out.path()).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let fx = Fixture::new();
        let got = match refusal(fx.unpack(&fs::read(&path).unwrap())) {
            Refusal::HardLinkTarget { problem, .. } => Refusal::HardLinkTarget {
                target: String::new(),
                problem,
            },
            other => other,
        };
        assert_eq!(got, expected(&name), "{name}");
        assert_eq!(
            fs::read(fx.path("harmless.txt")).unwrap(),
            b"this entry is fine\n"
        );
        fx.assert_outside_untouched();
        seen += 1;
    }
    assert!(seen >= 9, "only {seen} fixtures written");
    let escaped: Vec<_> = fs::read_dir("/tmp")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("vouch-evil-"))
        .collect();
    assert!(escaped.is_empty(), "escaped: {escaped:?}");
}

/// Runs only unprivileged (e.g. under `setpriv --reuid=65534`): rootless
/// podman skips device nodes, and so do we, hard links to them included.
#[test]
fn device_nodes_are_skipped_without_root() {
    if is_root() {
        skip::skip("runs only unprivileged (e.g. setpriv --reuid=65534)");
        return;
    }
    let fx = Fixture::new();
    let layer = RawTar::default()
        .entry(b"dev/null", EntryType::Char, b"", 0o666, b"")
        .hard_link(b"dev/null2", b"dev/null")
        .entry(b"dev/fifo", EntryType::Fifo, b"", 0o600, b"")
        .entry(b"ro/", EntryType::Directory, b"", 0o555, b"")
        .file(b"ro/file", b"still written")
        .finish();
    fx.unpack(&layer).unwrap();
    assert!(!fx.path("dev/null").exists());
    assert!(!fx.path("dev/null2").exists());
    assert!(fs::metadata(fx.path("dev/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(fs::read(fx.path("ro/file")).unwrap(), b"still written");
    assert_eq!(fs::metadata(fx.path("ro")).unwrap().mode() & 0o7777, 0o555);
    fx.assert_outside_untouched();
}

/// Throughput check, not run by default:
/// `cargo test -p vouch-image --lib unpack -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_unpack_throughput() {
    let mut b = tar::Builder::new(Vec::new());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut text = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b"abcdefghij \n"[(seed % 12) as usize]
            })
            .collect()
    };
    for i in 0..20_000 {
        let data = text(4096);
        let mut h = Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(MTIME);
        b.append_data(&mut h, format!("small/{}/{i}", i % 100), &data[..])
            .unwrap();
    }
    for i in 0..8 {
        let data = text(16 << 20);
        let mut h = Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_mtime(MTIME);
        b.append_data(&mut h, format!("big/{i}"), &data[..])
            .unwrap();
    }
    let layer = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&layer[..], 3).unwrap();
    let mb = |n: usize| n as f64 / 1e6;
    for (name, blob) in [("gzip", &gz), ("zstd", &zst)] {
        let start = std::time::Instant::now();
        let mut decoder = Decoder::new(detect_compression(blob), &blob[..]).unwrap();
        let cell = std::cell::Cell::new(false);
        let mut hashing = HashingReader::new(&mut decoder, u64::MAX, &cell);
        std::io::copy(&mut hashing, &mut std::io::sink()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name} decode+hash only: {secs:.2}s: {:.0} MB/s tar",
            mb(layer.len()) / secs
        );
    }
    for (name, blob) in [
        ("plain", &layer),
        ("gzip", &gz),
        ("zstd", &zst),
        ("plain", &layer),
    ] {
        let fx = Fixture::new();
        let start = std::time::Instant::now();
        fx.unpack(blob).unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {:.0} MB blob, {:.0} MB tar in {secs:.2}s: {:.0} MB/s blob, {:.0} MB/s tar",
            mb(blob.len()),
            mb(layer.len()),
            mb(blob.len()) / secs,
            mb(layer.len()) / secs
        );
    }
    let fx = Fixture::new();
    let blob = fx.tmp.path().join("layer.tar.gz");
    fs::write(&blob, &gz).unwrap();
    let start = std::time::Instant::now();
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&blob)
        .arg("-C")
        .arg(&fx.dest)
        .status()
        .unwrap();
    assert!(status.success());
    let secs = start.elapsed().as_secs_f64();
    println!(
        "GNU tar -xzf: {secs:.2}s: {:.0} MB/s tar",
        mb(layer.len()) / secs
    );
}
