//! Issue 6 item 5: the `registry` image built by fixtures/ from Debian's
//! docker-registry runs under vouch — `vouch run -d -p 5000:5000
//! localhost/registry`, the signing tutorial's first step — and vouch can
//! push to and pull from it.

mod common;

use std::process::{Command, Stdio};

use common::{fixture_cache, free_port, http_get, repo_root, ContainerGuard, Vouch};

#[test]
fn registry_image_serves_pushes_and_pulls() {
    require_runtime!();
    require_tools!("docker-registry");
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let tar = fixture_cache().join(format!("registry-rootfs-{}.tar", std::process::id()));
    let st = Command::new("bash")
        .arg(repo_root().join("fixtures/build-registry-rootfs.sh"))
        .arg(&tar)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "fixtures/build-registry-rootfs.sh failed");
    v.ok(&[
        "import",
        "--change",
        r#"CMD ["/usr/bin/docker-registry","serve","/etc/docker/registry/config.yml"]"#,
        "--change",
        "EXPOSE 5000/tcp",
        tar.to_str().unwrap(),
        "localhost/registry",
    ]);
    let _ = std::fs::remove_file(&tar);
    // The tutorial publishes 5000:5000; a free host port keeps tests parallel.
    let port = free_port();
    let id = v
        .ok(&[
            "run",
            "-d",
            "-p",
            &format!("{port}:5000"),
            "localhost/registry",
        ])
        .trim()
        .to_string();
    let resp = http_get(port, "/v2/");
    assert!(
        resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
        "{resp}"
    );
    v.import_httpd("localhost/httpd");
    let remote = format!("127.0.0.1:{port}/httpd:v1");
    v.ok(&["push", "--tls-verify=false", "localhost/httpd", &remote]);
    v.ok(&["rmi", "localhost/httpd"]);
    v.ok(&["pull", "--tls-verify=false", &remote]);
    v.ok(&["rm", "-f", &id]);
    v.assert_container_gone(&id);
}
