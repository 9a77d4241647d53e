//! `vouch image trust show|set`: podman's view and editor of policy.json
//! (the logic is `vouch_verify::trust_policy`; this is flags and files).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use vouch_verify::keyring::Keyring;
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
    /// policy.json to read (podman 5: hidden `--policypath`; podman 6: `--signature-policy`).
    #[arg(long = "policypath", visible_alias = "signature-policy")]
    pub policypath: Option<PathBuf>,
    /// registries.d directory to read lookasides from (podman's hidden flag).
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
    /// Accepted and ignored, as podman does: the whole policy is shown.
    pub scope: Option<String>,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// policy.json to edit (podman 5: hidden `--policypath`; podman 6: `--signature-policy`).
    #[arg(long = "policypath", visible_alias = "signature-policy")]
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

/// podman 5's `DefaultPolicyPath`: the flag, else the per-user file if it
/// exists, else the system file (which `set` may create).
fn policy_path(explicit: Option<&Path>, g: &Global) -> PathBuf {
    if let Some(p) = explicit.or(g.policy.as_deref()) {
        return p.to_path_buf();
    }
    if let Some(home) = std::env::var_os("HOME") {
        let user = PathBuf::from(home).join(".config/containers/policy.json");
        if user.exists() {
            return user;
        }
    }
    PathBuf::from(SYSTEM_POLICY)
}

/// Edits the policy for one scope; the old file must load and the new one
/// must load, or nothing is written (the file is replaced atomically).
fn set(g: &Global, a: SetArgs) -> anyhow::Result<ExitCode> {
    let scope = a.scope.strip_prefix("docker://").unwrap_or(&a.scope);
    trust_policy::validate_scope(scope)?;
    let kind = TrustType::parse(&a.kind)?;
    let path = policy_path(a.policypath.as_deref(), g);
    let existing = if path.exists() {
        Policy::load(&path)?;
        Some(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?)
    } else {
        None
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
    Keyring::import(&bytes)
        .certs()
        .iter()
        .flat_map(|c| {
            c.userids()
                .map(|u| trust_policy::shown_uid(&String::from_utf8_lossy(u.userid().value())))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn show(g: &Global, a: ShowArgs) -> anyhow::Result<ExitCode> {
    let path = policy_path(a.policypath.as_deref(), g);
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
    if a.json {
        print!("{}", trust_policy::render_json(&rows));
    } else {
        print!("{}", trust_policy::render_table(&rows, !a.noheading));
    }
    Ok(ExitCode::SUCCESS)
}
