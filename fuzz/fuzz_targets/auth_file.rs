//! containers-auth.json files (`image/src/auth/`: the file parser, key
//! normalisation, the lookup order, and the rewrite `login`/`logout` do).
//!
//! Input: one flag byte, then the file. Flag bit 0 set: the file is
//! `~/.dockercfg` (the legacy format, read last of the default files);
//! clear: it is `--authfile`. Everything lives in a per-process temp dir;
//! credential helpers are looked up on an empty `$PATH` directory, so a
//! `credHelpers` entry fails to run instead of running anything (and keys
//! whose registry names a helper that would be looked up are skipped).
//!
//! Properties, besides lookups never panicking (for fixed keys and for
//! every key the file names):
//! * credentials found in a file entry re-encode to its `auth` field
//!   (base64 of `user:password`, line breaks dropped), unless Go's NUL
//!   trimming or invalid UTF-8 changed them, and carry its `identitytoken`;
//! * `set` into an `--authfile` that parses stores credentials that read
//!   back unchanged, and leaves every other key's lookup as it was (the
//!   rewrite loses nothing that is read); `remove` then takes them away.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vouch_image::auth::{
    get_credentials, key_registry, parse_key, remove, set, validate_helper_name, validate_key,
    AuthEnv,
};

/// The key `set` writes; lookups of its registry are left out of the
/// before/after comparison.
const SET_KEY: &str = "fuzz.example:5000/ns";
const SET_REGISTRY: &str = "fuzz.example:5000";
const FIXED_KEYS: &[&str] = &[
    "docker.io/library/alpine",
    "docker.io",
    "index.docker.io/x",
    "registry-1.docker.io/a/b",
    "localhost:5000/a",
    "r:5000/ns/repo",
    "quay.io/ns",
];

fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = vouch_fuzz::scratch_root("vouch-fuzz-auth.");
        std::fs::create_dir_all(dir.join("no-helpers")).expect("helper dir");
        dir
    })
}

type Lookup = Result<Option<(String, String, String, String)>, String>;

fn lookup(env: &AuthEnv, authfile: Option<&Path>, key: &str) -> Lookup {
    get_credentials(env, authfile, key)
        .map(|o| o.map(|s| (s.user, s.password, s.identity_token, s.source.to_string())))
        .map_err(|e| e.to_string())
}

/// The JSON object holding the entries (`auths`, or the top level of a
/// legacy file), as serde_json reads it.
fn entries(doc: &Value, legacy: bool) -> Option<&serde_json::Map<String, Value>> {
    if legacy {
        doc.as_object()
    } else {
        doc.get("auths")?.as_object()
    }
}

fn keys_named(doc: &Value, legacy: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |k: &str| {
        if let Ok((key, registry)) = parse_key(k) {
            out.push(format!("{key}/repo"));
            out.push(key);
            out.push(registry);
        }
        if validate_key(k).is_ok() {
            out.push(k.to_string());
        }
    };
    for k in entries(doc, legacy).into_iter().flat_map(|m| m.keys()) {
        add(k);
    }
    if let Some(h) = doc.get("credHelpers").and_then(Value::as_object) {
        for k in h.keys() {
            add(k);
        }
    }
    out.sort();
    out.dedup();
    out.truncate(24);
    out
}

fn check_reencodes(doc: &Value, legacy: bool, found: &Lookup) {
    let Ok(Some((user, password, token, source))) = found else {
        return;
    };
    let Some(map) = entries(doc, legacy) else {
        return;
    };
    // `auth file PATH entry "KEY"`: find the entry by its printed key.
    let Some((_, entry)) = map
        .iter()
        .find(|(k, _)| source.ends_with(&format!(" entry {k:?}")))
    else {
        return;
    };
    let field = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or("");
    assert_eq!(token, field("identitytoken"), "{source}");
    let cleaned: String = field("auth")
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .unwrap_or_else(|e| panic!("{source}: accepted {cleaned:?}, which is not base64: {e}"));
    let Ok(text) = std::str::from_utf8(&raw) else {
        return;
    };
    let plain = format!("{user}:{password}");
    if text == plain {
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(&plain),
            cleaned,
            "{source}: does not re-encode"
        );
    } else {
        // Only Go's trimming of NULs around the password may differ.
        let (u, p) = text.split_once(':').expect("decoded without a colon");
        assert_eq!(
            (u, p.trim_matches('\0')),
            (user.as_str(), password.as_str())
        );
    }
}

fn run(data: &[u8]) {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let legacy = flags & 1 == 1;
    let root = root();
    let scratch = root.join("run");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("xdg-run")).expect("scratch");
    let env = AuthEnv {
        home: Some(scratch.join("home")),
        xdg_runtime_dir: Some(scratch.join("xdg-run")),
        xdg_config_home: Some(scratch.join("config")),
        docker_config: Some(scratch.join("docker")),
        uid: 4321,
        path: Some(root.join("no-helpers").into_os_string()),
    };
    let path: PathBuf = if legacy {
        scratch.join("home/.dockercfg")
    } else {
        scratch.join("auth.json")
    };
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(&path, file).expect("write the auth file");
    let authfile = (!legacy).then_some(path.as_path());

    let doc: Value = serde_json::from_slice(file).unwrap_or(Value::Null);
    let mut keys: Vec<String> = FIXED_KEYS.iter().map(|k| k.to_string()).collect();
    keys.extend(keys_named(&doc, legacy));
    // A helper with a valid name would be run (and fail, on an empty
    // `$PATH`): a fork per lookup, for no parsing.
    let runs_helper = |k: &String| {
        !legacy
            && doc
                .get("credHelpers")
                .and_then(|h| h.get(key_registry(k)))
                .and_then(Value::as_str)
                .is_some_and(|n| validate_helper_name(n).is_ok())
    };
    keys.retain(|k| !runs_helper(k));
    let before: Vec<Lookup> = keys.iter().map(|k| lookup(&env, authfile, k)).collect();
    for found in &before {
        check_reencodes(&doc, legacy, found);
    }
    let Some(authfile) = authfile else {
        return;
    };
    let helper_for_set = doc
        .get("credHelpers")
        .and_then(Value::as_object)
        .is_some_and(|h| h.contains_key(SET_REGISTRY) || h.contains_key(SET_KEY));
    let password = String::from_utf8_lossy(&file[..file.len().min(24)]).replace('\0', "");
    if helper_for_set || set(&env, Some(authfile), SET_KEY, "fuzz", &password).is_err() {
        return;
    }
    let got = lookup(&env, Some(authfile), SET_KEY);
    let Ok(Some((user, pw, token, source))) = &got else {
        panic!("set {SET_KEY}, then read {got:?}");
    };
    assert_eq!(
        (user.as_str(), pw.as_str(), token.as_str()),
        ("fuzz", password.as_str(), "")
    );
    assert!(source.ends_with(&format!(" entry {SET_KEY:?}")), "{source}");
    for (k, was) in keys.iter().zip(&before) {
        if key_registry(k) == SET_REGISTRY {
            continue;
        }
        let now = lookup(&env, Some(authfile), k);
        assert_eq!(&now, was, "{k}: the rewritten file reads differently");
    }
    assert!(
        remove(&env, Some(authfile), SET_KEY).expect("remove"),
        "remove found nothing"
    );
    if let Ok(Some((_, _, _, source))) = lookup(&env, Some(authfile), SET_KEY) {
        assert!(
            !source.ends_with(&format!(" entry {SET_KEY:?}")),
            "removed, still read: {source}"
        );
    }
}

fuzz_target!(|data: &[u8]| run(data));
