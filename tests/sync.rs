//! `vouch sync` between real docker-registry instances and `dir:` trees,
//! against skopeo 1.9.3 (issue 14 item 2): the images skopeo would pick,
//! named as skopeo names them, each judged by the policy, signatures
//! carried; a killed sync run again ends as an uninterrupted one; bad
//! input stops with one line before anything is copied.

mod common;

use common::{assert_ok, raw_manifest, sha256};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{FaultProxy, Gpg, Registry, Vouch};

struct World {
    src: Registry,
    mirror: Registry,
    v: Vouch,
    tmp: tempfile::TempDir,
    _gpg: Gpg,
    secret: PathBuf,
    public: PathBuf,
    staging: PathBuf,
    regd: PathBuf,
    policy: PathBuf,
}

impl World {
    /// Two registries; `extra_hosts` (proxies in front of the source) get
    /// the same lookaside.
    fn new(extra_hosts: &[String]) -> Self {
        Self::on(Registry::start(), extra_hosts)
    }

    /// [`World::new`] with the given source registry.
    fn on(src: Registry, extra_hosts: &[String]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mirror = Registry::start();
        let gpg = Gpg::new("release@example.com");
        let secret = tmp.path().join("secret.asc");
        gpg.export_secret(&secret);
        let public = tmp.path().join("public.gpg");
        gpg.export(&public);
        let staging = tmp.path().join("lookaside");
        let regd = tmp.path().join("registries.d");
        std::fs::create_dir_all(&regd).unwrap();
        let mut yaml = String::from("docker:\n");
        for host in [src.host(), mirror.host()]
            .into_iter()
            .chain(extra_hosts.iter().cloned())
        {
            yaml.push_str(&format!(
                "  {host}:\n    lookaside: file://{0}\n    lookaside-staging: file://{0}\n",
                staging.display()
            ));
        }
        std::fs::write(regd.join("test.yaml"), yaml).unwrap();
        let v = Vouch::new();
        let w = World {
            policy: tmp.path().join("policy.json"),
            src,
            mirror,
            v,
            tmp,
            _gpg: gpg,
            secret,
            public,
            staging,
            regd,
        };
        w.write_policy(extra_hosts);
        w
    }

    /// The source needs the key; the mirror (and any proxy) takes
    /// signatures made for the source's `team/` names.
    fn write_policy(&self, proxies: &[String]) {
        let signed = |remap: Option<(String, String)>| {
            let mut s = serde_json::json!({"type": "signedBy", "keyType": "GPGKeys", "keyPath": self.public});
            if let Some((prefix, signed_prefix)) = remap {
                s["signedIdentity"] = serde_json::json!({
                    "type": "remapIdentity", "prefix": prefix, "signedPrefix": signed_prefix,
                });
            }
            serde_json::json!([s])
        };
        let team = format!("{}/team", self.src.host());
        let mut docker = serde_json::Map::new();
        docker.insert(self.src.host(), signed(None));
        docker.insert(
            format!("{}/mirror", self.mirror.host()),
            signed(Some((
                format!("{}/mirror", self.mirror.host()),
                team.clone(),
            ))),
        );
        for p in proxies {
            docker.insert(p.clone(), signed(Some((format!("{p}/team"), team.clone()))));
        }
        std::fs::write(
            &self.policy,
            serde_json::json!({
                "default": [{"type": "reject"}],
                "transports": {
                    "docker": docker,
                    "dir": {"": [{"type": "insecureAcceptAnything"}]}
                }
            })
            .to_string(),
        )
        .unwrap();
    }

    /// Imports a distinct image (its own CMD over `rootfs`) and pushes it to
    /// the source as `team/REPO:TAG`, signed unless `signed` is false.
    fn push(&self, rootfs: &Path, repo_tag: &str, signed: bool) -> String {
        let local = format!("localhost/{}", repo_tag.replace(':', "-"));
        self.v.ok(&[
            "import",
            "--change",
            &format!("CMD [\"/bin/echo\", \"{repo_tag}\"]"),
            rootfs.to_str().unwrap(),
            &local,
        ]);
        let dest = format!("{}/team/{repo_tag}", self.src.host());
        let mut c = self.v.cmd();
        c.arg("--registries.d").arg(&self.regd);
        c.args(["push", "-q", "--tls-verify=false"]);
        if signed {
            c.arg("--sign-by-key").arg(&self.secret);
        }
        assert_ok(&c.args([&local, &dest]).output().unwrap(), "vouch push");
        sha256(&raw_manifest(&dest))
    }

    fn sync_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.v.cmd();
        c.arg("--policy")
            .arg(&self.policy)
            .arg("--registries.d")
            .arg(&self.regd)
            .arg("sync")
            .args(args);
        c
    }

    fn sync(&self, args: &[&str]) -> Output {
        self.sync_cmd(args).output().unwrap()
    }

    fn sync_ok(&self, args: &[&str]) -> (String, String) {
        let out = self.sync(args);
        assert_ok(&out, &format!("vouch sync {args:?}"));
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn signatures_of(&self, repo: &str, digest: &str) -> usize {
        let dir = self
            .staging
            .join(format!("{repo}@{}", digest.replace(':', "=")));
        (1..)
            .take_while(|i| dir.join(format!("signature-{i}")).exists())
            .count()
    }

    /// Tag → manifest digest of `reg`'s `repo`, as skopeo reads them.
    fn tags(reg: &Registry, repo: &str) -> BTreeMap<String, String> {
        let list = common::peer_ok(Command::new("skopeo").args([
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{}/{repo}", reg.host()),
        ]));
        let v: serde_json::Value = serde_json::from_str(&list).unwrap();
        v["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let t = t.as_str().unwrap().to_string();
                let d = sha256(&raw_manifest(&format!("{}/{repo}:{t}", reg.host())));
                (t, d)
            })
            .collect()
    }

    fn rootfs(&self, size: usize) -> PathBuf {
        let dir = self.tmp.path().join(format!("rootfs-{size}"));
        std::fs::create_dir_all(&dir).unwrap();
        common::random_rootfs(&dir, size)
    }
}

const NO_TLS: [&str; 2] = ["--src-tls-verify=false", "--dest-tls-verify=false"];

fn catalog(reg: &Registry) -> String {
    common::http_get(reg.port, "/v2/_catalog")
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// Every path below `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, p: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            out.push(e.path().strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(base, &e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn a_repository_is_mirrored_with_its_signatures_and_skopeo_accepts_it() {
    let w = World::new(&[]);
    let rootfs = w.rootfs(64 << 10);
    let digests: BTreeMap<String, String> = ["1", "2", "3"]
        .iter()
        .map(|t| (t.to_string(), w.push(&rootfs, &format!("app:{t}"), true)))
        .collect();
    let src = format!("{}/team/app", w.src.host());
    let dst = format!("{}/mirror", w.mirror.host());
    let (out, err) = w.sync_ok(
        &[
            &NO_TLS[..],
            &["--src", "docker", "--dest", "docker", &src, &dst],
        ]
        .concat(),
    );
    assert!(
        out.starts_with("Getting image source signatures\n"),
        "{out}"
    );
    assert_eq!(
        out.matches("Writing manifest to image destination\n")
            .count(),
        3,
        "{out}"
    );
    assert_eq!(out.matches("Storing signatures\n").count(), 3, "{out}");
    assert!(
        err.contains(&format!("Copying image ref 1/3 from docker://{src}:")),
        "{err}"
    );
    assert!(err.ends_with("Synced 3 images from 1 sources\n"), "{err}");

    // Every tag, digests unchanged, one signature each in the mirror's scope.
    assert_eq!(World::tags(&w.mirror, "mirror/app"), digests);
    for d in digests.values() {
        assert_eq!(w.signatures_of("mirror/app", d), 1);
    }
    let (ok, why) = common::skopeo_pull(
        Path::new("skopeo"),
        &w.policy,
        &w.regd,
        &format!("{dst}/app:2"),
    );
    assert!(ok, "skopeo refused the mirror: {why}");

    // A second run finds everything there and adds nothing.
    let (again, _) = w.sync_ok(
        &[
            &NO_TLS[..],
            &["--src", "docker", "--dest", "docker", &src, &dst],
        ]
        .concat(),
    );
    assert_eq!(
        again.matches("skipped: already exists").count(),
        6,
        "{again}"
    );
    assert!(
        !again
            .lines()
            .any(|l| l.starts_with("Copying blob") && !l.ends_with("skipped: already exists")),
        "{again}"
    );
    for d in digests.values() {
        assert_eq!(w.signatures_of("mirror/app", d), 1);
    }
}

#[test]
fn a_yaml_list_selects_tags_digests_and_tag_patterns() {
    let w = World::new(&[]);
    let rootfs = w.rootfs(16 << 10);
    let one = w.push(&rootfs, "app:1", true);
    w.push(&rootfs, "app:2", true);
    let three = w.push(&rootfs, "app:3", true);
    let v20 = w.push(&rootfs, "tool:v2.0", true);
    let v21 = w.push(&rootfs, "tool:v2.1", true);
    w.push(&rootfs, "tool:v1.9", true);
    let yaml = w.tmp.path().join("sync.yaml");
    std::fs::write(
        &yaml,
        format!(
            "{host}:\n  tls-verify: false\n  images:\n    team/app:\n      - \"1\"\n      - \"{three}\"\n  images-by-tag-regex:\n    team/tool: ^v2\\.\n",
            host = w.src.host()
        ),
    )
    .unwrap();
    let dst = format!("{}/mirror", w.mirror.host());
    let (_, err) = w.sync_ok(&[
        "--dest-tls-verify=false",
        "--src",
        "yaml",
        "--dest",
        "docker",
        yaml.to_str().unwrap(),
        &dst,
    ]);
    assert!(err.ends_with("Synced 4 images from 2 sources\n"), "{err}");
    assert_eq!(
        World::tags(&w.mirror, "mirror/app"),
        BTreeMap::from([("1".to_string(), one)])
    );
    // The digest source lands by digest, with its signature.
    assert_eq!(sha256(&raw_manifest(&format!("{dst}/app@{three}"))), three);
    assert_eq!(w.signatures_of("mirror/app", &three), 1);
    assert_eq!(
        World::tags(&w.mirror, "mirror/tool"),
        BTreeMap::from([("v2.0".to_string(), v20), ("v2.1".to_string(), v21)])
    );

    // skopeo 1.9.3: an absent tls-verify means verify, whatever the flag.
    let strict = w.tmp.path().join("strict.yaml");
    std::fs::write(
        &strict,
        format!("{}:\n  images:\n    team/app: [\"1\"]\n", w.src.host()),
    )
    .unwrap();
    let out = w.sync(
        &[
            &NO_TLS[..],
            &[
                "--src",
                "yaml",
                "--dest",
                "docker",
                strict.to_str().unwrap(),
                &dst,
            ],
        ]
        .concat(),
    );
    let err = common::assert_fails(2, "sync without tls-verify: false", &out);
    assert!(err.contains("https"), "{err}");
}

#[test]
fn bad_input_stops_with_one_line_before_anything_is_copied() {
    let w = World::new(&[]);
    let rootfs = w.rootfs(16 << 10);
    w.push(&rootfs, "app:1", true);
    let dst = format!("{}/mirror", w.mirror.host());
    let host = w.src.host();
    let write = |name: &str, body: &str| {
        let p = w.tmp.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--src".into(), "yaml".into(), "--dest".into(), "docker".into(), write("typo.yaml", &format!("{host}:\n  tls-verify: false\n  image:\n    team/app: []\n")), dst.clone()],
            format!("typo.yaml: {host}: unknown field `image`"),
        ),
        (
            vec!["--src".into(), "yaml".into(), "--dest".into(), "docker".into(), write("bad.yaml", "{{ not yaml"), dst.clone()],
            "bad.yaml: ".into(),
        ),
        (
            vec!["--src".into(), "yaml".into(), "--dest".into(), "docker".into(), write("regex.yaml", &format!("{host}:\n  tls-verify: false\n  images-by-tag-regex:\n    team/app: \"(\"\n")), dst.clone()],
            format!("regex.yaml: {host}.images-by-tag-regex.team/app: invalid regular expression"),
        ),
        (
            vec!["--src".into(), "yaml".into(), "--dest".into(), "docker".into(), w.tmp.path().join("missing.yaml").display().to_string(), dst.clone()],
            "missing.yaml: No such file or directory".into(),
        ),
        (
            vec!["--src".into(), "tarball".into(), "--dest".into(), "docker".into(), "x".into(), dst.clone()],
            "\"tarball\" is not a valid source transport".into(),
        ),
        (
            vec!["--dest".into(), "docker".into(), "x".into(), dst.clone()],
            "A source transport must be specified".into(),
        ),
        (
            vec!["--src".into(), "docker".into(), "--dest".into(), "oci".into(), "x".into(), dst.clone()],
            "\"oci\" is not a valid destination transport".into(),
        ),
        (
            vec!["--src".into(), "dir".into(), "--dest".into(), "dir".into(), "a".into(), "b".into()],
            "sync from 'dir' to 'dir' not implemented, consider using rsync instead".into(),
        ),
    ];
    for (args, want) in cases {
        let mut all: Vec<&str> = vec!["--src-tls-verify=false", "--dest-tls-verify=false"];
        all.extend(args.iter().map(String::as_str));
        let out = w.sync(&all);
        let err = common::assert_fails(2, &format!("{args:?}"), &out);
        assert!(err.contains(&want), "{args:?}: {err}\nwant {want}");
    }

    // A directory destination that exists is refused before the first copy.
    let out_dir = w.tmp.path().join("out");
    std::fs::create_dir_all(out_dir.join("app:1")).unwrap();
    let out = w.sync(&[
        "--src-tls-verify=false",
        "--src",
        "docker",
        "--dest",
        "dir",
        &format!("{host}/team/app"),
        out_dir.to_str().unwrap(),
    ]);
    let err = common::assert_fails(2, "existing dir destination", &out);
    assert!(
        err.contains(&format!(
            "Refusing to overwrite destination directory {:?}",
            out_dir.join("app:1").display().to_string()
        )),
        "{err}"
    );
    assert!(!err.contains("Copying image ref"), "{err}");
    assert_eq!(catalog(&w.mirror).trim(), r#"{"repositories":[]}"#);
}

#[test]
fn an_unsigned_image_is_refused_and_keep_going_copies_the_rest() {
    let w = World::new(&[]);
    let rootfs = w.rootfs(16 << 10);
    let good = w.push(&rootfs, "app:a-good", true);
    let bad = w.push(&rootfs, "app:b-unsigned", false);
    let also = w.push(&rootfs, "app:c-good", true);
    let src = format!("{}/team/app", w.src.host());
    let dst = format!("{}/mirror", w.mirror.host());
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = NO_TLS.iter().map(|s| s.to_string()).collect();
        a.extend(["--jobs", "1", "--src", "docker", "--dest", "docker"].map(String::from));
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend([src.clone(), dst.clone()]);
        a
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        w.sync(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Without --keep-going the refusal ends the sync: exit 1, the image named.
    let out = run(&[]);
    let err = common::assert_fails(1, "sync of an unsigned tag", &out);
    assert!(
        err.contains("Error: Error copying ref \"docker://"),
        "{err}"
    );
    assert!(err.contains("b-unsigned"), "{err}");
    let tags = World::tags(&w.mirror, "mirror/app");
    assert!(!tags.values().any(|d| *d == bad), "{tags:?}");

    // With it, every other image is copied and the end says it failed.
    let out = run(&["--keep-going"]);
    let err = common::assert_fails(1, "sync --keep-going", &out);
    assert!(err.contains("Error copying ref \"docker://"), "{err}");
    assert!(
        err.contains("Error: Sync failed due to previous reported error(s) for one or more images"),
        "{err}"
    );
    assert_eq!(
        World::tags(&w.mirror, "mirror/app"),
        BTreeMap::from([("a-good".to_string(), good), ("c-good".to_string(), also)])
    );
    assert_eq!(w.signatures_of("mirror/app", &bad), 0);
}

#[test]
fn a_killed_sync_run_again_ends_as_an_uninterrupted_one() {
    // The source is reached through a throttled proxy, so the kill lands
    // while layers are moving.
    let src_reg = Registry::start();
    let proxy = FaultProxy::throttled(&src_reg, 1 << 20);
    let w = World::on(src_reg, &[proxy.host()]);
    let rootfs = w.rootfs(3 << 20);
    let digests: BTreeMap<String, String> = ["1", "2", "3", "4"]
        .iter()
        .map(|t| (t.to_string(), w.push(&rootfs, &format!("app:{t}"), true)))
        .collect();
    let src = format!("{}/team/app", proxy.host());
    let dst = format!("{}/mirror", w.mirror.host());
    let args = [
        &NO_TLS[..],
        &["-q", "--src", "docker", "--dest", "docker", &src, &dst],
    ]
    .concat();

    let mut child = w
        .sync_cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    proxy.wait_bytes(1 << 20, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let passed = proxy.bytes_passed();
    let before = World::tags_if_any(&w.mirror, "mirror/app");
    assert!(
        before.len() < digests.len(),
        "the kill after {passed} bytes came too late: {before:?}"
    );

    w.sync_ok(&args);
    assert_eq!(World::tags(&w.mirror, "mirror/app"), digests);
    for d in digests.values() {
        assert_eq!(w.signatures_of("mirror/app", d), 1, "{d}");
    }
    let (ok, why) = common::skopeo_pull(
        Path::new("skopeo"),
        &w.policy,
        &w.regd,
        &format!("{dst}/app:4"),
    );
    assert!(ok, "skopeo refused the resumed mirror: {why}");
}

impl World {
    /// [`World::tags`], empty when the repository does not exist yet.
    fn tags_if_any(reg: &Registry, repo: &str) -> BTreeMap<String, String> {
        let reply = common::http_get(reg.port, &format!("/v2/{repo}/tags/list"));
        let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
        let tagged = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["tags"].as_array().map(|t| !t.is_empty()))
            .unwrap_or(false);
        if !reply.starts_with("HTTP/1.1 200") || !tagged {
            return BTreeMap::new();
        }
        Self::tags(reg, repo)
    }
}

#[test]
fn names_match_skopeo_for_scoped_and_directory_syncs() {
    // A portless source (127.0.0.2:80), so scoped names are valid.
    let w = World::new(&[]);
    let src = Registry::start_portless("127.0.0.2");
    let insecure = w.tmp.path().join("insecure.json");
    std::fs::write(
        &insecure,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let local = "localhost/app";
    w.v.ok(&["import", w.rootfs(16 << 10).to_str().unwrap(), local]);
    for t in ["1", "2"] {
        w.v.ok(&[
            "push",
            "-q",
            "--tls-verify=false",
            local,
            &format!("{}/team/app:{t}", src.host()),
        ]);
    }
    // The same sync by both tools; `{}` in an argument is "v" for vouch's
    // copy and "s" for skopeo's, so their results sit side by side.
    let both = |args: &[&str]| {
        for tool in ["v", "s"] {
            let args: Vec<String> = args.iter().map(|a| a.replace("{}", tool)).collect();
            let mut c = match tool {
                "v" => w.v.cmd(),
                _ => Command::new("skopeo"),
            };
            c.arg("--policy").arg(&insecure).args([
                "sync",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
            ]);
            assert_ok(
                &c.args(&args).output().unwrap(),
                &format!("{tool}: sync {args:?}"),
            );
        }
    };
    let repo = format!("{}/team/app", src.host());
    let tmp = w.tmp.path().display().to_string();
    let mirror = w.mirror.host();
    for scoped in [true, false] {
        let flag: &[&str] = if scoped { &["--scoped"] } else { &[] };
        let dir = format!("{tmp}/{{}}-{scoped}");
        let prefix = format!("{mirror}/{{}}{scoped}");
        both(&[flag, &["--src", "docker", "--dest", "dir", &repo, &dir]].concat());
        let (vd, sd) = (dir.replace("{}", "v"), dir.replace("{}", "s"));
        assert_eq!(
            tree(Path::new(&vd)),
            tree(Path::new(&sd)),
            "--scoped={scoped}"
        );
        if scoped {
            let t = tree(Path::new(&vd));
            assert!(
                t.contains(&"127.0.0.2/team/app:1/manifest.json".to_string()),
                "{t:?}"
            );
        }
        // Back from the trees into a registry, and registry to registry.
        both(&[flag, &["--src", "dir", "--dest", "docker", &dir, &prefix]].concat());
        let registry = format!("{prefix}-r");
        both(
            &[
                flag,
                &["--src", "docker", "--dest", "docker", &repo, &registry],
            ]
            .concat(),
        );
    }
    let repos: serde_json::Value = serde_json::from_str(&catalog(&w.mirror)).unwrap();
    let mut names: Vec<String> = repos["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    names.sort();
    let vouch_names: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix('v'))
        .map(String::from)
        .collect();
    let skopeo_names: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix('s'))
        .map(String::from)
        .collect();
    assert_eq!(vouch_names, skopeo_names, "{names:?}");
    assert!(
        vouch_names.contains(&"true-r/127.0.0.2/team/app".to_string()),
        "{names:?}"
    );
    for n in &vouch_names {
        assert_eq!(
            World::tags(&w.mirror, &format!("v{n}")),
            World::tags(&w.mirror, &format!("s{n}")),
            "{n}"
        );
    }
}

#[test]
fn sync_all_copies_each_list_with_its_instances() {
    let w = World::new(&[]);
    let insecure = w.tmp.path().join("insecure.json");
    std::fs::write(
        &insecure,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    w.v.import_httpd("localhost/app");
    let (list, instances) = common::push_oci_list(&w.v, &w.src, "multi/app");
    let out =
        w.v.cmd()
            .arg("--policy")
            .arg(&insecure)
            .args([
                "sync",
                "--all",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--src",
                "docker",
                "--dest",
                "docker",
            ])
            .arg(format!("{}/multi/app:1", w.src.host()))
            .arg(format!("{}/mirror", w.mirror.host()))
            .output()
            .unwrap();
    assert_ok(&out, "vouch sync --all");
    let raw = raw_manifest(&format!("{}/mirror/app:1", w.mirror.host()));
    assert_eq!(sha256(&raw), list);
    for d in instances {
        assert_eq!(
            sha256(&raw_manifest(&format!(
                "{}/mirror/app@{d}",
                w.mirror.host()
            ))),
            d
        );
    }
}

#[test]
fn sigstore_signatures_travel_and_a_signing_sync_adds_one_signature_per_image_and_run() {
    let skopeo = require_skopeo_sigstore!();
    let w = World::new(&[]);
    let path = |n: &str| w.tmp.path().join(n);
    let pass = path("pass");
    std::fs::write(&pass, "sync sigstore pass\n").unwrap();
    w.v.ok(&[
        "generate-sigstore-key",
        "--output-prefix",
        path("cosign").to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    let regd = path("regd-sigstore");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("t.yaml"),
        format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n  {}:\n    use-sigstore-attachments: true\n",
            w.src.host(),
            w.mirror.host()
        ),
    )
    .unwrap();
    let rule = |remap: Option<(&str, String)>| {
        let mut r = serde_json::json!({"type": "sigstoreSigned", "keyPath": path("cosign.pub")});
        if let Some((prefix, signed)) = remap {
            r["signedIdentity"] = serde_json::json!({"type": "remapIdentity",
                "prefix": format!("{}/{prefix}", w.mirror.host()), "signedPrefix": signed});
        }
        serde_json::json!([r])
    };
    let team = format!("{}/team", w.src.host());
    let policy = path("sigstore-policy.json");
    std::fs::write(
        &policy,
        serde_json::json!({"default": [{"type": "reject"}], "transports": {"docker": {
            w.src.host(): rule(None),
            format!("{}/carried", w.mirror.host()): rule(Some(("carried", team.clone()))),
            format!("{}/signed", w.mirror.host()): rule(None),
            format!("{}/bare", w.mirror.host()): rule(Some(("bare", team.clone()))),
        }}})
        .to_string(),
    )
    .unwrap();
    let rootfs = w.rootfs(16 << 10);
    for t in ["1", "2"] {
        // Distinct images: one digest per tag, so one signature per run.
        w.v.ok(&[
            "import",
            "--change",
            &format!("CMD [\"/bin/echo\", \"{t}\"]"),
            rootfs.to_str().unwrap(),
            "localhost/app",
        ]);
        let out =
            w.v.cmd()
                .arg("--registries.d")
                .arg(&regd)
                .args([
                    "push",
                    "-q",
                    "--tls-verify=false",
                    "--sign-by-sigstore-private-key",
                ])
                .arg(path("cosign.private"))
                .arg("--sign-passphrase-file")
                .arg(&pass)
                .args(["localhost/app", &format!("{team}/app:{t}")])
                .output()
                .unwrap();
        assert_ok(&out, "vouch push --sign-by-sigstore-private-key");
    }
    let sync = |extra: &[&str], dest: &str| {
        let out =
            w.v.cmd()
                .arg("--policy")
                .arg(&policy)
                .arg("--registries.d")
                .arg(&regd)
                .args(["sync", "-q", "--src", "docker", "--dest", "docker"])
                .args(NO_TLS)
                .args(extra)
                .args([
                    &format!("{team}/app"),
                    &format!("{}/{dest}", w.mirror.host()),
                ])
                .output()
                .unwrap();
        assert_ok(&out, &format!("vouch sync {extra:?} to {dest}"));
    };
    let accepts = |image: &str| common::skopeo_pull(&skopeo, &policy, &regd, image).0;

    // Carried: the mirror holds the source's attachment.
    sync(&[], "carried");
    assert!(accepts(&format!("{}/carried/app:1", w.mirror.host())));

    // Signed by the sync for each image's own name. A second signing run
    // signs again, as skopeo's does (the payload carries a timestamp), and
    // adds exactly one signature per image: nothing else is duplicated.
    let key = path("cosign.private");
    let sign = [
        "--remove-signatures",
        "--sign-by-sigstore-private-key",
        key.to_str().unwrap(),
        "--sign-passphrase-file",
        pass.to_str().unwrap(),
    ];
    let layers = |image: &str| {
        let digest = sha256(&raw_manifest(image));
        let (repo, _) = image.rsplit_once(':').unwrap();
        let sig = raw_manifest(&format!("{repo}:{}.sig", digest.replace(':', "-")));
        serde_json::from_slice::<serde_json::Value>(&sig).unwrap()["layers"]
            .as_array()
            .unwrap()
            .len()
    };
    for run in 1..=2 {
        // The payload's timestamp has one-second resolution: within one
        // second the (deterministic, RFC 6979) signature would be the same
        // and the attachment would rightly not take it twice.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        sync(&sign, "signed");
        for t in ["1", "2"] {
            let image = format!("{}/signed/app:{t}", w.mirror.host());
            assert!(accepts(&image), "{image}");
            assert_eq!(layers(&image), run, "{image} after run {run}");
        }
    }
    // Without signatures the rule refuses: the checks above are real.
    sync(&["--remove-signatures"], "bare");
    assert!(!accepts(&format!("{}/bare/app:1", w.mirror.host())));
}

#[test]
fn a_yaml_repository_that_cannot_be_listed_stops_the_sync_unless_keep_going() {
    let w = World::new(&[]);
    let rootfs = w.rootfs(16 << 10);
    let one = w.push(&rootfs, "app:1", true);
    // A registry nobody listens on: its tags cannot be listed.
    let dead = format!("127.0.0.1:{}", common::free_port());
    let yaml = w.tmp.path().join("two.yaml");
    std::fs::write(
        &yaml,
        format!(
            "{dead}:\n  tls-verify: false\n  images:\n    team/gone: []\n{}:\n  tls-verify: false\n  images:\n    team/app: []\n",
            w.src.host()
        ),
    )
    .unwrap();
    let dst = format!("{}/mirror", w.mirror.host());
    let run = |extra: &[&str]| {
        let mut args = vec![
            "--dest-tls-verify=false",
            "--src",
            "yaml",
            "--dest",
            "docker",
        ];
        args.extend_from_slice(extra);
        args.extend([yaml.to_str().unwrap(), dst.as_str()]);
        w.sync(&args)
    };
    let out = run(&[]);
    let err = common::assert_fails(2, "sync with an unreachable registry", &out);
    assert!(
        err.contains(&format!(
            "Error determining repository tags for image {dead}/team/gone"
        )),
        "{err}"
    );
    assert_eq!(catalog(&w.mirror).trim(), r#"{"repositories":[]}"#);

    let out = run(&["--keep-going"]);
    let err = common::assert_fails(2, "sync --keep-going with an unreachable registry", &out);
    assert!(
        err.contains(&format!("Error processing repo, skipping: Error determining repository tags for image {dead}/team/gone")),
        "{err}"
    );
    assert!(
        err.contains("Error: Sync failed due to previous reported error(s)"),
        "{err}"
    );
    assert_eq!(
        World::tags(&w.mirror, "mirror/app"),
        BTreeMap::from([("1".to_string(), one)])
    );
}
