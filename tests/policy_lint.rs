//! `vouch policy-lint`: the linter of crate policy-lint behind vouch's CLI,
//! with the standalone binary's flags, output and exit codes (the rules
//! themselves are tested in policy-lint/tests/).

use std::process::Command;

fn vouch(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
        .arg("policy-lint")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn vouch_policy_lint_matches_the_standalone_contract() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.json"),
        r#"{"default": [{"type": "reject"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        r#"{"default": [{"type": "acceptAll"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("warn.json"),
        r#"{"default": [{"type": "reject"}], "transports": {"dokcer": {}}}"#,
    )
    .unwrap();

    let o = vouch(&["good.json"], dir.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());

    let o = vouch(&["bad.json"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with(
            r#"bad.json:1:14: error[PL007]: Unknown policy requirement type "acceptAll""#
        ),
        "{out}"
    );

    assert_eq!(vouch(&["warn.json"], dir.path()).status.code(), Some(0));
    assert_eq!(
        vouch(&["--strict", "warn.json"], dir.path()).status.code(),
        Some(1)
    );
    let o = vouch(&["--format", "sarif", "bad.json"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "PL007");
    assert_eq!(vouch(&["missing.json"], dir.path()).status.code(), Some(2));
    // No FILE: the policy containers/image reads ($CONTAINERS_POLICY_JSON here).
    let env_lint = |policy: &str| {
        Command::new(env!("CARGO_BIN_EXE_vouch"))
            .arg("policy-lint")
            .env("CONTAINERS_POLICY_JSON", policy)
            .env("XDG_CONFIG_HOME", dir.path().join("no-xdg"))
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    assert_eq!(env_lint("missing.json").status.code(), Some(2));
    let o = env_lint("bad.json");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("bad.json:1:14: error[PL007]"));
}

/// Without --registries.d, policy-lint reads the drop-in directories
/// (here the per-user one under $XDG_CONFIG_HOME), and a finding about a
/// registries.d file names that file; --registries.d replaces them all.
#[test]
fn vouch_policy_lint_reads_the_drop_in_registries_d() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("xdg/containers/registries.d");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(
        user.join("50-bad.yaml"),
        "docker:\n  quay.io:\n    lookaside: ftp://sigs.example.com\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.json"),
        r#"{"default": [{"type": "reject"}]}"#,
    )
    .unwrap();
    let lint = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vouch"))
            .arg("policy-lint")
            .args(extra)
            .arg("p.json")
            .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let o = lint(&[]);
    let out = String::from_utf8_lossy(&o.stdout);
    let want = format!("{}:3:16: ", user.join("50-bad.yaml").display());
    assert!(out.starts_with(&want), "{out}");
    assert!(out.contains("[PL110]"), "{out}");
    // An explicit, empty --registries.d: the drop-ins are not read.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = lint(&["--registries.d", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
