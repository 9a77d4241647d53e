//! `vouch login` / `logout` against a real htpasswd docker-registry, and the
//! auth files shared with podman 4.3.1 and skopeo.

mod common;

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{assert_fails, peer_ok, podman, Registry, Vouch};

const USER: &str = "alice";
const PASS: &str = "s3cret";

/// The bytes podman 4.3.1 writes for one login (Go's MarshalIndent, tabs).
fn expected_file(host: &str) -> String {
    // base64("alice:s3cret")
    format!("{{\n\t\"auths\": {{\n\t\t\"{host}\": {{\n\t\t\t\"auth\": \"YWxpY2U6czNjcmV0\"\n\t\t}}\n\t}}\n}}")
}

fn run(v: &Vouch, envs: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut c = v.cmd();
    for (k, val) in envs {
        c.env(k, val);
    }
    c.args(args).stdin(Stdio::null()).output().unwrap()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `login --tls-verify=false --authfile FILE -u alice -p PASSWORD HOST`.
fn login_args<'a>(file: &'a str, password: &'a str, host: &'a str) -> [&'a str; 9] {
    [
        "login",
        "--tls-verify=false",
        "--authfile",
        file,
        "-u",
        USER,
        "-p",
        password,
        host,
    ]
}

/// An image pushed with `--creds`, for the pulls to find.
fn pushed(reg: &Registry, v: &Vouch) -> String {
    v.import_httpd("localhost/httpd");
    let dest = format!("{}/private/httpd:1", reg.host());
    let creds = format!("{USER}:{PASS}");
    v.ok(&[
        "push",
        "-q",
        "--tls-verify=false",
        "--creds",
        &creds,
        "localhost/httpd",
        &dest,
    ]);
    dest
}

#[test]
fn login_writes_the_default_file_and_pull_push_use_it() {
    let reg = Registry::start_htpasswd(USER, PASS);
    let host = reg.host();
    let v = Vouch::new();
    v.import_httpd("localhost/httpd");
    let runtime = v.home.path().join("xdg-run");
    std::fs::create_dir_all(&runtime).unwrap();
    let env = [("XDG_RUNTIME_DIR", runtime.as_path())];
    let out = ok(
        run(
            &v,
            &env,
            &["login", "--tls-verify=false", "-u", USER, "-p", PASS, &host],
        ),
        "login",
    );
    assert_eq!(out, "Login Succeeded!\n");
    let file = runtime.join("containers/auth.json");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        expected_file(&host)
    );
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);

    let dest = format!("{host}/private/httpd:1");
    ok(
        run(
            &v,
            &env,
            &["push", "-q", "--tls-verify=false", "localhost/httpd", &dest],
        ),
        "push",
    );
    let puller = Vouch::new();
    ok(
        run(&puller, &env, &["pull", "-q", "--tls-verify=false", &dest]),
        "pull",
    );
    // Without the login the registry refuses.
    let err = puller.fails(2, &["pull", "-q", "--tls-verify=false", &dest]);
    assert!(err.contains("authentication required"), "{err}");

    // REGISTRY_AUTH_FILE is the default --authfile.
    let named = v.home.path().join("named.json");
    let out = run(
        &v,
        &[("REGISTRY_AUTH_FILE", named.as_path())],
        &["login", "--tls-verify=false", "-u", USER, "-p", PASS, &host],
    );
    ok(out, "login with REGISTRY_AUTH_FILE");
    assert_eq!(
        std::fs::read_to_string(&named).unwrap(),
        expected_file(&host)
    );

    let out = ok(run(&v, &env, &["login", "--get-login", &host]), "get-login");
    assert_eq!(out, "alice\n");
    // Logging in again with nothing given checks the stored credentials.
    let out = ok(
        run(&v, &env, &["login", "--tls-verify=false", &host]),
        "re-login",
    );
    assert_eq!(
        out,
        format!("Authenticating with existing credentials for {host}\nExisting credentials are valid. Already logged in to {host}\n")
    );
}

#[test]
fn wrong_password_fails_in_one_line_and_writes_nothing() {
    let reg = Registry::start_htpasswd(USER, PASS);
    let host = reg.host();
    let v = Vouch::new();
    let file = v.home.path().join("auth.json");
    let f = file.to_str().unwrap();
    let err = v.fails(2, &login_args(f, "wrong", &host));
    assert!(
        err.contains(&format!(
            "Error: logging into \"{host}\": invalid username/password"
        )),
        "{err}"
    );
    assert!(!file.exists());
    // An existing file is left byte for byte as it was.
    std::fs::write(&file, "{\"auths\":{\"other:1\":{\"auth\":\"eDp5\"}}}").unwrap();
    v.fails(2, &login_args(f, "wrong", &host));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"auths\":{\"other:1\":{\"auth\":\"eDp5\"}}}"
    );
    // No terminal and no password: an error, not a hang or an anonymous login.
    let err = assert_fails(
        2,
        "login without password",
        &run(
            &v,
            &[],
            &[
                "login",
                "--tls-verify=false",
                "--authfile",
                f,
                "-u",
                USER,
                &host,
            ],
        ),
    );
    assert!(err.contains("not a terminal"), "{err}");
    // --password-stdin reads the password from a pipe.
    let mut child = v
        .cmd()
        .args([
            "login",
            "--tls-verify=false",
            "--authfile",
            f,
            "-u",
            USER,
            "--password-stdin",
            &host,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASS}\n").as_bytes())
        .unwrap();
    let out = ok(child.wait_with_output().unwrap(), "login --password-stdin");
    assert_eq!(out, "Login Succeeded!\n");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("\"other:1\"") && text.contains("YWxpY2U6czNjcmV0"),
        "{text}"
    );
    // An unreachable registry is a one-line error too.
    let err = v.fails(2, &login_args(f, PASS, "127.0.0.1:1"));
    assert!(
        err.contains("authenticating creds for \"127.0.0.1:1\""),
        "{err}"
    );
}

#[test]
fn logout_removes_one_or_all() {
    let reg = Registry::start_htpasswd(USER, PASS);
    let host = reg.host();
    let v = Vouch::new();
    let file = v.home.path().join("auth.json");
    let f = file.to_str().unwrap();
    std::fs::write(&file, "{\"auths\":{\"other:1\":{\"auth\":\"eDp5\"}}}").unwrap();
    v.ok(&login_args(f, PASS, &host));
    let out = v.ok(&["logout", "--authfile", f, &host]);
    assert_eq!(out, format!("Removed login credentials for {host}\n"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\n\t\"auths\": {\n\t\t\"other:1\": {\n\t\t\t\"auth\": \"eDp5\"\n\t\t}\n\t}\n}"
    );
    let err = v.fails(2, &["logout", "--authfile", f, &host]);
    assert!(
        err.contains(&format!("Error: not logged into {host}")),
        "{err}"
    );
    let out = v.ok(&["logout", "--authfile", f, "--all"]);
    assert_eq!(out, "Removed login credentials for all registries\n");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\n\t\"auths\": {}\n}"
    );
    let missing = v.home.path().join("missing.json");
    let err = v.fails(
        2,
        &["logout", "--authfile", missing.to_str().unwrap(), &host],
    );
    assert!(
        err.contains("checking authfile") && err.contains("missing.json"),
        "{err}"
    );
}

#[test]
fn podman_and_skopeo_share_vouchs_auth_files() {
    let reg = Registry::start_htpasswd(USER, PASS);
    let host = reg.host();
    let v = Vouch::new();
    let dest = pushed(&reg, &v);
    let tmp = tempfile::tempdir().unwrap();

    // podman writes, vouch reads.
    let theirs = tmp.path().join("podman-auth.json");
    peer_ok(
        podman(tmp.path())
            .args(["login", "--tls-verify=false", "--authfile"])
            .arg(&theirs)
            .args(["-u", USER, "-p", PASS, &host]),
    );
    let puller = Vouch::new();
    puller.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--authfile",
        theirs.to_str().unwrap(),
        &dest,
    ]);

    // vouch writes the same bytes, and podman and skopeo read them.
    let ours = tmp.path().join("vouch-auth.json");
    v.ok(&login_args(ours.to_str().unwrap(), PASS, &host));
    assert_eq!(
        std::fs::read(&ours).unwrap(),
        std::fs::read(&theirs).unwrap()
    );
    peer_ok(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--authfile"])
            .arg(&ours)
            .arg(format!("docker://{dest}")),
    );
    peer_ok(
        podman(tmp.path())
            .args(["pull", "-q", "--tls-verify=false", "--authfile"])
            .arg(&ours)
            .arg(&dest),
    );
    // And podman logs out of vouch's file.
    peer_ok(
        podman(tmp.path())
            .args(["logout", "--authfile"])
            .arg(&ours)
            .arg(&host),
    );
    let err = v.fails(
        2,
        &[
            "login",
            "--get-login",
            "--authfile",
            ours.to_str().unwrap(),
            &host,
        ],
    );
    assert!(err.contains("not logged into"), "{err}");
}

#[test]
fn docker_config_url_keys_and_credential_helpers_are_read() {
    let reg = Registry::start_htpasswd(USER, PASS);
    let host = reg.host();
    let v = Vouch::new();
    let dest = pushed(&reg, &v);

    // Docker's file with an old-style URL key, found by host.
    let puller = Vouch::new();
    let docker = puller.home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!("{{\"auths\":{{\"http://{host}/v1/\":{{\"auth\":\"YWxpY2U6czNjcmV0\"}}}}}}"),
    )
    .unwrap();
    puller.ok(&["pull", "-q", "--tls-verify=false", &dest]);
    puller.ok(&["rmi", "-a"]);

    // docker login's key for Docker Hub is found for docker.io (no network:
    // --get-login only reads).
    std::fs::write(
        docker.join("config.json"),
        "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}",
    )
    .unwrap();
    assert_eq!(puller.ok(&["login", "--get-login", "docker.io"]), "alice\n");
    assert_eq!(
        puller.ok(&["login", "--get-login", "docker.io/library"]),
        "alice\n"
    );

    // An identity token is refused in one line, not used anonymously.
    std::fs::write(
        docker.join("config.json"),
        format!("{{\"auths\":{{\"{host}\":{{\"auth\":\"YWxpY2U6\",\"identitytoken\":\"tok\"}}}}}}"),
    )
    .unwrap();
    let err = puller.fails(2, &["pull", "-q", "--tls-verify=false", &dest]);
    assert!(
        err.contains("identity token") && err.contains(".docker/config.json"),
        "{err}"
    );

    // A credHelpers entry runs docker-credential-NAME from PATH.
    let bin = puller.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-vouchtest");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\n[ \"$1\" = get ] || exit 9\nread -r reg\n[ \"$reg\" = \"{host}\" ] || exit 8\necho '{{\"ServerURL\":\"{host}\",\"Username\":\"{USER}\",\"Secret\":\"{PASS}\"}}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!("{{\"credHelpers\":{{\"{host}\":\"vouchtest\"}}}}"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = puller
        .cmd()
        .env("PATH", &path)
        .args(["pull", "-q", "--tls-verify=false", &dest])
        .output()
        .unwrap();
    ok(out, "pull with credential helper");

    // A helper that is not installed, or a path, fails closed naming both.
    for (name, says) in [
        ("vouch-missing", "docker-credential-vouch-missing"),
        ("../../bin/sh", "plain name"),
    ] {
        std::fs::write(
            docker.join("config.json"),
            format!("{{\"credHelpers\":{{\"{host}\":\"{name}\"}}}}"),
        )
        .unwrap();
        let err = puller.fails(2, &["pull", "-q", "--tls-verify=false", &dest]);
        assert!(
            err.contains(".docker/config.json") && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn missing_xdg_runtime_dir_refuses_login_but_pull_reads_the_other_files() {
    let reg = Registry::start_htpasswd(USER, PASS);
    let host = reg.host();
    let v = Vouch::new();
    let dest = pushed(&reg, &v);
    let gone = v.home.path().join("no-such-runtime-dir");
    let env = [("XDG_RUNTIME_DIR", gone.as_path())];
    let out = run(
        &v,
        &env,
        &["login", "--tls-verify=false", "-u", USER, "-p", PASS, &host],
    );
    let err = assert_fails(2, "login with a missing XDG_RUNTIME_DIR", &out);
    assert!(
        err.contains("no-such-runtime-dir") && err.contains("$XDG_RUNTIME_DIR"),
        "{err}"
    );
    assert!(!gone.exists());
    // ~/.config/containers/auth.json is next in the order.
    let puller = Vouch::new();
    std::fs::write(
        puller.home.path().join(".config/containers/auth.json"),
        expected_file(&host),
    )
    .unwrap();
    ok(
        run(&puller, &env, &["pull", "-q", "--tls-verify=false", &dest]),
        "pull",
    );
}

/// Reads the pty's output until it shows `want` (or the child hangs up).
fn wait_for(rx: &std::sync::mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !String::from_utf8_lossy(seen).contains(want) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!(
                "no {want:?} on the terminal; saw {:?}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
}

#[test]
fn login_prompts_on_a_terminal_without_echoing_the_password() {
    use std::io::Read as _;
    let reg = Registry::start_htpasswd(USER, PASS);
    let host = reg.host();
    let v = Vouch::new();
    let file = v.home.path().join("auth.json");
    let pty = nix::pty::openpty(None, None).unwrap();
    let child = v
        .cmd()
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(&file)
        .arg(&host)
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let mut writer = master.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // EIO once the child has closed the terminal ends the loop.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    wait_for(&rx, &mut seen, "Username: ");
    writer.write_all(format!("{USER}\n").as_bytes()).unwrap();
    wait_for(&rx, &mut seen, "Password: ");
    writer.write_all(format!("{PASS}\n").as_bytes()).unwrap();
    wait_for(&rx, &mut seen, "Login Succeeded!");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&seen);
    assert!(!shown.contains(PASS), "password echoed: {shown:?}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        expected_file(&host)
    );
}
