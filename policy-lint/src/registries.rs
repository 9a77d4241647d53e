//! registries.d: load it with vouch-verify (errors are PL030), check every
//! configured URL (PL110), and find signedBy scopes that no lookaside serves
//! (PL109). The section walk mirrors docs/trust-formats.md §4.2: a scope's
//! images read from the scope's own section, a parent's, a wildcard domain's,
//! or `default-docker`.

use std::path::Path;

use vouch_verify::json::{JsonPath, Pos};
use vouch_verify::lookaside::LookasideUrl;
use vouch_verify::registries_d::{Defined, RegistriesD, RegistriesDError, Search};

use crate::finding::Finding;
use crate::layout::{Layout, List};
use crate::rules::Rule;

/// Loads the files `search` selects; a refused configuration becomes a
/// finding naming the file. `Err` only when an explicit directory is missing
/// or unreadable (an I/O error, exit 2); missing default directories are
/// simply empty, as containers/image treats them.
pub fn load(
    search: &Search,
    out: &mut Vec<Finding>,
) -> Result<Option<RegistriesD>, std::io::Error> {
    if let Some(dir) = search.explicit_dir() {
        std::fs::read_dir(dir)?;
    }
    match RegistriesD::load_search(search) {
        Ok(rd) => {
            check_urls(&rd, out);
            Ok(Some(rd))
        }
        Err(e) => {
            out.push(refused(&e));
            Ok(None)
        }
    }
}

fn refused(e: &RegistriesDError) -> Finding {
    let (file, pos) = match e {
        RegistriesDError::ReadDir { dir, .. } => (dir.clone(), Pos::default()),
        RegistriesDError::ReadFile { path, .. } => (path.clone(), Pos::default()),
        RegistriesDError::Parse { path, source } => {
            let pos = source
                .location()
                .map(|l| Pos {
                    offset: l.index(),
                    line: u32::try_from(l.line()).unwrap_or(0),
                    column: u32::try_from(l.column()).unwrap_or(0),
                })
                .unwrap_or_default();
            (path.clone(), pos)
        }
        RegistriesDError::DuplicateDefault { second, .. }
        | RegistriesDError::DuplicateScope { second, .. } => (second.clone(), Pos::default()),
    };
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    Finding::new(file, pos, Rule::RegistriesD, message)
        .hint("containers/image refuses the whole registries.d directory: every pull that needs signatures fails")
}

/// Line and column of the first occurrence of `needle` in `file`.
fn locate(file: &Path, needle: &str) -> Pos {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Pos::default();
    };
    let Some(offset) = text.find(needle) else {
        return Pos::default();
    };
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Pos {
        offset,
        line: u32::try_from(line).unwrap_or(0),
        column: u32::try_from(column).unwrap_or(0),
    }
}

fn check_urls(rd: &RegistriesD, out: &mut Vec<Finding>) {
    let sections = rd
        .default_docker
        .iter()
        .map(|d| ("default-docker".to_string(), d))
        .chain(
            rd.docker
                .iter()
                .map(|(k, d)| (format!("docker \"{k}\""), d)),
        );
    for (name, d) in sections {
        check_section(&name, d, out);
    }
}

fn check_section(name: &str, d: &Defined, out: &mut Vec<Finding>) {
    let s = &d.section;
    let fields = [
        ("lookaside", &s.lookaside, false),
        ("sigstore", &s.sigstore, false),
        ("lookaside-staging", &s.lookaside_staging, true),
        ("sigstore-staging", &s.sigstore_staging, true),
    ];
    for (field, value, staging) in fields {
        let Some(v) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        let problem = match LookasideUrl::parse(v) {
            Err(e) => Some(format!("does not parse: {e}")),
            Ok(u) => match u.scheme() {
                None => Some("has no scheme: reading fails with \"Unsupported scheme\" (skopeo 1.9.3 panics)".to_string()),
                Some("file") => None,
                Some("http" | "https") if staging => Some("is http(s): containers/image writes only to file:// staging locations".to_string()),
                Some("http" | "https") => None,
                Some(other) => Some(format!("has scheme \"{other}\", which containers/image cannot read")),
            },
        };
        if let Some(problem) = problem {
            out.push(
                Finding::new(
                    &d.file,
                    locate(&d.file, v),
                    Rule::BadLookasideUrl,
                    format!("{name} {field} \"{v}\" {problem}"),
                )
                .hint("use https://host/path for reading, file:///absolute/path for staging"),
            );
        }
    }
}

fn reads(d: &Defined) -> bool {
    [&d.section.lookaside, &d.section.sigstore]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.is_empty()))
}

/// Whether images under policy scope `scope` of transport docker read
/// signatures from a configured lookaside.
fn covered(rd: &RegistriesD, scope: &str, parents: &[String]) -> bool {
    if rd.default_docker.as_ref().is_some_and(reads) {
        return true;
    }
    let hit = |s: &str| rd.docker.get(s).is_some_and(reads);
    if (!scope.is_empty() && hit(scope)) || parents.iter().any(|p| hit(p)) {
        return true;
    }
    // A more specific section covers part of the scope: give it the benefit of the doubt.
    rd.docker.iter().any(|(k, d)| {
        reads(d)
            && (scope.is_empty()
                || k.strip_prefix(scope)
                    .is_some_and(|rest| rest.starts_with(['/', ':', '@'])))
    })
}

/// PL109 for the docker scopes (and the default) that demand signatures.
pub fn check_lookaside(
    file: &Path,
    place: &str,
    rd: &RegistriesD,
    layout: &Layout<'_>,
    out: &mut Vec<Finding>,
) {
    let mut lists: Vec<(String, &List<'_>, Vec<String>, &str)> = Vec::new();
    if let Some(t) = layout.transports.iter().find(|t| t.name == "docker") {
        for s in &t.scopes {
            let path = JsonPath::root().key("transports").key("docker").key(s.name);
            lists.push((
                path.to_string(),
                &s.list,
                crate::checks::parents("docker", s.name),
                s.name,
            ));
        }
    }
    lists.push(("default".to_string(), &layout.default, Vec::new(), ""));
    for (name, list, parents, scope) in lists {
        if !list
            .reqs
            .iter()
            .any(|r| matches!(r.req, vouch_verify::policy::Requirement::SignedBy(_)))
        {
            continue;
        }
        if covered(rd, scope, &parents) {
            continue;
        }
        let target = yaml_section(scope);
        out.push(
            Finding::new(
                file,
                list.at.value.pos,
                Rule::NoLookaside,
                format!(
                    "{name} demands signatures but {place} configures no lookaside for it: pulls read the built-in local directory and fail with \"A signature was required, but no signature exists\"",
                ),
            )
            .hint(format!("add a `lookaside: https://…` under {target} in a *.yaml file there (not needed if the registry serves signatures through the X-Registry-Supports-Signatures API)"))
            .at(&list.at.path),
        );
    }
}

/// The registries.d section a fix for `scope` goes under (`""` is the default).
pub(crate) fn yaml_section(scope: &str) -> String {
    if scope.is_empty() {
        "default-docker:".to_string()
    } else {
        format!("docker: {{\"{scope}\": …}}")
    }
}
