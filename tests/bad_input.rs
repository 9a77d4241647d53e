//! Bad input and registry faults: each gets a one-line error, exit code 2
//! (`Vouch::fails(2, …)`), and leaves the store as it was.

mod common;

use std::io::Read;

use common::{FaultProxy, Registry, Vouch};

/// A registry holding the httpd fixture at `httpd:1`, and the vouch that pushed it.
fn seeded() -> (Registry, Vouch) {
    let reg = Registry::start();
    let v = Vouch::new();
    v.import_httpd("localhost/httpd");
    v.ok(&[
        "push",
        "--tls-verify=false",
        "localhost/httpd",
        &format!("{}/httpd:1", reg.host()),
    ]);
    (reg, v)
}

fn assert_empty_store(v: &Vouch) {
    assert!(v.images().is_empty(), "an image became visible");
    let blobs = v.root().join("blobs/sha256");
    let n = std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "blobs were left behind");
    let layers = v.root().join("layers");
    let n = std::fs::read_dir(&layers).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "layers were left behind");
}

#[test]
fn malformed_references() {
    let v = Vouch::new();
    for bad in [
        "UPPER/case",
        "a b",
        "x@sha256:abc",
        "registry:5000/",
        "x:y:z",
    ] {
        let err = v.fails(2, &["pull", "--tls-verify=false", bad]);
        assert!(err.contains("invalid image reference"), "{bad}: {err}");
    }
    v.import_httpd("localhost/httpd");
    let err = v.fails(2, &["push", "localhost/httpd", "Bad Ref"]);
    assert!(err.contains("invalid image reference"), "{err}");
    let err = v.fails(2, &["tag", "localhost/httpd", "Bad:Tag:x"]);
    assert!(err.contains("invalid image reference"), "{err}");
}

#[test]
fn unknown_local_images() {
    let v = Vouch::new();
    for args in [
        &["push", "--tls-verify=false", "nosuch", "127.0.0.1:1/x"][..],
        &["rmi", "nosuch"],
        &["image", "inspect", "nosuch"],
        &["tag", "nosuch", "other"],
        &["save", "-o", "/tmp/never-written.tar", "nosuch"],
    ] {
        let err = v.fails(2, args);
        assert!(err.contains("nosuch: image not known"), "{args:?}: {err}");
    }
    assert!(!std::path::Path::new("/tmp/never-written.tar").exists());
}

#[test]
fn unreachable_registry() {
    let v = Vouch::new();
    let port = common::free_port();
    let err = v.fails(
        2,
        &[
            "pull",
            "--tls-verify=false",
            &format!("127.0.0.1:{port}/x:1"),
        ],
    );
    assert!(
        err.contains(&format!("cannot reach registry 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    assert_empty_store(&v);
}

#[test]
fn missing_manifest_is_404() {
    let (reg, _) = seeded();
    let v = Vouch::new();
    let err = v.fails(
        2,
        &[
            "pull",
            "--tls-verify=false",
            &format!("{}/httpd:nosuchtag", reg.host()),
        ],
    );
    assert!(err.contains("manifest unknown"), "{err}");
    let err = v.fails(
        2,
        &[
            "pull",
            "--tls-verify=false",
            &format!("{}/nosuchrepo:1", reg.host()),
        ],
    );
    assert!(err.contains("manifest unknown"), "{err}");
    assert_empty_store(&v);
}

#[test]
fn plain_http_needs_tls_verify_false() {
    let (reg, _) = seeded();
    let v = Vouch::new();
    let err = v.fails(2, &["pull", &format!("{}/httpd:1", reg.host())]);
    assert!(err.contains("over https"), "{err}");
    assert!(err.contains("--tls-verify=false"), "{err}");
    let err = v.fails(
        2,
        &[
            "pull",
            "--tls-verify=true",
            &format!("{}/httpd:1", reg.host()),
        ],
    );
    assert!(err.contains("over https"), "{err}");
    assert_empty_store(&v);
}

#[test]
fn unauthorized_without_credentials() {
    let reg = Registry::start_htpasswd("bob", "pw");
    let v = Vouch::new();
    let err = v.fails(
        2,
        &["pull", "--tls-verify=false", &format!("{}/x:1", reg.host())],
    );
    assert!(err.contains("authentication required"), "{err}");
    let err = v.fails(
        2,
        &[
            "pull",
            "--tls-verify=false",
            "--creds",
            "nocolon",
            &format!("{}/x:1", reg.host()),
        ],
    );
    assert!(err.contains("--creds must be USER:PASSWORD"), "{err}");
    let err = v.fails(
        2,
        &[
            "pull",
            "--tls-verify=false",
            "--authfile",
            "/nonexistent/auth.json",
            &format!("{}/x:1", reg.host()),
        ],
    );
    assert!(err.contains("/nonexistent/auth.json"), "{err}");
    assert_empty_store(&v);
}

#[test]
fn corrupted_blob_is_rejected_and_nothing_stored() {
    let (reg, _) = seeded();
    for mode in ["corrupt-blob", "truncate-blob"] {
        let proxy = FaultProxy::start(&reg, mode);
        let v = Vouch::new();
        let err = v.fails(
            2,
            &[
                "pull",
                "--tls-verify=false",
                &format!("{}/httpd:1", proxy.host()),
            ],
        );
        assert!(
            err.contains("integrity") || err.contains("got ") || err.contains("reading blob"),
            "{mode}: {err}"
        );
        assert_empty_store(&v);
    }
}

#[test]
fn manifest_not_matching_its_digest_is_rejected() {
    let (reg, pusher) = seeded();
    let out = pusher.ok(&["image", "inspect", "localhost/httpd"]);
    let digest = serde_json::from_str::<serde_json::Value>(&out).unwrap()[0]["Digest"]
        .as_str()
        .unwrap()
        .to_string();
    for mode in ["wrong-manifest", "wrong-manifest-keep-header"] {
        let proxy = FaultProxy::start(&reg, mode);
        let v = Vouch::new();
        let err = v.fails(
            2,
            &[
                "pull",
                "--tls-verify=false",
                &format!("{}/httpd@{digest}", proxy.host()),
            ],
        );
        assert!(
            err.contains("integrity") || err.contains("igest"),
            "{mode}: {err}"
        );
        assert_empty_store(&v);
    }
    // By tag there is nothing to compare with, unless the registry's digest
    // header is kept: then the mismatch is caught too.
    let proxy = FaultProxy::start(&reg, "wrong-manifest-keep-header");
    let v = Vouch::new();
    let err = v.fails(
        2,
        &[
            "pull",
            "--tls-verify=false",
            &format!("{}/httpd:1", proxy.host()),
        ],
    );
    assert!(err.contains("igest"), "{err}");
    assert_empty_store(&v);
}

#[test]
fn registry_errors_are_reported() {
    let (reg, _) = seeded();
    let proxy = FaultProxy::start(&reg, "status-500");
    let v = Vouch::new();
    let err = v.fails(
        2,
        &[
            "pull",
            "--tls-verify=false",
            &format!("{}/httpd:1", proxy.host()),
        ],
    );
    assert!(err.contains("500") || err.contains("Server error"), "{err}");
    assert_empty_store(&v);
}

#[test]
fn docker_archive_and_garbage_are_refused_by_load() {
    let v = Vouch::new();
    // A real docker-archive, as skopeo writes it (from an OCI layout).
    let oci = v.home.path().join("oci");
    common::oci_layout(
        &oci,
        &[common::OciImage::one_layer(
            common::layer_with_file("hello.txt", b"hello\n"),
            "application/vnd.oci.image.layer.v1.tar",
            "amd64",
        )],
        Some("1"),
    );
    let archive = v.home.path().join("docker-archive.tar");
    common::peer_ok(
        std::process::Command::new("skopeo")
            .args(["--insecure-policy", "copy", "-q"])
            .arg(format!("oci:{}:1", oci.display()))
            .arg(format!(
                "docker-archive:{}:localhost/hello:1",
                archive.display()
            )),
    );
    let a = archive.to_str().unwrap();
    let err = v.fails(2, &["load", "-i", a]);
    assert_eq!(
        err.trim_end(),
        format!(
            "Error: {a}: this is a docker-archive; vouch load reads oci-archive \
             (podman save --format oci-archive)"
        ),
    );
    assert_empty_store(&v);
    let junk = v.home.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive at all").unwrap();
    let err = v.fails(2, &["load", "-i", junk.to_str().unwrap()]);
    assert!(err.contains(junk.to_str().unwrap()), "{err}");
    let err = v.fails(2, &["load", "-i", "/nonexistent.tar"]);
    assert!(err.contains("/nonexistent.tar"), "{err}");
    assert_empty_store(&v);
}

#[test]
fn tampered_archive_blob_is_refused() {
    let v = Vouch::new();
    v.import_httpd("localhost/httpd");
    let archive = v.home.path().join("a.tar");
    v.ok(&["save", "-o", archive.to_str().unwrap(), "localhost/httpd"]);
    // Flip a byte inside the first blob's data (after the 512-byte oci-layout
    // entry header+data and the blob's own header).
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes[1024 + 512 + 100] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();
    let w = Vouch::new();
    let err = w.fails(2, &["load", "-i", archive.to_str().unwrap()]);
    assert!(err.contains("does not match its digest"), "{err}");
    assert_empty_store(&w);
}

// ---------------------------------------------------------------- output files

/// A private "full" character device (1:7) in `dir`, never /dev/full itself.
fn full_device(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("full");
    let st = std::process::Command::new("mknod")
        .arg(&p)
        .args(["c", "1", "7"])
        .status()
        .unwrap();
    assert!(st.success(), "mknod needs root");
    p
}

fn is_char_device(p: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_char_device()
}

/// The one `Error:` line of a command that must exit 2.
fn exit2(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("Error: "), "{err}");
    err
}

/// A throwaway signing key file for standalone-sign, and a manifest.
fn signing_inputs(dir: &std::path::Path) -> (common::Gpg, String, String) {
    let gpg = common::Gpg::new("outputs@example.com");
    let secret = dir.join("secret.asc");
    gpg.export_secret(&secret);
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, br#"{"schemaVersion":2}"#).unwrap();
    (
        gpg,
        secret.display().to_string(),
        manifest.display().to_string(),
    )
}

#[test]
fn outputs_to_a_device_node_are_written_through_and_enospc_is_exit_2() {
    let v = Vouch::new();
    v.import_httpd("localhost/httpd");
    let dir = tempfile::tempdir().unwrap();
    let full = full_device(dir.path());
    let f = full.to_str().unwrap();

    let err = exit2(&v.output(&["save", "-o", f, "localhost/httpd"]));
    assert!(
        err.contains(&format!("{f}: No space left on device")),
        "{err}"
    );
    assert!(is_char_device(&full), "save replaced the device node");

    let (_gpg, key, manifest) = signing_inputs(dir.path());
    let args = ["standalone-sign", "--key-file", &key, "-o", f, &manifest];
    let err = exit2(&v.output(&[&args[..], &["example.com/app:1"]].concat()));
    assert!(
        err.contains(&format!("{f}: No space left on device")),
        "{err}"
    );
    assert!(
        is_char_device(&full),
        "standalone-sign replaced the device node"
    );
    // Nothing else appeared beside it (no temp files).
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn outputs_through_a_symlink_change_the_target_and_keep_the_link() {
    let v = Vouch::new();
    v.import_httpd("localhost/httpd");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let target = dir.path().join("real/archive.tar");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path().join("archive.tar");
    std::os::unix::fs::symlink("real/archive.tar", &link).unwrap();
    v.ok(&["save", "-o", link.to_str().unwrap(), "localhost/httpd"]);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let saved = std::fs::read(&target).unwrap();
    assert!(saved.len() > 1024, "target not written");
    // The archive loads back from the link's target.
    let w = Vouch::new();
    w.ok(&["load", "-i", target.to_str().unwrap()]);
    assert_eq!(w.images().len(), 1);

    let (_gpg, key, manifest) = signing_inputs(dir.path());
    let sig_target = dir.path().join("real/sig");
    std::fs::write(&sig_target, "old").unwrap();
    let sig_link = dir.path().join("sig");
    std::os::unix::fs::symlink(&sig_target, &sig_link).unwrap();
    let s = sig_link.to_str().unwrap();
    v.ok(&[
        "standalone-sign",
        "--key-file",
        &key,
        "-o",
        s,
        &manifest,
        "example.com/app:1",
    ]);
    assert!(std::fs::symlink_metadata(&sig_link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_ne!(std::fs::read(&sig_target).unwrap(), b"old");
}

#[test]
fn standalone_sign_never_follows_a_planted_temp_name() {
    // The old temp name of --batch outputs was `.NAME.tmp-<pid>`, created
    // without O_EXCL: a symlink planted there for the coming pids
    // redirected the signature.
    let dir = tempfile::tempdir().unwrap();
    let (_gpg, key, manifest) = signing_inputs(dir.path());
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for pid in last + 1..last + 4000 {
        std::os::unix::fs::symlink(&victim, dir.path().join(format!(".sig.tmp-{pid}"))).unwrap();
    }
    let out = dir.path().join("sig");
    let list = dir.path().join("sign.list");
    std::fs::write(
        &list,
        format!("{manifest} example.com/app:1 {}\n", out.display()),
    )
    .unwrap();
    let v = Vouch::new();
    v.ok(&[
        "standalone-sign",
        "--key-file",
        &key,
        "--batch",
        list.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.is_file(), "the output is not a regular file");
    assert_ne!(std::fs::read(&out).unwrap(), b"precious");
}

// ---------------------------------------------------------------- size caps

/// A GNU tar (made by GNU tar itself, `-S`) holding a 1 GiB sparse file with
/// a few bytes of data: about 10 KB on disk.
fn sparse_tarball(dir: &std::path::Path) -> std::path::PathBuf {
    let src = dir.join("sparse-src");
    std::fs::create_dir(&src).unwrap();
    let f = std::fs::File::create(src.join("huge")).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"head", 0).unwrap();
    f.write_all_at(b"tail", (1 << 30) - 4).unwrap();
    drop(f);
    let out = dir.join("sparse.tar");
    let st = std::process::Command::new("tar")
        .args(["--format=gnu", "-S", "-cf"])
        .arg(&out)
        .arg("-C")
        .arg(&src)
        .arg("huge")
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::metadata(&out).unwrap().len() < 64 << 10);
    out
}

/// Bytes a file really occupies on disk.
fn allocated(p: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().blocks() * 512
}

#[test]
fn sparse_layers_stay_sparse_and_count_their_logical_size() {
    let v = Vouch::new();
    let dir = tempfile::tempdir().unwrap();
    let tar = sparse_tarball(dir.path());
    let t = tar.to_str().unwrap();

    // Over the per-layer cap, and over the per-image cap: exit 2 naming the
    // cap, and the store keeps nothing.
    for (flag, cap) in [("--max-layer-size", "512m"), ("--max-image-size", "512MiB")] {
        let err = exit2(&v.output(&[flag, cap, "import", t, "localhost/sparse"]));
        assert!(err.contains(&format!("{}", 512u64 << 20)), "{err}");
        assert!(err.contains(flag), "{err}");
        assert!(err.contains("layer sha256:"), "{err}");
        assert_empty_store(&v);
        assert_eq!(v.staging_dirs(), 0, "staging kept after {flag}");
    }

    // Within the caps the hole stays a hole.
    v.ok(&["import", t, "localhost/sparse"]);
    let layer = std::fs::read_dir(v.root().join("layers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let huge = layer.join("huge");
    assert_eq!(std::fs::metadata(&huge).unwrap().len(), 1 << 30);
    assert!(
        allocated(&huge) < 1 << 20,
        "{} bytes allocated",
        allocated(&huge)
    );
    let f = std::fs::File::open(&huge).unwrap();
    let mut buf = [0u8; 4];
    use std::os::unix::fs::FileExt;
    f.read_exact_at(&mut buf, (1 << 30) - 4).unwrap();
    assert_eq!(&buf, b"tail");

    // The same caps hold for a pull from a real registry.
    let reg = Registry::start();
    let dest = format!("{}/sparse:1", reg.host());
    v.ok(&[
        "push",
        "-q",
        "--tls-verify=false",
        "localhost/sparse",
        &dest,
    ]);
    let p = Vouch::new();
    for flag in ["--max-layer-size", "--max-image-size"] {
        let err = exit2(&p.output(&[flag, "100m", "pull", "-q", "--tls-verify=false", &dest]));
        assert!(err.contains("layer sha256:"), "{err}");
        assert!(err.contains(&format!("{} bytes", 100u64 << 20)), "{err}");
        assert!(err.contains(flag), "{err}");
        assert_empty_store(&p);
        assert_eq!(p.staging_dirs(), 0);
    }
    p.ok(&["pull", "-q", "--tls-verify=false", &dest]);
    p.assert_store_consistent();
}

#[test]
fn gzip_bomb_layers_are_cut_off_at_the_cap() {
    let v = Vouch::new();
    let dir = tempfile::tempdir().unwrap();
    // 256 MiB of zeros in a gzip of about 256 KB.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(256 << 20);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, "zeros", std::io::repeat(0).take(256 << 20))
        .unwrap();
    let raw = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let bomb = dir.path().join("bomb.tar.gz");
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    let b = bomb.to_str().unwrap();

    let err = exit2(&v.output(&["--max-layer-size", "16m", "import", b, "localhost/bomb"]));
    assert!(
        err.contains(&format!(
            "{b}: larger than the layer size cap of {} bytes",
            16u64 << 20
        )),
        "{err}"
    );
    assert_empty_store(&v);
    assert_eq!(v.staging_dirs(), 0);

    // Pulled: the unpacker stops reading the layer at the cap.
    v.ok(&["import", b, "localhost/bomb"]);
    let reg = Registry::start();
    let dest = format!("{}/bomb:1", reg.host());
    v.ok(&["push", "-q", "--tls-verify=false", "localhost/bomb", &dest]);
    let p = Vouch::new();
    let err = exit2(&p.output(&[
        "--max-layer-size",
        "16m",
        "pull",
        "-q",
        "--tls-verify=false",
        &dest,
    ]));
    assert!(err.contains("layer sha256:"), "{err}");
    assert!(
        err.contains(&format!("layer size cap of {} bytes", 16u64 << 20)),
        "{err}"
    );
    assert_empty_store(&p);
    assert_eq!(p.staging_dirs(), 0);
}

// ---------------------------------------------------------------- privileges

/// Runs python as nobody: for each path, what happens when nobody executes
/// it (or, for `*node`, opens it for writing): its output, or the errno name.
fn as_nobody(paths: &[std::path::PathBuf]) -> Vec<String> {
    let script = r#"
import errno, os, subprocess, sys
for p in sys.argv[1:]:
    try:
        if p.endswith("node"):
            os.close(os.open(p, os.O_WRONLY))
            print("opened")
        elif p.endswith("capped"):
            out = subprocess.run(["busybox", "grep", "CapEff", "/proc/self/status"], executable=p, capture_output=True, text=True)
            print(out.stdout.strip())
        elif os.path.isdir(p):
            os.listdir(p)
            print("listed")
        else:
            out = subprocess.run([p, "-c", "import os; print('euid=%d' % os.geteuid())"], capture_output=True, text=True)
            print(out.stdout.strip())
    except OSError as e:
        print(errno.errorcode[e.errno])
"#;
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            script,
        ])
        .args(paths)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn setuid_capabilities_and_devices_in_the_store_are_out_of_other_users_reach() {
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "this test needs root"
    );
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(rootfs.join("dev")).unwrap();
    let sh = |cmd: &str| {
        let st = std::process::Command::new("sh")
            .args(["-ec", cmd])
            .current_dir(&rootfs)
            .status()
            .unwrap();
        assert!(st.success(), "{cmd}");
    };
    // A setuid-root python (busybox drops a setuid bit for most applets).
    sh("cp \"$(readlink -f /usr/bin/python3)\" bin/suid && chown 0:0 bin/suid && chmod 4755 bin/suid");
    sh("cp /bin/busybox bin/capped && setcap cap_setuid=ep bin/capped");
    sh("mknod dev/node c 1 3 && chmod 0666 dev/node");
    let tar = dir.path().join("hostile.tar");
    let st = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=security.capability", "-cf"])
        .arg(&tar)
        .arg("-C")
        .arg(&rootfs)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());

    let v = Vouch::new();
    // The store's parent is reachable by anyone, as /var/lib is.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(v.home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    v.ok(&["import", tar.to_str().unwrap(), "localhost/hostile"]);
    let layer = std::fs::read_dir(v.root().join("layers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // The image kept its bits (a container needs them) ...
    let getcap = std::process::Command::new("getcap")
        .arg(layer.join("bin/capped"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&getcap.stdout).contains("cap_setuid"));
    let mode = std::fs::metadata(layer.join("bin/suid"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o4755);

    // ... but nobody reaches them through the store.
    let seen = as_nobody(&[
        v.home.path().to_path_buf(),
        layer.join("bin/suid"),
        layer.join("bin/capped"),
        layer.join("dev/node"),
    ]);
    assert_eq!(seen, ["listed", "EACCES", "EACCES", "EACCES"]);
    for sub in ["", "layers", "blobs", "blobs/sha256", "images", "tmp"] {
        let mode = std::fs::metadata(v.root().join(sub))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o700, "{sub:?}");
    }

    // An existing store made before the fix (0755 everywhere) is narrowed
    // by the next command.
    for sub in ["", "layers"] {
        std::fs::set_permissions(v.root().join(sub), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    v.ok(&["images"]);
    let seen = as_nobody(&[layer.join("bin/suid")]);
    assert_eq!(seen, ["EACCES"]);
}
