//! The end-to-end harness: real registries (Debian's docker-registry) on
//! free loopback ports, the vouch binary with a throwaway store, fixture
//! images built from busybox-static, and the fault-injecting proxy.
#![allow(dead_code)]

pub mod podman_trust;
pub mod skip;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory shared by all tests of one run for built fixtures.
pub fn fixture_cache() -> PathBuf {
    let d = repo_root().join("target/test-fixtures");
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `addr` answers an HTTP GET of `/v2/` with any status.
fn wait_http(addr: &str, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited early: {status}");
        }
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = write!(s, "GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            let mut buf = [0u8; 12];
            if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not come up on {addr}");
}

/// Spawns a fixture server and waits for its first stdout line, which must
/// say `listening`; returns the child and that line.
pub fn spawn_listening(cmd: &mut Command, what: &str) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "{what} said {line:?}");
    (child, line)
}

/// The digest skopeo reports for `repo` (`name:tag`) on `reg`.
pub fn skopeo_digest(reg: &Registry, repo: &str) -> String {
    let out = peer_ok(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/{repo}", reg.host()),
    ]));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    j["Digest"].as_str().unwrap().to_string()
}

/// A real distribution registry with temporary storage, killed on drop.
pub struct Registry {
    pub ip: &'static str,
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A registry that demands HTTP basic auth for `user`/`password`.
    pub fn start_htpasswd(user: &str, password: &str) -> Self {
        Self::start_with(Some((user, password)))
    }

    /// A registry on `ip:80`, so references to it carry no port: the names
    /// `sync --scoped` builds from a `host:port` source are invalid, for
    /// skopeo too.
    pub fn start_portless(ip: &'static str) -> Self {
        Self::start_full(ip, 80, None)
    }

    fn start_with(auth: Option<(&str, &str)>) -> Self {
        Self::start_full("127.0.0.1", free_port(), auth)
    }

    /// A registry serving HTTPS with `cert` and `key` (PEM files).
    pub fn start_tls(cert: &Path, key: &Path) -> Self {
        let tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        );
        Self::start_config(
            "127.0.0.1",
            free_port(),
            tempfile::tempdir().unwrap(),
            &tls,
            "",
        )
    }

    fn start_full(ip: &'static str, port: u16, auth: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut auth_cfg = String::new();
        if let Some((u, p)) = auth {
            let htpasswd = dir.path().join("htpasswd");
            let st = Command::new("htpasswd")
                .args(["-Bbc"])
                .arg(&htpasswd)
                .args([u, p])
                .stderr(Stdio::null())
                .status()
                .expect("htpasswd (apache2-utils) is installed by scripts/setup.sh");
            assert!(st.success());
            auth_cfg = format!(
                "auth:\n  htpasswd:\n    realm: vouch-test\n    path: {}\n",
                htpasswd.display()
            );
        }
        Self::start_config(ip, port, dir, "", &auth_cfg)
    }

    /// `http_extra` goes under `http:`, `top_extra` after it.
    fn start_config(
        ip: &'static str,
        port: u16,
        dir: tempfile::TempDir,
        http_extra: &str,
        top_extra: &str,
    ) -> Self {
        let cfg = dir.path().join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {ip}:{port}\n{http_extra}{top_extra}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed by scripts/setup.sh");
        wait_http(&format!("{ip}:{port}"), &mut child, "docker-registry");
        Registry {
            ip,
            port,
            dir,
            child,
        }
    }

    /// `IP:PORT` (`IP` alone on port 80), the host part of references.
    pub fn host(&self) -> String {
        match self.port {
            80 => self.ip.to_string(),
            port => format!("{}:{port}", self.ip),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// fixtures/fault-proxy.py in front of a registry, killed on drop.
pub struct FaultProxy {
    pub port: u16,
    child: Child,
    /// Holds the `--status` file of a throttled proxy.
    status: Option<tempfile::TempDir>,
}

impl FaultProxy {
    pub fn start(upstream: &Registry, mode: &str) -> Self {
        Self::start_args(upstream, mode, &[], None)
    }

    /// A proxy in `throttle` mode: blob and upload bodies pass at `rate`
    /// bytes per second, counted in a status file ([`FaultProxy::bytes_passed`]).
    pub fn throttled(upstream: &Registry, rate: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("bytes");
        let args = [
            "--rate".to_string(),
            rate.to_string(),
            "--status".to_string(),
            status.display().to_string(),
        ];
        Self::start_args(upstream, "throttle", &args, Some(dir))
    }

    /// Blob and upload body bytes that have passed the proxy so far.
    pub fn bytes_passed(&self) -> u64 {
        let dir = self.status.as_ref().expect("a throttled proxy");
        let text = std::fs::read_to_string(dir.path().join("bytes")).unwrap();
        text.trim().parse().unwrap()
    }

    /// Waits until at least `n` body bytes have passed, while `child` (the
    /// transfer) is still running; panics if it ends first.
    pub fn wait_bytes(&self, n: u64, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.bytes_passed() < n {
            if let Some(st) = child.try_wait().unwrap() {
                panic!("transfer ended ({st}) after {} bytes", self.bytes_passed());
            }
            assert!(Instant::now() < deadline, "{n} bytes never passed");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn start_args(
        upstream: &Registry,
        mode: &str,
        extra: &[String],
        status: Option<tempfile::TempDir>,
    ) -> Self {
        let port = free_port();
        let (child, _) = spawn_listening(
            Command::new("python3")
                .arg(repo_root().join("fixtures/fault-proxy.py"))
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--upstream", &upstream.host()])
                .args(["--mode", mode])
                .args(extra)
                .stderr(Stdio::null()),
            "fault proxy",
        );
        FaultProxy {
            port,
            child,
            status,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Requests for sigstore attachment tags (`sha256-<hex>.sig`) seen so far.
    pub fn sig_requests(&self) -> u64 {
        let resp = http_get(self.port, "/_fault-proxy/sig-requests");
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or_default();
        body.trim().parse().unwrap()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The vouch binary with its own store.
pub struct Vouch {
    pub home: tempfile::TempDir,
}

impl Vouch {
    pub fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        // A permissive user policy, so tests that are not about policy do not
        // depend on the machine's /etc/containers/policy.json.
        let cfg = home.path().join(".config/containers");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(
            cfg.join("policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        Vouch { home }
    }

    pub fn root(&self) -> PathBuf {
        self.home.path().join("root")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
        c.arg("--root").arg(self.root());
        c.env("HOME", self.home.path());
        c.env_remove("XDG_RUNTIME_DIR");
        c.env_remove("REGISTRY_AUTH_FILE");
        c
    }

    /// Runs vouch with `args`, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "vouch {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs vouch with `args`, asserting that it exits with `code` (1: a
    /// policy or the linter said no; 2: any other error) and prints exactly
    /// one `Error:` line; returns stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert_fails(code, &format!("vouch {args:?}"), &out)
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// `vouch --registries.d REGD pull --tls-verify=false --signature-policy
    /// POLICY IMAGE`: a pull judged by a policy, with its raw outcome.
    pub fn policy_pull(&self, regd: &Path, policy: &Path, image: &str) -> Output {
        self.cmd()
            .arg("--registries.d")
            .arg(regd)
            .args(["pull", "-q", "--tls-verify=false", "--signature-policy"])
            .arg(policy)
            .arg(image)
            .output()
            .unwrap()
    }

    /// [`Vouch::policy_pull`] that must be accepted.
    pub fn policy_pull_ok(&self, regd: &Path, policy: &Path, image: &str) {
        let out = self.policy_pull(regd, policy, image);
        assert!(
            out.status.success(),
            "pull of {image} was refused:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Image records as `vouch images --format json` shows them.
    pub fn images(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["images", "--format", "json"])).unwrap()
    }

    /// Imports the busybox httpd fixture as `name`.
    pub fn import_httpd(&self, name: &str) -> String {
        let tar = httpd_rootfs();
        self.ok(&[
            "import",
            "--change",
            r#"CMD ["/bin/httpd","-f","-v","-p","80","-h","/www"]"#,
            "--change",
            "EXPOSE 80/tcp",
            tar.to_str().unwrap(),
            name,
        ])
        .trim()
        .to_string()
    }

    /// Every blob in the store must hash to its file name.
    pub fn assert_store_consistent(&self) {
        let blobs = self.root().join("blobs/sha256");
        if !blobs.exists() {
            return;
        }
        for e in std::fs::read_dir(&blobs).unwrap() {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            use sha2::Digest as _;
            let got = hex::encode(sha2::Sha256::digest(&bytes));
            assert_eq!(
                got,
                p.file_name().unwrap().to_str().unwrap(),
                "corrupt blob {}",
                p.display()
            );
        }
        for img in self.images() {
            let id = img["Id"].as_str().unwrap();
            assert!(blobs.join(id).exists(), "image {id} without config");
        }
        // Every record names only content that is in place.
        for e in std::fs::read_dir(self.root().join("images")).unwrap() {
            let p = e.unwrap().path();
            let rec: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let hex = |d: &serde_json::Value| d.as_str().unwrap()[7..].to_string();
            assert!(
                blobs.join(hex(&rec["digest"])).is_file(),
                "{p:?}: manifest missing"
            );
            for l in rec["layers"].as_array().unwrap() {
                let blob = blobs.join(hex(&l["blob"]["digest"]));
                assert!(blob.is_file(), "{p:?}: layer blob {blob:?} missing");
                let dir = self.root().join("layers").join(hex(&l["diff_id"]));
                assert!(dir.is_dir(), "{p:?}: layer {dir:?} missing");
            }
        }
    }

    /// Staging directories left in the store's `tmp/`.
    pub fn staging_dirs(&self) -> usize {
        std::fs::read_dir(self.root().join("tmp")).map_or(0, |d| d.count())
    }
}

/// The busybox httpd root filesystem tarball, built once per test run.
pub fn httpd_rootfs() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = fixture_cache().join(format!("httpd-rootfs-{}.tar", std::process::id()));
        let st = Command::new("bash")
            .arg(repo_root().join("fixtures/build-httpd.sh"))
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "fixtures/build-httpd.sh failed");
        out
    })
    .clone()
}

/// A tarball of `size` pseudo-random bytes in one file, for pulls that take
/// long enough to be interrupted.
pub fn random_rootfs(dir: &Path, size: usize) -> PathBuf {
    let out = dir.join("random-rootfs.tar");
    let f = std::fs::File::create(&out).unwrap();
    let mut b = tar::Builder::new(f);
    let mut data = vec![0u8; size];
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, "data/random.bin", &data[..]).unwrap();
    b.finish().unwrap();
    out
}

/// `cmd` (program, arguments, environment) run on a real pseudo-terminal by
/// fixtures/pty-session.py with `session` (its own arguments before `--`);
/// the caller adds the rest of `cmd`'s arguments.
pub fn pty_session<S: AsRef<std::ffi::OsStr>>(
    session: impl IntoIterator<Item = S>,
    cmd: &Command,
) -> Command {
    let mut c = Command::new("python3");
    c.arg(repo_root().join("fixtures/pty-session.py"))
        .args(session)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, val) in cmd.get_envs() {
        match val {
            Some(val) => c.env(k, val),
            None => c.env_remove(k),
        };
    }
    c
}

/// Runs a [`pty_session`]; returns the terminal transcript (Python's repr of
/// the bytes) and the command's exit code.
pub fn pty_transcript(c: &mut Command) -> (String, String) {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (transcript, code) = text.trim_end().rsplit_once('\n').unwrap();
    (transcript.to_string(), code.to_string())
}

/// Runs a peer tool (skopeo, podman), asserting success; returns stdout.
pub fn peer_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `SKOPEO --policy P --registries.d D copy docker://IMAGE dir:…` (dir:
/// keeps simple and sigstore signatures alike): whether the peer accepted,
/// and its stderr.
pub fn skopeo_pull(skopeo: &Path, policy: &Path, regd: &Path, image: &str) -> (bool, String) {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(skopeo)
        .arg("--policy")
        .arg(policy)
        .arg("--registries.d")
        .arg(regd)
        .args(["copy", "-q", "--src-tls-verify=false"])
        .arg(format!("docker://{image}"))
        .arg(format!("dir:{}", out_dir.path().join("img").display()))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// podman with a throwaway store.
pub fn podman(dir: &Path) -> Command {
    let mut c = Command::new("podman");
    c.arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(["--storage-driver", "vfs"]);
    c
}

/// One image to put into a test OCI layout.
pub struct OciImage {
    /// (blob bytes as stored, media type, uncompressed bytes)
    pub layers: Vec<(Vec<u8>, String, Vec<u8>)>,
    pub arch: String,
}

impl OciImage {
    /// An image whose only layer is `blob`; `blob` is also its own diff_id
    /// input unless the media type says it is compressed, in which case the
    /// caller should use [`OciImage::layers`] directly.
    pub fn one_layer(blob: Vec<u8>, media_type: &str, arch: &str) -> Self {
        OciImage {
            layers: vec![(blob.clone(), media_type.to_string(), blob)],
            arch: arch.to_string(),
        }
    }
}

/// Writes an OCI image layout at `dir` holding `images`; with more than one
/// image, they are joined by an OCI index (a multi-platform image) tagged
/// `tag`, otherwise the single manifest is tagged. Returns the digest of
/// what the tag names.
pub fn oci_layout(dir: &Path, images: &[OciImage], tag: Option<&str>) -> String {
    oci_layout_with(dir, images, tag, |img, diff_ids| {
        serde_json::json!({
            "architecture": img.arch, "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        })
    })
}

/// [`oci_layout`] with each image's config made by `config` (from the image
/// and its diff_ids); the index platform comes from the config's
/// `architecture`, `os` and `variant`.
pub fn oci_layout_with(
    dir: &Path,
    images: &[OciImage],
    tag: Option<&str>,
    config: impl Fn(&OciImage, &[String]) -> serde_json::Value,
) -> String {
    use sha2::Digest as _;
    let tag = tag.unwrap_or("evil");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut manifests = Vec::new();
    for img in images {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for (blob, mt, plain) in &img.layers {
            let (d, size) = put(blob);
            layers.push(serde_json::json!({"mediaType": mt, "digest": d, "size": size}));
            diff_ids.push(format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(plain))
            ));
        }
        let config_doc = config(img, &diff_ids);
        let mut platform =
            serde_json::json!({"architecture": config_doc["architecture"], "os": config_doc["os"]});
        if let Some(v) = config_doc.get("variant") {
            platform["variant"] = v.clone();
        }
        let (config, config_size) = put(config_doc.to_string().as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": layers,
        })
        .to_string();
        let (m, m_size) = put(manifest.as_bytes());
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": m_size,
            "platform": platform}));
    }
    let top = if manifests.len() == 1 {
        manifests.pop().unwrap()
    } else {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        })
        .to_string();
        let (d, size) = put(index.as_bytes());
        serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": size})
    };
    let digest = top["digest"].as_str().unwrap().to_string();
    let mut top = top;
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [top]}).to_string(),
    )
    .unwrap();
    digest
}

/// A small layer tarball holding `path` with `content`.
pub fn layer_with_file(path: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, path, content).unwrap();
    b.into_inner().unwrap()
}

/// `vouch sigstore-server` on a free loopback port, serving `root`; its
/// stderr (access log) is collected, and the process is killed on drop.
pub struct SigServer {
    pub addr: String,
    pub root: PathBuf,
    pub child: Child,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl SigServer {
    /// Starts the server with extra flags (`--tokens`, `--header-timeout`, …).
    pub fn start(root: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
            .arg("--root")
            .arg(root)
            .args(["sigstore-server", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stderr.take().unwrap());
        let mut addr = None;
        let mut seen = String::new();
        for _ in 0..50 {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            seen.push_str(&line);
            if let Some(rest) = line.trim().split("://").nth(1) {
                if line.contains("sigstore-server: serving") {
                    addr = Some(rest.to_string());
                    break;
                }
            }
        }
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sigstore-server did not start:\n{seen}");
        };
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(seen));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        SigServer {
            addr,
            root: root.to_path_buf(),
            child,
            stderr,
        }
    }

    /// Sends raw bytes on a fresh connection and returns everything the
    /// server answered (raw, because HTTP clients normalise paths).
    pub fn raw(&self, request: &[u8]) -> String {
        String::from_utf8_lossy(&self.raw_bytes(request)).into_owned()
    }

    /// [`SigServer::raw`] without the lossy text conversion.
    pub fn raw_bytes(&self, request: &[u8]) -> Vec<u8> {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    }

    /// The body of a `GET path` answered 200 (raw bytes).
    pub fn get_body(&self, path: &str) -> Vec<u8> {
        let resp = self.raw_bytes(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(
            resp.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&resp)
        );
        let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        resp[split + 4..].to_vec()
    }

    /// One request with `Connection: close`; returns (status, headers+body text).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        let resp = self.raw(&bytes);
        (http_status(&resp), resp)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for SigServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of a raw HTTP response (0 if there was none).
pub fn http_status(resp: &str) -> u16 {
    resp.strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// A file of the upstream containers/image fixture corpus, copied into
/// fixtures/containers-image (provenance in fixtures/README.md).
pub fn trust_fixture(rel: &str) -> Vec<u8> {
    let p = repo_root().join("fixtures/containers-image").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

// ---- runtime helpers (issue 6: vouch run/ps/stop/rm) ----

/// Why the runtime tests cannot run on this machine, if they cannot: they
/// need root (overlay mounts, netns, nftables), runc and nft, found the way
/// vouch finds them (`vouch_runtime::tools`), and `ip` for the tests' own
/// checks of the host.
pub fn runtime_skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        return Some("runtime tests need root".into());
    }
    let scratch = std::env::temp_dir();
    if let Err(e) = vouch_runtime::oci::Runc::locate(Path::new("runc"), &scratch) {
        return Some(format!("{e} (scripts/setup.sh installs runc)"));
    }
    if vouch_runtime::tools::nft().is_none() {
        return Some("nft is not installed (scripts/setup.sh installs it)".into());
    }
    missing_tools(&["ip"])
}

/// The first of `tools` that is not an executable on PATH (the lookup
/// vouch itself uses), as a skip reason.
pub fn missing_tools(tools: &[&str]) -> Option<String> {
    tools
        .iter()
        .find(|t| vouch_runtime::tools::on_path(t).is_none())
        .map(|t| format!("{t} is not installed (scripts/setup.sh installs it)"))
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Asserts that `out` (of the command `what`) exited with `code` and printed
/// exactly one `Error:` line; returns stderr.
pub fn assert_fails(code: i32, what: &str, out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit code {code}, got {}:\n{err}",
        out.status
    );
    let error_lines: Vec<_> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(
        error_lines.len(),
        1,
        "{what}: expected one Error: line, got:\n{err}"
    );
    err
}

/// Skips the calling test (see [`skip`]) when `reason`, an
/// `Option<String>`, is `Some`.
#[macro_export]
macro_rules! require {
    ($reason:expr) => {
        if let Some(why) = $reason {
            common::skip::skip(&why);
            return;
        }
    };
}

/// Skips the calling test unless every tool named is on PATH.
#[macro_export]
macro_rules! require_tools {
    ($($tool:expr),+ $(,)?) => {
        $crate::require!(common::missing_tools(&[$($tool),+]))
    };
}

/// Skips the calling test when the runtime cannot run here.
#[macro_export]
macro_rules! require_runtime {
    () => {
        $crate::require!(common::runtime_skip_reason())
    };
}

/// The sigstore-enabled skopeo (1.22, scripts/install-skopeo-sigstore.sh):
/// `$VOUCH_SKOPEO_SIGSTORE`, else `skopeo-sigstore` on PATH.
pub fn skopeo_sigstore() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("VOUCH_SKOPEO_SIGSTORE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    vouch_runtime::tools::on_path("skopeo-sigstore").ok_or_else(|| {
        "skopeo-sigstore is not installed (scripts/install-skopeo-sigstore.sh installs it)"
            .to_string()
    })
}

/// The sigstore-enabled skopeo, or skips the calling test.
#[macro_export]
macro_rules! require_skopeo_sigstore {
    () => {
        match common::skopeo_sigstore() {
            Ok(p) => p,
            Err(why) => {
                common::skip::skip(&why);
                return;
            }
        }
    };
}

/// Removes every container of a store when dropped, so a failing test
/// leaves no process, mount, veth or nft rule behind.
pub struct ContainerGuard<'a>(pub &'a Vouch);

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.cmd().args(["rm", "-f", "-a"]).output();
    }
}

impl Vouch {
    /// The httpd fixture in this store, imported once per Vouch.
    pub fn httpd(&self) -> &'static str {
        if !self.root().join("images").exists() || self.images().is_empty() {
            self.import_httpd("localhost/httpd");
        }
        "localhost/httpd"
    }

    /// Runs vouch and returns (exit code, stdout, stderr).
    pub fn run3(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `inspect` of one container as JSON.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.ok(&["inspect", name])).unwrap();
        v[0].clone()
    }

    /// Asserts that nothing of container `id` is left on the host.
    pub fn assert_container_gone(&self, id: &str) {
        assert!(
            !self.root().join("containers").join(id).exists(),
            "container dir of {id} left"
        );
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mountinfo.contains(id), "mount of {id} left:\n{mountinfo}");
        let veth = format!("vv{}", &id[..12]);
        assert!(
            !Path::new("/sys/class/net").join(&veth).exists(),
            "veth {veth} left"
        );
        assert!(
            !Path::new("/run/netns").join(format!("vouch-{id}")).exists(),
            "netns of {id} left"
        );
        let nft = Command::new("nft")
            .args(["list", "table", "inet", "vouch"])
            .output()
            .unwrap();
        let rules = String::from_utf8_lossy(&nft.stdout);
        assert!(
            !rules.contains(&format!("c-{}", &id[..12])),
            "nft chain of {id} left:\n{rules}"
        );
        let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
        let procs = String::from_utf8_lossy(&ps.stdout);
        assert!(
            !procs.lines().any(|l| l.contains(id)),
            "process of {id} left:\n{procs}"
        );
    }
}

/// GET `path` from 127.0.0.1:`port`; the whole response.
pub fn http_get(port: u16, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut body = String::new();
            if s.read_to_string(&mut body).is_ok() && !body.is_empty() {
                return body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing answered on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A throwaway GnuPG home with one RSA key whose primary key signs (what
/// `gpg --quick-gen-key` makes, as in the podman signing tutorial).
/// `gpg --homedir HOME --batch` (empty passphrase, no pinentry) with
/// `args`; panics with gpg's stderr on failure; returns stdout.
pub fn gpg_batch(home: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub struct Gpg {
    pub home: tempfile::TempDir,
    pub email: String,
    pub fingerprint: String,
}

impl Gpg {
    pub fn new(email: &str) -> Self {
        Self::with_passphrase(email, "")
    }

    /// [`Gpg::new`] with the secret key protected by `passphrase`.
    pub fn with_passphrase(email: &str, passphrase: &str) -> Self {
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .unwrap();
        let st = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
                "--quick-gen-key",
                email,
                "rsa2048",
                "sign",
                "never",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("gpg is installed by scripts/setup.sh");
        assert!(st.success(), "gpg key generation failed");
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--with-colons", "--list-secret-keys", email])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let fingerprint = text
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_string();
        Gpg {
            home,
            email: email.to_string(),
            fingerprint,
        }
    }

    /// Exports the public key (binary) to `path`.
    pub fn export(&self, path: &Path) {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--batch", "--export", &self.email])
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty());
        std::fs::write(path, out.stdout).unwrap();
    }

    /// Exports the armored secret key to `path` (what a CI secret holds).
    pub fn export_secret(&self, path: &Path) {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args([
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
                "--armor",
                "--export-secret-keys",
                &self.email,
            ])
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty());
        std::fs::write(path, out.stdout).unwrap();
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .status();
    }
}

/// A plain static HTTP server over a lookaside directory (python's
/// http.server, as the podman tutorial has it), killed on drop.
pub struct StaticHttp {
    pub port: u16,
    child: Child,
}

impl StaticHttp {
    pub fn start(dir: &Path) -> Self {
        let port = free_port();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_http(&format!("127.0.0.1:{port}"), &mut child, "http.server");
        StaticHttp { port, child }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StaticHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a registries.d directory with one file configuring `host`'s
/// lookaside (read) and staging (write) URLs; returns its path.
pub fn registries_d(dir: &Path, host: &str, lookaside: &str, staging: &Path) -> PathBuf {
    let d = dir.join("registries.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("vouch-test.yaml"),
        format!(
            "docker:\n  {host}:\n    lookaside: {lookaside}\n    lookaside-staging: file://{}\n",
            staging.display()
        ),
    )
    .unwrap();
    d
}

/// Writes a policy.json accepting anything but `host`, which must be
/// signed by the key in `key_path`.
pub fn signed_by_policy(path: &Path, host: &str, key_path: &Path) {
    std::fs::write(
        path,
        serde_json::json!({
            "default": [{"type": "insecureAcceptAnything"}],
            "transports": {"docker": {host: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": key_path}]}}
        })
        .to_string(),
    )
    .unwrap();
}

/// Held while a test changes anything under /etc/containers (podman's
/// registries.d, the system policy.json): one test at a time in this
/// process (a mutex) and across test processes on this machine (flock on
/// a lock file), since all of them read the same files.
pub struct EtcContainersLock {
    _guard: std::sync::MutexGuard<'static, ()>,
    _file: std::fs::File,
}

pub fn etc_containers_lock() -> EtcContainersLock {
    use std::os::fd::AsRawFd as _;
    static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let path = Path::new("/run/lock/vouch-test-etc-containers.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // SAFETY: flock on an fd we own; blocks until the lock is ours.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(r, 0, "flock {}", path.display());
    EtcContainersLock {
        _guard: guard,
        _file: file,
    }
}

/// /etc/containers/policy.json replaced for one test under the
/// /etc/containers lock, and put back (bytes and mode) when dropped, also
/// on panic; removed again if there was none.
pub struct SystemPolicy {
    saved: Option<(Vec<u8>, std::fs::Permissions)>,
    _lock: EtcContainersLock,
}

pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";

impl SystemPolicy {
    pub fn replace(json: &str) -> Self {
        let lock = etc_containers_lock();
        let p = Path::new(SYSTEM_POLICY);
        let saved = match std::fs::read(p) {
            Ok(bytes) => Some((bytes, std::fs::metadata(p).unwrap().permissions())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("{SYSTEM_POLICY}: {e}"),
        };
        let s = SystemPolicy { saved, _lock: lock };
        s.set(json);
        s
    }

    /// Writes `json` as the system policy (temp file + rename, so a reader
    /// never sees half of it).
    pub fn set(&self, json: &str) {
        std::fs::create_dir_all("/etc/containers").unwrap();
        let tmp = format!("{SYSTEM_POLICY}.vouch-test-{}", std::process::id());
        std::fs::write(&tmp, json).unwrap();
        std::fs::rename(&tmp, SYSTEM_POLICY).unwrap();
    }
}

impl Drop for SystemPolicy {
    fn drop(&mut self) {
        match &self.saved {
            Some((bytes, perms)) => {
                let tmp = format!("{SYSTEM_POLICY}.vouch-test-{}", std::process::id());
                let _ = std::fs::write(&tmp, bytes)
                    .and_then(|()| std::fs::set_permissions(&tmp, perms.clone()))
                    .and_then(|()| std::fs::rename(&tmp, SYSTEM_POLICY));
            }
            None => {
                let _ = std::fs::remove_file(SYSTEM_POLICY);
            }
        }
    }
}

/// The envelope JSON inside an encrypted sigstore private key PEM, to damage.
pub fn sigstore_key_envelope(pem: &str) -> serde_json::Value {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `envelope` packed back into an `ENCRYPTED COSIGN PRIVATE KEY` PEM.
pub fn sigstore_key_pem(envelope: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(envelope.to_string());
    let mut pem = String::from("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END ENCRYPTED COSIGN PRIVATE KEY-----\n");
    pem.into_bytes()
}

/// A raw HTTP/1.0 GET against the registry: status and body.
pub fn http_get_with(port: u16, path: &str, accept: Option<&str>) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n{accept}\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    (status, resp[split + 4..].to_vec())
}

mod sigstore_js;

/// The sigstore-js harness of this checkout, or why it cannot run here.
pub fn sigstore_js() -> Result<PathBuf, String> {
    sigstore_js::harness(&repo_root())
}

/// The sigstore-js harness, or skip the test (recorded; fatal in CI).
#[macro_export]
macro_rules! require_sigstore_js {
    () => {
        match common::sigstore_js() {
            Ok(p) => p,
            Err(why) => {
                common::skip::skip(&why);
                return;
            }
        }
    };
}

/// Writes `body` as manifest `tag` of `repo` through the registry API.
pub fn put_manifest(reg: &Registry, repo: &str, tag: &str, media_type: &str, body: &[u8]) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", reg.port)).unwrap();
    write!(
        s,
        "PUT /v2/{repo}/manifests/{tag} HTTP/1.0\r\nHost: {}\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\n\r\n",
        reg.host(),
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.0 201") || resp.starts_with("HTTP/1.1 201"),
        "{resp}"
    );
}

/// `localhost/app` (which the caller imported) and a second image pushed
/// to `REPO:amd64` / `REPO:arm64` on `reg`, and an OCI index over them at
/// `REPO:1` (this machine's platform first): (list digest, instance digests).
pub fn push_oci_list(v: &Vouch, reg: &Registry, repo: &str) -> (String, Vec<String>) {
    let (sha, raw) = (sha256, raw_manifest);
    v.ok(&[
        "import",
        "--change",
        "CMD [\"/bin/true\"]",
        httpd_rootfs().to_str().unwrap(),
        "localhost/other",
    ]);
    let mut instances = Vec::new();
    for (local, tag) in [("localhost/app", "amd64"), ("localhost/other", "arm64")] {
        let image = format!("{}/{repo}:{tag}", reg.host());
        v.ok(&["push", "-q", "--tls-verify=false", local, &image]);
        let m = raw(&image);
        instances.push((m.len(), sha(&m), tag));
    }
    let native = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    instances.sort_by_key(|(_, _, arch)| *arch != native);
    let entries: Vec<serde_json::Value> = instances
        .iter()
        .map(|(size, digest, arch)| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest, "size": size,
                "platform": {"architecture": arch, "os": "linux"}
            })
        })
        .collect();
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries
    }))
    .unwrap();
    put_manifest(
        reg,
        repo,
        "1",
        "application/vnd.oci.image.index.v1+json",
        &list,
    );
    assert_eq!(raw(&format!("{}/{repo}:1", reg.host())), list);
    (
        sha(&list),
        instances.into_iter().map(|(_, d, _)| d).collect(),
    )
}

/// Asserts that the command `what` succeeded, showing its stderr if not.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `skopeo inspect --raw` of `image`: the manifest bytes the registry serves.
pub fn raw_manifest(image: &str) -> Vec<u8> {
    raw_manifest_with(&["--tls-verify=false"], image)
}

/// [`raw_manifest`] with other skopeo flags (`--cert-dir D`).
pub fn raw_manifest_with(flags: &[&str], image: &str) -> Vec<u8> {
    peer_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw"])
            .args(flags)
            .arg(format!("docker://{image}")),
    )
    .into_bytes()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
