//! sigstore-server under load and as replicas (issue 11, "Load and
//! replicas"): a 60 s wrk read load while 4 publishers upload, and two
//! server processes publishing into one directory at once. Every upload is a
//! real signature (vouch-sign, a throwaway gpg key) of the digest it is
//! posted under, so the server's checks run as in production.
//!
//! The figures of the load test are printed; see them with
//! `cargo test --test sigstore_server_load -- --nocapture`.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{Gpg, SigServer};
use sha2::Digest as _;
use vouch_sign::{Payload, SigningKey};

const HEX: &str = "20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";
const TOKEN: &str = "load-token-0123456789abcdef";

/// A root and a token file letting TOKEN publish under `ns`.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    let tokens = dir.join("tokens");
    let hash = hex::encode(sha2::Sha256::digest(TOKEN.as_bytes()));
    std::fs::write(&tokens, format!("sha256:{hash} ns load\n")).unwrap();
    (root, tokens)
}

/// The secret key of a fresh gpg key, exported as CI holds it.
fn key_file(gpg: &Gpg, dir: &Path) -> PathBuf {
    let path = dir.join("secret.asc");
    gpg.export_secret(&path);
    path
}

fn sign(key: &mut SigningKey, hex: &str, reference: &str) -> Vec<u8> {
    key.sign_payload(&Payload::new(&format!("sha256:{hex}"), reference))
        .unwrap()
}

/// POSTs `body` as the next signature of `ns/app@sha256=<hex>`; returns the
/// status and the index the server gave it (0 if none).
fn publish(s: &SigServer, hex: &str, body: &[u8]) -> (u16, u32, String) {
    let auth = format!("Bearer {TOKEN}");
    let (status, resp) = s.request(
        "POST",
        &format!("/ns/app@sha256={hex}/signatures"),
        &[("Authorization", &auth)],
        body,
    );
    let prefix = format!("location: /ns/app@sha256={hex}/signature-");
    let index = resp
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix(&prefix)
                .map(str::to_string)
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    (status, index, resp)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort_by_key(|n| (n.len(), n.clone()));
    v
}

#[test]
fn sigstore_server_two_replicas_on_one_root_store_every_signature_once() {
    const PER_REPLICA: usize = 50;
    let tmp = tempfile::tempdir().unwrap();
    let (root, tokens) = setup(tmp.path());
    let gpg = Gpg::new("replicas@example.com");
    let mut key = SigningKey::from_key_file(&key_file(&gpg, tmp.path()), None).unwrap();
    let bodies: Vec<Vec<u8>> = (0..2 * PER_REPLICA)
        .map(|i| sign(&mut key, HEX, &format!("registry.example/ns/app:{i}")))
        .collect();
    assert_eq!(
        bodies.iter().collect::<HashSet<_>>().len(),
        bodies.len(),
        "bodies must be distinct to detect torn or swapped files"
    );
    let flags = ["--tokens", tokens.to_str().unwrap(), "--no-access-log"];
    let replicas = [
        SigServer::start(&root, &flags),
        SigServer::start(&root, &flags),
    ];
    assert_ne!(replicas[0].pid(), replicas[1].pid());

    // All uploads leave together, alternating between the replicas.
    let barrier = Barrier::new(bodies.len());
    let results: Vec<(u16, u32, String)> = std::thread::scope(|sc| {
        let hs: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let (s, barrier) = (&replicas[i % 2], &barrier);
                sc.spawn(move || {
                    barrier.wait();
                    publish(s, HEX, body)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (status, _, resp) in &results {
        assert_eq!(*status, 201, "{resp}");
    }
    // Each index was handed out exactly once, and 1..=100 has no gaps.
    let mut indices: Vec<u32> = results.iter().map(|r| r.1).collect();
    indices.sort_unstable();
    let all: Vec<u32> = (1..=bodies.len() as u32).collect();
    assert_eq!(indices, all, "indices handed out");
    let dir = root.join(format!("ns/app@sha256={HEX}"));
    let want: Vec<String> = all.iter().map(|n| format!("signature-{n}")).collect();
    assert_eq!(names(&dir), want, "gaps, duplicates or stray files");
    // signature-N holds exactly the body whose upload was told N: nothing
    // torn, swapped or stored twice.
    for (i, (_, n, _)) in results.iter().enumerate() {
        let on_disk = std::fs::read(dir.join(format!("signature-{n}"))).unwrap();
        assert!(on_disk == bodies[i], "signature-{n} is not upload {i}");
        // And both replicas serve it.
        for s in &replicas {
            assert!(s.get_body(&format!("/ns/app@sha256={HEX}/signature-{n}")) == bodies[i]);
        }
    }
}

/// The server's resident set size, in KiB.
fn vm_rss_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// wrk's "99%" latency line, e.g. `99%    3.20ms`, in milliseconds.
fn wrk_p99_ms(out: &str) -> Option<f64> {
    let v = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))?
        .trim();
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * scale)
}

#[test]
fn sigstore_server_60s_wrk_load_with_4_publishers_has_no_errors_and_bounded_rss() {
    const FILES: usize = 1000;
    const PUBLISHERS: usize = 4;
    const RSS_CEILING_KIB: u64 = 64 * 1024;
    let tmp = tempfile::tempdir().unwrap();
    let (root, tokens) = setup(tmp.path());
    let gpg = Gpg::new("load@example.com");
    let key_path = key_file(&gpg, tmp.path());

    // The read set: one real signature under each of FILES digests.
    let mut key = SigningKey::from_key_file(&key_path, None).unwrap();
    let mut paths = String::new();
    for i in 0..FILES {
        let hex = hex::encode(sha2::Sha256::digest(format!("read-{i}").as_bytes()));
        let rel = format!("ns/read{}@sha256={hex}/signature-1", i % 10);
        let file = root.join(&rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, sign(&mut key, &hex, "registry.example/ns/read:1")).unwrap();
        paths.push_str(&format!("/{rel}\n"));
    }
    let paths_file = tmp.path().join("paths");
    std::fs::write(&paths_file, paths).unwrap();
    let lua = tmp.path().join("random.lua");
    std::fs::write(
        &lua,
        r#"-- One random signature path per request (bench/sigstore-server.sh).
local paths = {}
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000)
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
"#,
    )
    .unwrap();

    // The access log would be kept by the harness's stderr reader; upload
    // lines stay on.
    let s = SigServer::start(
        &root,
        &["--tokens", tokens.to_str().unwrap(), "--no-access-log"],
    );
    let pid = s.pid();
    let stop = Arc::new(AtomicBool::new(false));

    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.push(vm_rss_kib(pid).expect("server alive during the load"));
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        })
    };

    // Each publisher posts two signatures per digest, on digests of its own,
    // until wrk is done: the first must be told signature-1, the second -2.
    type Published = Vec<(String, u32, Vec<u8>)>;
    let (s_ref, stop_ref) = (&s, &stop);
    let (wrk, published): (std::process::Output, Vec<Published>) = std::thread::scope(|sc| {
        let pubs: Vec<_> = (0..PUBLISHERS)
            .map(|p| {
                let key_path = key_path.clone();
                sc.spawn(move || {
                    let mut key = SigningKey::from_key_file(&key_path, None).unwrap();
                    let mut done: Published = Vec::new();
                    let mut i = 0usize;
                    while !stop_ref.load(Ordering::Relaxed) {
                        let hex = hex::encode(sha2::Sha256::digest(
                            format!("publish-{p}-{}", i / 2).as_bytes(),
                        ));
                        let body = sign(&mut key, &hex, &format!("registry.example/ns/app:{i}"));
                        let (status, index, resp) = publish(s_ref, &hex, &body);
                        assert_eq!(status, 201, "publisher {p}, upload {i}: {resp}");
                        assert_eq!(index as usize, i % 2 + 1, "publisher {p}: {resp}");
                        done.push((hex, index, body));
                        i += 1;
                    }
                    done
                })
            })
            .collect();
        let wrk = Command::new("wrk")
            .args([
                "-t2",
                "-c50",
                "-d60s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
            ])
            .arg(&lua)
            .arg(format!("http://{}", s_ref.addr))
            .arg("--")
            .arg(&paths_file)
            .output();
        stop_ref.store(true, Ordering::Relaxed);
        let published = pubs.into_iter().map(|h| h.join().unwrap()).collect();
        (
            wrk.expect("wrk is installed by scripts/setup.sh"),
            published,
        )
    });
    let samples = sampler.join().unwrap();

    let out = String::from_utf8_lossy(&wrk.stdout).into_owned();
    let field = |prefix: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|v| v.trim().to_string())
    };
    let rps: f64 = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let requests: u64 = out
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let p99 = wrk_p99_ms(&out);
    let publishes: usize = published.iter().map(Vec::len).sum();
    let max_rss = samples.iter().copied().max().unwrap_or(0);
    println!(
        "sigstore-server load: {requests} GETs in 60 s, {rps:.0} req/s, p99 {}, \
         {publishes} publishes ({} per publisher), max RSS {:.1} MiB over {} samples",
        p99.map_or("?".into(), |v| format!("{v:.2} ms")),
        published
            .iter()
            .map(|v| v.len().to_string())
            .collect::<Vec<_>>()
            .join("/"),
        max_rss as f64 / 1024.0,
        samples.len()
    );

    assert!(
        wrk.status.success(),
        "wrk failed: {out}{}",
        String::from_utf8_lossy(&wrk.stderr)
    );
    assert!(
        requests > 0 && rps > 0.0 && p99.is_some(),
        "unparsed wrk output:\n{out}"
    );
    assert_eq!(field("Socket errors:"), None, "wrk:\n{out}");
    assert_eq!(field("Non-2xx or 3xx responses:"), None, "wrk:\n{out}");
    assert!(
        published.iter().all(|v| v.len() >= 2),
        "a publisher barely ran: {publishes}"
    );
    assert!(samples.len() >= 30, "RSS sampled {} times", samples.len());
    assert!(
        max_rss < RSS_CEILING_KIB,
        "RSS reached {max_rss} KiB (samples {samples:?})"
    );
    // Every publish is on disk, byte for byte, and counted once by the server.
    let mut seen = HashMap::new();
    for (hex, index, body) in published.iter().flatten() {
        let file = root.join(format!("ns/app@sha256={hex}/signature-{index}"));
        assert!(
            std::fs::read(&file).unwrap() == *body,
            "{} differs",
            file.display()
        );
        assert!(seen.insert((hex, index), ()).is_none());
    }
    let (_, metrics) = s.request("GET", "/metrics", &[], b"");
    assert!(
        metrics.contains(&format!(
            "sigstore_uploads_total{{result=\"stored\"}} {publishes}\n"
        )),
        "{metrics}"
    );
    assert!(
        vm_rss_kib(pid).is_some(),
        "the server did not survive the load"
    );
}
