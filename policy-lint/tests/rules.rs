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

/// Upstream's sigstore test material (fixtures/containers-image, README there).
fn upstream(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/containers-image/signature/fixtures")
        .join(name)
}

/// A policy whose only scope (quay.io, line 3) has requirement `req`.
fn sigstore_policy(req: &str) -> String {
    format!("{{\"default\": [{{\"type\": \"reject\"}}],\n\"transports\": {{\"docker\": {{\"quay.io\": [\n{req}\n]}}}}}}")
}

fn key_path(p: &Path) -> String {
    format!(
        r#"{{"type": "sigstoreSigned", "keyPath": "{}"}}"#,
        p.display()
    )
}

#[test]
fn pl015_fulcio_without_rekor() {
    let f = lint(&sigstore_policy(
        r#"{"type": "sigstoreSigned", "fulcio": {"caPath": "/ca.pem", "oidcIssuer": "https://oauth2.sigstore.dev/auth", "subjectEmail": "a@example.com"}}"#,
    ));
    let e = expect(&f, "PL015", 3, 38);
    assert!(refuses_to_load(&f));
    assert_eq!(
        e.message,
        "rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData or rekorPublicKeyDatas must be specified with fulcio"
    );
    assert_eq!(
        e.path.as_deref(),
        Some(r#"transports.docker["quay.io"][0].fulcio"#)
    );
    assert!(e.hint.contains("rekorPublicKeyPath"), "{}", e.hint);
}

#[test]
fn pl022_bad_sigstore_material() {
    // An OpenPGP key where a PEM public key belongs.
    let f = lint(&sigstore_policy(&key_path(&upstream("public-key.gpg"))));
    let e = expect(&f, "PL022", 3, 39);
    assert!(e.message.contains("PEM decoding failed"), "{}", e.message);
    assert!(!refuses_to_load(&f));
    // A certificate where a key belongs, as keyData.
    let cert = std::fs::read(upstream("fulcio_v1.crt.pem")).unwrap();
    let data = base64_std(&cert);
    let f = lint(&sigstore_policy(&format!(
        r#"{{"type": "sigstoreSigned", "keyData": "{data}"}}"#
    )));
    let e = expect(&f, "PL022", 3, 39);
    assert!(
        e.message
            .contains("unknown Public key PEM file type: CERTIFICATE"),
        "{}",
        e.message
    );
    // A key where Fulcio's CA certificate belongs (the Rekor key is fine),
    // and a PKI intermediates file that holds a key.
    let f = lint(&sigstore_policy(&format!(
        r#"{{"type": "sigstoreSigned", "rekorPublicKeyPath": "{}", "fulcio": {{"caPath": "{}", "oidcIssuer": "https://o", "subjectEmail": "a@example.com"}}}}"#,
        upstream("rekor.pub").display(),
        upstream("cosign.pub").display()
    )));
    assert_eq!(f.len(), 1, "{f:#?}");
    let e = &f[0];
    assert_eq!(e.rule, Rule::BadSigstoreMaterial);
    assert_eq!(
        e.path.as_deref(),
        Some(r#"transports.docker["quay.io"][0].fulcio.caPath"#)
    );
    assert!(
        e.message.contains("not PEM CA certificates"),
        "{}",
        e.message
    );
    let f = lint(&sigstore_policy(&format!(
        r#"{{"type": "sigstoreSigned", "pki": {{"caRootsPath": "{}", "caIntermediatesPath": "{}", "subjectEmail": "a@example.com"}}}}"#,
        upstream("pki_root_crts.pem").display(),
        upstream("cosign.pub").display()
    )));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.contains("is \"PUBLIC KEY\", not CERTIFICATE"),
        "{}",
        f[0].message
    );
    // A certificate where the Rekor key belongs.
    let f = lint(&sigstore_policy(&format!(
        r#"{{"type": "sigstoreSigned", "keyPath": "{}", "rekorPublicKeyPaths": ["{}"]}}"#,
        upstream("cosign.pub").display(),
        upstream("fulcio_v1.crt.pem").display()
    )));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message.contains("ECDSA public key (Rekor's)"),
        "{}",
        f[0].message
    );
    // Upstream's good material is clean, in every member.
    for req in [
        key_path(&upstream("cosign.pub")),
        format!(
            r#"{{"type": "sigstoreSigned", "keyPaths": ["{}", "{}"], "rekorPublicKeyPath": "{}"}}"#,
            upstream("cosign.pub").display(),
            upstream("cosign2.pub").display(),
            upstream("rekor.pub").display()
        ),
        format!(
            r#"{{"type": "sigstoreSigned", "rekorPublicKeyPath": "{}", "fulcio": {{"caPath": "{}", "oidcIssuer": "https://o", "subjectEmail": "a@example.com"}}}}"#,
            upstream("rekor.pub").display(),
            upstream("fulcio_v1.crt.pem").display()
        ),
        format!(
            r#"{{"type": "sigstoreSigned", "pki": {{"caRootsPath": "{}", "caIntermediatesPath": "{}", "subjectHostname": "example.com"}}}}"#,
            upstream("pki_root_crts.pem").display(),
            upstream("pki_intermediate_crts.pem").display()
        ),
    ] {
        let f = lint(&sigstore_policy(&req));
        assert!(f.is_empty(), "{req}: {f:#?}");
    }
}

/// Standard padded base64, for keyData members.
fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn pl020_sigstore_paths_missing() {
    let f = lint(&sigstore_policy(&format!(
        r#"{{"type": "sigstoreSigned", "keyPaths": ["{}", "/nonexistent/b.pub"], "rekorPublicKeyPath": "/nonexistent/rekor.pub"}}"#,
        upstream("cosign.pub").display()
    )));
    let missing: Vec<&Finding> = f
        .iter()
        .filter(|f| f.rule == Rule::KeyFileMissing)
        .collect();
    assert_eq!(missing.len(), 2, "{f:#?}");
    assert_eq!(
        missing[0].path.as_deref(),
        Some(r#"transports.docker["quay.io"][0].keyPaths[1]"#)
    );
    assert!(
        missing[0].message.contains("/nonexistent/b.pub"),
        "{}",
        missing[0].message
    );
    assert_eq!(
        missing[1].path.as_deref(),
        Some(r#"transports.docker["quay.io"][0].rekorPublicKeyPath"#)
    );
    assert!(!refuses_to_load(&f));
    let f = lint(&sigstore_policy(
        r#"{"type": "sigstoreSigned", "pki": {"caRootsPath": "/nonexistent/roots.pem", "subjectEmail": "a@example.com"}}"#,
    ));
    let e = expect(&f, "PL020", 3, 51);
    assert!(
        e.message
            .contains("caRootsPath \"/nonexistent/roots.pem\" cannot be read"),
        "{}",
        e.message
    );
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
fn pl113_no_sigstore_attachments() {
    let policy = sigstore_policy(&key_path(&upstream("cosign.pub")));
    let lookaside_only = registries_d(&[(
        "q.yaml",
        "docker:\n  quay.io:\n    lookaside: https://sigs.example.com\n",
    )]);
    let mut linter = Linter::with_registries_d(lookaside_only.path()).unwrap();
    let f = lint_with(&mut linter, &policy);
    let w = expect(&f, "PL113", 2, 38);
    assert!(
        w.message.contains("use-sigstore-attachments"),
        "{}",
        w.message
    );
    assert!(w.hint.contains("docker: {\"quay.io\""), "{}", w.hint);
    warnings_only(&f);
    // A more specific section turning it off wins over default-docker's on.
    let off = registries_d(&[
        (
            "d.yaml",
            "default-docker:\n  use-sigstore-attachments: true\n",
        ),
        (
            "q.yaml",
            "docker:\n  quay.io:\n    use-sigstore-attachments: false\n",
        ),
    ]);
    let mut linter = Linter::with_registries_d(off.path()).unwrap();
    expect(&lint_with(&mut linter, &policy), "PL113", 2, 38);
    // On for the scope, for its registry's parent domain, through
    // default-docker, or for part of the scope: no finding.
    for (name, yaml) in [
        (
            "q.yaml",
            "docker:\n  quay.io:\n    use-sigstore-attachments: true\n",
        ),
        (
            "w.yaml",
            "docker:\n  \"*.io\":\n    use-sigstore-attachments: true\n",
        ),
        (
            "d.yaml",
            "default-docker:\n  use-sigstore-attachments: true\n",
        ),
        (
            "n.yaml",
            "docker:\n  quay.io/ns/app:\n    use-sigstore-attachments: true\n",
        ),
    ] {
        let dir = registries_d(&[(name, yaml)]);
        let mut linter = Linter::with_registries_d(dir.path()).unwrap();
        let f = lint_with(&mut linter, &policy);
        assert!(
            f.iter().all(|f| f.rule == Rule::SigstoreBundles),
            "{yaml}: {f:#?}"
        );
    }
}

#[test]
fn pl114_sigstore_bundles() {
    let on = registries_d(&[(
        "q.yaml",
        "docker:\n  quay.io:\n    use-sigstore-attachments: true\n",
    )]);
    let mut linter = Linter::with_registries_d(on.path()).unwrap();
    let policy = sigstore_policy(&key_path(&upstream("cosign.pub")));
    let f = lint_with(&mut linter, &policy);
    assert_eq!(f.len(), 1, "{f:#?}");
    let n = expect(&f, "PL114", 2, 38);
    assert_eq!(n.rule.severity(), policy_lint::Severity::Note);
    assert!(
        n.message.starts_with("transports.docker[\"quay.io\"] is checked against cosign 3's Sigstore bundle referrers as well as `.sig` attachments"),
        "{}",
        n.message
    );
    assert!(!n.message.contains("refused"), "{}", n.message);
    // A rule other than the default can never take cosign 3's unnamed subjects.
    let repo = sigstore_policy(&format!(
        r#"{{"type": "sigstoreSigned", "keyPath": "{}", "signedIdentity": {{"type": "matchRepository"}}}}"#,
        upstream("cosign.pub").display()
    ));
    let f = lint_with(&mut linter, &repo);
    let n = expect(&f, "PL114", 2, 38);
    assert!(
        n.message
            .contains("its signedIdentity is not matchRepoDigestOrExact"),
        "{}",
        n.message
    );
    // Where the option is off there is no note, only PL113's warning.
    let off = registries_d(&[("q.yaml", "docker:\n  quay.io:\n    lookaside: https://x\n")]);
    let mut linter = Linter::with_registries_d(off.path()).unwrap();
    let f = lint_with(&mut linter, &policy);
    assert!(f.iter().all(|f| f.rule != Rule::SigstoreBundles), "{f:#?}");
    // Without registries.d nothing can be said either way.
    assert!(lint(&policy)
        .iter()
        .all(|f| f.rule != Rule::SigstoreBundles));
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
