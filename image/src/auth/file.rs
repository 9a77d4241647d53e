//! One auth file: parsing (both formats) and finding the entry for a key,
//! as containers/image's `findCredentialsInFile` does.

use std::collections::BTreeMap;
use std::io::Read as _;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::paths::AuthPath;
use super::AuthError;

/// An auth file is a few entries; anything this large is not one.
const MAX_AUTH_FILE_BYTES: u64 = 16 << 20;

/// One `"auths"` entry. Unknown fields (`email`) are dropped, as upstream.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Entry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
}

/// The parsed file: `auths` and `credHelpers` (registry → helper name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    pub auths: BTreeMap<String, Entry>,
    pub cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Modern {
    #[serde(default)]
    auths: Option<BTreeMap<String, Entry>>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: Option<BTreeMap<String, String>>,
}

/// What an entry decodes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub user: String,
    pub password: String,
    pub identity_token: String,
}

/// What a file says about a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// No usable entry: try the next file.
    Nothing,
    Entry {
        key: String,
        decoded: Decoded,
    },
    /// `credHelpers` names a helper for the registry.
    Helper(String),
}

/// Reads `path`; a missing file is empty, as upstream's `parse`.
pub fn parse(path: &AuthPath) -> Result<Contents, AuthError> {
    let read_err = |source| AuthError::Read {
        path: path.path.clone(),
        source,
    };
    let file = match std::fs::File::open(&path.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(e) => return Err(read_err(e)),
    };
    let mut raw = Vec::new();
    file.take(MAX_AUTH_FILE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(read_err)?;
    if raw.len() as u64 > MAX_AUTH_FILE_BYTES {
        return Err(AuthError::TooLarge {
            path: path.path.clone(),
            limit: MAX_AUTH_FILE_BYTES,
        });
    }
    let json_err = |source| AuthError::Json {
        path: path.path.clone(),
        source,
    };
    if path.legacy {
        let auths: BTreeMap<String, Entry> = serde_json::from_slice(&raw).map_err(json_err)?;
        return Ok(Contents {
            auths,
            cred_helpers: BTreeMap::new(),
        });
    }
    let m: Modern = serde_json::from_slice(&raw).map_err(json_err)?;
    Ok(Contents {
        auths: m.auths.unwrap_or_default(),
        cred_helpers: m.cred_helpers.unwrap_or_default(),
    })
}

/// Finds `key` (`registry[/namespace…]`) in `path`: a `credHelpers` entry
/// for the registry first, then the most specific exact key (`host/ns/repo`,
/// `host/ns`, `host`; only `host` in a legacy file), then any key that
/// normalises to the registry (`https://index.docker.io/v1/` for docker.io).
pub fn find(path: &AuthPath, key: &str, registry: &str) -> Result<Found, AuthError> {
    let contents = parse(path)?;
    if let Some(helper) = contents.cred_helpers.get(registry) {
        return Ok(Found::Helper(helper.clone()));
    }
    for k in lookup_order(key, registry, path.legacy) {
        if let Some(entry) = contents.auths.get(k) {
            return decode(path, k, entry);
        }
    }
    let wanted = normalize_registry(registry);
    for (k, entry) in &contents.auths {
        if normalize_key(k, path.legacy) == wanted {
            return decode(path, k, entry);
        }
    }
    Ok(Found::Nothing)
}

/// `authKeyLookupOrder`: best match first.
fn lookup_order<'a>(key: &'a str, registry: &'a str, legacy: bool) -> Vec<&'a str> {
    if legacy {
        return vec![registry];
    }
    let mut out = vec![key];
    let mut k = key;
    while let Some(i) = k.rfind('/') {
        k = &k[..i];
        out.push(k);
    }
    out
}

/// `decodeDockerAuth`: bad base64 is an error; a decoded value without `:`
/// (Docker's `{}` marker entries among them) is no entry at all.
fn decode(path: &AuthPath, key: &str, entry: &Entry) -> Result<Found, AuthError> {
    let cleaned: String = entry
        .auth
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|_| AuthError::Entry {
            path: path.path.clone(),
            key: key.into(),
        })?;
    let text = String::from_utf8_lossy(&raw);
    let Some((user, password)) = text.split_once(':') else {
        if !raw.is_empty() {
            tracing::warn!(
                "Error parsing the \"auth\" field of a credential entry {key:?} in {:?}, missing semicolon",
                path.path
            );
        }
        return Ok(Found::Nothing);
    };
    Ok(Found::Entry {
        key: key.into(),
        decoded: Decoded {
            user: user.into(),
            password: password.trim_matches('\0').into(),
            identity_token: entry.identitytoken.clone(),
        },
    })
}

/// `normalizeAuthFileKey`: a URL key (or any legacy key) is cut to its host.
pub fn normalize_key(key: &str, legacy: bool) -> String {
    let s = key.strip_prefix("http://").unwrap_or(key);
    let stripped = s.strip_prefix("https://").unwrap_or(s);
    let host = if legacy || stripped.len() != key.len() {
        stripped.split('/').next().unwrap_or(stripped)
    } else {
        stripped
    };
    normalize_registry(host).to_string()
}

/// `normalizeRegistry`: Docker Hub's names are one registry.
pub fn normalize_registry(registry: &str) -> &str {
    match registry {
        "registry-1.docker.io" | "docker.io" => "index.docker.io",
        r => r,
    }
}

/// The file as containers/image writes it (`json.MarshalIndent(.., "",
/// "\t")`): fields in struct order, keys sorted, Go's string escaping, no
/// trailing newline.
pub fn serialize(c: &Contents) -> String {
    use crate::go_json::push_string;
    let mut out = String::from("{\n\t\"auths\": {");
    for (i, (k, e)) in c.auths.iter().enumerate() {
        out.push_str(if i == 0 { "\n\t\t" } else { ",\n\t\t" });
        push_string(&mut out, k);
        let fields: Vec<(&str, &str)> = [("auth", &e.auth), ("identitytoken", &e.identitytoken)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n, v.as_str()))
            .collect();
        if fields.is_empty() {
            out.push_str(": {}");
            continue;
        }
        out.push_str(": {");
        for (j, (n, v)) in fields.iter().enumerate() {
            out.push_str(if j == 0 { "\n\t\t\t" } else { ",\n\t\t\t" });
            push_string(&mut out, n);
            out.push_str(": ");
            push_string(&mut out, v);
        }
        out.push_str("\n\t\t}");
    }
    out.push_str(if c.auths.is_empty() { "}" } else { "\n\t}" });
    if !c.cred_helpers.is_empty() {
        out.push_str(",\n\t\"credHelpers\": {");
        for (i, (k, v)) in c.cred_helpers.iter().enumerate() {
            out.push_str(if i == 0 { "\n\t\t" } else { ",\n\t\t" });
            push_string(&mut out, k);
            out.push_str(": ");
            push_string(&mut out, v);
        }
        out.push_str("\n\t}");
    }
    out.push_str("\n}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn file(dir: &tempfile::TempDir, name: &str, text: &str, legacy: bool) -> AuthPath {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        AuthPath { path: p, legacy }
    }

    fn user_of(f: Found) -> String {
        match f {
            Found::Entry { decoded, .. } => format!("{}:{}", decoded.user, decoded.password),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn docker_io_finds_index_docker_io_v1_and_plain_docker_io_keys() {
        let dir = tempfile::tempdir().unwrap();
        for stored in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            let p = file(
                &dir,
                "a.json",
                &format!(r#"{{"auths":{{"{stored}":{{"auth":"{}"}}}}}}"#, enc("u:p")),
                false,
            );
            let got = find(&p, "docker.io/library/alpine", "docker.io").unwrap();
            assert_eq!(user_of(got), "u:p", "{stored}");
        }
        assert_eq!(normalize_key("http://r:5000/v2/", false), "r:5000");
        // A non-URL key with a path is a namespace, not a host.
        assert_eq!(normalize_key("r:5000/ns", false), "r:5000/ns");
        assert_eq!(normalize_key("r:5000/ns", true), "r:5000");
    }

    #[test]
    fn namespace_matching_is_most_specific_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(
            &dir,
            "a.json",
            &format!(
                r#"{{"auths":{{"r:5000":{{"auth":"{}"}},"r:5000/ns":{{"auth":"{}"}},"r:5000/ns/repo":{{"auth":"{}"}}}}}}"#,
                enc("a:1"),
                enc("b:2"),
                enc("c:3")
            ),
            false,
        );
        assert_eq!(
            user_of(find(&p, "r:5000/ns/repo", "r:5000").unwrap()),
            "c:3"
        );
        assert_eq!(
            user_of(find(&p, "r:5000/ns/other", "r:5000").unwrap()),
            "b:2"
        );
        assert_eq!(user_of(find(&p, "r:5000/x", "r:5000").unwrap()), "a:1");
        assert_eq!(find(&p, "s:1/x", "s:1").unwrap(), Found::Nothing);
    }

    #[test]
    fn legacy_dockercfg_is_a_top_level_map_matched_by_host() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(
            &dir,
            ".dockercfg",
            &format!(
                r#"{{"https://r:5000/v1/":{{"auth":"{}","email":"x@y"}},"r:5000/ns":{{"auth":"{}"}}}}"#,
                enc("old:pw"),
                enc("ns:pw")
            ),
            true,
        );
        // Namespaced keys are not looked at in a legacy file, and URL keys
        // are cut to their host.
        assert_eq!(
            user_of(find(&p, "r:5000/ns/repo", "r:5000").unwrap()),
            "old:pw"
        );
    }

    #[test]
    fn entries_without_colon_are_skipped_bad_base64_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = file(&dir, "a.json", r#"{"auths":{"r":{}}}"#, false);
        assert_eq!(find(&p, "r/x", "r").unwrap(), Found::Nothing);
        let p = file(
            &dir,
            "a.json",
            &format!(r#"{{"auths":{{"r":{{"auth":"{}"}}}}}}"#, enc("nocolon")),
            false,
        );
        assert_eq!(find(&p, "r/x", "r").unwrap(), Found::Nothing);
        let p = file(&dir, "a.json", r#"{"auths":{"r":{"auth":"!!"}}}"#, false);
        assert!(find(&p, "r/x", "r").is_err());
        let p = file(
            &dir,
            "a.json",
            &format!(r#"{{"auths":{{"r":{{"auth":"{}"}}}}}}"#, enc("u:p\0\0")),
            false,
        );
        assert_eq!(user_of(find(&p, "r/x", "r").unwrap()), "u:p");
        let p = file(&dir, "a.json", r#"{"credHelpers":{"r":"gcloud"}}"#, false);
        assert_eq!(
            find(&p, "r/x", "r").unwrap(),
            Found::Helper("gcloud".into())
        );
        let p = file(&dir, "a.json", "{", false);
        assert!(find(&p, "r/x", "r").is_err());
        let missing = AuthPath {
            path: dir.path().join("none"),
            legacy: false,
        };
        assert_eq!(find(&missing, "r/x", "r").unwrap(), Found::Nothing);
    }

    #[test]
    fn serializes_like_go_marshal_indent() {
        let mut c = Contents::default();
        assert_eq!(serialize(&c), "{\n\t\"auths\": {}\n}");
        c.auths.insert(
            "r:5000".into(),
            Entry {
                auth: "dTpw".into(),
                ..Default::default()
            },
        );
        c.auths.insert("a".into(), Entry::default());
        c.cred_helpers.insert("g".into(), "gcloud".into());
        assert_eq!(
            serialize(&c),
            "{\n\t\"auths\": {\n\t\t\"a\": {},\n\t\t\"r:5000\": {\n\t\t\t\"auth\": \"dTpw\"\n\t\t}\n\t},\n\t\"credHelpers\": {\n\t\t\"g\": \"gcloud\"\n\t}\n}"
        );
    }
}
