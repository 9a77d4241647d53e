//! Issue 7: `vouch container checkpoint` / `restore` with real runc and
//! CRIU — the podman tutorial's checkpoint/restore/migration sequence, a
//! counter that keeps counting, an established TCP connection that
//! survives, migration between two stores and between two network
//! namespaces, and the fault cases (nothing half-created). Tests skip
//! (tests/common/skip.rs: recorded, or a failure under VOUCH_NO_SKIP) when
//! not root, when runc/nft/ip are missing or when `criu check` fails.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{free_port, http_get, Registry, Vouch};

/// Why checkpoint tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if let Some(r) = common::runtime_skip_reason() {
        return Some(r);
    }
    // VOUCH_CRIU, then PATH, and the version check: what the product does.
    let criu = match vouch_runtime::checkpoint::criu::locate(None) {
        Ok(c) => c,
        Err(e) => return Some(format!("{e} (scripts/install-criu.sh installs CRIU)")),
    };
    match Command::new(&criu.path).arg("check").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`{} check` failed: {}",
            criu.path.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("running {}: {e}", criu.path.display())),
    }
}

macro_rules! require_criu {
    () => {
        require!(skip_reason())
    };
}

/// One "host": a vouch store with its own --root and --runroot, and
/// optionally its own network namespace (then every command runs under
/// `nsenter --net`, with a bridge name of its own). Removes all its
/// containers when dropped.
struct Host {
    v: Vouch,
    netns: Option<String>,
    bridge: Option<String>,
}

impl Host {
    fn new() -> Self {
        Host {
            v: Vouch::new(),
            netns: None,
            bridge: None,
        }
    }

    fn runroot(&self) -> PathBuf {
        self.v.home.path().join("run")
    }

    fn cmd(&self) -> Command {
        let base = self.v.cmd();
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}"))
                    .arg(base.get_program())
                    .args(base.get_args());
                for (k, v) in base.get_envs() {
                    match v {
                        Some(v) => c.env(k, v),
                        None => c.env_remove(k),
                    };
                }
                c
            }
            None => base,
        };
        c.env("VOUCH_RUNROOT", self.runroot());
        if let Some(b) = &self.bridge {
            c.env("VOUCH_BRIDGE", b);
        }
        c
    }

    fn out(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.out(args);
        assert!(
            out.status.success(),
            "vouch {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Fails with exactly one `Error:` line; returns stderr.
    /// Runs vouch, asserting exit code `code` (1: policy said no, 2: any
    /// other error) and one `Error:` line; returns stderr.
    fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.out(args);
        common::assert_fails(code, &format!("vouch {args:?}"), &out)
    }

    fn httpd(&self) -> &'static str {
        self.v.httpd()
    }

    fn logs(&self, name: &str) -> String {
        self.ok(&["logs", name])
    }

    /// Nothing of `id` is left: directory, mounts, netns, veth, nft chain, processes.
    fn assert_gone(&self, id: &str) {
        assert!(
            !self.v.root().join("containers").join(id).exists(),
            "container dir of {id} left"
        );
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mountinfo.contains(id), "mount of {id} left");
        assert!(
            !Path::new("/run/netns").join(format!("vouch-{id}")).exists(),
            "netns of {id} left"
        );
        assert!(
            !Path::new("/sys/class/net")
                .join(format!("vv{}", &id[..12]))
                .exists(),
            "veth of {id} left"
        );
        let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
        let procs = String::from_utf8_lossy(&ps.stdout);
        assert!(
            !procs.lines().any(|l| l.contains(id)),
            "process of {id} left:\n{procs}"
        );
        let nft = Command::new("nft")
            .args(["list", "table", "inet", "vouch"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&nft.stdout).contains(&format!("c-{}", &id[..12])),
            "nft chain of {id} left"
        );
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "-f", "-a"]).output();
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn last_number(logs: &str) -> Option<u64> {
    logs.lines().rev().find_map(|l| l.trim().parse().ok())
}

const COUNTER: &str = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done";

/// The podman tutorial: checkpoint, restore, answer; export, remove,
/// restore on a second host (its own root and runroot, an empty store that
/// pulls the image through the policy), answer.
#[test]
fn tutorial_checkpoint_restore_and_migrate() {
    require_criu!();
    let reg = Registry::start();
    let src = Host::new();
    src.v.import_httpd("localhost/httpd");
    let remote = format!("{}/httpd", reg.host());
    src.ok(&["push", "--tls-verify=false", "localhost/httpd", &remote]);
    let port = free_port();
    let publish = format!("{port}:80/tcp");
    let id = src
        .ok(&[
            "run",
            "--tls-verify=false",
            "--name",
            "basic_httpd",
            "-dt",
            "-p",
            &publish,
            &remote,
        ])
        .trim()
        .to_string();
    assert!(http_get(port, "/").contains("vouch httpd fixture"));

    // vouch container checkpoint basic_httpd
    assert_eq!(
        src.ok(&["container", "checkpoint", "basic_httpd"]).trim(),
        "basic_httpd"
    );
    let row = src
        .ok(&["ps", "-a"])
        .lines()
        .find(|l| l.contains("basic_httpd"))
        .unwrap()
        .to_string();
    assert!(row.contains("Exited"), "{row}");
    assert!(
        !Path::new("/run/netns").join(format!("vouch-{id}")).exists(),
        "netns torn down after the checkpoint"
    );

    // vouch container restore basic_httpd; curl http://localhost:8080
    assert_eq!(
        src.ok(&["container", "restore", "basic_httpd"]).trim(),
        "basic_httpd"
    );
    assert!(http_get(port, "/").contains("vouch httpd fixture"));
    let row = src
        .ok(&["ps"])
        .lines()
        .find(|l| l.contains("basic_httpd"))
        .unwrap()
        .to_string();
    assert!(row.contains("Up "), "{row}");
    let top = src.ok(&["top", "basic_httpd"]);
    assert!(top.contains("/bin/httpd -f -v -p 80 -h /www"), "{top}");
    wait_for("the request in the log", 5, || {
        src.logs("basic_httpd").contains("response:200")
    });

    // On the source: checkpoint -e, then the container is removed.
    let archive = src.v.home.path().join("checkpoint.tar.gz");
    src.ok(&[
        "container",
        "checkpoint",
        "basic_httpd",
        "-e",
        archive.to_str().unwrap(),
    ]);
    let head = std::fs::read(&archive).unwrap();
    assert_eq!(
        &head[..4],
        &[0x28, 0xb5, 0x2f, 0xfd],
        "zstd by default, whatever the name"
    );
    src.ok(&["rm", "basic_httpd"]);
    src.assert_gone(&id);

    // A destination whose policy rejects the image: refused, nothing made.
    let strict = Host::new();
    std::fs::write(
        strict.v.home.path().join(".config/containers/policy.json"),
        r#"{"default":[{"type":"reject"}]}"#,
    )
    .unwrap();
    let out = strict.out(&[
        "container",
        "restore",
        "--tls-verify=false",
        "-i",
        archive.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert_eq!(out.status.code(), Some(1), "policy said no: {err}");
    assert!(err.contains("reject") || err.contains("polic"), "{err}");
    assert!(
        strict.ok(&["ps", "-a", "-q"]).trim().is_empty(),
        "no container record"
    );
    assert!(strict.v.images().is_empty(), "no image stored");

    // On the destination: restore -i (the image is pulled first).
    let dst = Host::new();
    // The archive's host port is a privilege: said again with -p.
    let out = dst.ok(&[
        "container",
        "restore",
        "--tls-verify=false",
        "-p",
        &publish,
        "-i",
        archive.to_str().unwrap(),
    ]);
    assert_eq!(out.trim(), id, "same ID as podman keeps it");
    assert!(http_get(port, "/").contains("vouch httpd fixture"));
    let ps = dst.ok(&["ps"]);
    assert!(ps.contains("basic_httpd") && ps.contains("Up "), "{ps}");
    assert!(
        dst.logs("basic_httpd").contains("response:200"),
        "the log came along"
    );
    dst.ok(&["stop", "-t", "1", "basic_httpd"]);
    dst.ok(&["rm", "basic_httpd"]);
    dst.assert_gone(&id);
}

/// A shell counter continues from its value after a restore, writing into
/// the same log; `stop` then works on the restored container.
#[test]
fn counter_keeps_counting_and_stop_works() {
    require_criu!();
    let h = Host::new();
    let img = h.httpd();
    let id = h
        .ok(&["run", "-d", "--name", "counter", img, "sh", "-c", COUNTER])
        .trim()
        .to_string();
    wait_for("the counter to reach 5", 10, || {
        last_number(&h.logs("counter")).is_some_and(|n| n >= 5)
    });
    h.ok(&["container", "checkpoint", "counter"]);
    let before = last_number(&h.logs("counter")).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        last_number(&h.logs("counter")),
        Some(before),
        "frozen while checkpointed"
    );
    let err = h.fails(2, &["container", "checkpoint", "counter"]);
    assert!(
        err.contains("can only checkpoint running containers"),
        "{err}"
    );
    h.ok(&["container", "restore", "counter"]);
    wait_for("the counter to go on", 10, || {
        last_number(&h.logs("counter")).is_some_and(|n| n >= before + 3)
    });
    let nums: Vec<u64> = h
        .logs("counter")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for w in nums.windows(2) {
        assert_eq!(w[1], w[0] + 1, "counted on without restarting: {nums:?}");
    }
    // The restored init is the new monitor's child (it was child-subreaper first).
    let st: serde_json::Value = serde_json::from_slice(
        &std::fs::read(h.v.root().join("containers").join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", st["pid"])).unwrap();
    let ppid: i64 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, st["monitor_pid"].as_i64().unwrap());
    assert!(
        !h.v.root()
            .join("containers")
            .join(&id)
            .join("checkpoint")
            .exists(),
        "images removed without --keep"
    );
    let err = h.fails(2, &["container", "restore", "counter"]);
    assert!(err.contains("cannot restore a running container"), "{err}");
    h.ok(&["stop", "-t", "1", "counter"]);
    let row = h
        .ok(&["ps", "-a"])
        .lines()
        .find(|l| l.contains("counter"))
        .unwrap()
        .to_string();
    assert!(row.contains("Exited (137)"), "{row}");
    h.ok(&["rm", "counter"]);
    h.assert_gone(&id);
}

/// `--tcp-established`: a client connected through the published port (an
/// nftables DNAT from 127.0.0.1) stays connected across checkpoint/restore.
#[test]
fn established_tcp_connection_survives() {
    require_criu!();
    let h = Host::new();
    let img = h.httpd();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8000");
    let id = h
        .ok(&[
            "run", "-d", "--name", "echo", "-p", &publish, img, "nc", "-ll", "-p", "8000", "-e",
            "cat",
        ])
        .trim()
        .to_string();
    // Short connect timeouts: a fresh container may reuse an address whose
    // old MAC is still in the host's neighbour table (re-validated in ~8 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = loop {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            if s.write_all(b"hello1\n").is_ok() {
                let mut line = String::new();
                if BufReader::new(&s).read_line(&mut line).is_ok() && line == "hello1\n" {
                    break s;
                }
            }
        }
        assert!(Instant::now() < deadline, "echo server never answered");
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = h.fails(2, &["container", "checkpoint", "echo"]);
    assert!(
        err.contains("tcp") || err.contains("TCP") || err.contains("established"),
        "{err}"
    );
    h.ok(&["container", "checkpoint", "--tcp-established", "echo"]);
    let err = h.fails(2, &["container", "restore", "echo"]);
    assert!(err.contains("--tcp-established"), "{err}");
    h.ok(&["container", "restore", "--tcp-established", "echo"]);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"hello2\n").unwrap();
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    assert_eq!(
        line, "hello2\n",
        "the same connection answers after the restore"
    );
    drop(s);
    h.ok(&["rm", "-f", "echo"]);
    h.assert_gone(&id);
}

/// Two network namespaces as two hosts (each with its own bridge, nft
/// table and loopback): checkpoint -e in one, remove, restore -i in the
/// other, and the web server answers there on the same published port.
#[test]
fn migrate_between_two_network_namespaces() {
    require_criu!();
    let tag = format!("{:x}", std::process::id());
    let (na, nb) = (format!("vck-a{tag}"), format!("vck-b{tag}"));
    struct Netns(Vec<String>);
    impl Drop for Netns {
        fn drop(&mut self) {
            for n in &self.0 {
                let _ = Command::new("ip").args(["netns", "del", n]).status();
            }
        }
    }
    let _ns = Netns(vec![na.clone(), nb.clone()]);
    for n in [&na, &nb] {
        assert!(Command::new("ip")
            .args(["netns", "add", n])
            .status()
            .unwrap()
            .success());
        assert!(Command::new("ip")
            .args(["-n", n, "link", "set", "lo", "up"])
            .status()
            .unwrap()
            .success());
    }
    let mut a = Host::new();
    a.netns = Some(na.clone());
    a.bridge = Some(format!("vb{}a", &tag[..tag.len().min(8)]));
    let mut b = Host::new();
    b.netns = Some(nb.clone());
    b.bridge = Some(format!("vb{}b", &tag[..tag.len().min(8)]));
    // The same image in both stores (the same layers; configs may differ).
    let img = a.httpd();
    b.httpd();
    let port = free_port();
    let publish = format!("{port}:80");
    let id = a
        .ok(&["run", "-d", "--name", "web", "-p", &publish, img])
        .trim()
        .to_string();
    let get = |ns: &str| {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{ns}"))
            .args([
                "curl",
                "-s",
                "-m",
                "3",
                "--noproxy",
                "*",
                &format!("http://127.0.0.1:{port}/"),
            ])
            .output()
            .unwrap()
    };
    wait_for("the server in host A", 10, || {
        String::from_utf8_lossy(&get(&na).stdout).contains("vouch httpd fixture")
    });
    let archive = a.v.home.path().join("web.tar.zst");
    a.ok(&[
        "container",
        "checkpoint",
        "-e",
        archive.to_str().unwrap(),
        "web",
    ]);
    a.ok(&["rm", "web"]);
    a.assert_gone(&id);
    // The archive's published port is granted explicitly.
    b.ok(&[
        "container",
        "restore",
        "--grant-archive-privileges",
        "-i",
        archive.to_str().unwrap(),
    ]);
    wait_for("the server in host B", 10, || {
        String::from_utf8_lossy(&get(&nb).stdout).contains("vouch httpd fixture")
    });
    assert!(
        !String::from_utf8_lossy(&get(&na).stdout).contains("vouch httpd fixture"),
        "host A no longer serves"
    );
    b.ok(&["rm", "-f", "web"]);
    b.assert_gone(&id);
}

/// Bad input and faults: each a clear error, nothing half-created.
#[test]
fn faults_are_clear_and_leave_nothing() {
    require_criu!();
    let h = Host::new();
    let img = h.httpd();
    // Checkpointing a stopped container.
    h.ok(&["run", "--network", "none", "--name", "done", img, "true"]);
    let err = h.fails(2, &["container", "checkpoint", "done"]);
    assert!(
        err.contains("can only checkpoint running containers"),
        "{err}"
    );
    // Restoring a container that was never checkpointed.
    let err = h.fails(2, &["container", "restore", "done"]);
    assert!(err.contains("no checkpoint"), "{err}");
    // A --rm container would vanish with its checkpoint: refused.
    let rm_id = h
        .ok(&[
            "run",
            "-d",
            "--rm",
            "--network",
            "none",
            "--name",
            "ephemeral",
            img,
            "sleep",
            "60",
        ])
        .trim()
        .to_string();
    let err = h.fails(2, &["container", "checkpoint", "ephemeral"]);
    assert!(err.contains("--rm"), "{err}");
    h.ok(&["rm", "-f", "ephemeral"]);
    let _ = rm_id;
    // Restoring a running one.
    let id = h
        .ok(&["run", "-d", "--name", "live", img, "sh", "-c", COUNTER])
        .trim()
        .to_string();
    let err = h.fails(2, &["container", "restore", "live"]);
    assert!(err.contains("running"), "{err}");
    // CRIU missing or unusable: said plainly, nothing changed.
    let err = h.fails(
        2,
        &[
            "container",
            "checkpoint",
            "--criu",
            "/nonexistent/criu",
            "live",
        ],
    );
    assert!(
        err.contains("/nonexistent/criu") && err.contains("not found"),
        "{err}"
    );
    let fake = h.v.home.path().join("oldcriu");
    std::fs::write(&fake, "#!/bin/sh\necho 'Version: 3.11'\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let err = h.fails(
        2,
        &[
            "container",
            "checkpoint",
            "--criu",
            fake.to_str().unwrap(),
            "live",
        ],
    );
    assert!(err.contains("too old"), "{err}");
    assert!(h.ok(&["ps"]).contains("live"), "still running");

    // An archive to break.
    let archive = h.v.home.path().join("live.tar");
    h.ok(&[
        "container",
        "checkpoint",
        "-c",
        "none",
        "-e",
        archive.to_str().unwrap(),
        "live",
    ]);
    let good = std::fs::read(&archive).unwrap();
    // A name already taken: the original still exists.
    let err = h.fails(
        2,
        &["container", "restore", "-i", archive.to_str().unwrap()],
    );
    assert!(err.contains("already exists"), "{err}");
    let err = h.fails(
        2,
        &[
            "container",
            "restore",
            "-i",
            archive.to_str().unwrap(),
            "-n",
            "done",
        ],
    );
    assert!(err.contains("already in use"), "{err}");
    let count = || h.ok(&["ps", "-a", "-q"]).lines().count();
    let before = count();
    let bad = h.v.home.path().join("bad.tar");
    let try_bad = |bytes: &[u8], want: &str| {
        std::fs::write(&bad, bytes).unwrap();
        let err = h.fails(
            2,
            &[
                "container",
                "restore",
                "-i",
                bad.to_str().unwrap(),
                "-n",
                "fresh",
            ],
        );
        assert!(err.contains(want), "wanted {want:?} in: {err}");
        assert_eq!(count(), before, "no container record left");
        let tmp = h.v.root().join("tmp");
        assert!(
            std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0) == 0,
            "staging left in {}",
            tmp.display()
        );
    };
    try_bad(&good[..good.len() / 2], "truncated");
    try_bad(
        b"garbage, not an archive at all",
        "not a checkpoint archive",
    );
    let mut zstd_bad = zstd::encode_all(&good[..], 3).unwrap();
    zstd_bad.truncate(zstd_bad.len() - 20);
    try_bad(&zstd_bad, "truncated");
    // Hostile entries.
    let hostile = |name: &str, kind: tar::EntryType| {
        let mut b = tar::Builder::new(Vec::new());
        let mut hd = tar::Header::new_gnu();
        hd.set_entry_type(kind);
        hd.set_size(if kind == tar::EntryType::Regular {
            1
        } else {
            0
        });
        hd.set_mode(0o644);
        if kind == tar::EntryType::Symlink {
            hd.set_link_name("/etc").unwrap();
        }
        {
            let raw = hd.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        hd.set_cksum();
        b.append(
            &hd,
            if kind == tar::EntryType::Regular {
                &b"x"[..]
            } else {
                &b""[..]
            },
        )
        .unwrap();
        b.into_inner().unwrap()
    };
    try_bad(&hostile("../escape", tar::EntryType::Regular), "`..`");
    try_bad(&hostile("/etc/evil", tar::EntryType::Regular), "absolute");
    try_bad(
        &hostile("checkpoint", tar::EntryType::Symlink),
        "only regular files",
    );
    // An archive from an incompatible version.
    let mut ar = tar::Archive::new(&good[..]);
    let mut b = tar::Builder::new(Vec::new());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if path == Path::new("config.dump") {
            let mut v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            v["vouchCheckpointVersion"] = serde_json::json!(99);
            data = serde_json::to_vec(&v).unwrap();
        }
        let mut hd = e.header().clone();
        hd.set_size(data.len() as u64);
        hd.set_cksum();
        b.append_data(&mut hd, &path, &data[..]).unwrap();
    }
    try_bad(&b.into_inner().unwrap(), "incompatible version");
    // A restore whose CRIU fails (a fake that passes vouch's version
    // check): the runtime's error, and nothing made is left.
    let failing = h.v.home.path().join("failcriu");
    std::fs::write(
        &failing,
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'Version: 4.2.1'; exit 0; }\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &failing,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .matches(&h.v.root().display().to_string())
            .count()
    };
    let mounts_before = mounts();
    h.fails(
        2,
        &[
            "container",
            "restore",
            "--criu",
            failing.to_str().unwrap(),
            "-i",
            archive.to_str().unwrap(),
            "-n",
            "fresh",
        ],
    );
    assert_eq!(
        count(),
        before,
        "no container record after a failed CRIU restore"
    );
    assert_eq!(mounts(), mounts_before, "no mount left");
    assert!(
        std::fs::read_dir(h.v.root().join("containers"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .count()
            == before,
        "no container directory left"
    );
    // The same fault on a local restore leaves the container as it was
    // (exited, checkpoint kept), and a later restore works.
    h.fails(
        2,
        &[
            "container",
            "restore",
            "--criu",
            failing.to_str().unwrap(),
            "live",
        ],
    );
    let row = h
        .ok(&["ps", "-a"])
        .lines()
        .find(|l| l.contains(" live"))
        .unwrap()
        .to_string();
    assert!(row.contains("Exited"), "{row}");
    assert_eq!(mounts(), mounts_before, "no mount left");
    h.ok(&["container", "restore", "live"]);
    assert!(h.ok(&["ps"]).contains("live"));
    h.ok(&["rm", "-f", "live"]);
    h.assert_gone(&id);
}

/// rootfs-diff.tar and deleted.files: a file written and a file deleted
/// in the container travel with the archive (gzip here, sniffed on import).
#[test]
fn rootfs_changes_travel_with_the_archive() {
    require_criu!();
    let h = Host::new();
    let img = h.httpd();
    let script = format!("echo changed > /www/new.txt; rm /bin/nc; mkdir -p /data/a; ln -s /www/new.txt /data/a/link; {COUNTER}");
    let id = h
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "diffy",
            img,
            "sh",
            "-c",
            &script,
        ])
        .trim()
        .to_string();
    wait_for("the counter", 10, || {
        last_number(&h.logs("diffy")).is_some_and(|n| n >= 2)
    });
    let archive = h.v.home.path().join("diffy.tar.zst");
    h.ok(&[
        "container",
        "checkpoint",
        "-c",
        "gzip",
        "-e",
        archive.to_str().unwrap(),
        "diffy",
    ]);
    assert_eq!(&std::fs::read(&archive).unwrap()[..2], &[0x1f, 0x8b]);
    h.ok(&["rm", "diffy"]);
    h.assert_gone(&id);
    h.ok(&["container", "restore", "-i", archive.to_str().unwrap()]);
    assert_eq!(h.ok(&["exec", "diffy", "cat", "/www/new.txt"]), "changed\n");
    assert_eq!(h.ok(&["exec", "diffy", "cat", "/data/a/link"]), "changed\n");
    let out = h.out(&["exec", "diffy", "test", "-e", "/bin/nc"]);
    assert!(!out.status.success(), "/bin/nc stays deleted");
    let before = last_number(&h.logs("diffy")).unwrap();
    wait_for("the counter to go on", 10, || {
        last_number(&h.logs("diffy")).is_some_and(|n| n > before)
    });
    h.ok(&["rm", "-f", "diffy"]);
    h.assert_gone(&id);
}

/// An archive's entries as (path, header, data).
fn entries_of(archive: &[u8]) -> Vec<(PathBuf, tar::Header, Vec<u8>)> {
    let mut ar = tar::Archive::new(archive);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (path, e.header().clone(), data)
        })
        .collect()
}

/// `good` (an uncompressed archive) with `edit` applied to each entry's
/// data (None drops the entry) and `extra` entries (raw tar bytes of
/// regular files) appended.
fn rewrite(
    good: &[u8],
    edit: impl Fn(&Path, Vec<u8>) -> Option<Vec<u8>>,
    extra: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, mut hd, data) in entries_of(good) {
        let Some(data) = edit(&path, data) else {
            continue;
        };
        hd.set_size(data.len() as u64);
        hd.set_cksum();
        b.append_data(&mut hd, &path, &data[..]).unwrap();
    }
    for (name, data) in extra {
        let mut hd = tar::Header::new_gnu();
        hd.set_entry_type(tar::EntryType::Regular);
        hd.set_mode(0o644);
        hd.set_size(data.len() as u64);
        hd.set_cksum();
        b.append_data(&mut hd, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// `good` with config.dump's JSON changed by `f`.
fn edit_config(good: &[u8], f: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    rewrite(
        good,
        |p, d| {
            if p != Path::new("config.dump") {
                return Some(d);
            }
            let mut v: serde_json::Value = serde_json::from_slice(&d).unwrap();
            f(&mut v);
            Some(serde_json::to_vec(&v).unwrap())
        },
        &[],
    )
}

/// A tar entry with a raw name (so `..` gets through the builder).
fn raw_entry(b: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, data: &[u8]) {
    let mut hd = tar::Header::new_gnu();
    hd.set_entry_type(kind);
    hd.set_size(data.len() as u64);
    hd.set_mode(0o644);
    if matches!(kind, tar::EntryType::Char) {
        hd.set_device_major(1).unwrap();
        hd.set_device_minor(3).unwrap();
    }
    hd.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    hd.set_cksum();
    b.append(&hd, data).unwrap();
}

/// Runs the counter as `src`, exports it uncompressed to HOME/src.tar and
/// removes it: (the archive's path, its bytes).
fn exported_counter(h: &Host) -> (PathBuf, Vec<u8>) {
    let img = h.httpd();
    let id = h
        .ok(&["run", "-d", "--name", "src", img, "sh", "-c", COUNTER])
        .trim()
        .to_string();
    wait_for("the counter", 10, || {
        last_number(&h.logs("src")).is_some_and(|n| n >= 1)
    });
    let archive = h.v.home.path().join("src.tar");
    let a = archive.to_str().unwrap();
    h.ok(&["container", "checkpoint", "-c", "none", "-e", a, "src"]);
    h.ok(&["rm", "src"]);
    h.assert_gone(&id);
    let good = std::fs::read(&archive).unwrap();
    (archive, good)
}

/// Issue 11, hole 1: a checkpoint archive is hostile. It does not choose
/// the runtime binary, gets no privilege beyond `vouch run`'s defaults
/// without --grant-archive-privileges, has its dump files capped and
/// typed, and its rootfs diff and deletions go through the image
/// unpacker. Each refusal is exit 2 with one line, and leaves nothing.
#[test]
fn hostile_archives_are_refused_or_defanged() {
    require_criu!();
    let h = Host::new();
    let (_, good) = exported_counter(&h);

    let outside = tempfile::tempdir().unwrap();
    let marker = outside.path().join("marker");
    let mounts = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .matches(&h.v.root().display().to_string())
            .count()
    };
    let mounts_before = mounts();
    let bad = h.v.home.path().join("hostile.tar");
    let b = bad.to_str().unwrap();
    let nothing_left = |what: &str| {
        assert!(
            h.ok(&["ps", "-a", "-q"]).trim().is_empty(),
            "{what}: no container record"
        );
        let dirs = std::fs::read_dir(h.v.root().join("containers"))
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
            .unwrap_or(0);
        assert_eq!(dirs, 0, "{what}: no container directory");
        let tmp = h.v.root().join("tmp");
        assert_eq!(
            std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0),
            0,
            "{what}: staging left in {}",
            tmp.display()
        );
        assert_eq!(mounts(), mounts_before, "{what}: no mount left");
        assert!(!marker.exists(), "{what}: the archive ran something");
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "{what}: wrote outside the rootfs"
        );
    };
    let refused = |bytes: &[u8], extra: &[&str], want: &str| {
        std::fs::write(&bad, bytes).unwrap();
        let mut args = vec!["container", "restore", "-i", b, "-n", "fresh"];
        args.extend_from_slice(extra);
        let out = h.out(&args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{want}: exit 2 expected:\n{err}"
        );
        assert_eq!(err.lines().count(), 1, "{want}: one line expected:\n{err}");
        assert!(
            err.starts_with("Error: checkpoint archive ") && err.contains(want),
            "wanted {want:?} in: {err}"
        );
        nothing_left(want);
    };

    // The archive's `runtime` names a script that would run as root.
    let script = h.v.home.path().join("evil-runtime");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch {}\nexec runc \"$@\"\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let evil = script.to_str().unwrap().to_string();
    std::fs::write(
        &bad,
        edit_config(&good, |v| {
            v["runtime"] = evil.clone().into();
            v["vouch"]["runtime"] = evil.clone().into();
        }),
    )
    .unwrap();
    h.ok(&["container", "restore", "-i", b, "-n", "fresh"]);
    assert!(!marker.exists(), "the archive's runtime was run");
    h.ok(&["rm", "-f", "fresh"]);
    nothing_left("runtime");

    // Capabilities beyond the default set: refused, then granted on request.
    let sys_admin = edit_config(&good, |v| {
        v["vouch"]["cap_add"] = serde_json::json!(["CAP_SYS_ADMIN"]);
    });
    refused(
        &sys_admin,
        &[],
        "grants capabilities CAP_SYS_ADMIN, beyond what `vouch run` gives by default; restore with --grant-archive-privileges",
    );
    std::fs::write(&bad, &sys_admin).unwrap();
    let out = h.out(&[
        "container",
        "restore",
        "-i",
        b,
        "-n",
        "fresh",
        "--grant-archive-privileges",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.trim(),
        format!("Granted from {b}: capabilities CAP_SYS_ADMIN"),
        "says what it grants"
    );
    // (The restored processes keep their dumped credentials; what the
    // config grants applies to the container's new processes.)
    let caps = h.ok(&["exec", "fresh", "grep", "CapBnd", "/proc/self/status"]);
    let bnd = u64::from_str_radix(caps.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_ne!(bnd & (1 << 21), 0, "CAP_SYS_ADMIN granted: {caps}");
    h.ok(&["rm", "-f", "fresh"]);
    nothing_left("granted");
    // The host's network and host ports are privileges too.
    refused(
        &edit_config(&good, |v| v["vouch"]["network"] = "host".into()),
        &[],
        "grants the host's network namespace (--network host)",
    );
    let port = free_port();
    refused(
        &edit_config(&good, |v| {
            v["vouch"]["ports"] = serde_json::json!([{"host_ip": null, "host_port": port,
                "container_port": 80, "protocol": "tcp"}]);
        }),
        &[],
        &format!("grants host ports {port}:80/tcp"),
    );

    // A config.dump over the cap is refused before it is read.
    refused(
        &rewrite(
            &good,
            |p, mut d| {
                if p == Path::new("config.dump") {
                    d.resize(2 << 20, b' ');
                }
                Some(d)
            },
            &[],
        ),
        &[],
        "config.dump is 2097152 bytes (limit 1048576)",
    );
    // Required fields: no default metadata.
    refused(
        &edit_config(&good, |v| {
            v["checkpoint"]
                .as_object_mut()
                .unwrap()
                .remove("tcp_established");
        }),
        &[],
        "config.dump: missing field `tcp_established`",
    );
    // A podman-style archive whose spec.dump has no uid: no silent root.
    let v: serde_json::Value = serde_json::from_slice(
        &entries_of(&good)
            .into_iter()
            .find(|(p, _, _)| p == Path::new("config.dump"))
            .unwrap()
            .2,
    )
    .unwrap();
    let podman = serde_json::json!({
        "id": v["id"], "name": "pod", "rootfsImageID": v["rootfsImageID"],
        "rootfsImageName": v["rootfsImageName"], "createdTime": v["createdTime"],
        "spec": {}, "runtime": "runc",
    });
    refused(
        &rewrite(
            &good,
            |p, d| {
                if p == Path::new("config.dump") {
                    return Some(serde_json::to_vec(&podman).unwrap());
                }
                if p == Path::new("spec.dump") {
                    let mut s: serde_json::Value = serde_json::from_slice(&d).unwrap();
                    s["process"]["user"].as_object_mut().unwrap().remove("uid");
                    return Some(serde_json::to_vec(&s).unwrap());
                }
                Some(d)
            },
            &[],
        ),
        &[],
        "spec.dump: missing field `uid`",
    );

    // rootfs-diff.tar: a symlink out of the rootfs and a file through it,
    // a `../` entry, a device node.
    let diff = |f: &dyn Fn(&mut tar::Builder<Vec<u8>>)| {
        let mut t = tar::Builder::new(Vec::new());
        f(&mut t);
        let t = t.into_inner().unwrap();
        rewrite(
            &good,
            |p, d| (p != Path::new("rootfs-diff.tar")).then_some(d),
            &[("rootfs-diff.tar", t)],
        )
    };
    let out_dir = outside.path().to_path_buf();
    refused(
        &diff(&|t| {
            let mut hd = tar::Header::new_gnu();
            hd.set_entry_type(tar::EntryType::Symlink);
            hd.set_size(0);
            hd.set_cksum();
            t.append_link(&mut hd, "esc", &out_dir).unwrap();
            raw_entry(t, "esc/pwned", tar::EntryType::Regular, b"x");
        }),
        &[],
        "rootfs-diff.tar: layer entry \"esc/pwned\": path goes through a symlink",
    );
    refused(
        &diff(&|t| raw_entry(t, "www/../../pwned", tar::EntryType::Regular, b"x")),
        &[],
        "rootfs-diff.tar: layer entry \"www/../../pwned\": path escapes the layer directory",
    );
    refused(
        &diff(&|t| raw_entry(t, "dev/evil", tar::EntryType::Char, b"")),
        &[],
        "rootfs-diff.tar: layer entry \"dev/evil\": unsupported tar entry type '3'",
    );
    // deleted.files escaping the rootfs.
    refused(
        &rewrite(
            &good,
            |p, d| (p != Path::new("deleted.files")).then_some(d),
            &[("deleted.files", br#"["/www/../../../tmp"]"#.to_vec())],
        ),
        &[],
        "deleted.files: layer entry \"/www/../../../tmp\": path escapes the layer directory",
    );
    // And the untouched archive still restores.
    std::fs::write(&bad, &good).unwrap();
    h.ok(&["container", "restore", "-i", b, "-n", "fresh"]);
    h.ok(&["rm", "-f", "fresh"]);
    nothing_left("good");
}

/// The pid of a CRIU (`criu swrk`) process whose parent (runc) works on
/// container `id`.
fn criu_of(id: &str) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        // By its arguments: install-criu.sh's wrapper execs CRIU through
        // its own loader, so the command name is ld-linux's.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !(cmdline.contains("criu") && cmdline.contains("\0swrk\0")) {
            continue;
        }
        let ppid = rest.split_whitespace().nth(1).unwrap_or("0");
        let parent = std::fs::read(format!("/proc/{ppid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&parent).contains(id) {
            return Some(pid);
        }
    }
    None
}

/// Starts `vouch args` and SIGKILLs it as soon as `in_progress` says the
/// operation is under way (polled every ms, up to 120 s), asserting the
/// kill landed before the command finished.
fn kill_when(h: &Host, args: &[&str], what: &str, mut in_progress: impl FnMut(u32) -> bool) {
    use std::os::unix::process::ExitStatusExt;
    let mut child = h
        .cmd()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("{what}: vouch {args:?} ended ({st}) before the kill");
        }
        if in_progress(child.id()) {
            break;
        }
        assert!(Instant::now() < deadline, "{what}: never seen in progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.signal(), Some(9), "{what}: killed mid-operation ({st})");
}

/// Waits until no CRIU or `runc restore` of container `id` runs any more
/// (the monitor finishes a restore its killed command started).
fn settle(id: &str) {
    wait_for("the restore to settle", 120, || {
        criu_of(id).is_none()
            && !std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
                let c = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let c = String::from_utf8_lossy(&c);
                c.contains(id) && c.contains("\0restore\0")
            })
    });
}

/// The container `name` is listed once, Up or Exited; when exited, nothing
/// of it is mounted and it has no netns. Returns whether it is running.
fn consistent(h: &Host, name: &str, id: &str) -> bool {
    let ps = h.ok(&["ps", "-a"]);
    let rows: Vec<&str> = ps.lines().filter(|l| l.contains(name)).collect();
    assert_eq!(rows.len(), 1, "{name} listed once:\n{ps}");
    if rows[0].contains("Up ") {
        return true;
    }
    assert!(rows[0].contains("Exited"), "{}", rows[0]);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(id), "exited {name} still mounted");
    assert!(
        !Path::new("/run/netns").join(format!("vouch-{id}")).exists(),
        "exited {name} still has its netns"
    );
    false
}

/// Issue 11, crash tests: SIGKILL during `checkpoint -e` (the export file
/// growing), during `restore` and during `restore -i` (CRIU running).
/// After each kill the container is listed consistently with nothing
/// leaked, no half archive is at the target path, and a retry succeeds.
#[test]
fn sigkill_during_export_restore_and_import() {
    require_criu!();
    let h = Host::new();
    let img = h.httpd();
    // 64 MiB of random data in the container's /dev/shm tmpfs, which CRIU
    // dumps: the dump, the export and the restore each take a while.
    let script = format!("head -c 67108864 /dev/urandom > /dev/shm/big; {COUNTER}");
    let id = h
        .ok(&["run", "-d", "--name", "big", img, "sh", "-c", &script])
        .trim()
        .to_string();
    wait_for("the counter", 60, || {
        last_number(&h.logs("big")).is_some_and(|n| n >= 1)
    });
    let counting = |after: u64| {
        wait_for("the counter to go on", 30, || {
            last_number(&h.logs("big")).is_some_and(|n| n > after)
        });
    };

    // checkpoint -e: killed once its temp file has passed 1 MiB.
    let dir = h.v.home.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let archive = dir.join("big.tar.zst");
    let a = archive.to_str().unwrap().to_string();
    kill_when(
        &h,
        &["container", "checkpoint", "-e", &a, "big"],
        "export",
        |_| {
            // The export's random temp name: `.big.tar.zst.XXXXXX.tmp`.
            let temp_big = std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(".big.tar.zst.")
                    && n.ends_with(".tmp")
                    && e.metadata().is_ok_and(|m| m.len() > 1 << 20)
            });
            !archive.exists() && temp_big
        },
    );
    assert!(!archive.exists(), "no half-written archive at {a}");
    if !consistent(&h, "big", &id) {
        h.ok(&["container", "restore", "big"]);
    }
    let n = last_number(&h.logs("big")).unwrap();
    counting(n);
    h.ok(&["container", "checkpoint", "-e", &a, "big"]);
    assert!(archive.is_file(), "the retried export is there");

    // restore: killed while CRIU restores.
    kill_when(&h, &["container", "restore", "big"], "restore", |_| {
        criu_of(&id).is_some()
    });
    settle(&id);
    if !consistent(&h, "big", &id) {
        h.ok(&["container", "restore", "big"]);
    }
    assert!(consistent(&h, "big", &id), "restored after the retry");
    let n = last_number(&h.logs("big")).unwrap();
    counting(n);

    // restore -i: killed while CRIU restores the import.
    h.ok(&["rm", "-f", "big"]);
    h.assert_gone(&id);
    kill_when(&h, &["container", "restore", "-i", &a], "import", |_| {
        criu_of(&id).is_some()
    });
    settle(&id);
    let listed = h.ok(&["ps", "-a", "-q", "--no-trunc"]);
    if listed.trim().is_empty() {
        h.ok(&["container", "restore", "-i", &a]);
    } else if !consistent(&h, "big", &id) {
        h.ok(&["container", "restore", "big"]);
    }
    assert!(consistent(&h, "big", &id), "imported after the retry");
    let n = last_number(&h.logs("big")).unwrap();
    counting(n);
    h.ok(&["stop", "-t", "1", "big"]);
    h.ok(&["rm", "big"]);
    h.assert_gone(&id);
}

/// `msg`'s top-level protobuf fields as (tag, the field's raw bytes, its
/// payload if length-delimited), so a test can change one nested message
/// and keep every other byte CRIU wrote.
fn pb_fields(mut b: &[u8]) -> Vec<(u32, Vec<u8>, Option<Vec<u8>>)> {
    use prost::encoding::{decode_key, decode_varint, WireType};
    let mut out = Vec::new();
    while !b.is_empty() {
        let start = b;
        let (tag, wt) = decode_key(&mut b).unwrap();
        let payload = match wt {
            WireType::Varint => {
                decode_varint(&mut b).unwrap();
                None
            }
            WireType::SixtyFourBit => {
                b = &b[8..];
                None
            }
            WireType::ThirtyTwoBit => {
                b = &b[4..];
                None
            }
            WireType::LengthDelimited => {
                let n = decode_varint(&mut b).unwrap() as usize;
                let p = b[..n].to_vec();
                b = &b[n..];
                Some(p)
            }
            w => panic!("unexpected wire type {w:?}"),
        };
        let used = start.len() - b.len();
        out.push((tag, start[..used].to_vec(), payload));
    }
    out
}

/// `msg` with the message in field `tag` replaced by `f` of it.
fn pb_replace(msg: &[u8], tag: u32, f: &dyn Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    use prost::encoding::{encode_key, encode_varint, WireType};
    let mut out = Vec::new();
    let mut found = false;
    for (t, raw, payload) in pb_fields(msg) {
        match payload {
            Some(p) if t == tag => {
                let new = f(&p);
                encode_key(tag, WireType::LengthDelimited, &mut out);
                encode_varint(new.len() as u64, &mut out);
                out.extend(new);
                found = true;
            }
            _ => out.extend(raw),
        }
    }
    assert!(found, "field {tag} not in the message");
    out
}

/// A CRIU core image with its thread's creds changed by `f` (every other
/// byte as CRIU wrote it).
fn edit_core_creds(
    img: &[u8],
    f: impl Fn(&mut vouch_runtime::checkpoint::criu_image::CredsEntry),
) -> Vec<u8> {
    use prost::Message;
    use vouch_runtime::checkpoint::criu_image::CredsEntry;
    let len = u32::from_le_bytes(img[8..12].try_into().unwrap()) as usize;
    assert_eq!(img.len(), 12 + len, "one entry");
    // core_entry.thread_core (5) . thread_core_entry.creds (10)
    let body = pb_replace(&img[12..], 5, &|tc| {
        pb_replace(tc, 10, &|c| {
            let mut creds = CredsEntry::decode(c).unwrap();
            f(&mut creds);
            creds.encode_to_vec()
        })
    });
    let mut out = img[..8].to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// The CapEff of the container's PID 1 (a restored process, unlike one
/// `exec` starts from the bundle).
fn pid1_cap_eff(h: &Host, name: &str) -> String {
    let s = h.ok(&["exec", name, "grep", "CapEff", "/proc/1/status"]);
    s.split_whitespace().nth(1).unwrap().to_string()
}

/// Issue 11, hole 1, the dumped credentials: CRIU gives every restored
/// task the capabilities its core image says, as root. An archive whose
/// core images widen them is refused before CRIU runs (exit 2, one line
/// naming the archive, the image and the field); with
/// --grant-archive-privileges it is restored with what it asked for, and
/// says so; the untouched archive restores as before.
#[test]
fn dumped_credentials_are_judged() {
    require_criu!();
    let h = Host::new();
    let (archive, good) = exported_counter(&h);
    let a = archive.to_str().unwrap();
    let is_core = |p: &Path| {
        let n = p.to_string_lossy();
        n.starts_with("checkpoint/core-") && n.ends_with(".img")
    };
    let cores: Vec<String> = entries_of(&good)
        .into_iter()
        .filter(|(p, _, _)| is_core(p))
        .map(|(p, _, _)| p.to_string_lossy().into_owned())
        .collect();
    assert!(!cores.is_empty(), "the archive has core images");
    // vouch reports them in name order.
    let mut cores = cores;
    cores.sort();

    // Every capability this host has (all 41 where nothing is withheld)
    // in the effective, permitted and bounding sets (CRIU cannot set a
    // permitted capability outside the bounding set, nor one it lacks).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let host_caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    let words = vec![host_caps as u32, (host_caps >> 32) as u32];
    let default = vouch_runtime::defaults::capabilities(&[], &[]).unwrap();
    let extra: Vec<&str> = vouch_runtime::defaults::ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(n, c)| host_caps & (1 << n) != 0 && !default.contains(&c.to_string()))
        .map(|(_, c)| *c)
        .collect();
    assert!(
        extra.contains(&"CAP_SYS_ADMIN"),
        "this host has CAP_SYS_ADMIN"
    );
    let widened = rewrite(
        &good,
        |p, d| {
            if !is_core(p) {
                return Some(d);
            }
            Some(edit_core_creds(&d, |c| {
                c.cap_eff = words.clone();
                c.cap_prm = words.clone();
                c.cap_bnd = words.clone();
            }))
        },
        &[],
    );
    let bad = h.v.home.path().join("widened.tar");
    let b = bad.to_str().unwrap();
    std::fs::write(&bad, &widened).unwrap();
    let err = h.fails(2, &["container", "restore", "-i", b, "-n", "fresh"]);
    let want = format!(
        "Error: checkpoint archive {b}: {}: cap_eff grants {}, which the container does not have (and {} more); restore with --grant-archive-privileges to allow it",
        cores[0],
        extra.join(","),
        3 * cores.len() - 1
    );
    assert_eq!(err.trim_end(), want);
    assert!(
        h.ok(&["ps", "-a", "-q"]).trim().is_empty(),
        "no container record"
    );
    let tmp = h.v.root().join("tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0),
        0,
        "staging left in {}",
        tmp.display()
    );

    // Granted on request: CRIU then applies them, and vouch says so.
    let out = h.out(&[
        "container",
        "restore",
        "-i",
        b,
        "-n",
        "fresh",
        "--grant-archive-privileges",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3 * cores.len(), "{err}");
    assert!(
        lines[0].starts_with(&format!(
            "Granted from {b}: {}: cap_eff {}",
            cores[0],
            extra.join(",")
        )),
        "{err}"
    );
    assert_eq!(pid1_cap_eff(&h, "fresh"), format!("{host_caps:016x}"));
    h.ok(&["rm", "-f", "fresh"]);

    // A real checkpoint holds only the container's own credentials.
    let out = h.out(&["container", "restore", "-i", a]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(err.trim().is_empty(), "grants nothing: {err}");
    assert_eq!(pid1_cap_eff(&h, "src"), "00000000800405fb");
    let before = last_number(&h.logs("src")).unwrap();
    wait_for("the counter to go on", 10, || {
        last_number(&h.logs("src")).is_some_and(|n| n > before)
    });
    h.ok(&["rm", "-f", "src"]);
}

/// A podman 4.3.1 store of its own (vfs, in a temp dir) holding the
/// fixtures' httpd image under the same ID as `h`'s (`vouch save` →
/// `podman load`); removes its containers and images when dropped.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn with_image_of(h: &Host) -> Self {
        let p = Podman {
            dir: tempfile::tempdir().unwrap(),
        };
        let img = h.httpd();
        let tar = p.dir.path().join("httpd.tar");
        h.ok(&["save", "-o", tar.to_str().unwrap(), img]);
        p.ok(&["load", "-q", "-i", tar.to_str().unwrap()]);
        p
    }
    fn cmd(&self) -> Command {
        common::podman(self.dir.path())
    }
    fn ok(&self, args: &[&str]) -> String {
        common::peer_ok(self.cmd().args(args))
    }
    fn logs(&self, name: &str) -> String {
        self.ok(&["logs", name])
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "-f", "-a"]).output();
        let _ = self.cmd().args(["rmi", "-f", "-a"]).output();
    }
}

/// The counter's numbers in `logs` count on by one: a restore that
/// restarted the process would start again at 0.
fn assert_counted_on(logs: &str, before: u64) {
    let nums: Vec<u64> = logs.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert!(nums.contains(&before), "{before} not in {nums:?}");
    for w in nums.windows(2) {
        assert_eq!(w[1], w[0] + 1, "counted on without restarting: {nums:?}");
    }
}

/// Issue 15 item 5: `vouch container restore -i` of archives written by
/// `podman container checkpoint -e` (podman 4.3.1, runc, CRIU 4.2.1): the
/// httpd answers, the counter counts on, and podman's binds are mapped.
#[test]
fn podman_archives_restore_in_vouch() {
    require_criu!();
    require_tools!("podman");
    let h = Host::new();
    let p = Podman::with_image_of(&h);
    let img = h.httpd();
    let port = free_port();
    let publish = format!("{port}:80");
    let pid = p.ok(&["run", "-d", "--name", "p_httpd", "-p", &publish, img]);
    let pid = pid.trim();
    assert!(http_get(port, "/").contains("vouch httpd fixture"));
    let ar = p.dir.path().join("httpd.tar.zst");
    let ar_s = ar.to_str().unwrap();
    p.ok(&["container", "checkpoint", "-e", ar_s, "p_httpd"]);
    p.ok(&["rm", "p_httpd"]);
    // podman's container runs without no_new_privs, which vouch's never do,
    // and publishes a host port: both must be granted.
    let err = h.fails(2, &["container", "restore", "-i", ar_s]);
    assert!(
        err.contains(&format!("grants host ports {port}:80/tcp")),
        "{err}"
    );
    h.assert_gone(pid);
    let out = h
        .cmd()
        .args(["container", "restore", "-p", &publish])
        .args(["--grant-archive-privileges", "-i", ar_s])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), pid);
    assert!(stderr.contains("no_new_privs off"), "{stderr}");
    assert!(http_get(port, "/").contains("vouch httpd fixture"));
    let ps = h.ok(&["ps"]);
    assert!(ps.contains("p_httpd") && ps.contains("Up "), "{ps}");
    // podman's /run/.containerenv and /dev/shm are there, as vouch's.
    let env = h.ok(&["exec", "p_httpd", "cat", "/run/.containerenv"]);
    assert!(env.contains(&format!("id=\"{pid}\"")), "{env}");
    h.ok(&["exec", "p_httpd", "touch", "/dev/shm/x"]);
    h.ok(&["stop", "-t", "1", "p_httpd"]);
    h.ok(&["rm", "p_httpd"]);
    h.assert_gone(pid);

    let cid = p.ok(&["run", "-d", "--name", "p_counter", img, "sh", "-c", COUNTER]);
    let cid = cid.trim();
    wait_for("podman's counter to reach 5", 10, || {
        last_number(&p.logs("p_counter")).is_some_and(|n| n >= 5)
    });
    p.ok(&["container", "checkpoint", "-e", ar_s, "p_counter"]);
    let before = last_number(&p.logs("p_counter")).unwrap();
    p.ok(&["rm", "p_counter"]);
    h.ok(&[
        "container",
        "restore",
        "--grant-archive-privileges",
        "-i",
        ar_s,
    ]);
    wait_for("the counter to go on in vouch", 10, || {
        last_number(&h.logs("p_counter")).is_some_and(|n| n >= before + 3)
    });
    assert_counted_on(&h.logs("p_counter"), before);
    h.ok(&["rm", "-f", "p_counter"]);
    h.assert_gone(cid);
}

/// A podman bind vouch has nothing for (a host directory) is refused by
/// name before anything is made.
#[test]
fn podman_archive_with_a_host_bind_is_refused() {
    require_criu!();
    require_tools!("podman");
    let h = Host::new();
    let p = Podman::with_image_of(&h);
    let data = p.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let vol = format!("{}:/data", data.display());
    let id = p.ok(&["run", "-d", "--name", "p_vol", "-v", &vol, h.httpd()]);
    let ar = p.dir.path().join("vol.tar.zst");
    let ar_s = ar.to_str().unwrap();
    p.ok(&["container", "checkpoint", "-e", ar_s, "p_vol"]);
    let err = h.fails(
        2,
        &[
            "container",
            "restore",
            "--grant-archive-privileges",
            "-i",
            ar_s,
        ],
    );
    assert!(
        err.contains(&format!(
            "spec.dump: field `mounts`: the bind mount of {:?} at /data: vouch maps only",
            data.display().to_string()
        )),
        "{err}"
    );
    h.assert_gone(id.trim());
}

/// Issue 15 item 5: `podman container restore -i` of archives written by
/// `vouch container checkpoint -e`.
#[test]
fn vouch_archives_restore_in_podman() {
    require_criu!();
    require_tools!("podman");
    let h = Host::new();
    let p = Podman::with_image_of(&h);
    let img = h.httpd();
    let port = free_port();
    let publish = format!("{port}:80");
    let id = h.ok(&["run", "-d", "--name", "v_httpd", "-p", &publish, img]);
    let id = id.trim();
    assert!(http_get(port, "/").contains("vouch httpd fixture"));
    let ar = p.dir.path().join("v_httpd.tar.zst");
    let ar_s = ar.to_str().unwrap();
    h.ok(&["container", "checkpoint", "-e", ar_s, "v_httpd"]);
    h.ok(&["rm", "v_httpd"]);
    h.assert_gone(id);
    assert_eq!(p.ok(&["container", "restore", "-i", ar_s]).trim(), id);
    assert!(http_get(port, "/").contains("vouch httpd fixture"));
    let ps = p.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("v_httpd Up"), "{ps}");
    p.ok(&["rm", "-f", "v_httpd"]);

    h.ok(&["run", "-d", "--name", "v_counter", img, "sh", "-c", COUNTER]);
    wait_for("vouch's counter to reach 5", 10, || {
        last_number(&h.logs("v_counter")).is_some_and(|n| n >= 5)
    });
    h.ok(&["container", "checkpoint", "-e", ar_s, "v_counter"]);
    let before = last_number(&h.logs("v_counter")).unwrap();
    h.ok(&["rm", "v_counter"]);
    p.ok(&["container", "restore", "-i", ar_s]);
    wait_for("the counter to go on in podman", 10, || {
        last_number(&p.logs("v_counter")).is_some_and(|n| n >= before + 3)
    });
    assert_counted_on(&p.logs("v_counter"), before);
}
