//! Bad input and registry faults: each gets a one-line error, exit code 2
//! (`Vouch::fails(2, …)`), and leaves the store as it was.

mod common;

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
