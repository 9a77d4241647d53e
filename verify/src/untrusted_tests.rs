//! Break-one-field tests for the payload parser (§1.3, §8.1 #26–#31).

use crate::json::JsonErrorKind;
use crate::untrusted::{PayloadErrorKind, UntrustedSimpleSigning};

const VALID: &str = r#"{"critical":{"identity":{"docker-reference":"docker.io/library/busybox:latest"},"image":{"docker-manifest-digest":"sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"},"type":"atomic container signature"},"optional":{"creator":"atomic 5.23.1","timestamp":1795908251}}"#;

fn parse_text(text: &str) -> Result<UntrustedSimpleSigning, String> {
    UntrustedSimpleSigning::parse(text.as_bytes()).map_err(|e| e.to_string())
}

/// One small mutation of the valid payload.
enum Edit {
    /// Remove the member at this path.
    Delete(&'static [&'static str]),
    /// Set (or add) the member at this path to this JSON.
    Set(&'static [&'static str], &'static str),
    /// Replace text (for what a JSON tree cannot express: duplicates, bytes).
    Text(&'static str, &'static str),
}

fn apply(edit: &Edit) -> String {
    let mut v: serde_json::Value = serde_json::from_str(VALID).unwrap();
    match edit {
        Edit::Delete(path) | Edit::Set(path, _) => {
            let (last, parents) = path.split_last().unwrap();
            let mut cur = &mut v;
            for p in parents {
                cur = cur.get_mut(*p).unwrap();
            }
            let obj = cur.as_object_mut().unwrap();
            match edit {
                Edit::Delete(_) => {
                    assert!(obj.remove(*last).is_some(), "{path:?}");
                }
                Edit::Set(_, json) => {
                    obj.insert(last.to_string(), serde_json::from_str(json).unwrap());
                }
                Edit::Text(..) => unreachable!(),
            }
            serde_json::to_string(&v).unwrap()
        }
        Edit::Text(from, to) => {
            assert!(VALID.contains(from), "{from}");
            VALID.replacen(from, to, 1)
        }
    }
}

#[test]
fn valid_payload_parses() {
    let p = UntrustedSimpleSigning::parse(VALID.as_bytes()).unwrap();
    assert_eq!(
        p.untrusted_docker_reference,
        "docker.io/library/busybox:latest"
    );
    assert_eq!(p.untrusted_creator.as_deref(), Some("atomic 5.23.1"));
    assert_eq!(p.untrusted_timestamp, Some(1795908251));
}

#[test]
fn each_broken_field_is_named() {
    use Edit::*;
    let cases = [
        (Delete(&["critical"]), r#"Key "critical" missing"#),
        (Delete(&["optional"]), r#"Key "optional" missing"#),
        (Set(&["unexpected"], "1"), r#"Unknown key "unexpected""#),
        (Set(&["critical"], "1"), "JSON object expected, got 1"),
        (Set(&["optional"], "1"), "JSON object expected, got 1"),
        (
            Text(r#"{"critical""#, r#"{"Critical""#),
            r#"Unknown key "Critical""#,
        ),
        (
            Text(r#","optional":{"#, r#","optional":{},"optional":{"#),
            r#"Duplicate key "optional""#,
        ),
        (Delete(&["critical", "type"]), r#"Key "type" missing"#),
        (Delete(&["critical", "image"]), r#"Key "image" missing"#),
        (
            Delete(&["critical", "identity"]),
            r#"Key "identity" missing"#,
        ),
        (
            Set(&["critical", "unexpected"], "1"),
            r#"Unknown key "unexpected" (at critical.unexpected"#,
        ),
        (Set(&["critical", "type"], "1"), "cannot unmarshal number"),
        (
            Set(&["critical", "type"], r#""unexpected""#),
            "Unrecognized signature type unexpected",
        ),
        (Set(&["critical", "image"], "1"), "JSON object expected"),
        (
            Set(&["critical", "image", "unexpected"], "1"),
            r#"Unknown key "unexpected""#,
        ),
        (
            Delete(&["critical", "image", "docker-manifest-digest"]),
            r#"Key "docker-manifest-digest" missing"#,
        ),
        (
            Set(&["critical", "image", "docker-manifest-digest"], "1"),
            "cannot unmarshal number",
        ),
        (
            Set(
                &["critical", "image", "docker-manifest-digest"],
                r#""sha256:../..""#,
            ),
            r#"invalid docker-manifest-digest value "sha256:../..": invalid checksum digest length"#,
        ),
        (Set(&["critical", "identity"], "1"), "JSON object expected"),
        (
            Set(&["critical", "identity", "unexpected"], "1"),
            r#"Unknown key "unexpected""#,
        ),
        (
            Delete(&["critical", "identity", "docker-reference"]),
            r#"Key "docker-reference" missing"#,
        ),
        (
            Set(&["critical", "identity", "docker-reference"], "1"),
            "cannot unmarshal number",
        ),
        (
            Set(&["optional", "creator"], "1"),
            "cannot unmarshal number into Go value of type string (at optional.creator",
        ),
        (
            Set(&["optional", "timestamp"], r#""unexpected""#),
            "cannot unmarshal string into Go value of type float64",
        ),
        (
            Set(&["optional", "timestamp"], "0.5"),
            "Field optional.timestamp is not an integer",
        ),
        (
            Text(
                r#""timestamp":1795908251"#,
                r#""timestamp":1,"timestamp":2"#,
            ),
            r#"Duplicate key "timestamp""#,
        ),
        (
            Text("1795908251}}", "1795908251}}x"),
            "invalid character 'x' after top-level value",
        ),
        (
            Text("{\"critical\"", "\u{feff}{\"critical\""),
            "invalid character 'ï' looking for beginning of value",
        ),
    ];
    for (edit, want) in &cases {
        let text = apply(edit);
        let err = parse_text(&text).expect_err(&text);
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn tolerated_variations() {
    // §8.1 #31: unknown optional members are ignored.
    let extra = parse_text(&apply(&Edit::Text(
        r#""creator""#,
        r#""unexpected":{"a":1,"a":2},"creator""#,
    )))
    .unwrap();
    assert_eq!(
        extra,
        UntrustedSimpleSigning::parse(VALID.as_bytes()).unwrap()
    );
    // Integral floats are integers.
    for (ts, want) in [("1e3", 1000), ("1.0", 1), ("null", 0)] {
        let text = VALID.replace("1795908251", ts);
        assert_eq!(
            UntrustedSimpleSigning::parse(text.as_bytes())
                .unwrap()
                .untrusted_timestamp,
            Some(want),
            "{ts}"
        );
    }
    // Go's null quirk: null strings are empty.
    let text = VALID.replace(r#""atomic 5.23.1""#, "null");
    assert_eq!(
        UntrustedSimpleSigning::parse(text.as_bytes())
            .unwrap()
            .untrusted_creator,
        Some(String::new())
    );
    let text = VALID.replace(r#""docker.io/library/busybox:latest""#, "null");
    assert_eq!(
        UntrustedSimpleSigning::parse(text.as_bytes())
            .unwrap()
            .untrusted_docker_reference,
        ""
    );
    // No optional fields.
    let bare = &VALID[..VALID.find(r#""optional""#).unwrap()];
    let text = format!(r#"{bare}"optional":{{}}}}"#);
    let p = UntrustedSimpleSigning::parse(text.as_bytes()).unwrap();
    assert_eq!((p.untrusted_creator, p.untrusted_timestamp), (None, None));
}

#[test]
fn type_null_is_unrecognized_empty() {
    let text = VALID.replace(r#""atomic container signature""#, "null");
    let err = UntrustedSimpleSigning::parse(text.as_bytes()).unwrap_err();
    assert_eq!(err.kind, PayloadErrorKind::UnknownType(String::new()));
    let err = UntrustedSimpleSigning::parse(b"This is not JSON\n").unwrap_err();
    assert!(matches!(
        err.kind,
        PayloadErrorKind::Json(JsonErrorKind::Syntax(_))
    ));
    assert!(err
        .to_string()
        .starts_with("invalid character 'T' looking for beginning of value"));
}
