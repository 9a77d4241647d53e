//! PL113: a `sigstoreSigned` scope whose registries.d never turns on
//! `use-sigstore-attachments`. containers/image writes sigstore signatures
//! only as registry attachments (`sha256-<hex>.sig`) and reads those only
//! when the option is on for the image, so every pull is rejected with "A
//! signature was required, but no signature exists". vouch reads cosign 3's
//! Sigstore bundle referrers under the same option (verify's gate: bundles
//! ride on `use-sigstore-attachments`, as no registries.d key exists
//! upstream for them), so the same finding says a scope's bundles cannot be
//! delivered either; with the option on, every `sigstoreSigned` scope is
//! checked against both kinds. The value for a scope is
//! found as a pull finds it (vouch-verify's registries.d walk: the image, its
//! namespaces, `*.domain` wildcards, then `default-docker`, first section
//! setting the option wins), for a probe image inside the scope.
//!
//! PL114, a note, is the other side: each scope where the option is on is
//! named as checked against bundles too, and when its `signedIdentity`
//! is not `matchRepoDigestOrExact` the note says that cosign 3's bundles,
//! whose subject has no name, can never satisfy it.

use std::path::Path;

use vouch_verify::docker_ref::DockerRef;
use vouch_verify::json::JsonPath;
use vouch_verify::policy::{IdentityRule, Requirement};
use vouch_verify::registries_d::RegistriesD;

use crate::finding::Finding;
use crate::layout::{Layout, List};
use crate::rules::Rule;

/// A name no registries.d section is written for.
const PROBE: &str = "vouch-lint-probe";

/// An image that selects `scope` (a docker policy scope; "" for any image).
fn probe_image(scope: &str) -> Option<DockerRef> {
    let name = if scope.is_empty() {
        format!("{PROBE}.invalid/{PROBE}/{PROBE}:latest")
    } else if let Some(domain) = scope.strip_prefix("*.") {
        format!("{PROBE}.{domain}/{PROBE}:latest")
    } else if scope.contains('@')
        || (scope.contains('/') && scope.rsplit('/').next().is_some_and(|c| c.contains(':')))
    {
        // A tagged or digested reference: the image itself.
        scope.to_string()
    } else {
        format!("{scope}/{PROBE}:latest")
    };
    DockerRef::parse_normalized(&name).ok()
}

/// Whether section key `k` is inside `scope`, so it may turn the option on
/// for part of the scope's images.
fn inside(k: &str, scope: &str) -> bool {
    if scope.is_empty() {
        return true;
    }
    if let Some(domain) = scope.strip_prefix("*.") {
        let host = k.split(['/', ':']).next().unwrap_or(k);
        return host.ends_with(&format!(".{domain}"));
    }
    k.strip_prefix(scope).is_some_and(|rest| {
        rest.starts_with(['/', '@']) || (scope.contains('/') && rest.starts_with(':'))
    })
}

/// The registries.d file that turns attachments on for `scope`, if one does.
fn turned_on<'a>(rd: &'a RegistriesD, scope: &str) -> Option<&'a Path> {
    if let Some((true, file)) = probe_image(scope)
        .as_ref()
        .and_then(|img| rd.sigstore_attachments_setting(img))
    {
        return Some(file);
    }
    // Benefit of the doubt: a more specific section turns it on for some images.
    rd.docker
        .iter()
        .find(|(k, d)| d.section.use_sigstore_attachments == Some(true) && inside(k, scope))
        .map(|(_, d)| d.file.as_path())
}

fn wants_sigstore(list: &List<'_>) -> bool {
    list.reqs
        .iter()
        .any(|r| matches!(r.req, Requirement::SigstoreSigned(_)))
}

/// Whether some sigstoreSigned requirement of `list` refuses an unnamed
/// bundle subject whatever the reference (any rule but the default).
fn refuses_unnamed(list: &List<'_>) -> bool {
    list.reqs.iter().any(|r| {
        matches!(&r.req, Requirement::SigstoreSigned(s)
            if !matches!(s.signed_identity, IdentityRule::MatchRepoDigestOrExact))
    })
}

fn bundles_note(file: &Path, on_in: &Path, name: &str, list: &List<'_>) -> Finding {
    let mut message = format!(
        "{name} is checked against cosign 3's Sigstore bundle referrers as well as `.sig` attachments ({} turns on use-sigstore-attachments for it); either kind satisfies sigstoreSigned",
        on_in.display()
    );
    let hint = if refuses_unnamed(list) {
        message.push_str(", but its signedIdentity is not matchRepoDigestOrExact, so bundles whose subject names no image (every bundle cosign 3 makes) are refused; only named bundles (vouch push --sigstore-layout bundle) can satisfy it");
        "keep signedIdentity at matchRepoDigestOrExact and pull by digest to accept cosign 3's bundles"
    } else {
        "cosign 3's bundles name no image: they satisfy matchRepoDigestOrExact only for an image pulled by digest"
    };
    Finding::new(file, list.at.value.pos, Rule::SigstoreBundles, message)
        .hint(hint)
        .at(&list.at.path)
}

/// PL113 and PL114 for the docker scopes (and the default) with sigstoreSigned.
pub fn check(
    file: &Path,
    place: &str,
    rd: &RegistriesD,
    layout: &Layout<'_>,
    out: &mut Vec<Finding>,
) {
    let mut lists: Vec<(String, &List<'_>, &str)> = Vec::new();
    if let Some(t) = layout.transports.iter().find(|t| t.name == "docker") {
        for s in &t.scopes {
            let path = JsonPath::root().key("transports").key("docker").key(s.name);
            lists.push((path.to_string(), &s.list, s.name));
        }
    }
    lists.push(("default".to_string(), &layout.default, ""));
    for (name, list, scope) in lists {
        if !wants_sigstore(list) {
            continue;
        }
        if let Some(on_in) = turned_on(rd, scope) {
            out.push(bundles_note(file, on_in, &name, list));
            continue;
        }
        let target = crate::registries::yaml_section(scope);
        out.push(
            Finding::new(
                file,
                list.at.value.pos,
                Rule::NoSigstoreAttachments,
                format!(
                    "{name} requires sigstore signatures but {place} never turns on use-sigstore-attachments for it: sigstore signatures (`.sig` attachments and cosign 3 bundle referrers) are read from the registry only under that option, so every pull is rejected with \"A signature was required, but no signature exists\"",
                ),
            )
            .hint(format!("add `use-sigstore-attachments: true` under {target} in a *.yaml file there"))
            .at(&list.at.path),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_select_their_scope() {
        let p = |s| probe_image(s).map(|r| r.to_string());
        assert_eq!(
            p("quay.io").as_deref(),
            Some("quay.io/vouch-lint-probe:latest")
        );
        assert_eq!(p("quay.io/ns/app:v1").as_deref(), Some("quay.io/ns/app:v1"));
        assert_eq!(
            p("localhost:5000").as_deref(),
            Some("localhost:5000/vouch-lint-probe:latest")
        );
        assert!(p("*.example.com")
            .unwrap()
            .starts_with("vouch-lint-probe.example.com/"));
        assert!(inside("quay.io/ns/app", "quay.io/ns"));
        assert!(!inside("quay.io.evil/ns", "quay.io"));
        assert!(inside("a.example.com/x", "*.example.com"));
    }
}
