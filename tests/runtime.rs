//! `vouch run` end to end with real runc, overlayfs, netns and nftables:
//! the podman tutorial's first half command for command, then each piece
//! of the lifecycle. Tests skip with a printed reason when not root or
//! when runc/nft/ip are missing.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, http_get, ContainerGuard, Registry, Vouch};

/// The podman tutorial's first half, with the fixture httpd image pushed to
/// a test registry and pulled by `run` (the same path as `vouch pull`).
#[test]
fn tutorial_first_half() {
    require_runtime!();
    let reg = Registry::start();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    v.import_httpd("localhost/httpd");
    let remote = format!("{}/httpd", reg.host());
    v.ok(&["push", "--tls-verify=false", "localhost/httpd", &remote]);
    v.ok(&["rmi", "localhost/httpd"]);
    let port = free_port();
    let publish = format!("{port}:80/tcp");
    // vouch run --name basic_httpd -dt -p 8080:80/tcp localhost:5000/httpd
    let id = v.ok(&[
        "run",
        "--tls-verify=false",
        "--name",
        "basic_httpd",
        "-dt",
        "-p",
        &publish,
        &remote,
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "prints the container ID: {id:?}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let ps = v.ok(&["ps"]);
    assert!(
        ps.lines().next().unwrap().starts_with("CONTAINER ID"),
        "{ps}"
    );
    let row = ps
        .lines()
        .find(|l| l.contains("basic_httpd"))
        .expect("ps lists it");
    assert!(row.starts_with(&id[..12]) && row.contains("Up "), "{row}");
    assert!(row.contains(&format!("0.0.0.0:{port}->80/tcp")), "{row}");
    assert!(v.ok(&["ps", "-a"]).contains("basic_httpd"));

    let inspect = v.ok(&["inspect", "basic_httpd"]);
    let ip_line = inspect
        .lines()
        .find(|l| l.contains("\"IPAddress\""))
        .expect("inspect | grep IPAddress");
    assert!(ip_line.contains("\"10."), "{ip_line}");
    let j = v.inspect("basic_httpd");
    assert_eq!(j["State"]["Status"], "running");
    assert_eq!(
        j["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );

    // curl http://localhost:8080
    let page = http_get(port, "/");
    assert!(
        page.contains("200 OK") && page.contains("vouch httpd fixture"),
        "{page}"
    );

    // logs: httpd -v logs each request on stderr.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !v.ok(&["logs", "basic_httpd"]).contains("response:200") {
        assert!(Instant::now() < deadline, "request never logged");
        std::thread::sleep(Duration::from_millis(50));
    }

    let top = v.ok(&["top", "basic_httpd"]);
    let head: Vec<&str> = top.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]
    );
    assert!(
        top.lines()
            .nth(1)
            .unwrap()
            .contains("/bin/httpd -f -v -p 80 -h /www"),
        "{top}"
    );

    // stop: busybox httpd as PID 1 ignores SIGTERM, so stop escalates;
    // -t 1 keeps the test short (podman's default is 10).
    assert_eq!(
        v.ok(&["stop", "-t", "1", "basic_httpd"]).trim(),
        "basic_httpd"
    );
    let row = v
        .ok(&["ps", "-a"])
        .lines()
        .find(|l| l.contains("basic_httpd"))
        .unwrap()
        .to_string();
    assert!(row.contains("Exited (137)"), "{row}");
    assert!(!v.ok(&["ps"]).contains("basic_httpd"));

    v.ok(&["rm", "basic_httpd"]);
    assert!(!v.ok(&["ps", "-a"]).contains("basic_httpd"));
    v.assert_container_gone(&id);
}

#[test]
fn attached_run_returns_the_exit_code_and_streams() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let (code, out, err) = v.run3(&[
        "run",
        "--rm",
        "--network",
        "none",
        img,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(out, "out\n");
    assert_eq!(err, "err\n");
    assert!(v.ok(&["ps", "-a", "-q"]).is_empty(), "--rm removed it");
    // -i passes stdin through; -t gives the container a terminal.
    let mut c = v.cmd();
    c.args(["run", "-i", "--rm", "--network", "none", img, "cat"]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"through stdin\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n");
    let out = v.ok(&["run", "-t", "--rm", "--network", "none", img, "tty"]);
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    // (A signal from inside cannot kill PID 1 of a pid namespace; 128+n
    // exits are covered by stop/kill from outside in the other tests.)
}

/// `run -it` at a real terminal (fixtures/pty-session.py): the local
/// terminal goes raw (typed text is echoed once, by the container's pty,
/// not also by ours), the container's pty starts at the terminal's size
/// and follows a resize (SIGWINCH), and the exit code comes back.
#[test]
fn attached_it_is_raw_and_follows_the_window_size() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let script = "echo READY; stty size; read x; echo \"got:$x\"; i=0; \
        while [ $i -lt 100 ]; do s=$(stty size); \
        [ \"$s\" = \"50 100\" ] && { echo \"resized:$s\"; exit 3; }; \
        sleep 0.1; i=$((i+1)); done; exit 4";
    let mut c = common::pty_session(["41", "132"], &v.cmd());
    c.args([
        "run",
        "--rm",
        "-it",
        "--network",
        "none",
        img,
        "sh",
        "-c",
        script,
    ]);
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (transcript, code) = text.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(code, "3", "{text}");
    assert!(transcript.contains("41 132"), "initial size: {transcript}");
    assert_eq!(
        transcript.matches("hello").count(),
        2,
        "one echo (the container's) and got:hello: {transcript}"
    );
    assert!(transcript.contains("resized:50 100"), "{transcript}");
}

#[test]
fn image_config_and_flags_reach_the_process() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let envfile = v.home.path().join("env");
    std::fs::write(&envfile, "# comment\nFROMFILE=yes\n").unwrap();
    let out = v.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        "FOO=bar",
        "--env-file",
        envfile.to_str().unwrap(),
        "-w",
        "/www",
        "-u",
        "www-data",
        "--hostname",
        "myhost",
        "--entrypoint",
        "/bin/sh",
        img,
        "-c",
        "echo $FOO $FROMFILE; pwd; id -u; id -g; hostname; cat /etc/hostname; echo $PATH",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..6],
        ["bar yes", "/www", "33", "33", "myhost", "myhost"],
        "{out}"
    );
    assert!(lines[6].contains("/usr/bin"), "{out}");
    // The image's Cmd runs when no command is given (httpd -f stays up).
    let id = v
        .ok(&["run", "-d", "--network", "none", img])
        .trim()
        .to_string();
    let j = v.inspect(&id);
    assert_eq!(j["Config"]["Cmd"][0], "/bin/httpd");
    assert_eq!(j["Config"]["Hostname"].as_str().unwrap(), &id[..12]);
    v.ok(&["rm", "-f", &id]);
    v.assert_container_gone(&id);
    // Unknown user: a clear error, nothing left.
    let err = v.fails(
        125,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-u",
            "nosuchuser",
            img,
            "true",
        ],
    );
    assert!(err.contains("nosuchuser"), "{err}");
    assert!(v.ok(&["ps", "-a", "-q"]).is_empty());
}

#[test]
fn logs_tail_since_timestamps_and_follow() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let id = v
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "talker",
            img,
            "sh",
            "-c",
            "echo one; echo two; printf part; sleep 1; echo ial; echo three >&2",
        ])
        .trim()
        .to_string();
    // -f returns once the container has exited and the log is drained.
    let started = Instant::now();
    let all = v.ok(&["logs", "-f", "talker"]);
    assert_eq!(all, "one\ntwo\npartial\nthree\n");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(v.ok(&["logs", "--tail", "2", "talker"]), "partial\nthree\n");
    let ts = v.ok(&["logs", "-t", "--tail", "1", "talker"]);
    let stamp = ts.split(' ').next().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok(), "{ts}");
    let raw =
        std::fs::read_to_string(v.root().join("containers").join(&id).join("ctr.log")).unwrap();
    assert!(raw.lines().any(|l| l.contains(" stdout P part")), "{raw}");
    assert!(raw.lines().any(|l| l.contains(" stderr F three")), "{raw}");
    assert_eq!(v.ok(&["logs", "--since", "2999-01-01", "talker"]), "");
    assert_eq!(v.ok(&["wait", "talker"]).trim(), "0");
}

#[test]
fn network_modes_none_host_and_bridge() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let ifaces = |net: &str| v.ok(&["run", "--rm", "--network", net, img, "cat", "/proc/net/dev"]);
    let none = ifaces("none");
    assert!(none.contains("lo:") && !none.contains("eth0"), "{none}");
    let bridge = ifaces("bridge");
    assert!(bridge.contains("eth0:"), "{bridge}");
    let inside = v.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        img,
        "readlink",
        "/proc/self/ns/net",
    ]);
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(inside.trim(), host.to_str().unwrap(), "host netns shared");
    let own = v.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        img,
        "readlink",
        "/proc/self/ns/net",
    ]);
    assert_ne!(own.trim(), host.to_str().unwrap());
    // The bridge gives a route out of the container to the host's bridge address.
    let route = v.ok(&["run", "--rm", img, "ip", "route"]);
    assert!(route.contains("default via 10."), "{route}");
}

#[test]
fn kill_wait_start_restart_exec_keep_the_address() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let script = "trap 'exit 7' TERM; while true; do sleep 0.1; done";
    let id = v
        .ok(&["run", "-d", "--name", "looper", img, "sh", "-c", script])
        .trim()
        .to_string();
    let ip = v.inspect("looper")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v.ok(&["exec", "looper", "echo", "hi"]), "hi\n");
    let (code, _, _) = v.run3(&["exec", "looper", "sh", "-c", "exit 4"]);
    assert_eq!(code, 4);
    v.ok(&["kill", "-s", "TERM", "looper"]);
    assert_eq!(v.ok(&["wait", "looper"]).trim(), "7");
    assert!(v.ok(&["ps", "-a"]).contains("Exited (7)"));
    v.ok(&["start", "looper"]);
    assert_eq!(v.inspect("looper")["State"]["Status"], "running");
    assert_eq!(
        v.inspect("looper")["NetworkSettings"]["IPAddress"],
        ip.as_str(),
        "stable address"
    );
    v.ok(&["restart", "-t", "1", "looper"]);
    assert_eq!(v.inspect("looper")["State"]["Status"], "running");
    let err = v.fails(2, &["rm", "looper"]);
    assert!(err.contains("running"), "{err}");
    v.ok(&["rm", "-f", "looper"]);
    v.assert_container_gone(&id);
}

#[test]
fn read_only_caps_and_cgroup_limits() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let (code, _, err) = v.run3(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--read-only",
        img,
        "touch",
        "/x",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("Read-only"), "{err}");
    let (code, _, _) = v.run3(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cap-drop",
        "chown",
        img,
        "chown",
        "33",
        "/www",
    ]);
    assert_ne!(code, 0, "CAP_CHOWN dropped");
    v.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        img,
        "chown",
        "33",
        "/www",
    ]);
    let caps = v.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cap-add",
        "net_admin",
        img,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    let eff = u64::from_str_radix(caps.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_ne!(eff & (1 << 12), 0, "CAP_NET_ADMIN added: {caps}");
    assert_eq!(eff & (1 << 21), 0, "no CAP_SYS_ADMIN");
    // The limits, read from the cgroup the container's init actually got,
    // on whichever hierarchy holds the controller (v1 or v2).
    let id = v
        .ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--memory",
            "64m",
            "--pids-limit",
            "10",
            img,
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let pid = v.inspect(&id)["State"]["Pid"].as_u64().unwrap();
    assert_ne!(pid, 0, "container {id} has an init pid");
    let (file, lim) = cgroup_limit(pid, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(lim, (64u64 << 20).to_string(), "{file}");
    let (file, lim) = cgroup_limit(pid, "pids", "pids.max", "pids.max");
    assert_eq!(lim, "10", "{file}");
    v.ok(&["rm", "-f", &id]);
    let nofile = v.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        img,
        "sh",
        "-c",
        "ulimit -n",
    ]);
    let hard = std::process::Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .unwrap();
    let hard: u64 = String::from_utf8_lossy(&hard.stdout)
        .trim()
        .parse()
        .unwrap_or(u64::MAX);
    assert!(
        nofile.trim().parse::<u64>().unwrap() <= hard,
        "rlimit clamped: {nofile}"
    );
}

#[test]
fn bad_input_is_refused_with_nothing_created() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let count = || v.ok(&["ps", "-a", "-q"]).lines().count();
    let e = v.fails(
        125,
        &[
            "run",
            "--network",
            "none",
            "localhost/no-such-image-here",
            "true",
        ],
    );
    assert!(e.contains("no-such-image-here"), "{e}");
    let e = v.fails(2, &["stop", "nosuchcontainer"]);
    assert!(e.contains("no such container: nosuchcontainer"), "{e}");
    for bad in ["abc:80", "8080:0", "8080:80/sctp", "1.2.3:8080:80"] {
        let e = v.fails(125, &["run", "-d", "-p", bad, img]);
        assert!(e.contains("invalid port mapping"), "{bad}: {e}");
    }
    let e = v.fails(
        125,
        &[
            "run",
            "--network",
            "none",
            "--runtime",
            "/nonexistent/runc",
            img,
            "true",
        ],
    );
    assert!(e.contains("/nonexistent/runc"), "{e}");
    let e = v.fails(
        125,
        &[
            "run",
            "--network",
            "none",
            "--name",
            "bad/name",
            img,
            "true",
        ],
    );
    assert!(e.contains("bad/name"), "{e}");
    assert_eq!(count(), 0, "nothing half-created");

    v.ok(&["run", "-d", "--network", "none", "--name", "taken", img]);
    let e = v.fails(
        125,
        &["run", "-d", "--network", "none", "--name", "taken", img],
    );
    assert!(e.contains("already in use"), "{e}");
    assert_eq!(count(), 1);

    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let busy = l.local_addr().unwrap().port();
    let e = v.fails(125, &["run", "-d", "-p", &format!("{busy}:80"), img]);
    assert!(
        e.contains(&format!("{busy}")) && e.contains("in use"),
        "{e}"
    );
    assert_eq!(count(), 1, "port conflict created nothing");
    // A start that fails inside the runtime, with a bridge and a published
    // port set up: everything is undone (the error names the container).
    let port = free_port().to_string();
    let e = v.fails(
        127,
        &["run", "-p", &format!("{port}:80"), img, "/no/such/binary"],
    );
    assert!(e.contains("/no/such/binary"), "{e}");
    assert_eq!(count(), 1, "failed start is removed");
    let id = e
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)
        .unwrap_or_else(|| panic!("no container ID in {e}"))
        .to_string();
    v.assert_container_gone(&id);
    std::net::TcpListener::bind(("0.0.0.0", port.parse::<u16>().unwrap())).expect("port released");
    v.ok(&["rm", "-f", "taken"]);
}

/// SIGKILL of a monitor: `ps -a` shows the container as exited and
/// `rm -f` cleans everything up.
#[test]
fn monitor_sigkill_is_noticed_and_cleaned_up() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let img = v.httpd();
    let port = free_port();
    let id = v
        .ok(&["run", "-d", "-p", &format!("{port}:80"), img])
        .trim()
        .to_string();
    let monitor = v.inspect(&id)["State"]["ConmonPid"].as_i64().unwrap();
    assert!(monitor > 0);
    std::process::Command::new("kill")
        .args(["-9", &monitor.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ps = v.ok(&["ps", "-a"]);
        if ps.contains("Exited") {
            break;
        }
        assert!(Instant::now() < deadline, "{ps}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(v.ok(&["ps", "-q"]).is_empty());
    v.ok(&["rm", "-f", &id]);
    v.assert_container_gone(&id);
    // The port is free again.
    std::net::TcpListener::bind(("0.0.0.0", port)).expect("port released");
}

/// `ip -j ARGS` parsed; None when `ip` fails (no such link or netns).
fn ip_json(args: &[&str]) -> Option<serde_json::Value> {
    let out = std::process::Command::new("ip")
        .arg("-j")
        .args(args)
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn flags(v: &serde_json::Value) -> Vec<&str> {
    v["flags"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f.as_str()).collect())
        .unwrap_or_default()
}

/// The bridge network is configured over netlink from the vouch process:
/// `ip -j` is the independent peer that checks the result. eth0 in the
/// named netns has the address, the MAC derived from it and the default
/// route; the host side is enslaved and up with a neighbour entry; `ip
/// netns` sees the namespace; the caller's own netns never changes. A
/// failing setup says which container and step in one line; teardown
/// (repeated, and after a half-made setup) leaves nothing.
#[test]
fn bridge_over_netlink_is_what_ip_sees_and_teardown_leaves_nothing() {
    require_runtime!();
    use std::path::Path;
    use vouch_runtime::net::{bridge, netns, NetConfig};
    let run = Path::new(vouch_runtime::engine::NET_DIR);
    let cfg = NetConfig::from_env().unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = vouch_runtime::id::ContainerId::parse(&format!(
        "{:032x}{:032x}",
        nanos,
        std::process::id()
    ))
    .unwrap();
    let ns = bridge::netns_name(&id);
    let hv = bridge::host_veth(&id);
    let own_ns = std::fs::read_link("/proc/self/ns/net").unwrap();

    let ip = bridge::setup(run, &cfg, &id, None, &[]).unwrap();
    let ip_s = ip.to_string();
    let eth0 = &ip_json(&["-n", &ns, "addr", "show", "dev", "eth0"]).expect("eth0 in the netns")[0];
    assert_eq!(eth0["address"], bridge::mac_for(ip).to_string(), "{eth0}");
    assert!(flags(eth0).contains(&"UP"), "{eth0}");
    let inet: Vec<_> = eth0["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["family"] == "inet")
        .collect();
    assert_eq!(inet.len(), 1, "{eth0}");
    assert_eq!(inet[0]["local"], ip_s.as_str());
    assert_eq!(inet[0]["prefixlen"], cfg.subnet.len);
    assert!(
        inet[0].get("broadcast").is_none(),
        "as `ip addr add`: {eth0}"
    );
    let lo = &ip_json(&["-n", &ns, "link", "show", "lo"]).unwrap()[0];
    assert!(flags(lo).contains(&"UP"), "{lo}");
    let route = ip_json(&["-n", &ns, "route", "show", "default"]).unwrap();
    assert_eq!(
        route[0]["gateway"],
        cfg.subnet.gateway().to_string().as_str(),
        "{route}"
    );
    assert_eq!(route[0]["dev"], "eth0", "{route}");
    let host = &ip_json(&["link", "show", &hv]).expect("host veth")[0];
    assert_eq!(host["master"], cfg.bridge.as_str(), "{host}");
    assert!(flags(host).contains(&"UP"), "{host}");
    let neigh = ip_json(&["neigh", "show", "dev", &cfg.bridge, "to", &ip_s]).unwrap();
    assert_eq!(
        neigh[0]["lladdr"],
        bridge::mac_for(ip).to_string(),
        "{neigh}"
    );
    let listed = ip_json(&["netns", "list"]).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == ns.as_str()),
        "{listed}"
    );
    assert_eq!(std::fs::read_link("/proc/self/ns/net").unwrap(), own_ns);

    let gone = |what: &str, ip_s: &str| {
        assert!(!bridge::netns_path(&id).exists(), "{what}: netns left");
        assert!(
            ip_json(&["link", "show", &hv]).is_none(),
            "{what}: veth left"
        );
        assert!(
            !run.join("ipam").join(&cfg.bridge).join(ip_s).exists(),
            "{what}: lease left"
        );
    };
    bridge::teardown(run, &cfg.bridge, &id, Some(ip));
    gone("teardown", &ip_s);
    bridge::teardown(run, &cfg.bridge, &id, Some(ip));
    gone("second teardown", &ip_s);

    // A netns that something else still holds (here an open fd) keeps
    // its eth0, so teardown deletes the host veth itself.
    let ip = bridge::setup(run, &cfg, &id, None, &[]).unwrap();
    let hold = std::fs::File::open(bridge::netns_path(&id)).unwrap();
    bridge::teardown(run, &cfg.bridge, &id, Some(ip));
    gone("teardown of a held netns", &ip.to_string());
    drop(hold);

    // Half made: only the netns (as if setup died right after it).
    netns::prepare_dir().unwrap();
    netns::create(&bridge::netns_path(&id), || Ok(())).unwrap();
    bridge::teardown(run, &cfg.bridge, &id, None);
    gone("half-made teardown", &ip_s);

    // A setup that fails names the container, the step and the kernel's
    // error on one line, and undoes itself.
    std::fs::write(bridge::netns_path(&id), "").unwrap();
    // The message is the error with its causes, as the CLI prints it.
    let e = vouch_image::chain::one_line(&bridge::setup(run, &cfg, &id, None, &[]).unwrap_err());
    assert!(
        e.contains(id.as_str())
            && e.contains(&format!(
                "creating netns: creating {}",
                bridge::netns_path(&id).display()
            )),
        "{e}"
    );
    assert!(e.contains("File exists"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    assert!(ip_json(&["link", "show", &hv]).is_none());
    assert!(!bridge::netns_path(&id).exists());
}

/// The value of `controller`'s limit file for process `pid`: `v1` in the
/// controller's own v1 hierarchy if it has one, else `v2` in the unified
/// hierarchy (pure v2 at /sys/fs/cgroup, hybrid at /sys/fs/cgroup/unified),
/// both found from /proc/PID/cgroup. Returns (file, trimmed contents).
fn cgroup_limit(pid: u64, controller: &str, v1: &str, v2: &str) -> (String, String) {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mut unified = None;
    for line in cg.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(h), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrls.split(',').any(|c| c == controller) {
            let file = format!("/sys/fs/cgroup/{controller}{path}/{v1}");
            let v = std::fs::read_to_string(&file).unwrap();
            return (file, v.trim().to_string());
        }
        if h == "0" && ctrls.is_empty() {
            unified = Some(path.to_string());
        }
    }
    let path = unified.unwrap_or_else(|| panic!("no {controller} cgroup in:\n{cg}"));
    let base = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    let file = format!("{base}{path}/{v2}");
    let v = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{controller} limit of pid {pid}: {file}: {e}\n{cg}"));
    (file, v.trim().to_string())
}
