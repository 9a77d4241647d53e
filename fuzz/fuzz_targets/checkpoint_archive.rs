//! The exported checkpoint archive reader: today
//! `vouch_runtime::checkpoint::archive::import(file, into)`, which sniffs the
//! compression, unpacks the wanted entries into `into` and parses config.dump,
//! spec.dump and network.status into the container config.
//!
//! Only this file knows that API: when the reader becomes a pure
//! "bytes → validated typed contents" function, change `read` below.
//!
//! Besides not crashing, the reader must keep to its staging directory:
//! afterwards the temp root holds only the archive and the staging
//! directory, and the staging directory only regular files and directories.
#![no_main]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_runtime::checkpoint::archive;

struct Root {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        // A decompression bomb stops at 64 MiB instead of the 4 GiB default.
        std::env::set_var("VOUCH_CHECKPOINT_MAX_BYTES", (64u64 << 20).to_string());
        let dir = tempfile::Builder::new()
            .prefix("vouch-fuzz-checkpoint.")
            .tempdir()
            .expect("temp root");
        let path = dir.path().to_path_buf();
        Root { _dir: dir, path }
    })
}

/// The reader under test.
fn read(archive_bytes: &[u8], root: &Path) {
    let file = root.join("archive.tar");
    fs::write(&file, archive_bytes).expect("writing the archive");
    let into = root.join("staging");
    fs::create_dir(&into).expect("fresh staging directory");
    if let Ok(imported) = archive::import(&file, &into) {
        let _ = format!("{:?}", imported.config);
    }
}

fn only_files_and_dirs(dir: &Path) {
    for entry in fs::read_dir(dir).expect("listing staging") {
        let entry = entry.expect("dir entry");
        let kind = entry.file_type().expect("file type");
        assert!(
            kind.is_file() || kind.is_dir(),
            "{} is neither a regular file nor a directory",
            entry.path().display()
        );
        if kind.is_dir() {
            only_files_and_dirs(&entry.path());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    read(data, &root.path);
    let mut names: Vec<String> = fs::read_dir(&root.path)
        .expect("listing temp root")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["archive.tar", "staging"],
        "the reader wrote outside its staging directory"
    );
    only_files_and_dirs(&root.path.join("staging"));
    fs::remove_dir_all(root.path.join("staging")).expect("removing staging");
});
