//! End-to-end tests of `vouch sigstore-server` (issue 4): the real binary on
//! a real socket, spoken to in raw HTTP/1.1 because HTTP clients normalise
//! the very paths these tests are about.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{http_status, trust_fixture, SigServer};

const HEX: &str = "20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";
const TOKEN: &str = "ci-token-0123456789abcdef";

fn signature() -> Vec<u8> {
    trust_fixture("signature/fixtures/image.signature")
}

fn sig_dir(root: &Path) -> PathBuf {
    root.join(format!("ns/app@sha256={HEX}"))
}

/// A root with tokens: TOKEN may publish under `ns/app`, "other-…" under `other`.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let tokens = dir.path().join("tokens");
    let line = |t: &str, p: &str| {
        use sha2::Digest as _;
        format!(
            "sha256:{} {p}\n",
            hex::encode(sha2::Sha256::digest(t.as_bytes()))
        )
    };
    std::fs::write(
        &tokens,
        line(TOKEN, "ns/app") + &line("other-token-0123456789", "other"),
    )
    .unwrap();
    (dir, root, tokens)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|n| (n.len(), n.clone()));
    v
}

fn post_sig(s: &SigServer, token: Option<&str>, digest_hex: &str, body: &[u8]) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    s.request(
        "POST",
        &format!("/ns/app@sha256={digest_hex}/signatures"),
        &headers,
        body,
    )
}

#[test]
fn sigstore_server_serves_signatures_with_caching_headers() {
    let (_d, root, _) = setup();
    std::fs::create_dir_all(sig_dir(&root)).unwrap();
    std::fs::write(sig_dir(&root).join("signature-1"), signature()).unwrap();
    let s = SigServer::start(&root, &["--max-age", "600"]);
    let path = format!("/ns/app@sha256={HEX}/signature-1");

    let (st, resp) = s.request("GET", &path, &[], b"");
    assert_eq!(st, 200, "{resp}");
    let lower = resp.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/octet-stream"),
        "{resp}"
    );
    assert!(
        lower.contains("cache-control: public, max-age=600, immutable"),
        "{resp}"
    );
    assert_eq!(s.get_body(&path), signature());
    let etag = lower
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap()
        .trim()
        .to_string();

    let (st, resp) = s.request("HEAD", &path, &[], b"");
    assert_eq!(st, 200);
    assert!(resp
        .to_ascii_lowercase()
        .contains(&format!("content-length: {}", signature().len())));
    assert!(
        resp.ends_with("\r\n\r\n"),
        "HEAD must not send a body: {resp:?}"
    );

    let (st, _) = s.request("GET", &path, &[("If-None-Match", &etag)], b"");
    assert_eq!(st, 304);
    let (st, _) = s.request("GET", &path, &[("If-None-Match", "\"stale\"")], b"");
    assert_eq!(st, 200);
    // Clients read signature-1, -2, … and stop at the first 404.
    let (st, resp) = s.request(
        "GET",
        &format!("/ns/app@sha256={HEX}/signature-2"),
        &[],
        b"",
    );
    assert_eq!(st, 404);
    assert!(resp
        .to_ascii_lowercase()
        .contains("cache-control: no-cache"));

    // Keep-alive: two requests on one connection.
    let two = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(s.raw(two.as_bytes()).matches("HTTP/1.1 200").count(), 2);
}

#[test]
fn sigstore_server_refuses_traversal_over_a_real_socket() {
    let (d, root, _) = setup();
    std::fs::write(d.path().join("secret"), "TOP-SECRET").unwrap();
    std::fs::create_dir_all(sig_dir(&root)).unwrap();
    std::os::unix::fs::symlink(d.path().join("secret"), sig_dir(&root).join("signature-1"))
        .unwrap();
    std::os::unix::fs::symlink("../../../secret", sig_dir(&root).join("signature-2")).unwrap();
    std::fs::write(d.path().join("signature-1"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(d.path(), root.join(format!("escape@sha256={HEX}"))).unwrap();
    std::fs::create_dir_all(root.join(format!("out@sha256={HEX}"))).unwrap();
    std::os::unix::fs::symlink(
        d.path().join("secret"),
        root.join(format!("out@sha256={HEX}/signature-1")),
    )
    .unwrap();
    let s = SigServer::start(&root, &[]);
    let targets = [
        format!("/ns/app@sha256={HEX}/signature-1"),
        format!("/ns/app@sha256={HEX}/signature-2"),
        format!("/out@sha256={HEX}/signature-1"),
        "/../secret".into(),
        "/../../../../etc/passwd".into(),
        "/%2e%2e/secret".into(),
        "/%2E%2E/%2E%2E/etc/passwd".into(),
        "/.%2e/secret".into(),
        "/%252e%252e/secret".into(),
        "/..%2fsecret".into(),
        "/..%2Fsecret".into(),
        "/..%5csecret".into(),
        "/..\\secret".into(),
        "/..\\..\\etc\\passwd".into(),
        format!("/ns/app@sha256={HEX}/signature-1%00"),
        format!("/ns/app@sha256={HEX}/signature-1%00.txt"),
        "//etc/passwd".into(),
        "/etc/passwd".into(),
        format!("/ns/app@sha256={HEX}/../../../secret"),
        format!("/ns/./app@sha256={HEX}/signature-1"),
        "/%c0%ae%c0%ae/secret".into(),
        "/..;/secret".into(),
        "http://x/../secret".into(),
        "/root/../secret".into(),
        format!("/escape@sha256={HEX}/signature-1"),
        "/%uff0e%uff0e/secret".into(),
        "*".into(),
    ];
    assert!(targets.len() >= 20);
    for t in &targets {
        let resp =
            s.raw(format!("GET {t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        let st = http_status(&resp);
        assert!(matches!(st, 400 | 404), "{t}: {resp}");
        assert!(
            !resp.contains("TOP-SECRET") && !resp.contains("root:x:0"),
            "{t} leaked: {resp}"
        );
        assert!(
            !resp.contains(d.path().to_str().unwrap()),
            "{t} leaked a path: {resp}"
        );
    }
    // A NUL byte in the request line: refused by the HTTP parser, no file read.
    let resp = s.raw(b"GET /ns/app\0/x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(matches!(http_status(&resp), 0 | 400), "{resp}");
    // Still serving afterwards.
    assert_eq!(s.request("GET", "/healthz", &[], b"").0, 200);
}

#[test]
fn sigstore_server_refuses_absolute_and_authority_form_targets() {
    let (_d, root, tokens) = setup();
    std::fs::create_dir_all(sig_dir(&root)).unwrap();
    std::fs::write(sig_dir(&root).join("signature-1"), signature()).unwrap();
    let s = SigServer::start(&root, &["--tokens", tokens.to_str().unwrap()]);
    let path = format!("/ns/app@sha256={HEX}/signature-1");
    let send = |method: &str, target: &str, extra: &str| {
        s.raw(
            format!("{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n")
                .as_bytes(),
        )
    };
    // The origin form of the same file is served.
    assert_eq!(http_status(&send("GET", &path, "")), 200);
    let sig = signature();
    let upload = format!(
        "Authorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n",
        sig.len()
    );
    let absolute = [
        ("GET", format!("http://{}{path}", s.addr), ""),
        ("HEAD", format!("http://x{path}"), ""),
        ("GET", format!("HTTP://X{path}"), ""),
        ("GET", format!("https://x:443{path}"), ""),
        ("GET", "http://x/healthz".to_string(), ""),
        ("GET", "http://x/metrics".to_string(), ""),
        ("OPTIONS", "http://x/".to_string(), ""),
    ];
    for (m, t, extra) in &absolute {
        let resp = send(m, t, extra);
        assert_eq!(http_status(&resp), 400, "{m} {t}: {resp}");
        if *m != "HEAD" {
            assert!(
                resp.contains(
                    "{\"error\":\"absolute-form request target refused: send the path only\"}"
                ),
                "{m} {t}: {resp}"
            );
        }
    }
    let authority = [
        ("CONNECT", s.addr.clone()),
        ("GET", "x:80".into()),
        ("GET", "x".into()),
    ];
    for (m, t) in &authority {
        let resp = send(m, t, "");
        assert_eq!(http_status(&resp), 400, "{m} {t}: {resp}");
        assert!(
            resp.contains(
                "{\"error\":\"authority-form request target refused: this server is not a proxy\"}"
            ),
            "{m} {t}: {resp}"
        );
    }
    // An absolute-form upload is refused before its token or body is looked at.
    let mut req = format!(
        "POST http://x/ns/app@sha256={HEX}/signatures HTTP/1.1\r\nHost: x\r\n{upload}Connection: close\r\n\r\n"
    )
    .into_bytes();
    req.extend_from_slice(&sig);
    assert_eq!(http_status(&s.raw(&req)), 400);
    assert_eq!(names(&sig_dir(&root)), ["signature-1"], "an upload landed");
    // Asterisk-form belongs to OPTIONS alone; `OPTIONS *` is valid HTTP and
    // gets what any OPTIONS gets here (405 with Allow), not a 400.
    let resp = send("GET", "*", "");
    assert_eq!(http_status(&resp), 400, "{resp}");
    assert!(
        resp.contains("asterisk-form request target is only for OPTIONS"),
        "{resp}"
    );
    let resp = send("OPTIONS", "*", "");
    assert_eq!(http_status(&resp), 405, "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("allow: get, head, post, put"),
        "{resp}"
    );
    // The refusals are logged and counted like any request.
    let (_, m) = s.request("GET", "/metrics", &[], b"");
    assert!(
        m.contains("sigstore_http_requests_total{method=\"GET\",status=\"400\"} 8"),
        "{m}"
    );
}

#[test]
fn sigstore_server_uploads_need_the_right_token_and_a_matching_signature() {
    let (_d, root, tokens) = setup();
    let s = SigServer::start(
        &root,
        &["--tokens", tokens.to_str().unwrap(), "--max-body", "8192"],
    );
    let sig = signature();
    assert_eq!(post_sig(&s, None, HEX, &sig).0, 401);
    assert_eq!(
        post_sig(&s, Some("wrong-token-0123456789"), HEX, &sig).0,
        401
    );
    assert_eq!(
        post_sig(&s, Some("other-token-0123456789"), HEX, &sig).0,
        403
    );
    assert!(
        names(&root).is_empty(),
        "a refused upload wrote {:?}",
        names(&root)
    );

    let other = "1".repeat(64);
    assert_eq!(
        post_sig(&s, Some(TOKEN), &other, &sig).0,
        400,
        "digest mismatch"
    );
    assert_eq!(post_sig(&s, Some(TOKEN), HEX, b"garbage").0, 400);
    assert_eq!(post_sig(&s, Some(TOKEN), HEX, &sig[..100]).0, 400);
    assert_eq!(post_sig(&s, Some(TOKEN), HEX, &vec![0xa3; 10000]).0, 413);
    assert!(names(&sig_dir(&root)).is_empty());

    let (st, resp) = post_sig(&s, Some(TOKEN), HEX, &sig);
    assert_eq!(st, 201, "{resp}");
    assert!(
        resp.contains(&format!("location: /ns/app@sha256={HEX}/signature-1")),
        "{resp}"
    );
    let auth = format!("Bearer {TOKEN}");
    let put = |n: u32, inm: Option<&str>| {
        let mut h = vec![("Authorization", auth.as_str())];
        if let Some(v) = inm {
            h.push(("If-None-Match", v));
        }
        s.request(
            "PUT",
            &format!("/ns/app@sha256={HEX}/signature-{n}"),
            &h,
            &sig,
        )
        .0
    };
    assert_eq!(put(2, None), 428);
    assert_eq!(put(1, Some("*")), 412);
    assert_eq!(put(2, Some("*")), 201);
    assert_eq!(names(&sig_dir(&root)), ["signature-1", "signature-2"]);
    assert_eq!(
        std::fs::read(sig_dir(&root).join("signature-2")).unwrap(),
        sig
    );
    assert_eq!(
        s.get_body(&format!("/ns/app@sha256={HEX}/signature-2")),
        sig
    );
}

#[test]
fn sigstore_server_require_signer_accepts_only_keyring_signatures() {
    let (d, root, tokens) = setup();
    let keyring = d.path().join("release.gpg");
    std::fs::write(&keyring, trust_fixture("signature/fixtures/public-key.gpg")).unwrap();
    let s = SigServer::start(
        &root,
        &[
            "--tokens",
            tokens.to_str().unwrap(),
            "--require-signer",
            keyring.to_str().unwrap(),
        ],
    );
    let unknown = trust_fixture("signature/fixtures/unknown-key.signature");
    let (st, resp) = post_sig(&s, Some(TOKEN), HEX, &unknown);
    assert_eq!(st, 400, "{resp}");
    assert_eq!(post_sig(&s, Some(TOKEN), HEX, &signature()).0, 201);
    assert_eq!(names(&sig_dir(&root)), ["signature-1"]);
}

#[test]
fn sigstore_server_100_concurrent_posts_yield_signature_1_to_100() {
    let (_d, root, tokens) = setup();
    let s = SigServer::start(
        &root,
        &["--tokens", tokens.to_str().unwrap(), "--no-access-log"],
    );
    let sig = signature();
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..100)
            .map(|_| sc.spawn(|| post_sig(&s, Some(TOKEN), HEX, &sig).0))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let want: Vec<String> = (1..=100).map(|n| format!("signature-{n}")).collect();
    assert_eq!(
        names(&sig_dir(&root)),
        want,
        "gaps, duplicates or stray files"
    );
    for n in want {
        assert_eq!(
            std::fs::read(sig_dir(&root).join(&n)).unwrap(),
            sig,
            "{n} torn"
        );
    }
}

#[test]
fn sigstore_server_sigkill_during_uploads_leaves_no_partial_file() {
    let (_d, root, tokens) = setup();
    let mut s = SigServer::start(
        &root,
        &["--tokens", tokens.to_str().unwrap(), "--no-access-log"],
    );
    let sig = signature();
    // One upload is in flight (the server is reading its body) and stalls halfway…
    let mut stalled = start_upload(&s.addr, "", sig.len());
    stalled.write_all(&sig[..sig.len() / 2]).unwrap();
    // …while others complete or are cut off at random points.
    let addr = s.addr.clone();
    let head = format!(
        "POST /ns/app@sha256={HEX}/signatures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        sig.len()
    );
    let hammer = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for _ in 0..40 {
            if let Ok(mut c) = TcpStream::connect(&addr) {
                let _ = c.write_all(head.as_bytes());
                let _ = c.write_all(&signature());
                bodies.push(c);
            }
        }
        bodies
    });
    // The kill lands once some uploads are stored, with the stalled one open.
    let deadline = Instant::now() + Duration::from_secs(30);
    while names(&sig_dir(&root)).is_empty() {
        assert!(Instant::now() < deadline, "no upload stored in 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    s.child.kill().unwrap(); // SIGKILL
    let _ = s.child.wait();
    drop(hammer.join().unwrap());
    // The stalled upload was cut off mid-body: it got no answer.
    let mut resp = Vec::new();
    let _ = stalled.read_to_end(&mut resp);
    assert!(resp.is_empty(), "{}", String::from_utf8_lossy(&resp));
    // Whatever is visible is complete; nothing else (no temporaries) exists.
    let visible = names(&sig_dir(&root)).len();
    assert!((1..=40).contains(&visible), "{visible}");
    for n in names(&sig_dir(&root)) {
        assert!(n.starts_with("signature-"), "stray file {n}");
        assert_eq!(
            std::fs::read(sig_dir(&root).join(&n)).unwrap(),
            sig,
            "{n} is partial"
        );
    }
    let want: Vec<String> = (1..=visible).map(|n| format!("signature-{n}")).collect();
    assert_eq!(names(&sig_dir(&root)), want, "gap after SIGKILL");
}

#[test]
fn sigstore_server_1000_idle_connections_do_not_block_others() {
    let (_d, root, _) = setup();
    std::fs::create_dir_all(sig_dir(&root)).unwrap();
    std::fs::write(sig_dir(&root).join("signature-1"), signature()).unwrap();
    let s = SigServer::start(&root, &["--header-timeout", "60", "--no-access-log"]);
    raise_own_fd_limit();
    let mut idle = Vec::new();
    for i in 0..1000 {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        // Half the slowloris clients send a partial head, half nothing at all.
        if i % 2 == 0 {
            c.write_all(b"GET /ns/app@sha256=").unwrap();
        }
        idle.push(c);
    }
    let start = Instant::now();
    for _ in 0..20 {
        let t = Instant::now();
        let (st, _) = s.request(
            "GET",
            &format!("/ns/app@sha256={HEX}/signature-1"),
            &[],
            b"",
        );
        assert_eq!(st, 200);
        // Blocked requests would wait for the 60 s header timeout; the
        // ceilings are generous for a loaded machine.
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "request took {:?}",
            t.elapsed()
        );
    }
    assert!(start.elapsed() < Duration::from_secs(30));
    let (_, metrics) = s.request("GET", "/metrics", &[], b"");
    let open: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sigstore_connections_open "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(
        open >= 1000,
        "idle connections should still be open: {open}"
    );
    drop(idle);
}

#[test]
fn sigstore_server_header_timeout_reaps_idle_connections() {
    let (_d, root, _) = setup();
    let s = SigServer::start(&root, &["--header-timeout", "1"]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost:").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "not closed after the header timeout"
    );
}

/// Writes an upload's head with `Expect: 100-continue` and waits for the
/// server's `100 Continue`, which hyper sends when the handler starts reading
/// the body: from then on the request is in flight, without guessing a delay.
fn start_upload(addr: &str, extra_headers: &str, body_len: usize) -> TcpStream {
    let mut c = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /ns/app@sha256={HEX}/signatures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {body_len}\r\nExpect: 100-continue\r\n{extra_headers}\r\n"
    );
    c.write_all(head.as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(
            c.read(&mut byte).unwrap(),
            1,
            "closed before 100 Continue: {got:?}"
        );
        got.push(byte[0]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    c
}

/// Waits until connecting to `addr` is refused (the listener closed).
fn wait_until_refused(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigstore_server_sigterm_finishes_in_flight_requests() {
    let (_d, root, tokens) = setup();
    let mut s = SigServer::start(&root, &["--tokens", tokens.to_str().unwrap()]);
    let sig = signature();
    let mut c = start_upload(&s.addr, "Connection: close\r\n", sig.len());
    c.write_all(&sig[..10]).unwrap();
    let st = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    // New connections are refused once the listener is closed…
    wait_until_refused(&s.addr);
    // …but the upload in flight completes, and only then does the process exit.
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "exited with an upload in flight"
    );
    c.write_all(&sig[10..]).unwrap();
    let mut resp = String::new();
    let _ = c.read_to_string(&mut resp);
    assert_eq!(http_status(&resp), 201, "{resp}");
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(names(&sig_dir(&root)), ["signature-1"]);
}

#[test]
fn sigstore_server_metrics_health_and_json_access_log() {
    let (_d, root, _) = setup();
    std::fs::create_dir_all(sig_dir(&root)).unwrap();
    std::fs::write(sig_dir(&root).join("signature-1"), signature()).unwrap();
    let s = SigServer::start(&root, &["--log-format", "json"]);
    assert_eq!(s.request("GET", "/healthz", &[], b"").0, 200);
    for _ in 0..3 {
        assert_eq!(
            s.request(
                "GET",
                &format!("/ns/app@sha256={HEX}/signature-1"),
                &[],
                b""
            )
            .0,
            200
        );
    }
    assert_eq!(
        s.request(
            "GET",
            &format!("/ns/app@sha256={HEX}/signature-9"),
            &[],
            b""
        )
        .0,
        404
    );
    let (st, m) = s.request("GET", "/metrics", &[], b"");
    assert_eq!(st, 200);
    for want in [
        "sigstore_http_requests_total{method=\"GET\",status=\"200\"} 4",
        "sigstore_http_requests_total{method=\"GET\",status=\"404\"} 1",
        "sigstore_http_request_duration_seconds_count 5",
        "sigstore_uploads_total{result=\"stored\"} 0",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
    let served: usize = m
        .lines()
        .find_map(|l| l.strip_prefix("sigstore_bytes_served_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(served >= 3 * signature().len(), "{m}");
    // Access lines are batched per worker and flushed within 100 ms.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (log, access) = loop {
        let log = s.stderr.lock().unwrap().clone();
        let access: Vec<serde_json::Value> = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"] == "access")
            .collect();
        if access.len() >= 5 || Instant::now() > deadline {
            break (log, access);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(access.len() >= 5, "{log}");
    let miss = access
        .iter()
        .find(|v| v["status"] == 404)
        .expect("404 logged");
    assert_eq!(miss["method"], "GET");
    assert!(miss["uri"].as_str().unwrap().ends_with("/signature-9"));
    assert!(miss["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
}

#[test]
fn sigstore_server_speaks_tls() {
    let (d, root, _) = setup();
    std::fs::create_dir_all(sig_dir(&root)).unwrap();
    std::fs::write(sig_dir(&root).join("signature-1"), signature()).unwrap();
    let (cert, key) = (d.path().join("cert.pem"), d.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let s = SigServer::start(
        &root,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .arg(format!(
            "https://{}/ns/app@sha256={HEX}/signature-1",
            s.addr
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, signature());
    // Plain HTTP on the TLS port gets nowhere, and the server keeps serving.
    let resp = s.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(http_status(&resp), 0);
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/healthz", s.addr))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"ok\n");
}

#[test]
fn sigstore_server_bad_setup_fails_with_one_line() {
    let (d, root, _) = setup();
    // Without --root, vouch's default (the image store) is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vouch"))
        .env_remove("VOUCH_ROOT")
        .args(["sigstore-server", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --root"));
    let vouch = || std::process::Command::new(env!("CARGO_BIN_EXE_vouch"));
    let missing = d.path().join("missing");
    let out = vouch()
        .arg("--root")
        .arg(&missing)
        .args(["sigstore-server", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("Error:")).count(),
        1,
        "{err}"
    );
    let bad_tokens = d.path().join("bad-tokens");
    std::fs::write(&bad_tokens, "sha256:zz ns\n").unwrap();
    let out = vouch()
        .arg("--root")
        .arg(&root)
        .args(["sigstore-server", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(&bad_tokens)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad-tokens:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `vouch sigstore-server hash-token ARGS` with `stdin` on its standard input.
fn vouch_hash_token(pre: &[&str], args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vouch"))
        .env_remove("VOUCH_ROOT")
        .args(pre)
        .args(["sigstore-server", "hash-token"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn vouch_sigstore_server_hash_token_prints_a_line_the_server_accepts() {
    use sha2::Digest as _;
    let (d, root, _) = setup();
    let token = "vouch-made-token-0123456789abcdef";
    let out = vouch_hash_token(
        &[],
        &[
            "--prefix",
            "ns/app",
            "--prefix",
            "other",
            "--label",
            "release-ci",
        ],
        &format!("{token}\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let want = format!(
        "sha256:{} ns/app,other release-ci\n",
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    // Needs no lookaside directory, and vouch's global --root is allowed.
    let out = vouch_hash_token(
        &["--root", root.to_str().unwrap()],
        &[
            "--prefix",
            "ns/app",
            "--prefix",
            "other",
            "--label",
            "release-ci",
        ],
        &format!("{token}\n"),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);

    // The line it printed, as the docs use it (`>> tokens`), lets the token publish.
    let tokens = d.path().join("made-tokens");
    std::fs::write(&tokens, &want).unwrap();
    let s = SigServer::start(&root, &["--tokens", tokens.to_str().unwrap()]);
    let (st, resp) = post_sig(&s, Some(token), HEX, &signature());
    assert_eq!(st, 201, "{resp}");
    assert_eq!(post_sig(&s, Some(TOKEN), HEX, &signature()).0, 401);

    // Bad input: exit 2, one line, nothing on stdout.
    for (args, stdin, msg) in [
        (
            &["--prefix", "ns/app"][..],
            "short\n",
            "Error: refusing a token shorter than 16 characters",
        ),
        (
            &["--prefix", "../etc"][..],
            "vouch-made-token-0123456789abcdef\n",
            "Error: invalid --prefix \"../etc\": expected a repository path such as ns/app, or *",
        ),
        (
            &["--prefix", "ns/app", "--label", "two words"][..],
            "vouch-made-token-0123456789abcdef\n",
            "Error: invalid --label \"two words\": expected one word without '#'",
        ),
    ] {
        let out = vouch_hash_token(&[], args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end(), msg, "{args:?}");
        assert!(out.stdout.is_empty());
    }
    // Serving flags and the subcommand do not mix.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args([
            "sigstore-server",
            "--listen",
            "127.0.0.1:0",
            "hash-token",
            "--prefix",
            "x",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sigstore_server_slow_upload_bodies_time_out() {
    let (_d, root, tokens) = setup();
    let s = SigServer::start(
        &root,
        &["--tokens", tokens.to_str().unwrap(), "--body-timeout", "1"],
    );
    let sig = signature();
    let mut c = TcpStream::connect(&s.addr).unwrap();
    let head = format!(
        "POST /ns/app@sha256={HEX}/signatures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        sig.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(&sig[..10]).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let t = Instant::now();
    let mut resp = vec![0u8; 64];
    let n = c.read(&mut resp).unwrap();
    assert_eq!(http_status(&String::from_utf8_lossy(&resp[..n])), 408);
    assert!(t.elapsed() < Duration::from_secs(20));
    assert!(names(&sig_dir(&root)).is_empty());
}

#[test]
fn sigstore_server_connection_limit_queues_extra_clients() {
    let (_d, root, _) = setup();
    let s = SigServer::start(
        &root,
        &[
            "--max-connections",
            "2",
            "--threads",
            "1",
            "--header-timeout",
            "30",
        ],
    );
    // Two keep-alive connections, each answered once: both are being served.
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while !got.ends_with(b"ok\n") {
                let n = c.read(&mut buf).unwrap();
                assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
                got.extend_from_slice(&buf[..n]);
            }
            c
        })
        .collect();
    // The kernel accepts the third connection into the queue; the server
    // does not serve it while two are open.
    let mut third = TcpStream::connect(&s.addr).unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        third.read(&mut buf).is_err(),
        "served beyond --max-connections"
    );
    drop(idle);
    third
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut resp = String::new();
    let _ = third.read_to_string(&mut resp);
    assert_eq!(http_status(&resp), 200, "{resp}");
}

/// This test process needs over 1,000 descriptors; lift a low soft limit
/// (e.g. 1024) to the hard one with util-linux's prlimit.
fn raise_own_fd_limit() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or("");
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    if let [soft, hard] = nums[..] {
        if soft < 2048 && hard > soft {
            let _ = std::process::Command::new("prlimit")
                .arg(format!("--pid={}", std::process::id()))
                .arg(format!("--nofile={hard}:{hard}"))
                .status();
        }
    }
}
