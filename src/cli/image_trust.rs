//! `vouch image trust show|set`: podman's view and editor of policy.json
//! (the logic is `vouch_verify::trust_policy`; this is flags and files).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use vouch_verify::policy::Policy;
use vouch_verify::trust_policy::{self, KeyRef, SetRequest, TrustType};

use super::common::Global;
use super::trust;

const SYSTEM_POLICY: &str = "/etc/containers/policy.json";

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Show the trust policy.
    Show(ShowArgs),
    /// Set the trust policy of a registry or repository (or `default`).
    Set(SetArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// policy.json to read (podman 6 spelling; podman 4/5's hidden
    /// `--policypath` is accepted too).
    #[arg(long = "signature-policy", alias = "policypath", value_name = "PATH")]
    pub policypath: Option<PathBuf>,
    /// registries.d directory to read lookasides from (podman's hidden flag;
    /// the global `--registries.d` does the same).
    #[arg(long = "registrypath", hide = true)]
    pub registrypath: Option<PathBuf>,
    /// Output as JSON.
    #[arg(short, long)]
    pub json: bool,
    /// Print the policy file as it is.
    #[arg(long)]
    pub raw: bool,
    /// Omit the header line.
    #[arg(short = 'n', long = "noheading")]
    pub noheading: bool,
    /// Print each row through a Go template with podman's field names
    /// (`{{.RepoName}} {{.Type}} {{.GPGId}}`, `table {{.Transport}}\t{{.Type}}`;
    /// docs/format.md); `json` is the same as --json.
    #[arg(long, conflicts_with_all = ["raw", "json"])]
    pub format: Option<String>,
    /// Accepted and ignored, as podman does: the whole policy is shown.
    pub scope: Option<String>,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// policy.json to edit (podman 6 spelling; podman 4/5's hidden
    /// `--policypath` is accepted too).
    #[arg(long = "signature-policy", alias = "policypath", value_name = "PATH")]
    pub policypath: Option<PathBuf>,
    /// accept, reject, signedBy or sigstoreSigned.
    #[arg(short = 't', long = "type", default_value = "signedBy")]
    pub kind: String,
    /// Public key file to trust: an OpenPGP key (signedBy) or a PEM public
    /// key (sigstoreSigned). Repeat it: the image must then be signed by a
    /// key of each file. The file must exist; its absolute path is written.
    #[arg(short = 'f', long = "pubkeysfile")]
    pub pubkeysfile: Vec<PathBuf>,
    /// REGISTRY[/REPOSITORY], or `default`.
    pub scope: String,
}

pub fn run(g: &Global, c: TrustCommand) -> anyhow::Result<ExitCode> {
    match c {
        TrustCommand::Show(a) => show(g, a),
        TrustCommand::Set(a) => set(g, a),
    }
}

/// The flag, else the file containers/image would read (`Policy::default_path`:
/// `$CONTAINERS_POLICY_JSON`, per-user, /etc, /usr/share).
fn policy_path(explicit: Option<&Path>, g: &Global) -> anyhow::Result<PathBuf> {
    match explicit.or(g.policy.as_deref()) {
        Some(p) => Ok(p.to_path_buf()),
        None => Ok(Policy::default_path()?),
    }
}

/// Where `set` reads the current policy from and writes the new one: the
/// file `show` reads, except that the vendor's /usr/share copy is never
/// edited: its content goes to /etc/containers/policy.json, the
/// administrator's override. No file at all: a new system file.
fn set_paths(explicit: Option<&Path>, g: &Global) -> (Option<PathBuf>, PathBuf) {
    match policy_path(explicit, g) {
        Ok(p) if p.starts_with(vouch_verify::config_lookup::VENDOR_DIR) => {
            (Some(p), PathBuf::from(SYSTEM_POLICY))
        }
        Ok(p) => (p.exists().then(|| p.clone()), p),
        Err(_) => (None, PathBuf::from(SYSTEM_POLICY)),
    }
}

/// Edits the policy for one scope; the old file must load and the new one
/// must load, or nothing is written (the file is replaced atomically).
fn set(g: &Global, a: SetArgs) -> anyhow::Result<ExitCode> {
    let scope = a.scope.strip_prefix("docker://").unwrap_or(&a.scope);
    trust_policy::validate_scope(scope)?;
    let kind = TrustType::parse(&a.kind)?;
    let (source, path) = set_paths(a.policypath.as_deref(), g);
    let existing = match &source {
        Some(src) => {
            Policy::load(src)?;
            Some(std::fs::read(src).with_context(|| format!("reading {}", src.display()))?)
        }
        None => None,
    };
    let req = SetRequest {
        scope,
        kind,
        kind_name: &a.kind,
        keys: &a.pubkeysfile,
    };
    let bytes = trust_policy::set(existing.as_deref(), &req)
        .with_context(|| format!("setting trust policy in {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    vouch_image::outfile::write_output(&path, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// User IDs of the OpenPGP keys in a file or blob; an unreadable file is
/// reported and shows no ID, as podman does.
fn key_ids(k: KeyRef<'_>) -> Vec<String> {
    let bytes = match k {
        KeyRef::Path(p) => match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("vouch: warning: getting key identity: {p}: {e}");
                return Vec::new();
            }
        },
        KeyRef::Data(d) => d.to_vec(),
    };
    vouch_verify::keyring::listed_user_ids(&bytes)
        .iter()
        .map(|u| trust_policy::shown_uid(u))
        .collect()
}

/// podman's `trust.Policy` field names, which a `--format` template uses.
const TRUST_FIELDS: &[&str] = &[
    "Transport",
    "Name",
    "RepoName",
    "Keys",
    "SignatureStore",
    "Type",
    "GPGId",
];
const TRUST_HEADERS: &[(&str, &str)] = &[("GPGId", "GPG ID"), ("SignatureStore", "SIGSTORE")];

/// One row under podman's Go field names (an empty field is an empty string,
/// as Go's zero value prints, not `<no value>`).
fn template_row(r: &trust_policy::Row) -> serde_json::Value {
    serde_json::json!({
        "Transport": r.transport,
        "Name": r.name,
        "RepoName": r.repo_name,
        "Keys": [],
        "SignatureStore": r.sigstore,
        "Type": r.kind,
        "GPGId": r.gpg_id,
    })
}

fn show(g: &Global, a: ShowArgs) -> anyhow::Result<ExitCode> {
    let path = policy_path(a.policypath.as_deref(), g)?;
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if a.raw {
        println!("{}", String::from_utf8_lossy(&bytes));
        return Ok(ExitCode::SUCCESS);
    }
    Policy::parse(&bytes).with_context(|| format!("invalid policy in {}", path.display()))?;
    let rd = match &a.registrypath {
        Some(dir) => vouch_verify::registries_d::RegistriesD::load(dir)?,
        None => trust::load_registries_d(g)?,
    };
    let rows = trust_policy::describe(&bytes, &rd, &mut key_ids)
        .with_context(|| format!("invalid policy in {}", path.display()))?;
    if let Some(f) = a.format.as_deref().filter(|f| !vouch_format::is_json(f)) {
        let rows: Vec<_> = rows.iter().map(template_row).collect();
        let header = vouch_format::headers(TRUST_FIELDS, TRUST_HEADERS);
        super::template::print(f, (!a.noheading).then_some(&header), &rows)?;
    } else if a.json || a.format.is_some() {
        print!("{}", trust_policy::render_json(&rows));
    } else {
        print!("{}", trust_policy::render_table(&rows, !a.noheading));
    }
    Ok(ExitCode::SUCCESS)
}
