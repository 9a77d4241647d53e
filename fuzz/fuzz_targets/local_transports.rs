//! The local copy sources (`copy/src/dir.rs`, `oci_layout.rs`,
//! `oci_archive.rs`, `docker_archive.rs`, `tar_safety.rs`), opened by name
//! through `open_local_source` and read through the `Source` trait as the
//! copy engine reads them: the manifest, its signatures, a list's instances
//! by digest, and every blob (through `verified`, as the engine wraps them).
//!
//! Input: one selector byte, then the image. Selector bits 0-1 pick the
//! transport (`dir:`, `oci:`, `oci-archive:`, `docker-archive:`), bits 2-3
//! the reference (none, or one of a few). For the archives the rest is the
//! archive file (tar, gzip or zstd). For `dir:` and `oci:` it is split on
//! `\0--\0` into files: the first is `manifest.json` (`dir:`) or
//! `index.json` (`oci:`, which also gets its `oci-layout`); each further
//! part is a blob stored under its own digest, unless it starts with
//! `@NAME\n`, which stores the rest as `NAME` (plain components only, so
//! the harness itself never writes outside the image).
//!
//! Everything happens in a per-process temp root, with `$TMPDIR` pointed
//! into it; files are capped at 64 MiB (`RLIMIT_FSIZE`) so a decompression
//! bomb fails instead of filling the disk. Properties, whether opening and
//! reading succeed or not:
//! * nothing is written outside the root's `tmp/` and nothing is left in
//!   it once the source is dropped (temp dirs are cleaned up);
//! * the image itself is never changed (a source only reads);
//! * no byte read back is a canary file's outside the image (no link or
//!   `..` reaches it), unless the input carries the canary itself;
//! * a manifest is at most `MAX_MANIFEST_BYTES`, signatures are capped in
//!   size and number, an instance read by digest has that digest, and a
//!   docker-archive's generated blobs are exactly the size its generated
//!   manifest declares.
#![no_main]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use vouch_copy::dir::{MAX_SIGNATURES, MAX_SIGNATURE_BYTES};
use vouch_copy::oci_layout::LAYOUT_FILE;
use vouch_copy::verified::verified;
use vouch_copy::{open_local_source, BlobStream, ImageName, Source};
use vouch_image::manifest::{self, Descriptor, Parsed, MAX_MANIFEST_BYTES};
use vouch_image::Digest;

const CANARY: &[u8] = b"canary: must never change\n";
/// The unpack target's absolute sentinel, which the tar dictionary aims at.
const ESCAPE: &str = "/tmp/vouch-fuzz-escape";
const SEPARATOR: &[u8] = b"\0--\0";
/// Bytes read per blob; the rest of a larger one is not needed.
const READ_CAP: usize = 8 << 20;
const FILE_SIZE_LIMIT: u64 = 64 << 20;

struct Root {
    path: PathBuf,
    rt: tokio::runtime::Runtime,
}

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let path = vouch_fuzz::scratch_root("vouch-fuzz-local.");
        fs::create_dir_all(path.join("outside")).expect("outside");
        fs::write(path.join("outside/canary"), CANARY).expect("canary");
        fs::create_dir_all(path.join("tmp")).expect("tmp");
        fs::create_dir_all(ESCAPE).expect("escape sentinel directory");
        let escape = Path::new(ESCAPE).join("canary");
        if !escape.exists() {
            fs::write(&escape, CANARY).expect("escape canary");
        }
        // Every temp file the transports make lands where it is checked.
        std::env::set_var("TMPDIR", path.join("tmp"));
        // SAFETY: plain libc calls with valid arguments, before any file of
        // the run is written; a write over the limit then fails with EFBIG.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: FILE_SIZE_LIMIT,
                rlim_max: FILE_SIZE_LIMIT,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        Root { path, rt }
    })
}

/// Every entry under `dir`: files with their bytes, directories as `/`.
fn snapshot(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(dir)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            let meta = fs::symlink_metadata(&p).expect("stat");
            if meta.is_dir() {
                out.insert(format!("{rel}/"), None);
                stack.push(p);
            } else {
                out.insert(rel, Some(fs::read(&p).unwrap_or_default()));
            }
        }
    }
    out
}

fn plain_name(name: &[u8]) -> Option<&str> {
    let name = std::str::from_utf8(name).ok()?;
    let ok = !name.is_empty()
        && name.split('/').count() <= 3
        && name.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    ok.then_some(name)
}

fn split_parts(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        out.push(&rest[..i]);
        rest = &rest[i + SEPARATOR.len()..];
    }
    out.push(rest);
    out
}

/// Lays out a `dir:` (`oci == false`) or `oci:` image from `body`.
fn write_tree(image: &Path, body: &[u8], oci: bool) {
    fs::create_dir_all(image).expect("image dir");
    let parts = split_parts(body);
    let (first, blobs) = parts.split_first().expect("at least one part");
    if oci {
        fs::write(image.join("oci-layout"), LAYOUT_FILE).expect("oci-layout");
        fs::write(image.join("index.json"), first).expect("index.json");
    } else {
        fs::write(image.join("manifest.json"), first).expect("manifest.json");
    }
    for part in blobs.iter().take(16) {
        let named = part.strip_prefix(b"@").and_then(|p| {
            let nl = p.iter().take(100).position(|b| *b == b'\n')?;
            Some((plain_name(&p[..nl])?, &p[nl + 1..]))
        });
        let (rel, bytes) = match named {
            Some((name, bytes)) => (PathBuf::from(name), bytes),
            None => {
                let hex = Digest::of(part).hex().to_string();
                let rel = if oci {
                    Path::new("blobs/sha256").join(hex)
                } else {
                    PathBuf::from(hex)
                };
                (rel, *part)
            }
        };
        let path = image.join(rel);
        if let Some(parent) = path.parent() {
            // A name may collide with a file already there: then skip it.
            if fs::create_dir_all(parent).is_err() {
                continue;
            }
        }
        let _ = fs::write(&path, bytes);
    }
}

struct Reader<'a> {
    input: &'a [u8],
    docker_archive: bool,
}

impl Reader<'_> {
    fn seen(&self, what: &str, bytes: &[u8]) {
        let carried = self.input.windows(CANARY.len()).any(|w| w == CANARY);
        if !carried {
            assert!(
                !bytes.windows(CANARY.len()).any(|w| w == CANARY),
                "{what}: read a canary from outside the image"
            );
        }
    }

    async fn blob(&self, src: &dyn Source, desc: &Descriptor) {
        let Ok(stream) = src.blob(desc).await else {
            return;
        };
        let mut stream: BlobStream = if self.docker_archive {
            stream
        } else {
            verified(src.name().to_string(), desc, stream)
        };
        let mut got = Vec::new();
        let mut complete = true;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => got.extend_from_slice(&c),
                Err(_) => {
                    complete = false;
                    break;
                }
            }
            if got.len() > READ_CAP {
                complete = false;
                break;
            }
        }
        self.seen(&format!("blob {}", desc.digest), &got);
        if self.docker_archive && complete {
            assert_eq!(
                got.len() as u64,
                desc.size,
                "docker-archive blob {} is not the size its manifest says",
                desc.digest
            );
        }
    }

    async fn image(&self, src: &dyn Source, bytes: &[u8], media_type: &str) {
        let Ok(Parsed::Image(m)) = manifest::parse_shape(bytes, media_type) else {
            return;
        };
        self.blob(src, &m.config).await;
        for layer in m.layers.iter().take(8) {
            self.blob(src, layer).await;
        }
    }

    async fn read(&self, src: &dyn Source) {
        let Ok(top) = src.manifest(None).await else {
            return;
        };
        assert!(top.bytes.len() <= MAX_MANIFEST_BYTES);
        self.seen("manifest", &top.bytes);
        if let Ok(sigs) = src.signatures(&top.digest()).await {
            assert!(sigs.len() <= MAX_SIGNATURES, "{} signatures", sigs.len());
            for s in &sigs {
                assert!(s.len() as u64 <= MAX_SIGNATURE_BYTES);
                self.seen("signature", s);
            }
        }
        match manifest::parse_shape(&top.bytes, &top.media_type) {
            Ok(Parsed::Index(index)) => {
                for d in index.manifests.iter().take(4) {
                    let Ok(m) = src.manifest(Some(&d.digest)).await else {
                        continue;
                    };
                    assert_eq!(m.digest(), d.digest, "instance read by digest");
                    assert!(m.bytes.len() <= MAX_MANIFEST_BYTES);
                    self.seen("instance", &m.bytes);
                    let _ = src.signatures(&d.digest).await;
                    self.image(src, &m.bytes, &m.media_type).await;
                }
            }
            Ok(Parsed::Image(_)) => self.image(src, &top.bytes, &top.media_type).await,
            Err(_) => {}
        }
    }
}

fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let root = root();
    let work = root.path.join("work");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("work");
    let image = work.join("image");
    let refs = ["latest", "v1", "@0", "busybox:latest"];
    let pick = (selector >> 2) & 3;
    let reference = (pick != 0).then(|| refs[usize::from(pick)].to_string());
    let name = match selector & 3 {
        0 => {
            write_tree(&image, body, false);
            ImageName::Dir(image.clone())
        }
        1 => {
            write_tree(&image, body, true);
            ImageName::Oci {
                path: image.clone(),
                reference,
            }
        }
        t => {
            fs::write(&image, body).expect("archive");
            if t == 2 {
                ImageName::OciArchive {
                    path: image.clone(),
                    reference,
                }
            } else {
                ImageName::DockerArchive {
                    path: image.clone(),
                    reference,
                }
            }
        }
    };
    let before = snapshot(&work);
    let reader = Reader {
        input: data,
        docker_archive: selector & 3 == 3,
    };
    root.rt.block_on(async {
        if let Ok(src) = open_local_source(&name) {
            reader.read(src.as_ref()).await;
        }
    });
    assert!(
        snapshot(&work) == before,
        "{name}: the source changed the image"
    );
    let left = snapshot(&root.path.join("tmp"));
    assert!(left.is_empty(), "{name}: temp files left behind: {left:?}");
    let outside = snapshot(&root.path.join("outside"));
    assert_eq!(outside.len(), 1, "{name}: wrote outside: {outside:?}");
    assert_eq!(
        outside.get("canary"),
        Some(&Some(CANARY.to_vec())),
        "{name}: changed the canary"
    );
    let mut top: Vec<String> = fs::read_dir(&root.path)
        .expect("list the root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(
        top,
        ["outside", "tmp", "work"],
        "{name}: wrote into the root"
    );
}

fuzz_target!(|data: &[u8]| run(data));
