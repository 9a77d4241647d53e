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
    assert_eq!(vouch(&[], dir.path()).status.code(), Some(2));
}
