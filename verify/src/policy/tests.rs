//! policy.json parsing: the upstream fixtures, break-one-field mutations
//! (§8.5), and scope selection (§8.3).

use super::*;
use crate::test_support::{fixture, fixture_path};

const VALID: &str = r#"{
  "default": [{"type": "reject"}],
  "transports": {
    "docker": {
      "quay.io/ns": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg", "signedIdentity": {"type": "matchRepository"}}],
      "example.com": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "bm9uc2Vuc2U=",
                       "signedIdentity": {"type": "exactReference", "dockerReference": "example.com/a:1"}}],
      "mirror.example": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["/a", "/b"],
                          "signedIdentity": {"type": "remapIdentity", "prefix": "mirror.example", "signedPrefix": "example.com"}}],
      "": [{"type": "insecureAcceptAnything"}]
    },
    "dir": {
      "/srv": [{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "exactRepository", "dockerRepository": "busybox"}}]
    }
  }
}"#;

fn parse_str(s: &str) -> Result<Policy, PolicyError> {
    Policy::parse(s.as_bytes())
}

/// One small mutation of [`VALID`].
enum Edit {
    /// Delete the member at this JSON pointer.
    Delete(&'static str),
    /// Set the member at this JSON pointer (parent must exist).
    Set(&'static str, &'static str),
    /// Replace text (duplicates, syntax).
    Text(&'static str, &'static str),
}

fn apply(edit: &Edit) -> String {
    let mut v: serde_json::Value = serde_json::from_str(VALID).unwrap();
    match edit {
        Edit::Delete(ptr) | Edit::Set(ptr, _) => {
            let (parent, last) = ptr.rsplit_once('/').unwrap();
            let last = last.replace("~1", "/").replace("~0", "~");
            let target = v.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}"));
            match edit {
                Edit::Delete(_) => match target {
                    serde_json::Value::Object(m) => assert!(m.remove(&last).is_some(), "{ptr}"),
                    serde_json::Value::Array(a) => {
                        a.remove(last.parse::<usize>().unwrap());
                    }
                    _ => panic!("{ptr}"),
                },
                Edit::Set(_, json) => {
                    let new: serde_json::Value = serde_json::from_str(json).unwrap();
                    match target {
                        serde_json::Value::Object(m) => {
                            m.insert(last, new);
                        }
                        serde_json::Value::Array(a) => a[last.parse::<usize>().unwrap()] = new,
                        _ => panic!("{ptr}"),
                    }
                }
                Edit::Text(..) => unreachable!(),
            }
            serde_json::to_string_pretty(&v).unwrap()
        }
        Edit::Text(from, to) => {
            assert!(VALID.contains(from), "{from}");
            VALID.replacen(from, to, 1)
        }
    }
}

#[test]
fn valid_base_parses() {
    let p = parse_str(VALID).unwrap();
    assert_eq!(p.default, vec![Requirement::Reject]);
    assert_eq!(p.transports.len(), 2);
}

#[test]
fn each_broken_field_is_named() {
    use Edit::*;
    const Q: &str = "/transports/docker/quay.io~1ns/0";
    let cases: Vec<(Edit, &str, &str)> = vec![
        (Delete("/default"), "Default policy is missing", "top level"),
        (Set("/default", "[]"), "List of verification policy requirements must not be empty", "default"),
        (Set("/default", "null"), "List of verification policy requirements must not be empty", "default"),
        (Set("/foo", "1"), r#"Unknown key "foo""#, "foo"),
        (Text(r#""default": [{"type": "reject"}],"#, r#""default": [{"type": "reject"}], "default": [{"type": "reject"}],"#), r#"Duplicate key "default""#, "default"),
        (Text(r#""": [{"type": "insecureAcceptAnything"}]"#, r#""": [{"type": "insecureAcceptAnything"}], "": []"#), r#"Duplicate key """#, r#"transports.docker[""]"#),
        (Set("/transports", "null"), "JSON object expected, got <nil>", "transports"),
        (Set("/transports/docker", "null"), "JSON object expected, got <nil>", "transports.docker"),
        (Set("/transports/docker/quay.io~1ns", "null"), "List of verification policy requirements must not be empty", r#"transports.docker["quay.io/ns"]"#),
        (Set("/transports/docker/quay.io~1ns", "{}"), "cannot unmarshal object into Go value of type array", r#"transports.docker["quay.io/ns"]"#),
        (Set(Q, r#""reject""#), "cannot unmarshal string", r#"transports.docker["quay.io/ns"][0]"#),
        (Set("/transports/docker/quay.io~1ns/0/x", "1"), r#"Unknown key "x""#, r#"transports.docker["quay.io/ns"][0].x"#),
        (Set(Q, r#"{"type": "acceptAll"}"#), r#"Unknown policy requirement type "acceptAll""#, r#"["quay.io/ns"][0]"#),
        (Set(Q, "{}"), r#"Unknown policy requirement type """#, r#"["quay.io/ns"][0]"#),
        (Set("/default/0", r#"{"Type": "reject"}"#), r#"Unknown key "Type""#, "default[0].Type"),
        (Set("/transports/docker/quay.io~1ns/0/keyData", r#""bm9uc2Vuc2U=""#), "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present", r#"["quay.io/ns"][0]"#),
        (Delete("/transports/docker/quay.io~1ns/0/keyPath"), "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present", r#"["quay.io/ns"][0]"#),
        (Delete("/transports/docker/quay.io~1ns/0/keyType"), r#"invalid keyType """#, r#"["quay.io/ns"][0]"#),
        (Set("/transports/docker/quay.io~1ns/0/keyType", r#""GPG""#), r#"Unrecognized keyType value "GPG""#, r#"["quay.io/ns"][0].keyType"#),
        (Set("/transports/docker/quay.io~1ns/0/keyType", "null"), r#"Unrecognized keyType value """#, "keyType"),
        (Set("/transports/docker/quay.io~1ns/0/keyPath", r#""""#), "exactly one of keyPath, keyPaths and keyData must be specified", r#"["quay.io/ns"][0]"#),
        (Set("/transports/docker/quay.io~1ns/0/keyPath", "1"), "cannot unmarshal number into Go value of type string", "keyPath"),
        (Set("/transports/docker/mirror.example/0/keyPaths", "null"), "exactly one of keyPath, keyPaths and keyData must be specified", "mirror.example"),
        (Set("/transports/docker/mirror.example/0/keyPaths", "1"), "cannot unmarshal number", "keyPaths"),
        (Set("/transports/docker/mirror.example/0/keyPaths", "[1]"), "cannot unmarshal number into Go value of type string", "keyPaths[0]"),
        (Set("/transports/docker/example.com/0/keyData", r#""!!""#), "illegal base64 data at input byte 0", "keyData"),
        (Set("/transports/docker/example.com/0/keyData", r#""this is invalid base64""#), "illegal base64 data at input byte 4", "keyData"),
        (Set("/transports/docker/example.com/0/keyData", "1"), "cannot unmarshal number", "keyData"),
        (Set("/transports/docker/quay.io~1ns/0/signedIdentity", "null"), r#"Unknown policy reference match type """#, "signedIdentity"),
        (Set("/transports/docker/quay.io~1ns/0/signedIdentity", r#""this is invalid""#), "cannot unmarshal string", "signedIdentity"),
        (Set("/transports/docker/quay.io~1ns/0/signedIdentity", r#"{"type": "matchAll"}"#), r#"Unknown policy reference match type "matchAll""#, "signedIdentity"),
        (Set("/transports/docker/quay.io~1ns/0/signedIdentity/x", "1"), r#"Unknown key "x""#, "signedIdentity.x"),
        (Set("/transports/docker/example.com/0/signedIdentity/dockerReference", r#""busybox""#), "dockerReference busybox contains neither a tag nor digest", "dockerReference"),
        (Set("/transports/docker/example.com/0/signedIdentity/dockerReference", r#""BUSYBOX:latest""#), "Invalid format of dockerReference BUSYBOX:latest: invalid reference format: repository name must be lowercase", "dockerReference"),
        (Set("/transports/docker/example.com/0/signedIdentity/dockerReference", r#""""#), "Invalid format of dockerReference", "dockerReference"),
        (Delete("/transports/docker/example.com/0/signedIdentity/dockerReference"), r#"Key "dockerReference" missing"#, "signedIdentity"),
        (Set("/transports/dir/~1srv/0/baseLayerIdentity/dockerRepository", r#""INVALIDUPPERCASE""#), "Invalid format of dockerRepository INVALIDUPPERCASE", "dockerRepository"),
        (Set("/transports/dir/~1srv/0/baseLayerIdentity/dockerRepository", r#""""#), "Invalid format of dockerRepository", "dockerRepository"),
        (Set("/transports/docker/mirror.example/0/signedIdentity/prefix", r#""example.com/repo:tag""#), r#"prefix "example.com/repo:tag" is not valid"#, "prefix"),
        (Set("/transports/docker/mirror.example/0/signedIdentity/signedPrefix", r#""""#), r#"prefix "" is not valid"#, "signedPrefix"),
        (Delete("/transports/docker/mirror.example/0/signedIdentity/signedPrefix"), r#"Key "signedPrefix" missing"#, "signedIdentity"),
        (Delete("/transports/dir/~1srv/0/baseLayerIdentity"), r#"Key "baseLayerIdentity" missing"#, r#"transports.dir["/srv"][0]"#),
        (Set("/transports/dir/~1srv/0/baseLayerIdentity", r#""this is invalid""#), "cannot unmarshal string", "baseLayerIdentity"),
        (Set("/transports/dir/~1srv/0/baseLayerIdentity", "null"), r#"Unknown policy reference match type """#, "baseLayerIdentity"),
        (Set("/transports/dir/relative~1path", "[{\"type\":\"reject\"}]"), r#"Unknown key "relative/path""#, r#"transports.dir["relative/path"]"#),
        (Set("/transports/dir/~1", "[{\"type\":\"reject\"}]"), r#"Unknown key "/""#, "dir"),
        (Set("/transports/dir/~1srv~1images~1", "[{\"type\":\"reject\"}]"), r#"Unknown key "/srv/images/""#, "dir"),
        (Set("/transports/docker-archive", r#"{"/x": [{"type":"reject"}]}"#), r#"Unknown key "/x""#, "docker-archive"),
        (Set("/transports/containers-storage", r#"{"docker.io/library/busybox": [{"type":"reject"}]}"#), r#"Unknown key "docker.io/library/busybox""#, "containers-storage"),
        (Text("}\n}", "}\n}x"), "invalid character 'x' after top-level value", "line"),
    ];
    for (edit, message, path) in &cases {
        let text = apply(edit);
        let err = parse_str(&text).expect_err(&text).to_string();
        assert!(err.contains(message), "{message}\n got: {err}\n in: {text}");
        assert!(err.contains(path), "{path}\n got: {err}");
    }
}

#[test]
fn documented_acceptances() {
    // §8.5 #112, #113.
    let digest_daemon = format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker-daemon":{{"sha256:{}":[{{"type":"reject"}}]}}}}}}"#,
        "0".repeat(64)
    );
    assert!(parse_str(&digest_daemon)
        .unwrap_err()
        .to_string()
        .contains("Unknown key"));
    for ok in [
        r#"{"default":[{"type":"reject"}]}"#,
        r#"{"default":[{"type":"reject"}],"transports":{}}"#,
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{}}}"#,
        r#"{"default":[{"type":"reject"}],"transports":{"docker":{"A B C":[{"type":"reject"}]}}}"#,
        r#"{"default":[{"type":"reject"}],"transports":{"nosuch":{"whatever":[{"type":"reject"}]}}}"#,
        r#"{"default":[{"type":"reject"}],"transports":{"containers-storage":{"[overlay@/var/lib/containers/storage]docker.io/library/busybox":[{"type":"reject"}]}}}"#,
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPaths":[]}]}"#,
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":""}]}"#,
        r#"{"default":[{"type":"signedBy","keyType":"signedByGPGKeys","keyPath":"/k"}]}"#,
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{"type":"exactRepository","dockerRepository":"library/busybox:latest"}}]}"#,
    ] {
        parse_str(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for (input, want) in [
        ("", "unexpected end of JSON input"),
        ("{}", "Default policy is missing"),
    ] {
        assert!(
            parse_str(input).unwrap_err().to_string().contains(want),
            "{input:?}"
        );
    }
}

#[test]
fn errors_carry_line_and_column() {
    let text = "{\n  \"default\": [\n    {\"type\": \"reject\", \"x\": 1}\n  ]\n}";
    let err = parse_str(text).unwrap_err();
    assert_eq!((err.pos.line, err.pos.column), (3, 24));
    assert_eq!(err.path.to_string(), "default[0].x");
}

#[test]
fn upstream_policy_fixture_parses() {
    // §8.5 #94.
    let p = Policy::load(&fixture_path("signature/fixtures/policy.json")).unwrap();
    assert_eq!(p.default, vec![Requirement::Reject]);
    let docker = &p.transports.iter().find(|(t, _)| t == "docker").unwrap().1;
    let scope = |name: &str| &docker.iter().find(|(s, _)| s == name).unwrap().1;
    let hardened = scope("example.com/hardened");
    assert_eq!(hardened.len(), 3);
    assert_eq!(
        hardened[0],
        Requirement::SignedBy(SignedBy {
            key_type: KeyType::GpgKeys,
            keys: KeySource::Path("/keys/employee-gpg-keyring".into()),
            signed_identity: IdentityRule::MatchRepository,
        })
    );
    assert!(
        matches!(&hardened[1], Requirement::SignedBy(s) if s.key_type == KeyType::SignedByGpgKeys && s.signed_identity == IdentityRule::MatchExact)
    );
    assert!(
        matches!(&hardened[2], Requirement::SignedBaseLayer { base_layer_identity: IdentityRule::ExactRepository(r) } if r.name() == "registry.access.redhat.com/rhel7/rhel")
    );
    assert!(
        matches!(&scope("bogus/key-data-example")[0], Requirement::SignedBy(s) if s.keys == KeySource::Data(b"nonsense".to_vec()))
    );
    assert!(
        matches!(&scope("registry.redhat.io/beta")[0], Requirement::SignedBy(s) if matches!(&s.keys, KeySource::Paths(p) if p.len() == 2))
    );
    assert!(matches!(
        &scope("private-mirror:5000/vendor-mirror")[0],
        Requirement::SignedBy(s) if s.signed_identity == IdentityRule::RemapIdentity {
            prefix: "private-mirror:5000/vendor-mirror".into(),
            signed_prefix: "vendor.example.com".into()
        }
    ));
    assert!(matches!(
        &scope("example.com/sigstore/key-path-example")[0],
        Requirement::SigstoreSigned(_)
    ));
    assert!(
        matches!(&scope("example.com/hardened-x509")[0], Requirement::SignedBy(s) if s.key_type == KeyType::X509Certificates)
    );
}

#[test]
fn other_fixture_policies_parse() {
    let default = Policy::load(&fixture_path("default-policy.json")).unwrap();
    assert_eq!(default.default, vec![Requirement::InsecureAcceptAnything]);
    let podman = Policy::load(&fixture_path("podman/test/policy.json")).unwrap();
    let docker = &podman.transports[0].1;
    let Requirement::SignedBy(sb) = &docker
        .iter()
        .find(|(s, _)| s == "registry.access.redhat.com")
        .unwrap()
        .1[0]
    else {
        panic!("signedBy expected");
    };
    let KeySource::Data(data) = &sb.keys else {
        panic!("keyData expected")
    };
    // Prose plus two armored Red Hat keys: GPGME imports both.
    assert_eq!(crate::keyring::Keyring::import(data).identities().len(), 2);
}

#[test]
fn load_errors_name_the_file() {
    let err = Policy::load(std::path::Path::new("/nonexistent/policy.json")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/policy.json"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(&path, "{}").unwrap();
    let err = Policy::load(&path).unwrap_err();
    assert_eq!(err.to_string(), format!("invalid policy in {:?}", path));
    let full = super::eval::error_chain(&err);
    assert!(
        full.ends_with("Default policy is missing (at top level, line 1, column 1)"),
        "{full}"
    );
    let _ = fixture("default-policy.json");
}

#[test]
fn scope_selection_table() {
    // §8.3 #66–#73.
    let scopes = [
        "",
        "unmatched",
        "deep.com",
        "*.very.deep.com",
        "*.deep.com",
        "deep.com/n1",
        "deep.com/n1/n2",
        "deep.com/n1/n2/n3",
        "deep.com/n1/n2/n3/repo",
        "deep.com/n1/n2/n3/repo:tag2",
    ];
    let docker: Vec<String> = scopes
        .iter()
        .map(|s| format!(r#"{s:?}:[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k/{s}"}}]"#))
        .collect();
    let text = format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{{}}},"atomic":{{"unmatched":[{{"type":"reject"}}]}}}}}}"#,
        docker.join(",")
    );
    let p = parse_str(&text).unwrap();
    let selected = |image: &str| {
        p.requirements_for(&PolicyImage::docker(image).unwrap())
            .0
            .map(str::to_string)
    };
    let cases = [
        (
            "deep.com/n1/n2/n3/repo:tag2",
            Some("deep.com/n1/n2/n3/repo:tag2"),
        ),
        (
            "deep.com/n1/n2/n3/repo:nottag2",
            Some("deep.com/n1/n2/n3/repo"),
        ),
        ("deep.com/n1/n2/n3/notrepo:tag2", Some("deep.com/n1/n2/n3")),
        ("deep.com/n1/n2/notn3/repo:tag2", Some("deep.com/n1/n2")),
        ("deep.com/n1/notn2/n3/repo:tag2", Some("deep.com/n1")),
        ("deep.com/notn1/n2/n3/repo:tag2", Some("deep.com")),
        ("very.deep.com/n1/n2/n3/repo:tag2", Some("*.deep.com")),
        (
            "not.very.deep.com/n1/n2/n3/repo:tag2",
            Some("*.very.deep.com"),
        ),
        ("this.does-not/match:anything", Some("")),
    ];
    for (image, want) in cases {
        assert_eq!(selected(image).as_deref(), want, "{image}");
    }
    let r = crate::docker_ref::DockerRef::parse_normalized("this.does-not/match:anything").unwrap();
    let atomic = PolicyImage::custom(
        "atomic",
        &r.to_string(),
        docker_namespaces(&r),
        Some(r.clone()),
        "atomic:x",
    );
    assert_eq!(
        p.requirements_for(&atomic),
        (None, &[Requirement::Reject][..])
    );
    let dir = PolicyImage::custom(
        "dir",
        "/some/path",
        vec!["/some".into()],
        None,
        "dir:/some/path",
    );
    assert_eq!(p.requirements_for(&dir).0, None);
}

#[test]
fn default_path_follows_containers_image_today() {
    use crate::config_lookup::ConfigEnv;
    let t = tempfile::tempdir().unwrap();
    let mut env = ConfigEnv {
        xdg_config_home: Some(t.path().into()),
        home: Some("/nonexistent-home".into()),
        policy_json: None,
        uid: 1000,
    };
    // The per-user file wins once it exists.
    let user = t.path().join("containers/policy.json");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, r#"{"default":[{"type":"reject"}]}"#).unwrap();
    assert_eq!(Policy::default_path_in(&env).unwrap(), user);
    // $CONTAINERS_POLICY_JSON is the only file, even when it is missing
    // (loading it then fails, naming it).
    env.policy_json = Some(t.path().join("missing.json").into());
    let p = Policy::default_path_in(&env).unwrap();
    assert_eq!(p, t.path().join("missing.json"));
    let err = Policy::load(&p).unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");
}
