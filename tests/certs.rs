//! Registries behind a private CA: `--cert-dir`, `--src/dest-cert-dir`, a
//! sync YAML's `cert-dir`, and the certs.d lookup containers/image does
//! (`$HOME/.config/containers/certs.d/HOST`, then /etc/containers and
//! /etc/docker), against a docker-registry serving HTTPS with a
//! certificate from a throwaway CA, with skopeo reading the same directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_ok, Registry, Vouch};

/// A CA, and a server certificate for 127.0.0.1 signed by it.
struct Ca {
    dir: tempfile::TempDir,
}

impl Ca {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(d)
                .args(args)
                .output()
                .unwrap();
            assert_ok(&out, &format!("openssl {args:?}"));
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=vouch test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        Ca { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A cert-dir holding the CA as `ca.crt`.
    fn cert_dir(&self, at: &Path) -> PathBuf {
        std::fs::create_dir_all(at).unwrap();
        std::fs::copy(self.path("ca.pem"), at.join("ca.crt")).unwrap();
        at.to_path_buf()
    }
}

fn setup() -> (Ca, Registry, Vouch, tempfile::TempDir) {
    let ca = Ca::new();
    let reg = Registry::start_tls(&ca.path("server.pem"), &ca.path("server.key"));
    let v = Vouch::new();
    v.import_httpd("localhost/app");
    (ca, reg, v, tempfile::tempdir().unwrap())
}

#[test]
fn a_cert_dir_lets_every_command_reach_a_private_ca_registry() {
    let (ca, reg, v, tmp) = setup();
    let certs = ca.cert_dir(&tmp.path().join("certs"));
    let image = format!("{}/team/app:1", reg.host());

    // Without the CA: refused, one line naming the registry.
    let out = v.output(&["push", "-q", "localhost/app", &image]);
    let err = common::assert_fails(2, "push without the CA", &out);
    assert!(err.contains(&reg.host()), "{err}");

    v.ok(&[
        "push",
        "-q",
        "--cert-dir",
        certs.to_str().unwrap(),
        "localhost/app",
        &image,
    ]);
    // skopeo reads the same directory and sees what vouch pushed.
    common::peer_ok(Command::new("skopeo").args([
        "inspect",
        "--cert-dir",
        certs.to_str().unwrap(),
        &format!("docker://{image}"),
    ]));
    v.ok(&[
        "list-tags",
        "--cert-dir",
        certs.to_str().unwrap(),
        &format!("docker://{}/team/app", reg.host()),
    ]);

    // copy and sync out to a plain-HTTP registry.
    let plain = Registry::start();
    let policy = tmp.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let vp = |args: &[&str]| {
        let out = v
            .cmd()
            .arg("--policy")
            .arg(&policy)
            .args(args)
            .output()
            .unwrap();
        assert_ok(&out, &format!("vouch {args:?}"));
    };
    vp(&[
        "copy",
        "-q",
        "--src-cert-dir",
        certs.to_str().unwrap(),
        "--dest-tls-verify=false",
        &format!("docker://{image}"),
        &format!("docker://{}/copied/app:1", plain.host()),
    ]);
    let yaml = tmp.path().join("sync.yaml");
    std::fs::write(
        &yaml,
        format!(
            "{}:\n  cert-dir: {}\n  images:\n    team/app: []\n",
            reg.host(),
            certs.display()
        ),
    )
    .unwrap();
    vp(&[
        "sync",
        "-q",
        "--dest-tls-verify=false",
        "--src",
        "yaml",
        "--dest",
        "docker",
        yaml.to_str().unwrap(),
        &format!("{}/synced", plain.host()),
    ]);
    for repo in ["copied/app:1", "synced/app:1"] {
        assert_eq!(
            common::raw_manifest(&format!("{}/{repo}", plain.host())),
            common::raw_manifest_with(&["--cert-dir", certs.to_str().unwrap()], &image),
            "{repo}"
        );
    }
}

#[test]
fn the_certs_d_directory_under_home_is_found_as_containers_image_finds_it() {
    let (ca, reg, v, tmp) = setup();
    let home = tmp.path().join("home");
    ca.cert_dir(&home.join(".config/containers/certs.d").join(reg.host()));
    let image = format!("{}/team/app:1", reg.host());
    let out = v
        .cmd()
        .env("HOME", &home)
        .args(["push", "-q", "localhost/app", &image])
        .output()
        .unwrap();
    assert_ok(&out, "push with the CA in certs.d");
    // skopeo finds it the same way.
    let out = Command::new("skopeo")
        .env("HOME", &home)
        .args(["inspect", "--raw", &format!("docker://{image}")])
        .output()
        .unwrap();
    assert_ok(&out, "skopeo inspect with the CA in certs.d");
}

#[test]
fn client_certificates_and_broken_crt_files_are_refused_naming_the_file() {
    let (ca, reg, v, tmp) = setup();
    let image = format!("{}/team/app:1", reg.host());
    let client = ca.cert_dir(&tmp.path().join("client"));
    std::fs::copy(ca.path("server.pem"), client.join("client.cert")).unwrap();
    std::fs::copy(ca.path("server.key"), client.join("client.key")).unwrap();
    let out = v.output(&[
        "push",
        "-q",
        "--cert-dir",
        client.to_str().unwrap(),
        "localhost/app",
        &image,
    ]);
    let err = common::assert_fails(2, "push with a client certificate", &out);
    assert!(
        err.contains(&format!(
            "{}: client certificates are not supported",
            client.join("client.cert").display()
        )),
        "{err}"
    );
    let broken = tmp.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("ca.crt"), "not a certificate").unwrap();
    let out = v.output(&[
        "push",
        "-q",
        "--cert-dir",
        broken.to_str().unwrap(),
        "localhost/app",
        &image,
    ]);
    let err = common::assert_fails(2, "push with a broken ca.crt", &out);
    assert!(
        err.contains(&format!(
            "{}: no PEM certificate",
            broken.join("ca.crt").display()
        )),
        "{err}"
    );
}
