//! Crafted layer tarballs that try to write outside their layer directory
//! (fixtures/evil-layers.py) are refused — through `import` and through a
//! pull from a real registry — and leave nothing behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{peer_ok, Registry, Vouch};
use sha2::Digest as _;

fn evil_tarballs(dir: &Path) -> Vec<PathBuf> {
    let st = Command::new("python3")
        .arg(common::repo_root().join("fixtures/evil-layers.py"))
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tar"))
        .collect();
    v.sort();
    assert!(v.len() >= 9, "expected the full set of attacks, got {v:?}");
    v
}

fn assert_nothing_escaped(v: &Vouch) {
    for e in std::fs::read_dir("/tmp").unwrap() {
        let name = e.unwrap().file_name();
        assert!(
            !name.to_string_lossy().starts_with("vouch-evil-"),
            "an escape wrote /tmp/{}",
            name.to_string_lossy()
        );
    }
    assert!(v.images().is_empty());
    let layers = std::fs::read_dir(v.root().join("layers")).unwrap().count();
    assert_eq!(layers, 0, "a layer from a refused tarball was kept");
}

#[test]
fn import_refuses_every_escape() {
    let tmp = tempfile::tempdir().unwrap();
    let v = Vouch::new();
    for tar in evil_tarballs(tmp.path()) {
        let err = v.fails(&["import", tar.to_str().unwrap(), "localhost/evil"]);
        assert!(err.contains("layer entry"), "{}: {err}", tar.display());
        assert_nothing_escaped(&v);
    }
}

/// Writes an OCI layout holding one image whose only layer is `layer_tar`.
fn oci_layout_with_layer(dir: &Path, layer_tar: &[u8]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (layer, layer_size) = put(layer_tar);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer]},
    })
    .to_string();
    let (config, config_size) = put(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_size}],
    })
    .to_string();
    let (m, m_size) = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": m_size,
            "annotations": {"org.opencontainers.image.ref.name": "evil"}}]})
        .to_string(),
    )
    .unwrap();
}

#[test]
fn pull_refuses_escaping_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let v = Vouch::new();
    for tar in evil_tarballs(&tmp.path().join("tars")) {
        let name = tar.file_stem().unwrap().to_string_lossy().to_string();
        let layout = tmp.path().join(format!("layout-{name}"));
        oci_layout_with_layer(&layout, &std::fs::read(&tar).unwrap());
        let dest = format!("{}/evil/{name}:1", reg.host());
        peer_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            &format!("oci:{}:evil", layout.display()),
            &format!("docker://{dest}"),
        ]));
        let err = v.fails(&["pull", "--tls-verify=false", &dest]);
        assert!(err.contains("layer entry"), "{name}: {err}");
        assert_nothing_escaped(&v);
    }
}
