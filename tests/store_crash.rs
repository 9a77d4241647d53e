//! A pull or push killed with SIGKILL mid-layer leaves no visible image and
//! no corrupt blob, and the next pull succeeds.

mod common;

use std::time::Duration;

use common::{Registry, Vouch};

#[test]
fn killed_pull_leaves_store_consistent() {
    let reg = Registry::start();
    let pusher = Vouch::new();
    let tar = common::random_rootfs(pusher.home.path(), 48 << 20);
    pusher.ok(&["import", tar.to_str().unwrap(), "localhost/big"]);
    let src = format!("{}/big:1", reg.host());
    pusher.ok(&["push", "--tls-verify=false", "localhost/big", &src]);

    let v = Vouch::new();
    let mut killed_mid_pull = 0;
    for delay_ms in [30u64, 80, 150, 250, 400, 600] {
        let mut child = v
            .cmd()
            .args(["pull", "-q", "--tls-verify=false", &src])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_pull += 1;
            // Killed before commit: no image is visible.
            assert!(
                v.images().is_empty(),
                "image visible after kill at {delay_ms} ms"
            );
        }
        v.assert_store_consistent();
        if status.success() {
            v.ok(&["rmi", "-a"]);
        }
    }
    assert!(
        killed_mid_pull > 0,
        "no pull was interrupted; the image is too small"
    );
    // Leftover staging from killed pulls does not stop the next pull, and is
    // cleaned up by the next removal.
    v.ok(&["pull", "-q", "--tls-verify=false", &src]);
    v.assert_store_consistent();
    assert_eq!(v.images().len(), 1);
    v.ok(&["rmi", "-a"]);
    let staging = std::fs::read_dir(v.root().join("tmp")).unwrap().count();
    assert_eq!(
        staging, 0,
        "staging directories of killed pulls were not cleaned"
    );
}

#[test]
fn killed_push_leaves_registry_without_the_tag() {
    let reg = Registry::start();
    let v = Vouch::new();
    let tar = common::random_rootfs(v.home.path(), 48 << 20);
    v.ok(&["import", tar.to_str().unwrap(), "localhost/big"]);
    let dest = format!("{}/big:1", reg.host());
    let mut child = v
        .cmd()
        .args(["push", "-q", "--tls-verify=false", "localhost/big", &dest])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let _ = child.kill();
    let status = child.wait().unwrap();
    let puller = Vouch::new();
    if !status.success() {
        // The manifest goes last, so an interrupted push never publishes a tag.
        let out = puller.output(&["pull", "-q", "--tls-verify=false", &dest]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The retried push completes and the image pulls intact.
    v.ok(&["push", "-q", "--tls-verify=false", "localhost/big", &dest]);
    puller.ok(&["pull", "-q", "--tls-verify=false", &dest]);
    puller.assert_store_consistent();
}
