//! The local transports against skopeo 1.9.3: skopeo writes each format,
//! vouch's Source reads it and vouch's Dest writes it again, and skopeo
//! reads vouch's copy back. Digests must survive for dir:, oci: and
//! oci-archive: (docker-archive has no stored manifest; both sides
//! generate it, and must generate the same bytes).
//!
//! skopeo is a required peer: a missing binary fails the test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use vouch_copy::verified::verified;
use vouch_copy::{open_local_dest, open_local_source, ImageName, RawManifest};
use vouch_image::manifest::{self, Parsed};

const SKOPEO: &str = "/usr/bin/skopeo";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new(SKOPEO)
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{SKOPEO} (skopeo 1.9.3) is required: {e}"));
    assert!(
        out.status.success(),
        "skopeo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn sha(b: &[u8]) -> String {
    vouch_image::Digest::of(b).to_string()
}

/// The busybox httpd image the CLI tests import, as an OCI layout with a
/// gzip layer, tagged `latest`.
fn busybox_layout(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs.tar");
    let st = Command::new("bash")
        .arg(repo_root().join("fixtures/build-httpd.sh"))
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(st.success(), "fixtures/build-httpd.sh failed");
    let tar = std::fs::read(&rootfs).unwrap();
    let layer = gzip(&tar);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/bin/httpd","-f","-p","80","-h","/www"]}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha(&tar)
    );
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":{}}},"layers":[{{"mediaType":"{}","digest":"{}","size":{}}}]}}"#,
        manifest::OCI_MANIFEST,
        manifest::OCI_CONFIG,
        sha(config.as_bytes()),
        config.len(),
        manifest::OCI_LAYER_GZIP,
        sha(&layer),
        layer.len()
    );
    let lay = dir.join("fixture");
    std::fs::create_dir_all(lay.join("blobs/sha256")).unwrap();
    for b in [&layer[..], config.as_bytes(), m.as_bytes()] {
        let d = vouch_image::Digest::of(b);
        std::fs::write(lay.join("blobs/sha256").join(d.hex()), b).unwrap();
    }
    std::fs::write(lay.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        lay.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#,
            manifest::OCI_MANIFEST,
            sha(m.as_bytes()),
            m.len()
        ),
    )
    .unwrap();
    lay
}

/// What the engine does for a single image, through the public traits.
async fn copy(src: &str, dst: &str) -> RawManifest {
    let src_name = ImageName::parse(src).unwrap();
    let dst_name = ImageName::parse(dst).unwrap();
    let source = open_local_source(&src_name).unwrap();
    let mut dest = open_local_dest(&dst_name).unwrap();
    let m = source.manifest(None).await.unwrap();
    let Parsed::Image(img) = manifest::parse(&m.bytes, &m.media_type).unwrap() else {
        panic!("{src}: not an image");
    };
    let sigs = source.signatures(&m.digest()).await.unwrap();
    if !sigs.is_empty() {
        dest.check_signatures().unwrap();
    }
    for desc in std::iter::once(&img.config).chain(&img.layers) {
        if dest.has_blob(desc).await.unwrap() {
            continue;
        }
        let stream = source.blob(desc).await.unwrap();
        let stream = verified(src.to_string(), desc, stream);
        dest.put_blob(desc, stream).await.unwrap();
    }
    dest.put_signatures(&m, &sigs).await.unwrap();
    dest.put_manifest(&m, false).await.unwrap();
    dest.commit().await.unwrap();
    m
}

#[tokio::test]
async fn skopeo_reads_what_vouch_copies_and_digests_survive() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let fixture = busybox_layout(root);
    let fixture_ref = format!("oci:{}:latest", fixture.display());
    let original = skopeo(&["inspect", "--raw", &fixture_ref]);
    let p = |n: &str| root.join(n).display().to_string();

    // skopeo writes each format from the fixture.
    skopeo(&["copy", &fixture_ref, &format!("dir:{}", p("d1"))]);
    skopeo(&["copy", &fixture_ref, &format!("oci:{}:v1", p("o1"))]);
    skopeo(&[
        "copy",
        &fixture_ref,
        &format!("oci-archive:{}:v1", p("a1.tar")),
    ]);
    skopeo(&[
        "copy",
        &fixture_ref,
        &format!("docker-archive:{}:busybox:v1", p("da1.tar")),
    ]);
    // A signature in dir: travels as a file, byte for byte (skopeo only
    // sniffs its format: an OpenPGP signature packet tag).
    let sig = b"\x89\x01\x02fake-openpgp-signature".to_vec();
    std::fs::write(root.join("d1/signature-1"), &sig).unwrap();

    let cases = [
        (format!("dir:{}", p("d1")), format!("dir:{}", p("d2")), true),
        (
            format!("oci:{}:v1", p("o1")),
            format!("oci:{}:v2", p("o2")),
            true,
        ),
        (
            format!("oci-archive:{}:v1", p("a1.tar")),
            format!("oci-archive:{}:v2", p("a2.tar")),
            true,
        ),
        (
            format!("docker-archive:{}", p("da1.tar")),
            format!("docker-archive:{}:busybox:v2", p("da2.tar")),
            false,
        ),
    ];
    for (from, to, same_as_fixture) in &cases {
        let ours = copy(from, to).await;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert_eq!(
            text(&ours.bytes),
            text(&skopeo(&["inspect", "--raw", from])),
            "{from}: vouch reads the manifest skopeo reads"
        );
        let theirs = skopeo(&["inspect", "--raw", to]);
        assert_eq!(
            text(&theirs),
            text(&ours.bytes),
            "{to}: skopeo reads vouch's manifest"
        );
        if *same_as_fixture {
            assert_eq!(theirs, original, "{to}: the digest survived the copies");
        }
        // skopeo copies vouch's output back out, and gets the same image.
        let back = root.join(format!("back-{}", to.split(':').next().unwrap()));
        skopeo(&["copy", to, &format!("dir:{}", back.display())]);
        assert_eq!(std::fs::read(back.join("manifest.json")).unwrap(), theirs);
    }
    assert_eq!(std::fs::read(root.join("d2/signature-1")).unwrap(), sig);
    assert_eq!(
        std::fs::read(root.join("back-dir/signature-1")).unwrap(),
        sig
    );

    // skopeo's docker-archive manifest is ours: same generated bytes, and
    // the converted (OCI → schema2, decompressed) layer is what skopeo wrote.
    let da1 = skopeo(&[
        "inspect",
        "--raw",
        &format!("docker-archive:{}", p("da1.tar")),
    ]);
    let da2 = skopeo(&[
        "inspect",
        "--raw",
        &format!("docker-archive:{}", p("da2.tar")),
    ]);
    assert_eq!(da1, da2);

    // vouch converts an OCI image into a docker-archive as skopeo does.
    copy(
        &fixture_ref,
        &format!("docker-archive:{}:busybox:v1", p("da3.tar")),
    )
    .await;
    let da3 = skopeo(&[
        "inspect",
        "--raw",
        &format!("docker-archive:{}", p("da3.tar")),
    ]);
    assert_eq!(da3, da1, "vouch's conversion generates skopeo's manifest");
    let tags = |path: &str| -> serde_json::Value {
        let out = skopeo(&["inspect", &format!("docker-archive:{path}")]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        v["RepoTags"].clone()
    };
    assert_eq!(tags(&p("da3.tar")), tags(&p("da1.tar")));
    // Entry for entry (legacy layer IDs included), the archive skopeo writes.
    let entries = |path: &str| -> Vec<(String, Vec<u8>)> {
        use std::io::Read;
        let mut ar = tar::Archive::new(std::fs::File::open(path).unwrap());
        let mut out: Vec<_> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().display().to_string();
                let mut b = Vec::new();
                e.read_to_end(&mut b).unwrap();
                let link = e.link_name().unwrap().map(|l| l.display().to_string());
                (format!("{name} -> {link:?}"), b)
            })
            .collect();
        out.sort();
        out
    };
    let (ours, theirs) = (entries(&p("da3.tar")), entries(&p("da1.tar")));
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs));
    for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{name}"
        );
    }
}
