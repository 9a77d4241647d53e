//! `vouch image trust set|show` for sigstoreSigned, against real podman
//! (4.3.1 on the CI image; its pkg/trust is the same as podman 5's for
//! these commands): the same commands must write the same policy.json,
//! byte for byte, and show the same table and JSON. vouch refuses, with one
//! line and exit 2, a -f that is not a PEM public key (podman writes it and
//! every pull is then rejected).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::podman_trust::Podman;
use common::Vouch;

fn fixture(name: &str) -> PathBuf {
    common::repo_root()
        .join("fixtures/containers-image/signature/fixtures")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `trust set` sequence both tools run, on policy file `p`.
fn set_sequence(p: &str) -> Vec<Vec<String>> {
    let a = |v: &[&str]| -> Vec<String> {
        ["image", "trust", "set", "--policypath", p]
            .iter()
            .chain(v)
            .map(|x| x.to_string())
            .collect()
    };
    let cosign = fixture("cosign.pub");
    let cosign2 = fixture("cosign2.pub");
    let gpg = fixture("public-key.gpg");
    vec![
        a(&["-t", "reject", "default"]),
        a(&["-t", "sigstoreSigned", "-f", s(&cosign), "quay.io/ns"]),
        // Two -f: one requirement per file (signed by a key of *each*).
        a(&[
            "-t",
            "sigstoreSigned",
            "-f",
            s(&cosign),
            "-f",
            s(&cosign2),
            "registry.example.com:5000/app",
        ]),
        a(&["-f", s(&gpg), "registry.example.com:5000"]),
        a(&["-t", "accept", "docker.io"]),
        // Setting a scope again replaces its list.
        a(&["-t", "sigstoreSigned", "-f", s(&cosign2), "quay.io/ns"]),
        a(&["-t", "insecureAcceptAnything", "localhost:5000"]),
    ]
}

fn registries_d(dir: &Path) -> PathBuf {
    let rd = dir.join("registries.d");
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::write(
        rd.join("sigstore.yaml"),
        "docker:\n  quay.io:\n    use-sigstore-attachments: true\n  registry.example.com:5000:\n    lookaside: https://sigs.example.com/store\n    use-sigstore-attachments: true\ndefault-docker:\n  sigstore: file:///var/lib/containers/sigstore\n",
    )
    .unwrap();
    rd
}

#[test]
fn trust_set_and_show_sigstore_match_podman() {
    require_tools!("podman", "gpg");
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join("podman.json");
    let ours = tmp.path().join("vouch.json");
    let pm = Podman::new();
    let v = Vouch::new();
    for args in set_sequence(s(&theirs)) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pm.ok(&args);
    }
    for args in set_sequence(s(&ours)) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        v.ok(&args);
    }
    let want = std::fs::read_to_string(&theirs).unwrap();
    let got = std::fs::read_to_string(&ours).unwrap();
    assert_eq!(got, want, "policy.json differs from podman's");
    // What podman writes for sigstoreSigned: keyPath only, nothing else.
    assert!(want.contains(&format!(
        "\"type\": \"sigstoreSigned\",\n                    \"keyPath\": \"{}\"\n",
        fixture("cosign2.pub").display()
    )));
    let rd = registries_d(tmp.path());
    for extra in [
        &[][..],
        &["--json"][..],
        &["-n"][..],
        &["--raw"][..],
        &["--json", "quay.io"][..],
    ] {
        let mut pargs = vec!["image", "trust", "show", "--policypath", s(&theirs)];
        let mut vargs = vec!["image", "trust", "show", "--policypath", s(&ours)];
        for a in [&mut pargs, &mut vargs] {
            a.extend(["--registrypath", s(&rd)]);
            a.extend(extra);
        }
        let want = pm.ok(&pargs).replace(s(&theirs), "P");
        let got = v.ok(&vargs).replace(s(&ours), "P");
        assert_eq!(got, want, "trust show {extra:?} differs from podman's");
    }
    // The rows podman gives sigstoreSigned: type sigstoreSigned, ID N/A, the
    // scope's lookaside (use-sigstore-attachments is not shown).
    let table = v.ok(&[
        "image",
        "trust",
        "show",
        "--policypath",
        s(&ours),
        "--registrypath",
        s(&rd),
    ]);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("sigstoreSigned"))
        .collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows.iter().all(|l| l.contains(" N/A ")), "{table}");
    assert!(
        rows.iter()
            .filter(|l| l.contains("registry.example.com:5000/app"))
            .all(|l| l.ends_with("https://sigs.example.com/store")),
        "{table}"
    );
    let signed = table.lines().find(|l| l.contains(" signed ")).unwrap();
    assert!(signed.contains("skopeo testing key"), "{table}");
}

/// The policy vouch writes loads in skopeo 1.22 (sigstore enabled), which
/// would reject an unloadable sigstoreSigned requirement before copying.
#[test]
fn skopeo_sigstore_loads_the_written_policy() {
    let skopeo = require_skopeo_sigstore!();
    let tmp = tempfile::tempdir().unwrap();
    let pol = tmp.path().join("policy.json");
    let v = Vouch::new();
    for args in set_sequence(s(&pol)) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        v.ok(&args);
    }
    let src = tmp.path().join("missing-src");
    let out = Command::new(&skopeo)
        .args(["--policy", s(&pol), "copy"])
        .arg(format!("dir:{}", src.display()))
        .arg(format!("dir:{}", tmp.path().join("dst").display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("policy"), "skopeo refused the policy: {err}");
    assert!(err.contains("missing-src"), "{err}");
}

#[test]
fn trust_set_refuses_what_is_not_a_pem_public_key() {
    let tmp = tempfile::tempdir().unwrap();
    let pol = tmp.path().join("policy.json");
    let p = s(&pol);
    let v = Vouch::new();
    v.ok(&[
        "image",
        "trust",
        "set",
        "--policypath",
        p,
        "-t",
        "reject",
        "default",
    ]);
    let before = std::fs::read(&pol).unwrap();
    let good = fixture("cosign.pub");
    let missing = tmp.path().join("nope.pub");
    let cases: [(PathBuf, &str); 3] = [
        (fixture("public-key.gpg"), "is not a PEM public key"),
        (
            fixture("fulcio_v1.crt.pem"),
            "unknown Public key PEM file type: CERTIFICATE",
        ),
        (missing.clone(), "No such file or directory"),
    ];
    for (bad, why) in &cases {
        // Alone, and after a good key: nothing is written either way.
        for keys in [vec![bad.as_path()], vec![good.as_path(), bad.as_path()]] {
            let mut args = vec![
                "image",
                "trust",
                "set",
                "--policypath",
                p,
                "-t",
                "sigstoreSigned",
            ];
            for k in &keys {
                args.extend(["-f", s(k)]);
            }
            args.push("quay.io");
            let err = v.fails(2, &args);
            let line = err.lines().find(|l| l.starts_with("Error:")).unwrap();
            assert!(line.contains(s(bad)), "{line}");
            assert!(line.contains("--pubkeysfile"), "{line}");
            assert!(line.contains(why), "{line}");
            assert_eq!(std::fs::read(&pol).unwrap(), before);
        }
    }
    // A PEM public key is not an OpenPGP key either.
    let err = v.fails(
        2,
        &[
            "image",
            "trust",
            "set",
            "--policypath",
            p,
            "-f",
            s(&good),
            "quay.io",
        ],
    );
    assert!(err.contains("holds no OpenPGP public key"), "{err}");
    // No key at all: podman's message.
    let err = v.fails(
        2,
        &[
            "image",
            "trust",
            "set",
            "--policypath",
            p,
            "-t",
            "sigstoreSigned",
            "quay.io",
        ],
    );
    assert!(
        err.contains("at least one public key must be defined for type 'sigstoreSigned'"),
        "{err}"
    );
    assert_eq!(std::fs::read(&pol).unwrap(), before);
    assert!(!missing.exists());
}
