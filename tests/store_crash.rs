//! Commands killed with SIGKILL mid-operation -- provably mid-layer, by the
//! bytes a throttling proxy has let through, or by what the store shows --
//! leave no visible image, no corrupt blob and no partial layer; the next
//! operation collects their staging, and a retry succeeds.

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{FaultProxy, Registry, Vouch};

/// The random layer's uncompressed size: incompressible, so its blob is as
/// large, and a throttled transfer of it takes seconds.
const LAYER: usize = 32 << 20;
/// Body bytes that must have passed before the kill.
const KILL_AFTER: u64 = 4 << 20;
/// Throttled rate: KILL_AFTER arrives in a quarter of a second, the whole
/// layer would take two.
const RATE: u64 = 16 << 20;

/// A registry holding the random image at `big:1`.
fn seeded() -> (Registry, String) {
    let reg = Registry::start();
    let pusher = Vouch::new();
    let tar = common::random_rootfs(pusher.home.path(), LAYER);
    pusher.ok(&["import", tar.to_str().unwrap(), "localhost/big"]);
    let src = format!("{}/big:1", reg.host());
    pusher.ok(&["push", "-q", "--tls-verify=false", "localhost/big", &src]);
    (reg, src)
}

/// Bytes of the regular files under `dir` (directory sizes do not shrink
/// on every file system, so they are left out).
fn file_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        if m.is_dir() {
            total += file_bytes(&e.path());
        } else {
            total += m.len();
        }
    }
    total
}

fn kill(child: &mut Child, what: &str) {
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "{what} ended before the kill: {status}"
    );
}

#[test]
fn pulls_killed_mid_layer_leave_nothing_after_the_next_pull() {
    let (reg, src) = seeded();
    // What a clean pull leaves.
    let clean = Vouch::new();
    clean.ok(&["pull", "-q", "--tls-verify=false", &src]);
    let clean_bytes = file_bytes(&clean.root());
    assert!(clean_bytes > LAYER as u64, "{clean_bytes}");

    let proxy = FaultProxy::throttled(&reg, RATE);
    let via_proxy = src.replacen(&reg.host(), &proxy.host(), 1);
    let v = Vouch::new();
    for round in 0..4 {
        let before = proxy.bytes_passed();
        let mut child = v
            .cmd()
            .args(["pull", "-q", "--tls-verify=false", &via_proxy])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        proxy.wait_bytes(before + KILL_AFTER, &mut child);
        kill(&mut child, "pull");
        let passed = proxy.bytes_passed() - before;
        // The blob of random bytes is at least LAYER bytes long.
        assert!(
            passed < LAYER as u64,
            "round {round}: the whole layer ({passed} bytes) passed before the kill"
        );
        assert!(v.images().is_empty(), "round {round}: image visible");
        v.assert_store_consistent();
        // Each new pull collected the staging of the one killed before it.
        assert_eq!(v.staging_dirs(), 1, "round {round}: staging piles up");
    }
    // The next pull (the retry) succeeds and collects the last leftover:
    // the store is exactly as large as after a clean pull.
    v.ok(&["pull", "-q", "--tls-verify=false", &src]);
    v.assert_store_consistent();
    assert_eq!(v.images().len(), 1);
    assert_eq!(v.staging_dirs(), 0);
    assert_eq!(file_bytes(&v.root()), clean_bytes);
    v.ok(&["rmi", "-a"]);
    assert_eq!(v.staging_dirs(), 0);
}

#[test]
fn push_killed_mid_upload_publishes_no_tag_and_the_retry_does() {
    let reg = Registry::start();
    let v = Vouch::new();
    let tar = common::random_rootfs(v.home.path(), LAYER);
    v.ok(&["import", tar.to_str().unwrap(), "localhost/big"]);
    let proxy = FaultProxy::throttled(&reg, RATE);
    let dest = format!("{}/big:1", proxy.host());
    let mut child = v
        .cmd()
        .args(["push", "-q", "--tls-verify=false", "localhost/big", &dest])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    proxy.wait_bytes(KILL_AFTER, &mut child);
    kill(&mut child, "push");
    let passed = proxy.bytes_passed();
    assert!(
        passed < LAYER as u64,
        "the whole layer ({passed} bytes) passed"
    );
    // The manifest goes last, so an interrupted push never publishes a tag.
    let puller = Vouch::new();
    let direct = format!("{}/big:1", reg.host());
    let out = puller.output(&["pull", "-q", "--tls-verify=false", &direct]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("big:1"), "{err}");
    // The pusher's store was only read.
    v.assert_store_consistent();
    assert_eq!(v.images().len(), 1);
    // The retried push completes and the image pulls intact.
    v.ok(&["push", "-q", "--tls-verify=false", "localhost/big", &direct]);
    puller.ok(&["pull", "-q", "--tls-verify=false", &direct]);
    puller.assert_store_consistent();
}

#[test]
fn load_killed_mid_blob_leaves_nothing_and_the_retry_loads() {
    let v = Vouch::new();
    let tar = common::random_rootfs(v.home.path(), LAYER);
    v.ok(&["import", tar.to_str().unwrap(), "localhost/big"]);
    let archive = v.home.path().join("big.tar");
    v.ok(&["save", "-o", archive.to_str().unwrap(), "localhost/big"]);
    let bytes = std::fs::read(&archive).unwrap();

    // The archive comes through a FIFO, so the test decides how much of it
    // vouch has seen when the kill lands.
    let l = Vouch::new();
    let fifo = l.home.path().join("archive.fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let mut child = l
        .cmd()
        .args(["load", "-q", "-i", fifo.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let fed = bytes.len() / 2;
    w.write_all(&bytes[..fed]).unwrap();
    // Vouch has read all but a pipe buffer of it: wait until its staged
    // blob shows the bytes, then kill with the rest of the archive unsent.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let staged: u64 = std::fs::read_dir(l.root().join("tmp"))
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
            .map(|f| f.unwrap().metadata().unwrap().len())
            .sum();
        if staged >= KILL_AFTER {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "load ended early");
        assert!(Instant::now() < deadline, "load staged only {staged} bytes");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(&mut child, "load");
    drop(w);
    assert!(l.images().is_empty(), "image visible after a killed load");
    l.assert_store_consistent();
    assert_eq!(l.staging_dirs(), 1);

    let out = l.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out.trim(), "Loaded image: localhost/big:latest");
    l.assert_store_consistent();
    assert_eq!(
        l.staging_dirs(),
        0,
        "the killed load's staging was not collected"
    );
}

/// A layer of many small files, so removing it takes long enough to be
/// caught half-way.
fn many_files_rootfs(dir: &Path, files: usize) -> std::path::PathBuf {
    let out = dir.join("many.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    for i in 0..files {
        let mut h = tar::Header::new_gnu();
        h.set_size(8);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, format!("d{}/f{i}", i % 64), &b"contents"[..])
            .unwrap();
    }
    b.finish().unwrap();
    out
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                count_files(&p)
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn rmi_killed_mid_removal_leaves_no_partial_layer() {
    const FILES: usize = 40_000;
    let v = Vouch::new();
    let tar = many_files_rootfs(v.home.path(), FILES);
    let images = v.root().join("images");
    let layers = v.root().join("layers");
    let mut caught = false;
    for _ in 0..5 {
        v.ok(&["import", tar.to_str().unwrap(), "localhost/many"]);
        let layer = std::fs::read_dir(&layers)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut child = v
            .cmd()
            .args(["rmi", "localhost/many"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Mid-removal: the record is gone and the layer's files are being
        // deleted (moved to `tmp/` first, or losing directories in place).
        let deleting = || {
            std::fs::read_dir(&images).unwrap().next().is_none()
                && (std::fs::read_dir(v.root().join("tmp"))
                    .unwrap()
                    .next()
                    .is_some()
                    || (layer.exists() && (0..64).any(|d| !layer.join(format!("d{d}")).exists())))
        };
        while !deleting() && child.try_wait().unwrap().is_none() {}
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if status.signal() == Some(9) {
            caught = true;
            break;
        }
    }
    assert!(caught, "rmi was never caught mid-removal");
    assert!(v.images().is_empty());
    v.assert_store_consistent();
    // No half-removed layer is left where a new import would reuse it: a
    // layer still in `layers/` (the kill came before its turn) is whole.
    for l in std::fs::read_dir(&layers).unwrap() {
        assert_eq!(count_files(&l.unwrap().path()), FILES, "partial layer left");
    }

    // The retry: the same layer again is complete, and the killed removal's
    // leftovers are collected.
    v.ok(&["import", tar.to_str().unwrap(), "localhost/many"]);
    v.assert_store_consistent();
    assert_eq!(v.staging_dirs(), 0);
    let layer = std::fs::read_dir(&layers).unwrap().next().unwrap().unwrap();
    assert_eq!(count_files(&layer.path()), FILES);
    v.ok(&["rmi", "localhost/many"]);
    assert_eq!(v.staging_dirs(), 0);
    assert_eq!(std::fs::read_dir(&layers).unwrap().count(), 0);
}
