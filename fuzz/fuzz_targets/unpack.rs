//! The layer tar unpacker (`vouch_image::unpack::unpack_layer`): the input is
//! unpacked as a layer (plain, gzip or zstd, as sniffed) into a fresh scratch
//! directory, and then nothing may have escaped it, whether the unpack
//! succeeded or not:
//!
//! * the temp root holds exactly `outside/` and `layer/`, with their modes;
//! * `outside/` still holds only `canary` (same bytes, mode, one link) and an
//!   empty `dir/`: no `..`, symlink or hard link reached it;
//! * no file in the layer is the canary's inode;
//! * `/tmp/vouch-fuzz-escape/` (the absolute target the seeds and dictionary
//!   aim symlinks and hard links at) still holds only its own `canary` with
//!   one link, so no absolute symlink was followed and no link made to it.
//!
//! The layer directory is removed after every run.
#![no_main]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_image::unpack::{unpack_layer, UnpackOptions};

const CANARY: &[u8] = b"canary: must never change\n";
const ESCAPE: &str = "/tmp/vouch-fuzz-escape";

struct Root {
    _dir: tempfile::TempDir,
    path: PathBuf,
    canary: (u64, u64),
    escape_canary: (u64, u64),
}

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("vouch-fuzz-unpack.")
            .tempdir()
            .expect("temp root");
        let path = dir.path().to_path_buf();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod root");
        fs::create_dir_all(path.join("outside/dir")).expect("outside/dir");
        fs::write(path.join("outside/canary"), CANARY).expect("canary");
        fs::set_permissions(
            path.join("outside/canary"),
            fs::Permissions::from_mode(0o644),
        )
        .expect("chmod canary");
        let meta = fs::metadata(path.join("outside/canary")).expect("stat canary");
        fs::create_dir_all(ESCAPE).expect("escape sentinel directory");
        let escape_canary = Path::new(ESCAPE).join("canary");
        if !escape_canary.exists() {
            fs::write(&escape_canary, CANARY).expect("escape canary");
        }
        let escape = fs::metadata(&escape_canary).expect("stat escape canary");
        Root {
            _dir: dir,
            path,
            canary: (meta.dev(), meta.ino()),
            escape_canary: (escape.dev(), escape.ino()),
        }
    })
}

fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    out.sort();
    out
}

fn mode(path: &Path) -> (u32, bool) {
    let m = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.mode() & 0o7777, m.is_dir())
}

/// Every inode under `dir`, without following symlinks.
fn walk(dir: &Path, canaries: [(u64, u64); 2]) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => panic!("walking {}: {e}", dir.display()),
    };
    for entry in entries {
        let entry = entry.expect("dir entry");
        let meta = fs::symlink_metadata(entry.path()).expect("lstat");
        assert!(
            !canaries.contains(&(meta.dev(), meta.ino())),
            "{} is a hard link to a canary outside the layer",
            entry.path().display()
        );
        if meta.is_dir() {
            walk(&entry.path(), canaries);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    let layer = root.path.join("layer");
    fs::create_dir(&layer).expect("fresh layer directory");
    let opts = UnpackOptions {
        preserve_ownership: false,
        max_entries: 10_000,
        max_total_bytes: 64 << 20,
        image_budget: None,
    };
    let _ = unpack_layer(data, &layer, &opts);

    assert_eq!(names(&root.path), ["layer", "outside"], "temp root changed");
    assert_eq!(mode(&root.path), (0o755, true), "temp root mode changed");
    assert_eq!(
        names(&root.path.join("outside")),
        ["canary", "dir"],
        "outside/ changed"
    );
    assert_eq!(
        mode(&root.path.join("outside")),
        (0o755, true),
        "outside/ mode changed"
    );
    assert!(
        names(&root.path.join("outside/dir")).is_empty(),
        "outside/dir written"
    );
    let canary = root.path.join("outside/canary");
    let meta = fs::symlink_metadata(&canary).expect("canary");
    assert!(meta.is_file(), "canary replaced");
    assert_eq!(meta.mode() & 0o7777, 0o644, "canary mode changed");
    assert_eq!(meta.nlink(), 1, "canary gained a hard link");
    assert_eq!(
        fs::read(&canary).expect("canary"),
        CANARY,
        "canary rewritten"
    );
    assert_eq!(
        names(Path::new(ESCAPE)),
        ["canary"],
        "{ESCAPE} written through a symlink"
    );
    let escape = fs::symlink_metadata(Path::new(ESCAPE).join("canary")).expect("escape canary");
    assert_eq!(escape.nlink(), 1, "{ESCAPE}/canary gained a hard link");
    assert_eq!(
        fs::read(Path::new(ESCAPE).join("canary")).expect("escape canary"),
        CANARY
    );
    let layer_meta = fs::symlink_metadata(&layer).expect("layer directory");
    assert!(layer_meta.is_dir(), "layer directory replaced");
    walk(&layer, [root.canary, root.escape_canary]);

    // Root ignores modes, so a 000 directory does not stop the removal.
    fs::remove_dir_all(&layer).expect("removing the layer directory");
});
