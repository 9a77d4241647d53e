//! Warnings about valid but dangerous policies: a permissive default under
//! signed scopes, transports nothing uses, scopes that never apply or repeat
//! what applies anyway, requirements that reject everything.
//! Scope selection follows docs/trust-formats.md §5.3 (exact identity, then
//! namespaces, then the transport's `""`, else `default`).

use std::collections::HashMap;
use std::path::Path;

use vouch_verify::docker_ref::DockerRef;
use vouch_verify::json::JsonPath;
use vouch_verify::policy::{valid_remap_prefix, KeyType, Requirement};

use crate::finding::Finding;
use crate::layout::{Layout, List, Transport};
use crate::rules::Rule;
use crate::suggest::closest;

/// Transports containers/image (any version) knows.
const KNOWN_TRANSPORTS: &[&str] = &[
    "docker",
    "atomic",
    "docker-daemon",
    "docker-archive",
    "tarball",
    "dir",
    "sif",
    "oci",
    "oci-archive",
    "containers-storage",
    "ostree",
];

pub fn check(file: &Path, layout: &Layout<'_>, out: &mut Vec<Finding>) {
    permissive_default(file, layout, out);
    for t in &layout.transports {
        if !KNOWN_TRANSPORTS.contains(&t.name) {
            let hint = match closest(t.name, KNOWN_TRANSPORTS) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!("known transports: {}", KNOWN_TRANSPORTS.join(", ")),
            };
            out.push(
                Finding::new(
                    file,
                    t.key_pos,
                    Rule::UnknownTransport,
                    format!("transport \"{}\" is not one containers/image knows: its scopes never apply and \"default\" decides instead", t.name),
                )
                .hint(hint)
                .at(&JsonPath::root().key("transports").key(t.name)),
            );
        }
        scopes(file, layout, t, out);
    }
    requirements(file, &layout.default, out);
    for t in &layout.transports {
        for s in &t.scopes {
            requirements(file, &s.list, out);
        }
    }
}

fn permissive_default(file: &Path, layout: &Layout<'_>, out: &mut Vec<Finding>) {
    let accepts_all = layout
        .default
        .reqs
        .iter()
        .all(|r| matches!(r.req, Requirement::InsecureAcceptAnything));
    let signed: Vec<String> = layout
        .transports
        .iter()
        .flat_map(|t| t.scopes.iter().map(move |s| (t, s)))
        .filter(|(_, s)| s.list.demands_signatures())
        .map(|(t, s)| {
            JsonPath::root()
                .key("transports")
                .key(t.name)
                .key(s.name)
                .to_string()
        })
        .collect();
    // A transport's "" scope is the fallback for its images, ahead of "default".
    for t in &layout.transports {
        let Some(fallback) = t.scopes.iter().find(|s| s.name.is_empty()) else {
            continue;
        };
        let signed_here = t
            .scopes
            .iter()
            .filter(|s| s.list.demands_signatures())
            .count();
        let open = fallback
            .list
            .reqs
            .iter()
            .all(|r| matches!(r.req, Requirement::InsecureAcceptAnything));
        if open && signed_here > 0 {
            out.push(
                Finding::new(
                    file,
                    fallback.list.at.value.pos,
                    Rule::PermissiveDefault,
                    format!(
                        "transport \"{}\" accepts any image in its \"\" scope, unsigned included, while {signed_here} of its scope(s) demand signatures",
                        t.name
                    ),
                )
                .hint(r#"make the "" scope [{"type": "reject"}] and list explicitly what may run unsigned"#)
                .at(&fallback.list.at.path),
            );
        }
    }
    if let Some(first) = signed.first().filter(|_| accepts_all) {
        out.push(
            Finding::new(
                file,
                layout.default.at.value.pos,
                Rule::PermissiveDefault,
                format!(
                    "\"default\" accepts any image, unsigned included, while {} scope(s) demand signatures (first: {first}); a typo in a scope or a new registry silently runs unsigned images",
                    signed.len()
                ),
            )
            .hint(r#"make "default" [{"type": "reject"}] and list explicitly what may run unsigned"#)
            .at(&layout.default.at.path),
        );
    }
}

/// Scopes tried after `scope` for an image that selects it, most specific
/// first (its parents), for transports with hierarchical scopes.
pub(crate) fn parents(transport: &str, scope: &str) -> Vec<String> {
    let mut out = Vec::new();
    match transport {
        "docker" | "atomic" | "docker-daemon" => {
            let host = if let Some(rest) = scope.strip_prefix("*.") {
                rest.to_string()
            } else {
                let name = scope.split(['@']).next().unwrap_or(scope);
                // A tag follows the last '/'-component's ':'.
                let name = match name.rfind(':') {
                    Some(i) if !name[i..].contains('/') && name.contains('/') => &name[..i],
                    _ => name,
                };
                if name != scope {
                    out.push(name.to_string());
                }
                let mut n = name.to_string();
                while let Some(i) = n.rfind('/') {
                    n.truncate(i);
                    out.push(n.clone());
                }
                n.split(':').next().unwrap_or("").to_string()
            };
            let mut rest = host.as_str();
            while let Some(i) = rest.find('.') {
                rest = &rest[i + 1..];
                out.push(format!("*.{rest}"));
            }
        }
        "dir" | "oci" | "oci-archive" | "sif" => {
            let mut p = scope.to_string();
            while let Some(i) = p.rfind('/').filter(|i| *i > 0) {
                p.truncate(i);
                out.push(p.clone());
            }
        }
        _ => {}
    }
    out
}

/// Why a docker scope can never be selected, with the scope it probably meant.
fn dead_docker_scope(scope: &str) -> Option<(String, Option<String>)> {
    if let Some(rest) = scope.strip_prefix("*.") {
        let ok = !rest.is_empty()
            && !rest.contains([':', '/', '*'])
            && valid_remap_prefix(rest)
            && rest == rest.to_ascii_lowercase();
        return (!ok).then(|| {
            (
                "a wildcard is \"*.\" followed by a lower-case domain without port or path".into(),
                None,
            )
        });
    }
    if !scope.contains('/') {
        let looks_like_host = scope.contains(['.', ':']) || scope == "localhost";
        if looks_like_host && valid_remap_prefix(scope) {
            return None;
        }
    } else if let Ok(r) = DockerRef::parse_canonical(scope) {
        if !r.domain().is_empty() {
            return None;
        }
    }
    let suggestion = DockerRef::parse_normalized(scope)
        .ok()
        .map(|r| r.to_string());
    Some((
        "docker scopes are compared with fully expanded, lower-case names (host/namespace/repo[:tag])".into(),
        suggestion,
    ))
}

fn scopes(file: &Path, layout: &Layout<'_>, t: &Transport<'_>, out: &mut Vec<Finding>) {
    let by_name: HashMap<&str, &List<'_>> = t.scopes.iter().map(|s| (s.name, &s.list)).collect();
    for s in &t.scopes {
        let path = JsonPath::root().key("transports").key(t.name).key(s.name);
        if s.name.is_empty() {
            continue;
        }
        if t.name == "docker" || t.name == "atomic" {
            if let Some((why, suggestion)) = dead_docker_scope(s.name) {
                let hint = match suggestion {
                    Some(sug) if sug != s.name => format!("did you mean \"{sug}\"? {why}"),
                    _ => why,
                };
                out.push(
                    Finding::new(
                        file,
                        s.key_pos,
                        Rule::DeadScope,
                        format!(
                            "scope \"{}\" can never match an image: its requirements never apply",
                            s.name
                        ),
                    )
                    .hint(hint)
                    .at(&path),
                );
                continue;
            }
        }
        // What applies to this scope's images if the scope were removed.
        let (fallback_name, fallback) = parents(t.name, s.name)
            .into_iter()
            .find_map(|p| {
                by_name
                    .get(p.as_str())
                    .map(|l| (format!("scope \"{p}\""), *l))
            })
            .or_else(|| by_name.get("").map(|l| ("scope \"\"".to_string(), *l)))
            .unwrap_or_else(|| ("\"default\"".to_string(), &layout.default));
        if s.list.requirements() == fallback.requirements() {
            out.push(
                Finding::new(
                    file,
                    s.key_pos,
                    Rule::RedundantScope,
                    format!(
                        "scope \"{}\" duplicates the requirements of {fallback_name}, which applies to its images anyway",
                        s.name
                    ),
                )
                .hint(format!("remove it, or it will silently diverge when {fallback_name} is tightened"))
                .at(&path),
            );
        }
    }
}

fn requirements(file: &Path, list: &List<'_>, out: &mut Vec<Finding>) {
    for r in &list.reqs {
        match r.req {
            Requirement::SignedBy(s) if s.key_type != KeyType::GpgKeys => {
                let at = r.member("keyType").unwrap_or_else(|| r.at.clone());
                out.push(
                    Finding::new(
                        file,
                        at.value.pos,
                        Rule::UnimplementedKeyType,
                        format!(
                            "keyType \"{}\" is not implemented by containers/image: every image this requirement applies to is rejected",
                            s.key_type.as_str()
                        ),
                    )
                    .hint("use \"keyType\": \"GPGKeys\"")
                    .at(&at.path),
                );
            }
            Requirement::SignedBaseLayer { .. } => out.push(
                Finding::new(
                    file,
                    r.at.value.pos,
                    Rule::SignedBaseLayer,
                    "signedBaseLayer is not implemented by containers/image: every image this requirement applies to is rejected",
                )
                .hint("remove it, or use [{\"type\": \"reject\"}] if rejecting is the intent")
                .at(&r.at.path),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_parents() {
        assert_eq!(
            parents("docker", "a.example.com:5000/ns/app:v1"),
            [
                "a.example.com:5000/ns/app",
                "a.example.com:5000/ns",
                "a.example.com:5000",
                "*.example.com",
                "*.com"
            ]
        );
        assert_eq!(parents("docker", "*.example.com"), ["*.com"]);
        assert_eq!(parents("dir", "/srv/a/b"), ["/srv/a", "/srv"]);
    }

    #[test]
    fn dead_scopes() {
        for live in [
            "quay.io",
            "localhost:5000",
            "docker.io/library/busybox",
            "quay.io/ns/app:v1",
            "*.example.com",
        ] {
            assert!(dead_docker_scope(live).is_none(), "{live}");
        }
        for dead in [
            "busybox",
            "docker.io/busybox",
            "Quay.io/NS",
            "*.example.com:5000",
            "https://quay.io",
        ] {
            assert!(dead_docker_scope(dead).is_some(), "{dead}");
        }
        assert_eq!(
            dead_docker_scope("busybox").unwrap().1.as_deref(),
            Some("docker.io/library/busybox")
        );
    }
}
