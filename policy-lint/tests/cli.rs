//! The `policy-lint` binary: exit codes, the three output formats, several
//! files, `--strict`, `--registries.d`, and the help examples.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn policy_lint(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_policy-lint"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let f = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        f.write("good.json", r#"{"default": [{"type": "reject"}]}"#);
        f.write(
            "bad.json",
            "{\n  \"default\": [{\"type\": \"reject\"}],\n  \"transports\": {\"docker\": {\"quay.io\": [{\"Type\": \"reject\"}]}}\n}\n",
        );
        f.write(
            "warn.json",
            r#"{"default": [{"type": "reject"}], "transports": {"dokcer": {"": [{"type": "reject"}]}}}"#,
        );
        f
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> Output {
        policy_lint(args, self.dir.path())
    }
}

#[test]
fn exit_codes() {
    let f = Files::new();
    assert_eq!(f.run(&["good.json"]).status.code(), Some(0));
    assert_eq!(f.run(&["warn.json"]).status.code(), Some(0));
    assert_eq!(f.run(&["--strict", "warn.json"]).status.code(), Some(1));
    assert_eq!(f.run(&["--strict", "good.json"]).status.code(), Some(0));
    assert_eq!(f.run(&["good.json", "bad.json"]).status.code(), Some(1));
    // I/O and usage errors: 2, and the other files are still linted.
    let o = f.run(&["missing.json", "bad.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("bad.json:3:42: error[PL002]"),
        "{}",
        stdout(&o)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.json"));
    // No FILE: the policy containers/image reads, here $CONTAINERS_POLICY_JSON
    // (which must exist, as upstream requires).
    let with_env = |v: &str| {
        Command::new(env!("CARGO_BIN_EXE_policy-lint"))
            .env("CONTAINERS_POLICY_JSON", v)
            .env("XDG_CONFIG_HOME", f.dir.path().join("no-xdg"))
            .current_dir(f.dir.path())
            .output()
            .unwrap()
    };
    let o = with_env("missing.json");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.json"));
    let o = with_env("bad.json");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("bad.json:3:42: error[PL002]"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        f.run(&["--format", "xml", "good.json"]).status.code(),
        Some(2)
    );
    assert_eq!(
        f.run(&["--registries.d", "nodir", "good.json"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn text_reads_like_a_compiler() {
    let f = Files::new();
    let o = f.run(&["bad.json"]);
    assert_eq!(
        stdout(&o),
        r#"bad.json:3:42: error[PL002]: Unknown key "Type" (at transports.docker["quay.io"][0].Type)
 3 |   "transports": {"docker": {"quay.io": [{"Type": "reject"}]}}
   |                                          ^
   = hint: did you mean "type"? Member names are case-sensitive
1 error, 0 warnings
"#
    );
    assert_eq!(stdout(&f.run(&["good.json"])), "");
}

#[test]
fn json_and_sarif() {
    let f = Files::new();
    let o = f.run(&["--format", "json", "bad.json", "warn.json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["rule"], "PL002");
    assert_eq!(items[0]["severity"], "error");
    assert_eq!(items[0]["line"], 3);
    assert_eq!(items[0]["column"], 42);
    assert_eq!(items[0]["path"], r#"transports.docker["quay.io"][0].Type"#);
    assert_eq!(items[1]["rule"], "PL102");
    assert_eq!(items[1]["name"], "unknown-transport");

    let o = f.run(&["--format", "sarif", "bad.json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "policy-lint");
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().unwrap().len(),
        policy_lint::Rule::ALL.len()
    );
    let r = &run["results"][0];
    assert_eq!(r["ruleId"], "PL002");
    assert_eq!(r["level"], "error");
    let loc = &r["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "bad.json");
    assert_eq!(loc["region"]["startLine"], 3);
    assert_eq!(loc["region"]["startColumn"], 42);
}

#[test]
fn registries_d_findings_are_reported_once() {
    let f = Files::new();
    std::fs::create_dir(f.dir.path().join("registries.d")).unwrap();
    f.write(
        "registries.d/x.yaml",
        "docker:\n  quay.io:\n    lookaside: \"%zz\"\n",
    );
    let o = f.run(&["--registries.d", "registries.d", "good.json", "good.json"]);
    let out = stdout(&o);
    assert_eq!(out.matches("warning[PL110]").count(), 1, "{out}");
    assert!(
        out.contains("registries.d/x.yaml:3:17: warning[PL110]"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn help_examples_run() {
    // The examples of `policy-lint --help`, with the paths made local.
    let f = Files::new();
    std::fs::create_dir(f.dir.path().join("registries.d")).unwrap();
    let help = stdout(&f.run(&["--help"]));
    let examples = [
        "policy-lint /etc/containers/policy.json",
        "policy-lint --registries.d /etc/containers/registries.d --strict policy.json",
        "policy-lint --format sarif policy.json > policy-lint.sarif",
    ];
    for e in examples {
        assert!(help.contains(e), "{e} missing from --help:\n{help}");
    }
    f.write("policy.json", r#"{"default": [{"type": "reject"}]}"#);
    for args in [
        vec!["policy.json"],
        vec!["--registries.d", "registries.d", "--strict", "policy.json"],
        vec!["--format", "sarif", "policy.json"],
    ] {
        assert_eq!(f.run(&args).status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn notes_are_printed_and_never_fail_not_even_strict() {
    let f = Files::new();
    let key = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/containers-image/signature/fixtures/cosign.pub");
    f.write(
        "sigstore.json",
        &format!(
            r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"quay.io": [{{"type": "sigstoreSigned", "keyPath": "{}"}}]}}}}}}"#,
            key.display()
        ),
    );
    std::fs::create_dir(f.dir.path().join("registries.d")).unwrap();
    f.write(
        "registries.d/q.yaml",
        "docker:\n  quay.io:\n    use-sigstore-attachments: true\n",
    );
    let o = f.run(&[
        "--registries.d",
        "registries.d",
        "--strict",
        "sigstore.json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains(": note[PL114]: transports.docker[\"quay.io\"] is checked against cosign 3's Sigstore bundle referrers"), "{out}");
    assert!(out.ends_with("0 errors, 0 warnings, 1 note\n"), "{out}");
    let o = f.run(&[
        "--registries.d",
        "registries.d",
        "--format",
        "sarif",
        "sigstore.json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"][0]["results"][0]["level"], "note", "{v}");
}
