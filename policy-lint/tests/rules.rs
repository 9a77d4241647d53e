//! One test per rule: a minimal policy that triggers it, the position it is
//! reported at, and (for warnings) that the policy still loads. Key fixtures
//! come from tests/fixtures/regenerate.sh.

use std::path::{Path, PathBuf};

use policy_lint::{refuses_to_load, Finding, Linter, Rule};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn lint_with(linter: &mut Linter, policy: &str) -> Vec<Finding> {
    linter.lint_bytes(Path::new("policy.json"), policy.as_bytes())
}

fn lint(policy: &str) -> Vec<Finding> {
    lint_with(&mut Linter::new(), policy)
}

/// Asserts that `rule` was found at `line:column` and returns the finding.
#[track_caller]
fn expect(findings: &[Finding], id: &str, line: u32, column: u32) -> Finding {
    let f = findings
        .iter()
        .find(|f| f.rule.id() == id)
        .unwrap_or_else(|| panic!("no {id} in {findings:#?}"));
    assert_eq!((f.line, f.column), (line, column), "{f:#?}");
    assert!(!f.hint.is_empty(), "{f:#?}");
    f.clone()
}

/// A signedBy requirement trusting `key` (an absolute path or `keyData`).
fn signed_by_path(path: &Path) -> String {
    format!(
        r#"{{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "{}"}}"#,
        path.display()
    )
}

fn policy_with_key(path: &Path) -> String {
    format!(
        "{{\"default\": [{{\"type\": \"reject\"}}],\n\"transports\": {{\"docker\": {{\"quay.io\": [\n{}\n]}}}}}}",
        signed_by_path(path)
    )
}

#[test]
fn pl001_invalid_json() {
    let f = lint("{\"default\": [}\n");
    let f = expect(&f, "PL001", 1, 14);
    assert_eq!(
        f.message,
        "invalid character '}' looking for beginning of value"
    );
}

#[test]
fn pl002_unknown_key() {
    let f = lint("{\"default\": [{\"type\": \"reject\"}],\n  \"Transports\": {}}");
    let f = expect(&f, "PL002", 2, 3);
    assert_eq!(f.message, r#"Unknown key "Transports""#);
    assert!(f.hint.contains("\"transports\""), "{}", f.hint);
}

#[test]
fn pl003_duplicate_key() {
    let f = lint(r#"{"default": [{"type": "reject"}], "default": [{"type": "reject"}]}"#);
    expect(&f, "PL003", 1, 35);
}

#[test]
fn pl004_wrong_type() {
    let f = lint(r#"{"default": [{"type": "reject"}], "transports": null}"#);
    let f = expect(&f, "PL004", 1, 49);
    assert_eq!(f.path.as_deref(), Some("transports"));
}

#[test]
fn pl005_missing_default() {
    expect(&lint("{}"), "PL005", 1, 1);
}

#[test]
fn pl006_empty_requirements() {
    let f = lint(r#"{"default": [{"type": "reject"}], "transports": {"docker": {"quay.io": []}}}"#);
    let f = expect(&f, "PL006", 1, 72);
    assert_eq!(f.path.as_deref(), Some(r#"transports.docker["quay.io"]"#));
}

#[test]
fn pl007_unknown_requirement_type() {
    let f = lint(r#"{"default": [{"type": "signedby"}]}"#);
    let f = expect(&f, "PL007", 1, 14);
    assert!(f.hint.contains("did you mean \"signedBy\""), "{}", f.hint);
}

#[test]
fn pl008_invalid_scope() {
    let f = lint("{\"default\": [{\"type\": \"reject\"}],\n\"transports\": {\"dir\": {\"relative/path\": [{\"type\": \"reject\"}]}}}");
    let f = expect(&f, "PL008", 2, 24);
    assert!(f.hint.contains("absolute"), "{}", f.hint);
}

#[test]
fn pl009_key_source() {
    let f = lint(
        r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "keyData": "eA=="}]}"#,
    );
    let f = expect(&f, "PL009", 1, 14);
    assert!(f.message.contains("more than one present"), "{}", f.message);
}

#[test]
fn pl010_missing_member() {
    let f = lint(r#"{"default": [{"type": "signedBaseLayer"}]}"#);
    expect(&f, "PL010", 1, 14);
}

#[test]
fn pl011_bad_key_type() {
    let f = lint(r#"{"default": [{"type": "signedBy", "keyType": "GPG", "keyPath": "/k"}]}"#);
    let f = expect(&f, "PL011", 1, 46);
    assert_eq!(f.message, r#"Unrecognized keyType value "GPG""#);
}

#[test]
fn pl012_bad_key_data() {
    let f = lint(r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "!!"}]}"#);
    expect(&f, "PL012", 1, 68);
}

#[test]
fn pl013_bad_signed_identity() {
    let f = lint(
        r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "signedIdentity": {"type": "exactReference", "dockerReference": "busybox"}}]}"#,
    );
    let f = expect(&f, "PL013", 1, 138);
    assert_eq!(
        f.message,
        "dockerReference busybox contains neither a tag nor digest"
    );
}

#[test]
fn pl014_bad_sigstore_signed() {
    let f = lint(r#"{"default": [{"type": "sigstoreSigned"}]}"#);
    expect(&f, "PL014", 1, 14);
}

#[test]
fn pl020_key_file_missing() {
    let f = lint(&policy_with_key(Path::new("/nonexistent/key.gpg")));
    let f = expect(&f, "PL020", 3, 55);
    assert!(!refuses_to_load(&[f]));
}

#[test]
fn pl021_no_public_key() {
    expect(
        &lint(&policy_with_key(&fixture("not-a-key.txt"))),
        "PL021",
        3,
        55,
    );
    let f = lint(
        r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "bm9uc2Vuc2U="}]}"#,
    );
    expect(&f, "PL021", 1, 68);
}

fn warnings_only(f: &[Finding]) {
    assert!(!refuses_to_load(f), "{f:#?}");
    assert!(
        f.iter()
            .all(|f| f.rule.severity() == policy_lint::Severity::Warning),
        "{f:#?}"
    );
}

#[test]
fn pl101_permissive_default() {
    let p = format!(
        "{{\"default\": [{{\"type\": \"insecureAcceptAnything\"}}],\n\"transports\": {{\"docker\": {{\"quay.io\": [{}]}}}}}}",
        signed_by_path(&fixture("good.gpg"))
    );
    let f = lint(&p);
    expect(&f, "PL101", 1, 13);
    warnings_only(&f);
    // The same through a transport's "" scope, which docker images use before "default".
    let p = format!(
        "{{\"default\": [{{\"type\": \"reject\"}}],\n\"transports\": {{\"docker\": {{\"\": [{{\"type\": \"insecureAcceptAnything\"}}], \"quay.io\": [{}]}}}}}}",
        signed_by_path(&fixture("good.gpg"))
    );
    let f = lint(&p);
    let w = expect(&f, "PL101", 2, 31);
    assert!(w.message.contains("transport \"docker\""), "{}", w.message);
    warnings_only(&f);
}

#[test]
fn pl102_unknown_transport() {
    let f = lint(
        r#"{"default": [{"type": "reject"}], "transports": {"dokcer": {"": [{"type": "reject"}]}}}"#,
    );
    let f2 = expect(&f, "PL102", 1, 50);
    assert!(f2.hint.contains("\"docker\""), "{}", f2.hint);
    warnings_only(&f);
}

#[test]
fn pl103_dead_scope() {
    let f = lint(
        r#"{"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {"busybox": [{"type": "reject"}]}}}"#,
    );
    let f2 = expect(&f, "PL103", 1, 77);
    assert!(f2.hint.contains("docker.io/library/busybox"), "{}", f2.hint);
    warnings_only(&f);
}

#[test]
fn pl104_redundant_scope() {
    let f = lint(
        r#"{"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {"quay.io": [{"type": "reject"}], "quay.io/ns/app": [{"type": "reject"}]}}}"#,
    );
    let f2 = expect(&f, "PL104", 1, 110);
    assert!(f2.message.contains("\"quay.io\""), "{}", f2.message);
    warnings_only(&f);
}

#[test]
fn pl105_key_expired() {
    let f = lint(&policy_with_key(&fixture("expired.gpg")));
    expect(&f, "PL105", 3, 55);
    warnings_only(&f);
}

#[test]
fn pl106_key_revoked() {
    let f = lint(&policy_with_key(&fixture("revoked.gpg")));
    expect(&f, "PL106", 3, 55);
    warnings_only(&f);
}

#[test]
fn pl107_weak_key() {
    let f = lint(&policy_with_key(&fixture("rsa1024.gpg")));
    let w = expect(&f, "PL107", 3, 55);
    assert!(w.message.contains("RSA-1024"), "{}", w.message);
    warnings_only(&f);
    let f = lint(&policy_with_key(&fixture("sha1.asc")));
    let w = expect(&f, "PL107", 3, 55);
    assert!(w.message.contains("SHA-1"), "{}", w.message);
    // The good key is clean.
    assert!(lint(&policy_with_key(&fixture("good.gpg"))).is_empty());
}

#[test]
fn pl108_relative_key_path() {
    let f = lint(&policy_with_key(Path::new("keys/release.gpg")));
    expect(&f, "PL108", 3, 55);
    warnings_only(&f);
}

fn registries_d(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn pl109_no_lookaside() {
    let dir = registries_d(&[(
        "other.yaml",
        "docker:\n  example.com:\n    lookaside: https://sigs.example.com\n",
    )]);
    let mut linter = Linter::with_registries_d(dir.path()).unwrap();
    assert!(linter.take_registries_findings().is_empty());
    let f = lint_with(&mut linter, &policy_with_key(&fixture("good.gpg")));
    expect(&f, "PL109", 2, 38);
    warnings_only(&f);
    // A lookaside for the scope (or default-docker) silences it.
    let dir = registries_d(&[(
        "q.yaml",
        "docker:\n  quay.io:\n    lookaside: https://sigs.example.com\n",
    )]);
    let mut linter = Linter::with_registries_d(dir.path()).unwrap();
    assert!(lint_with(&mut linter, &policy_with_key(&fixture("good.gpg"))).is_empty());
}

#[test]
fn pl110_bad_lookaside_url() {
    let dir = registries_d(&[(
        "bad.yaml",
        "default-docker:\n  lookaside: \":emptyscheme\"\n  lookaside-staging: /srv/sigs\n",
    )]);
    let mut linter = Linter::with_registries_d(dir.path()).unwrap();
    let f = linter.take_registries_findings();
    assert_eq!(f.len(), 2, "{f:#?}");
    let e = expect(&f, "PL110", 2, 15);
    assert!(
        e.message.contains("missing protocol scheme"),
        "{}",
        e.message
    );
    assert!(f[1].message.contains("no scheme"), "{}", f[1].message);
}

#[test]
fn pl030_registries_d_invalid() {
    let dir = registries_d(&[
        ("a.yaml", "default-docker:\n  lookaside: https://a\n"),
        ("b.yaml", "default-docker:\n  lookaside: https://b\n"),
    ]);
    let mut linter = Linter::with_registries_d(dir.path()).unwrap();
    let f = linter.take_registries_findings();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].rule, Rule::RegistriesD);
    assert!(f[0].message.contains("defined both in"), "{}", f[0].message);
    let dir = registries_d(&[("c.yaml", "docker: [unclosed\n")]);
    let f = Linter::with_registries_d(dir.path())
        .unwrap()
        .take_registries_findings();
    assert_eq!(f[0].rule, Rule::RegistriesD);
    assert!(f[0].line > 0, "{f:#?}");
}

#[test]
fn pl111_unimplemented_key_type() {
    let f =
        lint(r#"{"default": [{"type": "signedBy", "keyType": "signedByGPGKeys", "keyData": ""}]}"#);
    expect(&f, "PL111", 1, 46);
}

#[test]
fn pl112_signed_base_layer() {
    let f = lint(
        r#"{"default": [{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchExact"}}]}"#,
    );
    expect(&f, "PL112", 1, 14);
    warnings_only(&f);
}

#[test]
fn every_rule_has_a_test_and_docs() {
    let tests = include_str!("rules.rs");
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/policy-lint.md"),
    )
    .expect("docs/policy-lint.md");
    for r in Rule::ALL {
        let id = r.id().to_lowercase();
        assert!(
            tests.contains(&format!("fn {id}_")),
            "no test for {}",
            r.id()
        );
        assert!(
            docs.contains(&format!("### {}", r.id())),
            "docs/policy-lint.md lacks {}",
            r.id()
        );
    }
}
