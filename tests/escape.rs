//! Crafted layer tarballs that try to write outside their layer directory
//! (fixtures/evil-layers.py) are refused — through `import` and through a
//! pull from a real registry — and leave nothing behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{peer_ok, Registry, Vouch};

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
        let err = v.fails(2, &["import", tar.to_str().unwrap(), "localhost/evil"]);
        assert!(err.contains("layer entry"), "{}: {err}", tar.display());
        assert_nothing_escaped(&v);
    }
}

#[test]
fn pull_refuses_escaping_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let v = Vouch::new();
    for tar in evil_tarballs(&tmp.path().join("tars")) {
        let name = tar.file_stem().unwrap().to_string_lossy().to_string();
        let layout = tmp.path().join(format!("layout-{name}"));
        common::oci_layout(
            &layout,
            &[common::OciImage::one_layer(
                std::fs::read(&tar).unwrap(),
                "application/vnd.oci.image.layer.v1.tar",
                "amd64",
            )],
            None,
        );
        let dest = format!("{}/evil/{name}:1", reg.host());
        peer_ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            &format!("oci:{}:evil", layout.display()),
            &format!("docker://{dest}"),
        ]));
        let err = v.fails(2, &["pull", "--tls-verify=false", &dest]);
        assert!(err.contains("layer entry"), "{name}: {err}");
        assert_nothing_escaped(&v);
    }
}
