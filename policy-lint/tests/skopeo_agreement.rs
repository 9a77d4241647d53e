//! Agreement with containers/image, the oracle being Debian's skopeo
//! (1.9.3, containers/image 5.23): for every file of the upstream fixture
//! corpus and for a few hundred mutations of valid policies, policy-lint's
//! error/no-error verdict must equal whether `skopeo --policy FILE copy …`
//! gets past loading the policy. Known, explained differences (§Δ of
//! docs/trust-formats.md, listed in docs/policy-lint.md) are allowed by name;
//! anything else fails the test.
//!
//! Run with `--nocapture` to see the agreement count.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use policy_lint::{refuses_to_load, Linter};
use serde_json::{json, Map, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/containers-image")
}

/// A valid policy touching every requirement, identity and transport kind.
fn rich_policy() -> Value {
    let signed = |src: Value, identity: Value| {
        let mut o = Map::new();
        o.insert("type".into(), json!("signedBy"));
        o.insert("keyType".into(), json!("GPGKeys"));
        let (k, v) = src.as_object().unwrap().iter().next().unwrap();
        o.insert(k.clone(), v.clone());
        o.insert("signedIdentity".into(), identity);
        Value::Object(o)
    };
    json!({
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {
                "": [{"type": "insecureAcceptAnything"}],
                "quay.io/ns": [signed(json!({"keyPath": "/etc/pki/k.gpg"}), json!({"type": "matchRepository"}))],
                "registry.example.com/app:v1": [signed(json!({"keyPaths": ["/a", "/b"]}),
                    json!({"type": "exactReference", "dockerReference": "registry.example.com/app:v1"}))],
                "*.example.org": [signed(json!({"keyData": "bm9uc2Vuc2U="}),
                    json!({"type": "remapIdentity", "prefix": "mirror.example.org", "signedPrefix": "example.com/ns"}))],
                "mirror.local:5000/x": [signed(json!({"keyPath": "/k"}),
                    json!({"type": "exactRepository", "dockerRepository": "example.com/x"}))],
                "localhost": [signed(json!({"keyPath": "/k"}), json!({"type": "matchExact"})),
                    {"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchRepoDigestOrExact"}}],
                "sig.example.com": [{"type": "sigstoreSigned", "keyPath": "/k",
                    "signedIdentity": {"type": "matchRepoDigestOrExact"}}]
            },
            "dir": {"/srv/images": [{"type": "reject"}]},
            "oci": {"/srv/oci": [{"type": "insecureAcceptAnything"}]},
            "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]},
            "docker-archive": {"": [{"type": "reject"}]},
            "containers-storage": {"[overlay@/var/lib/containers/storage]docker.io/library/busybox": [{"type": "reject"}]}
        }
    })
}

/// Every single-point mutation of `v`: rename, remove, retype members,
/// empty lists, mangle scopes and values.
fn mutations(v: &Value, path: &str, in_transport: bool, out: &mut Vec<(String, Value)>) {
    fn push(out: &mut Vec<(String, Value)>, v: &Value, desc: String, f: &dyn Fn(&mut Value)) {
        let mut copy = v.clone();
        f(&mut copy);
        out.push((desc, copy));
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{path}/{k}");
                let renames = if in_transport {
                    // Scope keys: mangled scopes.
                    vec![
                        format!("{k}/"),
                        format!("relative/{k}"),
                        k.to_uppercase(),
                        format!("{k}:tag"),
                        format!("{k}@sha256:{}", "a".repeat(64)),
                        format!("[{k}]"),
                    ]
                } else {
                    let mut c = k.chars();
                    let flipped = c.next().map_or(String::new(), |f| {
                        let f = if f.is_lowercase() {
                            f.to_ascii_uppercase()
                        } else {
                            f.to_ascii_lowercase()
                        };
                        format!("{f}{}", c.as_str())
                    });
                    vec![flipped, format!("{k}X")]
                };
                for new in renames {
                    let (k2, new2) = (k.clone(), new.clone());
                    push(out, v, format!("rename {p} -> {new}"), &|c| {
                        let m = c.as_object_mut().unwrap();
                        let val = m.remove(&k2).unwrap();
                        m.insert(new2.clone(), val);
                    });
                }
                let k2 = k.clone();
                push(out, v, format!("remove {p}"), &|c| {
                    c.as_object_mut().unwrap().remove(&k2);
                });
                let retypes: Vec<Value> = match child {
                    Value::String(_) => vec![
                        json!(null),
                        json!(1),
                        json!(["x"]),
                        json!(""),
                        json!("INVALID"),
                    ],
                    Value::Array(_) => vec![json!(null), json!({}), json!("x"), json!([])],
                    Value::Object(_) => vec![json!(null), json!([]), json!("x"), json!({})],
                    _ => vec![json!(null), json!("x")],
                };
                for r in retypes {
                    let (k2, r2) = (k.clone(), r.clone());
                    push(out, v, format!("set {p} = {r}"), &|c| {
                        c.as_object_mut().unwrap().insert(k2.clone(), r2.clone());
                    });
                }
                let is_transports = path.ends_with("/transports") && !in_transport;
                let mut sub = Vec::new();
                mutations(child, &p, is_transports, &mut sub);
                for (d, m) in sub {
                    let mut copy = v.clone();
                    copy.as_object_mut().unwrap().insert(k.clone(), m);
                    out.push((d, copy));
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let mut sub = Vec::new();
                mutations(child, &format!("{path}[{i}]"), false, &mut sub);
                for (d, m) in sub {
                    let mut copy = v.clone();
                    copy.as_array_mut().unwrap()[i] = m;
                    out.push((d, copy));
                }
            }
        }
        _ => {}
    }
}

/// Text-level mutations JSON trees cannot express.
fn text_mutations(text: &str) -> Vec<(String, Vec<u8>)> {
    let t = text.trim();
    let inner = &t[1..];
    vec![
        (
            "duplicate default".into(),
            format!("{{\"default\":[{{\"type\":\"reject\"}}],{inner}").into_bytes(),
        ),
        ("trailing garbage".into(), format!("{t} x").into_bytes()),
        (
            "trailing comma".into(),
            format!("{},}}", &t[..t.len() - 1]).into_bytes(),
        ),
        (
            "byte order mark".into(),
            format!("\u{feff}{t}").into_bytes(),
        ),
        ("truncated".into(), t.as_bytes()[..t.len() / 2].to_vec()),
        ("empty file".into(), Vec::new()),
        ("two values".into(), format!("{t}\n{t}").into_bytes()),
    ]
}

/// Whether skopeo refuses to load the policy at `path`.
/// `dest` must not exist: skopeo may create it before failing on the source.
fn skopeo_refuses(path: &Path, dest: &Path) -> bool {
    let out = Command::new("skopeo")
        .arg("--policy")
        .arg(path)
        .args(["copy", "dir:/nonexistent"])
        .arg(format!("dir:{}", dest.display()))
        .output()
        .expect("running skopeo (scripts/setup.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{}: skopeo copy unexpectedly worked",
        path.display()
    );
    if stderr.contains("Error loading trust policy") {
        return true;
    }
    assert!(
        stderr.contains("/nonexistent"),
        "{}: unexpected skopeo failure: {stderr}",
        path.display()
    );
    false
}

/// Differences explained by the oracle's age (§Δ): containers/image 5.23
/// versus the current upstream rules vouch follows. Each is run through both
/// and must still disagree, so docs/policy-lint.md stays true.
const DELTAS: &[(&str, &str, &str)] = &[
    (
        "atomic scope",
        r#"{"default":[{"type":"reject"}],"transports":{"atomic":{"host/ns:x/stream":[{"type":"reject"}]}}}"#,
        "Debian's skopeo 1.9.3 is built without the atomic transport, so any atomic scope loads there",
    ),
    (
        "sigstoreSigned keyPaths",
        r#"{"default":[{"type":"sigstoreSigned","keyPaths":["/a"]}]}"#,
        "keyPaths arrived after containers/image 5.23 (1.9.3: Unknown key)",
    ),
    (
        "sigstoreSigned pki",
        r#"{"default":[{"type":"sigstoreSigned","pki":{"caRootsPath":"/a","subjectEmail":"x@example.com"}}]}"#,
        "pki arrived after containers/image 5.23 (1.9.3: Unknown key)",
    ),
];

fn known_delta(desc: &str) -> Option<&'static str> {
    let name = desc.strip_prefix("Δ ")?;
    DELTAS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, why)| *why)
}

#[test]
fn verdicts_agree_with_skopeo() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    // 1. Every file of the fixture corpus, as a policy.
    let mut stack = vec![fixtures()];
    let mut fixture_files = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("fixtures/containers-image") {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                fixture_files.push(p);
            }
        }
    }
    fixture_files.sort();
    for p in &fixture_files {
        cases.push((
            format!("fixture {}", p.strip_prefix(fixtures()).unwrap().display()),
            std::fs::read(p).unwrap(),
        ));
    }
    let n_fixtures = cases.len();
    for (name, policy, _) in DELTAS {
        cases.push((format!("Δ {name}"), policy.as_bytes().to_vec()));
    }
    let n_deltas = DELTAS.len();
    // 2. Mutations of valid policies.
    let bases: Vec<(String, Value)> = vec![
        ("rich".into(), rich_policy()),
        (
            "upstream".into(),
            serde_json::from_slice(
                &std::fs::read(fixtures().join("signature/fixtures/policy.json")).unwrap(),
            )
            .unwrap(),
        ),
        (
            "podman".into(),
            serde_json::from_slice(
                &std::fs::read(fixtures().join("podman/test/policy.json")).unwrap(),
            )
            .unwrap(),
        ),
    ];
    for (name, base) in &bases {
        let mut muts = Vec::new();
        mutations(base, "", false, &mut muts);
        // The upstream and podman fixtures repeat the same shapes: sample them.
        let stride = if name == "rich" { 1 } else { 7 };
        for (d, m) in muts.into_iter().step_by(stride) {
            cases.push((
                format!("{name}: {d}"),
                serde_json::to_vec_pretty(&m).unwrap(),
            ));
        }
        let text = serde_json::to_string_pretty(base).unwrap();
        for (d, m) in text_mutations(&text) {
            cases.push((format!("{name}: {d}"), m));
        }
    }
    let paths: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, bytes))| {
            let p = dir.path().join(format!("{i}.json"));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    // skopeo in parallel (each run is ~30 ms of mostly process start-up).
    let next = AtomicUsize::new(0);
    let verdicts: Vec<(usize, bool)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= paths.len() {
                            break mine;
                        }
                        let dest = dir.path().join(format!("dest-{i}"));
                        mine.push((i, skopeo_refuses(&paths[i], &dest)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut skopeo = vec![false; paths.len()];
    for (i, v) in verdicts {
        skopeo[i] = v;
    }
    let mut agree = [0usize; 2];
    let mut explained = Vec::new();
    let mut unexplained = Vec::new();
    let mut refused = 0;
    for (i, (desc, bytes)) in cases.iter().enumerate() {
        let findings = Linter::new().lint_bytes(Path::new("policy.json"), bytes);
        let lint = refuses_to_load(&findings);
        refused += usize::from(skopeo[i]);
        let bucket = usize::from(i >= n_fixtures + n_deltas);
        if (n_fixtures..n_fixtures + n_deltas).contains(&i) {
            assert_ne!(lint, skopeo[i], "{desc}: the documented difference is gone");
        }
        if lint == skopeo[i] {
            agree[bucket] += 1;
        } else {
            let line = format!(
                "{desc}: policy-lint {} / skopeo {}",
                verdict(lint),
                verdict(skopeo[i])
            );
            match known_delta(desc) {
                Some(why) => explained.push(format!("{line} — {why}")),
                None => unexplained.push(line),
            }
        }
    }
    let n_mut = cases.len() - n_fixtures - n_deltas;
    println!(
        "skopeo agreement: fixtures {}/{n_fixtures}, mutations {}/{n_mut} ({refused} of {} refused by skopeo); explained differences: {}",
        agree[0],
        agree[1],
        cases.len(),
        explained.len()
    );
    for e in &explained {
        println!("  {e}");
    }
    assert!(n_mut >= 200, "only {n_mut} mutations");
    assert!(
        unexplained.is_empty(),
        "unexplained disagreements:\n{}",
        unexplained.join("\n")
    );
}

fn verdict(refuses: bool) -> &'static str {
    if refuses {
        "refuses"
    } else {
        "loads"
    }
}
