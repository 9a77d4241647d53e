//! `trust show`: podman's `PolicyDescription` (pkg/trust/trust.go) and its
//! two renderings (cmd/podman/images/trust_show.go). One row per
//! *requirement*, not per scope; transports and scopes sorted; `docker` shown
//! as `repository`; `signedBy` rows list the keys' user IDs (e-mail if the ID
//! has one, as podman's `gpg2 --with-colons` parsing does), `sigstoreSigned`
//! rows `N/A`; every row the lookaside of its scope, found with podman's own
//! registries.d walk (exact scope, then parents by `/`, then
//! `default-docker`; `lookaside`, else `sigstore`). podman does not show
//! `use-sigstore-attachments` at all; policy-lint checks it.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::go_json;
use crate::json::{parse_document, JsonError, Spanned, Value};
use crate::registries_d::RegistriesD;

/// One row: podman's `trust.Policy`. Serialized with its JSON names, order
/// and `omitempty` (what `--json` prints, see [`render_json`] for the exact
/// bytes); a `--format` template addresses podman's Go field names
/// `Transport`, `Name`, `RepoName`, `SignatureStore` (= `sigstore`), `Type`,
/// `GPGId` (= `gpg_id`), and `Keys` (always empty in `trust show`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    pub transport: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub repo_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sigstore: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gpg_id: String,
}

/// Where a `signedBy` requirement's keys are, for the ID reader.
pub enum KeyRef<'a> {
    Path(&'a str),
    Data(&'a [u8]),
}

fn type_description(t: &str) -> &'static str {
    match t {
        "insecureAcceptAnything" => "accept",
        "signedBy" => "signed",
        "sigstoreSigned" => "sigstoreSigned",
        "reject" => "reject",
        _ => "",
    }
}

/// podman's `registriesDConfigurationForScope` + lookaside choice.
fn store_for(rd: &RegistriesD, scope: &str) -> String {
    let section = if scope.is_empty() {
        None
    } else if !scope.contains('/') {
        rd.docker.get(scope)
    } else {
        let mut s = scope;
        loop {
            if let Some(d) = rd.docker.get(s) {
                break Some(d);
            }
            match s.rfind('/') {
                Some(i) => s = &s[..i],
                None => break None,
            }
        }
    }
    .or(rd.default_docker.as_ref());
    section
        .map(|d| {
            let s = &d.section;
            s.lookaside
                .clone()
                .filter(|l| !l.is_empty())
                .or_else(|| s.sigstore.clone())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn member<'a>(obj: &'a Spanned, key: &str) -> Option<&'a Spanned> {
    let Value::Object(members) = &obj.value else {
        return None;
    };
    members.iter().find(|m| m.key == key).map(|m| &m.value)
}

fn string_of(v: Option<&Spanned>) -> Option<&str> {
    match v.map(|v| &v.value) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn rows_of(
    reqs: &Spanned,
    template: (&str, &str, &str),
    store: &str,
    ids: &mut dyn FnMut(KeyRef<'_>) -> Vec<String>,
    out: &mut Vec<Row>,
) {
    let Value::Array(items) = &reqs.value else {
        return;
    };
    for r in items {
        let kind = string_of(member(r, "type")).unwrap_or("");
        let gpg_id = match kind {
            "signedBy" => {
                let mut uids = Vec::new();
                if let Some(p) = string_of(member(r, "keyPath")).filter(|p| !p.is_empty()) {
                    uids.extend(ids(KeyRef::Path(p)));
                }
                if let Some(Value::Array(ps)) = member(r, "keyPaths").map(|v| &v.value) {
                    for p in ps {
                        if let Value::String(p) = &p.value {
                            uids.extend(ids(KeyRef::Path(p)));
                        }
                    }
                }
                if let Some(d) = string_of(member(r, "keyData")).filter(|d| !d.is_empty()) {
                    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(d) {
                        uids.extend(ids(KeyRef::Data(&bytes)));
                    }
                }
                uids.join(", ")
            }
            "sigstoreSigned" => "N/A".to_string(),
            _ => String::new(),
        };
        out.push(Row {
            transport: template.0.to_string(),
            name: template.1.to_string(),
            repo_name: template.2.to_string(),
            sigstore: store.to_string(),
            kind: type_description(kind).to_string(),
            gpg_id,
        });
    }
}

/// The rows of the policy `bytes` (already loaded as a policy); `ids` reads
/// the user IDs of a key file or blob.
pub fn describe(
    bytes: &[u8],
    rd: &RegistriesD,
    ids: &mut dyn FnMut(KeyRef<'_>) -> Vec<String>,
) -> Result<Vec<Row>, JsonError> {
    let doc = parse_document(bytes)?;
    let mut out = Vec::new();
    if let Some(d) = member(&doc, "default") {
        let store = store_for(rd, "");
        rows_of(d, ("all", "* (default)", "default"), &store, ids, &mut out);
    }
    let mut transports: BTreeMap<&str, BTreeMap<&str, &Spanned>> = BTreeMap::new();
    if let Some(Value::Object(ts)) = member(&doc, "transports").map(|t| &t.value) {
        for t in ts {
            let scopes = transports.entry(&t.key).or_default();
            if let Value::Object(ss) = &t.value.value {
                for s in ss {
                    scopes.insert(&s.key, &s.value);
                }
            }
        }
    }
    for (transport, scopes) in transports {
        let shown = if transport == "docker" {
            "repository"
        } else {
            transport
        };
        for (scope, reqs) in scopes {
            let store = store_for(rd, scope);
            rows_of(reqs, (shown, scope, scope), &store, ids, &mut out);
        }
    }
    Ok(out)
}

/// The ID podman shows for an OpenPGP user ID: the e-mail between `<` and
/// `>` if there is one, else the whole ID.
pub fn shown_uid(uid: &str) -> String {
    match uid.split_once('<') {
        Some((_, rest)) => rest.split_once('>').map_or(uid, |(e, _)| e).to_string(),
        None => uid.to_string(),
    }
}

/// `--json`: `json.MarshalIndent(rows, "", "  ")`, fields omitted when empty
/// as podman's `omitempty` tags say.
pub fn render_json(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "null\n".to_string();
    }
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut fields = vec![format!("\"transport\":{}", go_json::string(&r.transport))];
            let optional = [
                ("name", &r.name),
                ("repo_name", &r.repo_name),
                ("sigstore", &r.sigstore),
            ];
            for (k, v) in optional {
                if !v.is_empty() {
                    fields.push(format!("\"{k}\":{}", go_json::string(v)));
                }
            }
            fields.push(format!("\"type\":{}", go_json::string(&r.kind)));
            if !r.gpg_id.is_empty() {
                fields.push(format!("\"gpg_id\":{}", go_json::string(&r.gpg_id)));
            }
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    let raw = format!("[{}]", items.join(","));
    let mut out = String::from_utf8_lossy(&go_json::indent(raw.as_bytes(), "  ")).into_owned();
    out.push('\n');
    out
}

/// The table, as podman's `report` writer (Go `tabwriter`, minimum cell
/// width 12, padding 2) prints it: every cell but the last of a line padded.
pub fn render_table(rows: &[Row], heading: bool) -> String {
    let mut lines: Vec<[&str; 5]> = Vec::new();
    if heading {
        lines.push(["TRANSPORT", "NAME", "TYPE", "ID", "STORE"]);
    }
    for r in rows {
        lines.push([&r.transport, &r.repo_name, &r.kind, &r.gpg_id, &r.sigstore]);
    }
    let mut widths = [0usize; 4];
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l) {
            *w = (*w).max(cell.chars().count() + 2).max(12);
        }
    }
    let mut out = String::new();
    for l in &lines {
        for (cell, w) in l.iter().zip(widths) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
        }
        out.push_str(l[4]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registries_d::{Defined, Section};

    fn section(lookaside: &str) -> Defined {
        Defined {
            section: Section {
                lookaside: Some(lookaside.to_string()),
                ..Section::default()
            },
            file: "x.yaml".into(),
        }
    }

    #[test]
    fn rows_follow_podman() {
        let policy = br#"{"default": [{"type": "reject"}], "transports": {
            "docker": {"quay.io/ns": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a"},
                                      {"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["/b", "/c"]}],
                       "": [{"type": "sigstoreSigned", "keyPath": "/k.pub"}]},
            "atomic": {"a.io": [{"type": "insecureAcceptAnything"}]}}}"#;
        let mut rd = RegistriesD::default();
        rd.docker
            .insert("quay.io".into(), section("https://sigs.quay"));
        rd.default_docker = Some(section("file:///default"));
        let mut ids = |k: KeyRef<'_>| match k {
            KeyRef::Path(p) => vec![format!("id{p}")],
            KeyRef::Data(_) => vec![],
        };
        let rows = describe(policy, &rd, &mut ids).unwrap();
        let summary: Vec<(&str, &str, &str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.transport.as_str(),
                    r.repo_name.as_str(),
                    r.kind.as_str(),
                    r.gpg_id.as_str(),
                    r.sigstore.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("all", "default", "reject", "", "file:///default"),
                ("atomic", "a.io", "accept", "", "file:///default"),
                ("repository", "", "sigstoreSigned", "N/A", "file:///default"),
                (
                    "repository",
                    "quay.io/ns",
                    "signed",
                    "id/a",
                    "https://sigs.quay"
                ),
                (
                    "repository",
                    "quay.io/ns",
                    "signed",
                    "id/b, id/c",
                    "https://sigs.quay"
                ),
            ]
        );
        let json = render_json(&rows[..1]);
        assert_eq!(
            json,
            "[\n  {\n    \"transport\": \"all\",\n    \"name\": \"* (default)\",\n    \"repo_name\": \"default\",\n    \"sigstore\": \"file:///default\",\n    \"type\": \"reject\"\n  }\n]\n"
        );
        let table = render_table(&rows[..1], true);
        assert_eq!(
            table,
            "TRANSPORT   NAME        TYPE        ID          STORE\nall         default     reject                  file:///default\n"
        );
    }

    #[test]
    fn rows_serialize_as_podmans_json() {
        let row = Row {
            transport: "repository".into(),
            name: "quay.io".into(),
            repo_name: "quay.io".into(),
            sigstore: String::new(),
            kind: "signed".into(),
            gpg_id: "a@example.com".into(),
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"transport":"repository","name":"quay.io","repo_name":"quay.io","type":"signed","gpg_id":"a@example.com"}"#
        );
        let pretty = serde_json::to_string_pretty(std::slice::from_ref(&row)).unwrap() + "\n";
        assert_eq!(pretty, render_json(&[row]));
    }

    #[test]
    fn uids_as_podman_shows_them() {
        assert_eq!(shown_uid("A User <a@example.com>"), "a@example.com");
        assert_eq!(shown_uid("No Mail"), "No Mail");
        assert_eq!(shown_uid("Broken <x"), "Broken <x");
    }
}
