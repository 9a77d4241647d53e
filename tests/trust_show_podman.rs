//! `vouch image trust show` against Debian's podman 4.3.1 on the same
//! policy.json files and the same registries.d (in /etc/containers/registries.d,
//! since podman 4.3.1 has no `--registries.d`): the table, `-n` and `--json`
//! must be byte for byte podman's, for accept/reject defaults, signedBy with
//! keyPath / keyPaths / keyData (keys with several user IDs, with and without
//! e-mail, shown in the order gpg lists them), sigstoreSigned, and scopes of
//! several transports. `$CONTAINERS_POLICY_JSON` selects the policy when no
//! flag does.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::podman_trust::{EtcRegistriesD, Podman};
use common::Vouch;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn gpg(home: &Path, args: &[&str]) -> Vec<u8> {
    common::gpg_batch(home, args)
}

/// Key files: alice (three user IDs, added out of alphabetical order, one
/// without e-mail), bob, and one file holding both (armored).
struct Keys {
    _home: tempfile::TempDir,
    alice: PathBuf,
    bob: PathBuf,
    both: PathBuf,
}

impl Keys {
    fn new(dir: &Path) -> Self {
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .unwrap();
        let h = home.path();
        gpg(
            h,
            &[
                "--quick-gen-key",
                "Zoe Alice <alice@example.com>",
                "ed25519",
                "sign",
                "never",
            ],
        );
        gpg(
            h,
            &[
                "--quick-add-uid",
                "alice@example.com",
                "Aaron <aaron@example.com>",
            ],
        );
        gpg(
            h,
            &["--quick-add-uid", "alice@example.com", "No Mail Person"],
        );
        gpg(
            h,
            &[
                "--quick-gen-key",
                "Bob <bob@example.org>",
                "ed25519",
                "sign",
                "never",
            ],
        );
        let alice = dir.join("alice.gpg");
        std::fs::write(&alice, gpg(h, &["--export", "alice@example.com"])).unwrap();
        let bob = dir.join("bob.gpg");
        std::fs::write(&bob, gpg(h, &["--export", "bob@example.org"])).unwrap();
        let both = dir.join("both.asc");
        std::fs::write(&both, gpg(h, &["--armor", "--export"])).unwrap();
        Keys {
            _home: home,
            alice,
            bob,
            both,
        }
    }
}

fn policies(k: &Keys) -> Vec<(&'static str, String)> {
    let cosign =
        common::repo_root().join("fixtures/containers-image/signature/fixtures/cosign.pub");
    let bob_data = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&k.bob).unwrap());
    vec![
        (
            "accept",
            r#"{"default": [{"type": "insecureAcceptAnything"}]}"#.to_string(),
        ),
        (
            "reject-with-docker-daemon",
            r#"{"default": [{"type": "reject"}], "transports": {"docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}}}"#.to_string(),
        ),
        (
            "signed",
            serde_json::json!({
                "default": [{"type": "reject"}],
                "transports": {
                    "docker": {
                        "quay.io/team/app": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": s(&k.alice)}],
                        "quay.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": [s(&k.both), s(&k.bob)]}],
                        "registry.example.com:5000": [
                            {"type": "signedBy", "keyType": "GPGKeys", "keyData": bob_data},
                            {"type": "signedBy", "keyType": "GPGKeys", "keyPath": s(&k.alice),
                             "signedIdentity": {"type": "matchRepository"}}
                        ],
                        "docker.io/library": [{"type": "insecureAcceptAnything"}],
                        "": [{"type": "reject"}]
                    },
                    "atomic": {"atomic.example.com/ns": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": s(&k.bob)}]},
                    "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]},
                    "dir": {"": [{"type": "insecureAcceptAnything"}]}
                }
            })
            .to_string(),
        ),
        (
            "sigstore",
            serde_json::json!({
                "default": [{"type": "sigstoreSigned", "keyPath": s(&cosign)}],
                "transports": {
                    "docker": {
                        "ghcr.io/org": [{"type": "sigstoreSigned", "keyPath": s(&cosign),
                                          "signedIdentity": {"type": "matchRepository"}}],
                        "quay.io": [{"type": "sigstoreSigned", "keyPath": s(&cosign)},
                                    {"type": "signedBy", "keyType": "GPGKeys", "keyPath": s(&k.alice)}]
                    },
                    "oci": {"": [{"type": "reject"}]}
                }
            })
            .to_string(),
        ),
    ]
}

const REGISTRIES: &[(&str, &str)] = &[
    (
        "defaults",
        "default-docker:\n  sigstore: file:///var/lib/containers/sigstore\n",
    ),
    (
        "scopes",
        "docker:\n  quay.io:\n    lookaside: https://sigs.quay.example/store\n  quay.io/team:\n    sigstore: https://team.example/sigs\n    sigstore-staging: file:///tmp/staging\n  registry.example.com:5000:\n    lookaside: https://sigs.example.com\n    use-sigstore-attachments: true\n",
    ),
];

#[test]
fn trust_show_is_podmans_byte_for_byte() {
    require_tools!("podman", "gpg");
    // vouch reads the drop-in directories podman 4.3.1 does not know; on this
    // machine they must be absent for the comparison to mean anything.
    for extra in [
        "/usr/share/containers/registries.d",
        "/usr/share/containers/registries.rootful.d",
        "/etc/containers/registries.rootful.d",
    ] {
        assert!(
            !Path::new(extra).exists(),
            "{extra} exists: podman 4.3.1 ignores it, vouch reads it"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::new(tmp.path());
    // Both tools: no per-user registries.d (podman looks under $HOME).
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let _etc = EtcRegistriesD::install_all(REGISTRIES);
    let pm = Podman::new();
    let v = Vouch::new();
    let vouch = |args: &[&str], policy_env: Option<&Path>| {
        let mut c = v.cmd();
        c.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"));
        c.env_remove("CONTAINERS_POLICY_JSON");
        if let Some(p) = policy_env {
            c.env("CONTAINERS_POLICY_JSON", p);
        }
        common::peer_ok(c.args(args))
    };
    let mut compared = 0;
    for (name, json) in policies(&keys) {
        let p = tmp.path().join(format!("{name}.json"));
        std::fs::write(&p, &json).unwrap();
        for extra in [&[][..], &["-n"][..], &["--json"][..], &["--raw"][..]] {
            let mut pargs = vec!["image", "trust", "show", "--policypath", s(&p)];
            pargs.extend(extra);
            let mut c = pm.cmd(&pargs);
            c.env("HOME", &home);
            let want = common::peer_ok(&mut c);
            for flag in ["--signature-policy", "--policypath"] {
                let mut vargs = vec!["image", "trust", "show", flag, s(&p)];
                vargs.extend(extra);
                assert_eq!(
                    vouch(&vargs, None),
                    want,
                    "{name}: vouch image trust show {flag} {extra:?} differs from podman's"
                );
            }
            let mut vargs = vec!["image", "trust", "show"];
            vargs.extend(extra);
            assert_eq!(
                vouch(&vargs, Some(&p)),
                want,
                "{name}: CONTAINERS_POLICY_JSON, {extra:?}"
            );
            compared += 1;
        }
        // What the comparison is about: e-mails, not fingerprints, and
        // podman's names and omissions.
        let table = pm.ok(&["image", "trust", "show", "--policypath", s(&p)]);
        let json = pm.ok(&["image", "trust", "show", "--policypath", s(&p), "--json"]);
        assert!(json.contains("\"name\": \"* (default)\""), "{json}");
        match name {
            "signed" => {
                assert!(
                    table.contains("alice@example.com, aaron@example.com, No Mail Person"),
                    "{table}"
                );
                assert!(table.contains("https://team.example/sigs"), "{table}");
                assert!(table.contains("docker-daemon"), "{table}");
            }
            "sigstore" => assert!(json.contains("\"gpg_id\": \"N/A\""), "{json}"),
            _ => assert!(!json.contains("gpg_id"), "{json}"),
        }
    }
    assert_eq!(compared, 16);
}

/// The drop-in order every command uses: a per-user file hides the
/// same-named /etc file, other /etc files still merge in, and
/// `--registries.d` (global) or `--registrypath` replaces them all.
#[test]
fn registries_d_drop_ins_in_upstream_order() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let user = xdg.join("containers/registries.d");
    std::fs::create_dir_all(&user).unwrap();
    let p = tmp.path().join("policy.json");
    std::fs::write(
        &p,
        r#"{"default": [{"type": "reject"}], "transports": {"docker": {"a.example": [{"type": "reject"}], "b.example": [{"type": "reject"}]}}}"#,
    )
    .unwrap();
    let etc = EtcRegistriesD::install_all(&[
        (
            "shared",
            "docker:\n  a.example:\n    lookaside: https://admin.example/a\n",
        ),
        (
            "etc-only",
            "docker:\n  b.example:\n    lookaside: https://admin.example/b\n",
        ),
    ]);
    // Same name as the first /etc file: it hides that file.
    let shared = format!("vouch-test-{}-shared.yaml", std::process::id());
    std::fs::write(
        user.join(&shared),
        "docker:\n  a.example:\n    lookaside: https://user.example/a\n",
    )
    .unwrap();
    let v = Vouch::new();
    let show = |extra: &[&str]| {
        let mut c = v.cmd();
        c.env("XDG_CONFIG_HOME", &xdg).args(extra).args([
            "image",
            "trust",
            "show",
            "-n",
            "--signature-policy",
            s(&p),
        ]);
        common::peer_ok(&mut c)
    };
    let rows = show(&[]);
    // Every row is a reject (no ID column): TRANSPORT NAME TYPE [STORE].
    let store = |scope: &str, out: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(scope))
            .map(|l| l.split_whitespace().nth(3).unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no row for {scope}: {out}"))
    };
    assert_eq!(
        store("a.example", &rows),
        "https://user.example/a",
        "{rows}"
    );
    assert_eq!(
        store("b.example", &rows),
        "https://admin.example/b",
        "{rows}"
    );
    // The same scope under another name is refused, naming both files.
    std::fs::write(
        user.join("zz-dup.yaml"),
        "docker:\n  b.example:\n    lookaside: https://user.example/b\n",
    )
    .unwrap();
    let out = v
        .cmd()
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["image", "trust", "show", "--signature-policy", s(&p)])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"docker\" namespace \"b.example\" defined both in"),
        "{err}"
    );
    assert!(err.contains("zz-dup.yaml"), "{err}");
    // --registries.d replaces every drop-in directory.
    let only = tmp.path().join("only");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::write(
        only.join("x.yaml"),
        "docker:\n  a.example:\n    lookaside: https://only.example/a\n",
    )
    .unwrap();
    let rows = show(&["--registries.d", s(&only)]);
    assert_eq!(
        store("a.example", &rows),
        "https://only.example/a",
        "{rows}"
    );
    assert_eq!(store("b.example", &rows), "", "{rows}");
    drop(etc);
}
