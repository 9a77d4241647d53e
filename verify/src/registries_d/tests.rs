//! registries.d: the upstream fixture directory, merge errors, section
//! precedence and scope walking (§4, §8.6).

use std::path::{Path, PathBuf};

use super::*;
use crate::docker_ref::DockerRef;
use crate::test_support::fixture_path;

fn r(s: &str) -> DockerRef {
    DockerRef::parse_normalized(s).unwrap()
}

fn user() -> BuiltinDefault {
    BuiltinDefault::for_user(false, "/home/u")
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn fixture_dir() -> PathBuf {
    fixture_path("docker/fixtures/registries.d")
}

fn read(cfg: &RegistriesD, image: &str) -> String {
    cfg.read_base(&r(image), &user()).unwrap().to_string()
}

#[test]
fn loads_and_merges_the_fixture_directory() {
    // §8.6 #122.
    let cfg = RegistriesD::load(&fixture_dir()).unwrap();
    let default = cfg.default_docker.as_ref().unwrap();
    assert_eq!(
        default.section.lookaside.as_deref(),
        Some("file:///mnt/companywide/signatures/for/other/repositories")
    );
    assert!(default.file.ends_with("internet-user.yaml"));
    assert_eq!(cfg.docker.len(), 12);
    assert!(cfg.docker.contains_key("localhost/invalid/url/test"));
}

#[test]
fn fixture_lookups() {
    let cfg = RegistriesD::load(&fixture_dir()).unwrap();
    // #120
    assert_eq!(
        read(&cfg, "example.com/my/project:1"),
        "https://lookaside.example.com/my/project"
    );
    // #118
    let err = cfg
        .read_base(&r("localhost/invalid/url/test:1"), &user())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid signature storage URL :emptyscheme"
    );
    assert_eq!(err.source.to_string(), "missing protocol scheme");
    // #119
    assert_eq!(
        read(&cfg, "localhost/file/path/test:1"),
        "/no/scheme/just/a/path/file/path/test"
    );
    assert_eq!(
        read(&cfg, "localhost/relative/path/test:1"),
        "no/scheme/relative/path/relative/path/test"
    );
    // Ports are part of the scope; the trailing slash of a base is kept.
    assert_eq!(
        read(&cfg, "localhost:8080/a:1"),
        "file:///home/mitr/mydevelopment2/a"
    );
    assert_eq!(
        read(&cfg, "docker.io/centos/x:1"),
        "https://lookaside.centos.org//centos/x"
    );
    // The full identity is a candidate, more specific than the repository.
    assert_eq!(
        read(&cfg, "docker.io/centos/mybetaproduct:latest"),
        "https://lookaside.centos.org//centos/mybetaproduct"
    );
    assert_eq!(
        read(&cfg, "docker.io/centos/mybetaproduct:1"),
        "http://localhost:9999/mybetaWIP/lookaside/centos/mybetaproduct"
    );
    assert_eq!(
        cfg.write_base(&r("docker.io/centos/mybetaproduct:1"), &user())
            .unwrap()
            .to_string(),
        "file:///srv/mybetaWIP/lookaside/centos/mybetaproduct"
    );
    // Nothing specific: default-docker.
    assert_eq!(
        read(&cfg, "quay.io/a/b:1"),
        "file:///mnt/companywide/signatures/for/other/repositories/a/b"
    );
}

#[test]
fn builtin_default_when_nothing_is_configured() {
    // #117.
    let dir = dir_with(&[]);
    let cfg = RegistriesD::load(dir.path()).unwrap();
    assert_eq!(
        read(&cfg, "this/is/not/in/the:configuration"),
        "file:///home/u/.local/share/containers/sigstore/this/is/not/in/the"
    );
    let root = BuiltinDefault::for_user(true, "/root");
    assert_eq!(
        cfg.read_base(&r("busybox:latest"), &root)
            .unwrap()
            .to_string(),
        "file:///var/lib/containers/sigstore/library/busybox"
    );
    // A missing directory is an empty configuration.
    assert_eq!(
        RegistriesD::load(Path::new("/nonexistent/registries.d")).unwrap(),
        RegistriesD::default()
    );
}

#[test]
fn load_errors() {
    // #116
    assert!(matches!(
        RegistriesD::load(Path::new("/dev/null")),
        Err(RegistriesDError::ReadDir { .. })
    ));
    // Invalid YAML names the file; other extensions are ignored.
    let dir = dir_with(&[
        ("bad.yaml", "docker: [\n"),
        ("ignored.yml", "}"),
        ("also.notyaml", "}"),
    ]);
    let err = RegistriesD::load(dir.path()).unwrap_err();
    assert!(
        err.to_string().starts_with("parsing ") && err.to_string().ends_with("bad.yaml"),
        "{err}"
    );
    // A wrongly typed value is a parse error too.
    let dir = dir_with(&[(
        "t.yaml",
        "docker:\n  a.com:\n    use-sigstore-attachments: maybe\n",
    )]);
    assert!(matches!(
        RegistriesD::load(dir.path()),
        Err(RegistriesDError::Parse { .. })
    ));
}

#[test]
fn duplicates_across_files_name_both_files() {
    // #121.
    let dir = dir_with(&[
        ("a.yaml", "default-docker:\n  lookaside: https://a\n"),
        ("b.yaml", "default-docker:\n  lookaside: https://a\n"),
    ]);
    let err = RegistriesD::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(
            r#"Error parsing signature storage configuration: "default-docker" defined both in"#
        ),
        "{err}"
    );
    assert!(err.contains("a.yaml") && err.contains("b.yaml"), "{err}");

    let dir = dir_with(&[
        (
            "a.yaml",
            "docker:\n  example.com:\n    lookaside: https://a\n",
        ),
        (
            "b.yaml",
            "docker:\n  example.com:\n    lookaside: https://a\n",
        ),
    ]);
    let err = RegistriesD::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(r#""docker" namespace "example.com" defined both in"#),
        "{err}"
    );
    assert!(err.contains("a.yaml") && err.contains("b.yaml"), "{err}");

    // The shipped default.yaml (`default-docker:` null) does not count.
    let shipped = std::fs::read_to_string(fixture_path("default.yaml")).unwrap();
    let dir = dir_with(&[
        ("default.yaml", &shipped),
        ("b.yaml", "default-docker:\n  lookaside: https://b\n"),
        ("empty.yaml", ""),
    ]);
    let cfg = RegistriesD::load(dir.path()).unwrap();
    assert!(cfg.default_docker.unwrap().file.ends_with("b.yaml"));
}

#[test]
fn scope_walk_table() {
    // §8.6 #123.
    let scopes = [
        "localhost",
        "localhost:5000",
        "example.com",
        "example.com/ns1",
        "example.com/ns1/ns2",
        "example.com/ns1/ns2/repo",
        "example.com/ns1/ns2/repo:notlatest",
    ];
    let mut yaml = String::from("default-docker:\n  lookaside: https://r/=default\n  lookaside-staging: https://w/=default+w\ndocker:\n");
    for s in scopes {
        yaml.push_str(&format!(
            "  {s:?}:\n    lookaside: https://r/{s}\n    lookaside-staging: https://w/{s}+w\n"
        ));
    }
    let dir = dir_with(&[("scopes.yaml", &yaml)]);
    let cfg = RegistriesD::load(dir.path()).unwrap();
    let cases = [
        (
            "example.com/ns1/ns2/repo:notlatest",
            "example.com/ns1/ns2/repo:notlatest",
        ),
        (
            "example.com/ns1/ns2/repo:unmatched",
            "example.com/ns1/ns2/repo",
        ),
        (
            "example.com/ns1/ns2/notrepo:notlatest",
            "example.com/ns1/ns2",
        ),
        ("example.com/ns1/notns2/repo:notlatest", "example.com/ns1"),
        ("example.com/notns1/ns2/repo:notlatest", "example.com"),
        ("unknown.example.com/busybox:latest", "=default"),
        ("localhost/busybox:latest", "localhost"),
        ("localhost:5000/busybox:latest", "localhost:5000"),
        ("localhost:9999/busybox:latest", "=default"),
    ];
    for (image, scope) in cases {
        let (read, _) = cfg.read_value(&r(image)).unwrap();
        assert_eq!(read, format!("https://r/{scope}"), "{image}");
        let (write, _) = cfg.write_value(&r(image)).unwrap();
        assert_eq!(write, format!("https://w/{scope}+w"), "{image}");
    }
}

#[test]
fn section_precedence_and_fall_through() {
    // §8.6 #124.
    let cases = [
        (
            "lookaside-staging: https://a\n    lookaside: https://b",
            Some("https://b"),
            "https://a",
        ),
        ("lookaside: https://b", Some("https://b"), "https://b"),
        ("lookaside-staging: https://a", None, "https://a"),
        (
            "lookaside: https://b\n    sigstore-staging: https://c\n    sigstore: https://d",
            Some("https://b"),
            "https://c",
        ),
        ("sigstore: https://d", Some("https://d"), "https://d"),
        ("Lookaside: https://capitalised", None, "https://default"),
    ];
    for (section, read, write) in cases {
        let yaml = format!("default-docker:\n  lookaside: https://default\ndocker:\n  example.com/ns:\n    {section}\n");
        let dir = dir_with(&[("c.yaml", &yaml)]);
        let cfg = RegistriesD::load(dir.path()).unwrap();
        let image = r("example.com/ns/app:1");
        // A scope without a read URL falls through to default-docker.
        assert_eq!(
            cfg.read_value(&image).map(|v| v.0),
            Some(read.unwrap_or("https://default")),
            "{section}"
        );
        assert_eq!(
            cfg.write_value(&image).map(|v| v.0),
            Some(write),
            "{section}"
        );
    }
}

#[test]
fn wildcards_and_attachments() {
    let yaml = "default-docker:\n  use-sigstore-attachments: true\ndocker:\n  \"*.example.com\":\n    lookaside: https://wild\n  quay.io/ns:\n    use-sigstore-attachments: false\n";
    let dir = dir_with(&[("w.yaml", yaml)]);
    let cfg = RegistriesD::load(dir.path()).unwrap();
    assert_eq!(read(&cfg, "a.example.com/x:1"), "https://wild/x");
    assert_eq!(
        read(&cfg, "example.com/x:1"),
        "file:///home/u/.local/share/containers/sigstore/x"
    );
    assert!(!cfg.use_sigstore_attachments(&r("quay.io/ns/app:1")));
    assert!(cfg.use_sigstore_attachments(&r("quay.io/other/app:1")));
}

#[test]
fn podman_testdata_with_legacy_keys() {
    let cfg = RegistriesD::load(&fixture_path("podman/pkg/trust/testdata")).unwrap();
    assert_eq!(
        read(&cfg, "registry.redhat.io/ubi9/ubi:latest"),
        "https://registry.redhat.io/containers/sigstore/ubi9/ubi"
    );
    assert_eq!(
        read(&cfg, "quay.io/multi-signed/x:1"),
        "https://quay.example.com/sigstore/multi-signed/x"
    );
    // default-docker has only a staging URL: reading falls back to the built-in default.
    assert_eq!(
        read(&cfg, "docker.io/library/busybox:latest"),
        "file:///home/u/.local/share/containers/sigstore/library/busybox"
    );
    assert_eq!(
        cfg.write_base(&r("busybox:latest"), &user())
            .unwrap()
            .to_string(),
        "file:///var/lib/containers/sigstore/library/busybox"
    );
}

#[test]
fn sigstore_layout_is_scoped_like_attachments() {
    let yaml = "default-docker:\n  sigstore-layout: both\ndocker:\n  quay.io/ns:\n    sigstore-layout: bundle\n    use-sigstore-attachments: true\n  quay.io/ns/plain:\n    lookaside: https://l\n";
    let dir = dir_with(&[("l.yaml", yaml)]);
    let cfg = RegistriesD::load(dir.path()).unwrap();
    let layout = |s: &str| {
        cfg.sigstore_layout(&r(s))
            .map(|(v, f)| (v.to_string(), f.to_path_buf()))
    };
    assert_eq!(
        layout("quay.io/ns/app:1"),
        Some(("bundle".to_string(), dir.path().join("l.yaml")))
    );
    // A scope that does not set the key falls through to the next one.
    assert_eq!(layout("quay.io/ns/plain:1").unwrap().0, "bundle");
    assert_eq!(
        layout("docker.io/library/busybox:latest").unwrap().0,
        "both"
    );
    let none = dir_with(&[("n.yaml", "docker:\n  quay.io:\n    lookaside: https://l\n")]);
    let cfg = RegistriesD::load(none.path()).unwrap();
    assert_eq!(cfg.sigstore_layout(&r("quay.io/a:1")), None);
}
