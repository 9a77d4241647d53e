//! Push and pull against a real registry, and interoperability with
//! Debian's skopeo and podman as independent peers.

mod common;

use std::process::Command;

use common::{peer_ok, podman, skopeo_digest, Registry, Vouch};

fn digest_of(v: &Vouch, name: &str) -> String {
    let out = v.ok(&["image", "inspect", name]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    j[0]["Digest"].as_str().unwrap().to_string()
}

#[test]
fn push_rmi_pull_round_trip() {
    let reg = Registry::start();
    let v = Vouch::new();
    let id = v.import_httpd("localhost/httpd");
    let dest = format!("{}/httpd:v1", reg.host());
    let digestfile = v.home.path().join("digest");
    v.ok(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        digestfile.to_str().unwrap(),
        "localhost/httpd",
        &dest,
    ]);
    let pushed = std::fs::read_to_string(&digestfile).unwrap();
    assert_eq!(pushed, digest_of(&v, "localhost/httpd"));
    v.ok(&["rmi", "localhost/httpd"]);
    assert!(v.images().is_empty());
    let pulled = v.ok(&["pull", "--tls-verify=false", &dest]);
    assert_eq!(pulled.trim(), id);
    let images = v.images();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["Names"][0], dest);
    assert_eq!(images[0]["Digest"], pushed);
    // The unpacked layer holds the httpd document root.
    let layers = v.root().join("layers");
    let layer = std::fs::read_dir(&layers)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let index = std::fs::read_to_string(layer.join("www/index.html")).unwrap();
    assert!(index.contains("vouch httpd fixture"));
    v.assert_store_consistent();

    // A second push sends no blob again.
    let out = v.output(&[
        "push",
        "--tls-verify=false",
        &dest,
        &format!("{}/httpd:v2", reg.host()),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Copying 0 blobs (2 already present)"));

    // The table view reads like podman's.
    let table = v.ok(&["images"]);
    let header = table.lines().next().unwrap();
    for col in ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(table.contains(&id[..12]));
}

#[test]
fn vouch_push_is_pulled_intact_by_skopeo_and_podman() {
    let reg = Registry::start();
    let v = Vouch::new();
    v.import_httpd("localhost/httpd");
    let dest = format!("{}/interop/httpd:1", reg.host());
    v.ok(&["push", "--tls-verify=false", "localhost/httpd", &dest]);
    let ours = digest_of(&v, "localhost/httpd");
    assert_eq!(skopeo_digest(&reg, "interop/httpd:1"), ours);

    let tmp = tempfile::tempdir().unwrap();
    let oci = tmp.path().join("oci");
    peer_ok(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{dest}"),
        &format!("oci:{}:1", oci.display()),
    ]));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], ours);

    peer_ok(podman(tmp.path()).args(["pull", "-q", "--tls-verify=false", &dest]));
    let digests = peer_ok(podman(tmp.path()).args(["images", "--format", "{{.Digest}}"]));
    assert_eq!(digests.trim(), ours);
}

#[test]
fn podman_push_is_pulled_intact_by_vouch() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let tar = common::httpd_rootfs();
    peer_ok(podman(tmp.path()).args([
        "import",
        "-q",
        tar.to_str().unwrap(),
        "localhost/frompodman:1",
    ]));
    let dest = format!("{}/frompodman:1", reg.host());
    peer_ok(podman(tmp.path()).args([
        "push",
        "-q",
        "--tls-verify=false",
        "localhost/frompodman:1",
        &dest,
    ]));
    let theirs = skopeo_digest(&reg, "frompodman:1");

    let v = Vouch::new();
    v.ok(&["pull", "-q", "--tls-verify=false", &dest]);
    assert_eq!(digest_of(&v, &dest), theirs);
    v.assert_store_consistent();
    // And back: vouch re-pushes the same bytes, so the digest is unchanged.
    v.ok(&[
        "push",
        "--tls-verify=false",
        &dest,
        &format!("{}/roundtrip:1", reg.host()),
    ]);
    assert_eq!(skopeo_digest(&reg, "roundtrip:1"), theirs);
}

#[test]
fn credentials_from_flag_and_auth_file() {
    let reg = Registry::start_htpasswd("alice", "s3cret");
    let v = Vouch::new();
    v.import_httpd("localhost/httpd");
    let dest = format!("{}/private/httpd:1", reg.host());
    let err = v.fails(2, &["push", "--tls-verify=false", "localhost/httpd", &dest]);
    assert!(err.contains("authentication required"), "{err}");
    let err = v.fails(
        2,
        &[
            "push",
            "--tls-verify=false",
            "--creds",
            "alice:wrong",
            "localhost/httpd",
            &dest,
        ],
    );
    assert!(err.contains("authentication required"), "{err}");
    v.ok(&[
        "push",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        "localhost/httpd",
        &dest,
    ]);

    let puller = Vouch::new();
    let err = puller.fails(2, &["pull", "--tls-verify=false", &dest]);
    assert!(err.contains("authentication required"), "{err}");
    // containers-auth.json, explicitly and at podman's default place.
    use base64_like::encode;
    let auth = format!(
        r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
        reg.host(),
        encode("alice:s3cret")
    );
    let file = puller.home.path().join("auth.json");
    std::fs::write(&file, &auth).unwrap();
    puller.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--authfile",
        file.to_str().unwrap(),
        &dest,
    ]);
    puller.ok(&["rmi", "-a"]);
    let run = puller.home.path().join("run");
    std::fs::create_dir_all(run.join("containers")).unwrap();
    std::fs::write(run.join("containers/auth.json"), &auth).unwrap();
    let out = puller
        .cmd()
        .env("XDG_RUNTIME_DIR", &run)
        .args(["pull", "-q", "--tls-verify=false", &dest])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Just enough base64 for a test auth file.
mod base64_like {
    pub fn encode(s: &str) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let b = s.as_bytes();
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= c.len() {
                    out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[test]
fn save_load_and_skopeo_oci_archive() {
    let v = Vouch::new();
    let id = v.import_httpd("localhost/httpd:1");
    let archive = v.home.path().join("httpd.tar");
    v.ok(&["save", "-o", archive.to_str().unwrap(), "localhost/httpd:1"]);
    // skopeo reads our archive...
    let out = peer_ok(
        Command::new("skopeo").args(["inspect", &format!("oci-archive:{}", archive.display())]),
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        j["Digest"].as_str().unwrap(),
        digest_of(&v, "localhost/httpd:1")
    );
    // ...and we read skopeo's.
    let theirs = v.home.path().join("skopeo.tar");
    peer_ok(Command::new("skopeo").args([
        "copy",
        &format!("oci-archive:{}", archive.display()),
        &format!("oci-archive:{}:localhost/fromskopeo:2", theirs.display()),
    ]));
    let w = Vouch::new();
    let out = w.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.contains("localhost/httpd:1"), "{out}");
    let out = w.ok(&["load", "-i", theirs.to_str().unwrap()]);
    assert!(out.contains("localhost/fromskopeo:2"), "{out}");
    assert_eq!(w.images()[0]["Id"], id);
    w.assert_store_consistent();
}

#[test]
fn tag_and_rmi_follow_podman() {
    let v = Vouch::new();
    let id = v.import_httpd("localhost/httpd");
    v.ok(&["tag", "httpd", "localhost/other:2", "third"]);
    let names = v.images()[0]["Names"].clone();
    assert_eq!(names.as_array().unwrap().len(), 3, "{names}");
    let out = v.ok(&["rmi", "localhost/other:2"]);
    assert!(out.contains("Untagged"), "{out}");
    let err = v.fails(2, &["rmi", &id[..12]]);
    assert!(err.contains("several names"), "{err}");
    let out = v.ok(&["rmi", "-f", &id[..12]]);
    assert!(out.contains(&id), "{out}");
    assert!(v.images().is_empty());
    // Unreferenced blobs and layers were collected.
    assert_eq!(
        std::fs::read_dir(v.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(v.root().join("layers")).unwrap().count(),
        0
    );
}

/// zstd layers, Docker schema2 manifests and multi-platform indexes, each
/// pushed by skopeo from an OCI layout and pulled by vouch.
#[test]
fn manifest_and_compression_variants() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let plain = common::layer_with_file("hello.txt", b"zstd layer\n");
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    let zimg = common::OciImage {
        layers: vec![(
            zst,
            "application/vnd.oci.image.layer.v1.tar+zstd".into(),
            plain,
        )],
        arch: "amd64".into(),
    };
    let layout = tmp.path().join("zstd");
    common::oci_layout(&layout, &[zimg], Some("z"));
    let dest = format!("{}/variants/zstd:1", reg.host());
    peer_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("oci:{}:z", layout.display()),
        &format!("docker://{dest}"),
    ]));
    let v = Vouch::new();
    v.ok(&["pull", "-q", "--tls-verify=false", &dest]);

    // Docker schema2 (gzip layers): skopeo converts on the way to the registry.
    let plain = common::layer_with_file("hello.txt", b"gzip layer\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    let gimg = common::OciImage {
        layers: vec![(
            gz.finish().unwrap(),
            "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            plain,
        )],
        arch: "amd64".into(),
    };
    let layout = tmp.path().join("gzip");
    common::oci_layout(&layout, &[gimg], Some("g"));
    let s2 = format!("{}/variants/schema2:1", reg.host());
    peer_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        &format!("oci:{}:g", layout.display()),
        &format!("docker://{s2}"),
    ]));
    v.ok(&["pull", "-q", "--tls-verify=false", &s2]);
    let out = v.ok(&["image", "inspect", &s2]);
    assert!(
        out.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{out}"
    );

    // An index with two platforms: amd64 by default, arm64 on request.
    let amd = common::OciImage::one_layer(
        common::layer_with_file("arch", b"amd64"),
        "application/vnd.oci.image.layer.v1.tar",
        "amd64",
    );
    let arm = common::OciImage::one_layer(
        common::layer_with_file("arch", b"arm64"),
        "application/vnd.oci.image.layer.v1.tar",
        "arm64",
    );
    let layout = tmp.path().join("index");
    common::oci_layout(&layout, &[amd, arm], Some("multi"));
    let multi = format!("{}/variants/multi:1", reg.host());
    peer_ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:multi", layout.display()),
        &format!("docker://{multi}"),
    ]));
    let index_digest = skopeo_digest(&reg, "variants/multi:1");
    let w = Vouch::new();
    w.ok(&["pull", "-q", "--tls-verify=false", &multi]);
    let inspect: serde_json::Value =
        serde_json::from_str(&w.ok(&["image", "inspect", &multi])).unwrap();
    assert_eq!(inspect[0]["Architecture"], "amd64");
    let rd = inspect[0]["RepoDigests"].to_string();
    assert!(
        rd.contains(&index_digest),
        "the list digest is recorded: {rd}"
    );
    let x = Vouch::new();
    x.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--arch",
        "arm64",
        &multi,
    ]);
    let inspect: serde_json::Value =
        serde_json::from_str(&x.ok(&["image", "inspect", &multi])).unwrap();
    assert_eq!(inspect[0]["Architecture"], "arm64");
    let err = x.fails(
        2,
        &[
            "pull",
            "--tls-verify=false",
            "--platform",
            "linux/s390x",
            &multi,
        ],
    );
    assert!(err.contains("linux/s390x"), "{err}");
}
