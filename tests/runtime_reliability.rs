//! Many containers at once: 50 detached containers started concurrently
//! all reach Running with distinct addresses, all stop and are removed, and
//! nothing is left behind — no process, no mount, no overlay directory, no
//! veth, no netns, no nftables rule, no address lease.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{free_port, ContainerGuard, Vouch};

#[test]
fn fifty_containers_start_stop_and_leave_nothing() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    const N: usize = 50;
    let started = Instant::now();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let v = &v;
                s.spawn(move || {
                    let name = format!("many{i}");
                    // Every fifth publishes a port, so DNAT rules are exercised too.
                    let port = free_port();
                    let publish = format!("{port}:80");
                    let mut a: Vec<&str> = vec!["run", "-d", "--name", &name];
                    if i % 5 == 0 {
                        a.extend(["-p", &publish]);
                    }
                    a.push(img);
                    v.ok(&a).trim().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("{N} containers started in {:?}", started.elapsed());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), N);

    let running = v.ok(&["ps", "-q", "--no-trunc"]);
    let running: HashSet<&str> = running.lines().collect();
    for id in &ids {
        assert!(running.contains(id.as_str()), "{id} not running");
    }
    let ps: Vec<serde_json::Value> =
        serde_json::from_str(&v.ok(&["ps", "--format", "json"])).unwrap();
    assert_eq!(ps.len(), N);
    let ips: HashSet<String> = ids
        .iter()
        .map(|id| {
            v.inspect(id)["NetworkSettings"]["IPAddress"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ips.len(), N, "distinct addresses");

    let t = Instant::now();
    v.ok(&["stop", "-a", "-t", "0"]);
    eprintln!("stopped in {:?}", t.elapsed());
    assert!(v.ok(&["ps", "-q"]).is_empty());
    let exited = v.ok(&["ps", "-a"]);
    assert_eq!(
        exited
            .lines()
            .filter(|l| l.contains("Exited (137)"))
            .count(),
        N,
        "{exited}"
    );
    v.ok(&["rm", "-a"]);
    assert!(v.ok(&["ps", "-a", "-q"]).is_empty());
    for id in &ids {
        v.assert_container_gone(id);
        for ip in &ips {
            let lease = std::path::Path::new("/run/vouch/ipam/vouch0").join(ip);
            if let Ok(owner) = std::fs::read_to_string(&lease) {
                assert_ne!(&owner, id, "lease {ip} left");
            }
        }
    }
    let left: Vec<_> = std::fs::read_dir(v.root().join("containers"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(
        left.is_empty(),
        "overlay/container directories left: {left:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let ps = std::process::Command::new("ps")
            .args(["-eo", "args"])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&ps.stdout).contains(&v.root().display().to_string()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("a monitor of this store is still running");
}
