//! policy-lint: checks containers `policy.json` files (and registries.d)
//! before they reach a host.
//!
//! * **Errors** are what containers/image refuses to load — found by
//!   vouch-verify's own policy parser, so the verdict is the one `vouch pull`
//!   (and, within the §Δ notes of docs/policy-lint.md, skopeo) reaches —
//!   plus keys that can never verify anything.
//! * **Warnings** are valid but dangerous policies: a permissive default,
//!   scopes that never apply, weak or expired keys, signed scopes without a
//!   lookaside, sigstore scopes whose attachments are never read.
//!
//! Keys that can never verify anything include sigstore material: a
//! `sigstoreSigned` key, Rekor key or CA that is not the PEM it must be, or a
//! path that does not exist.
//!
//! Rules have stable ids ([`Rule`]); [`Linter::lint`] returns findings with
//! file:line:column, the JSON key path and a hint; [`output`] renders them as
//! text, JSON or SARIF. The `policy-lint` binary and `vouch policy-lint`
//! share [`cli`].

mod attachments;
mod checks;
pub mod cli;
mod finding;
mod keys;
mod layout;
mod load;
pub mod output;
mod registries;
pub mod rules;
mod sigstore;
mod suggest;

use std::path::{Path, PathBuf};

use vouch_verify::json::parse_document;
use vouch_verify::policy::{Policy, PolicyErrorKind};
use vouch_verify::registries_d::{RegistriesD, Search};

pub use finding::Finding;
pub use rules::{Rule, Severity};

/// Why linting could not happen at all (as opposed to findings).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading registries.d directory {path}")]
    RegistriesDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A linter for one run: registries.d is loaded once, keys are imported once.
#[derive(Default)]
pub struct Linter {
    /// Where registries.d came from (for messages), and what it holds.
    registries: Option<(String, Option<RegistriesD>)>,
    keys: keys::KeyCache,
    sigstore: sigstore::MaterialCache,
    /// Findings about registries.d itself, reported once.
    pending: Vec<Finding>,
    /// Skip freeing each file's parse tree (see [`Linter::exiting_soon`]).
    leak_trees: bool,
}

impl Linter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Also checks against (and lints) the registries.d directory `dir`.
    pub fn with_registries_d(dir: &Path) -> Result<Self, LintError> {
        Self::with_registries_search(&Search::explicit(dir))
    }

    /// Also checks against (and lints) the registries.d files `search`
    /// selects: `--registries.d`, or the drop-in directories vouch and
    /// containers/image read when it is not given.
    pub fn with_registries_search(search: &Search) -> Result<Self, LintError> {
        let mut pending = Vec::new();
        let rd =
            registries::load(search, &mut pending).map_err(|source| LintError::RegistriesDir {
                path: search
                    .explicit_dir()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
                source,
            })?;
        Ok(Self {
            registries: Some((search.describe(), rd)),
            pending,
            ..Self::default()
        })
    }

    /// For a process that exits right after linting (the CLI): parse trees
    /// are not freed, as compilers skip freeing at exit — tearing down the
    /// tree of a 10,000-scope policy is ~15% of linting it.
    pub fn exiting_soon(mut self) -> Self {
        self.leak_trees = true;
        self
    }

    /// Findings about registries.d files (empty after the first call).
    pub fn take_registries_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.pending)
    }

    /// Reads and lints the policy at `path`.
    pub fn lint(&mut self, path: &Path) -> Result<Vec<Finding>, LintError> {
        let bytes = std::fs::read(path).map_err(|source| LintError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(self.lint_bytes(path, &bytes))
    }

    /// Lints policy bytes; `file` names them in findings. Sorted by position.
    pub fn lint_bytes(&mut self, file: &Path, bytes: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        let doc = match parse_document(bytes) {
            Ok(doc) => doc,
            Err(e) => {
                let e = e.map(PolicyErrorKind::Json);
                out.push(load_finding(file, &e, None));
                return out;
            }
        };
        let policy = match Policy::from_document(&doc) {
            Ok(p) => p,
            Err(e) => {
                out.push(load_finding(file, &e, Some(&doc)));
                return out;
            }
        };
        let Some(layout) = layout::Layout::new(&doc, &policy) else {
            return out;
        };
        checks::check(file, &layout, &mut out);
        self.keys.check(file, &layout.default, &mut out);
        self.sigstore.check(file, &layout.default, &mut out);
        for t in &layout.transports {
            for s in &t.scopes {
                self.keys.check(file, &s.list, &mut out);
                self.sigstore.check(file, &s.list, &mut out);
            }
        }
        if let Some((dir, Some(rd))) = &self.registries {
            registries::check_lookaside(file, dir, rd, &layout, &mut out);
            attachments::check(file, dir, rd, &layout, &mut out);
        }
        drop(layout);
        if self.leak_trees {
            std::mem::forget(policy);
            std::mem::forget(doc);
        }
        out.sort_by_key(|f| (f.line, f.column, f.rule));
        out
    }
}

fn load_finding(
    file: &Path,
    e: &vouch_verify::policy::PolicyError,
    doc: Option<&vouch_verify::json::Spanned>,
) -> Finding {
    let (rule, hint) = load::classify(e, doc);
    // The requirement is reported at its `{`; point at the member to fix.
    let at = match (rule, doc) {
        (Rule::FulcioWithoutRekor, Some(doc)) => load::member_at(doc, e.pos, "fulcio"),
        _ => None,
    };
    match at {
        Some(pos) => Finding::new(file, pos, rule, e.kind.to_string())
            .hint(hint)
            .at(&e.path.key("fulcio")),
        None => Finding::new(file, e.pos, rule, e.kind.to_string())
            .hint(hint)
            .at(&e.path),
    }
}

/// Whether containers/image would refuse to load this policy (the verdict
/// compared with skopeo in the agreement test).
pub fn refuses_to_load(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.rule.is_load_error())
}
