//! `vouch image trust show|set`: podman's view and editor of policy.json.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use vouch_verify::docker_ref::DockerRef;
use vouch_verify::keyring::Keyring;
use vouch_verify::policy::Policy;

use super::common::Global;
use super::trust;

const DEFAULT_POLICY: &str = "/etc/containers/policy.json";

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Show the trust policy.
    Show(ShowArgs),
    /// Set the trust policy of a registry or repository (or `default`).
    Set(SetArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// policy.json to read.
    #[arg(long = "policypath")]
    pub policypath: Option<PathBuf>,
    /// Output as JSON.
    #[arg(short, long)]
    pub json: bool,
    /// Print the policy file as it is.
    #[arg(long)]
    pub raw: bool,
    /// Omit the header line.
    #[arg(short = 'n', long = "noheading")]
    pub noheading: bool,
    /// Only this registry or repository.
    pub scope: Option<String>,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// policy.json to edit.
    #[arg(long = "policypath")]
    pub policypath: Option<PathBuf>,
    /// accept, reject or signedBy.
    #[arg(short = 't', long = "type", default_value = "signedBy")]
    pub kind: String,
    /// Public key files to trust (signedBy; each becomes a requirement, as podman writes them).
    #[arg(short = 'f', long = "pubkeysfile")]
    pub pubkeysfile: Vec<PathBuf>,
    /// REGISTRY[/REPOSITORY], or `default`.
    pub scope: String,
}

pub fn run(g: &Global, c: TrustCommand) -> anyhow::Result<ExitCode> {
    match c {
        TrustCommand::Show(a) => show(g, a),
        TrustCommand::Set(a) => set(a),
    }
}

fn policy_path(explicit: Option<&Path>, g: Option<&Global>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| g.and_then(|g| g.policy.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_POLICY))
}

fn requirement(kind: &str, keys: &[PathBuf]) -> anyhow::Result<Vec<Value>> {
    Ok(match kind {
        "accept" => vec![json!({"type": "insecureAcceptAnything"})],
        "reject" => vec![json!({"type": "reject"})],
        "signedBy" => {
            anyhow::ensure!(
                !keys.is_empty(),
                "--type signedBy needs at least one --pubkeysfile"
            );
            let mut v = Vec::new();
            for k in keys {
                let abs = std::fs::canonicalize(k)
                    .with_context(|| format!("--pubkeysfile {}", k.display()))?;
                v.push(json!({"type": "signedBy", "keyType": "GPGKeys", "keyPath": abs}));
            }
            v
        }
        other => anyhow::bail!("--type {other:?}: expected accept, reject or signedBy"),
    })
}

/// Edits the policy for one scope; the old file must load and the new one
/// must load, or nothing is written (the file is replaced atomically).
fn set(a: SetArgs) -> anyhow::Result<ExitCode> {
    let path = policy_path(a.policypath.as_deref(), None);
    let mut doc: Value = if path.exists() {
        Policy::load(&path)?;
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{}", path.display()))?
    } else {
        json!({"default": [{"type": "insecureAcceptAnything"}]})
    };
    let reqs = requirement(&a.kind, &a.pubkeysfile)?;
    if a.scope == "default" {
        doc["default"] = Value::Array(reqs);
    } else {
        let scope = a.scope.strip_prefix("docker://").unwrap_or(&a.scope);
        if doc.get("transports").is_none() {
            doc["transports"] = json!({});
        }
        if doc["transports"].get("docker").is_none() {
            doc["transports"]["docker"] = json!({});
        }
        doc["transports"]["docker"][scope] = Value::Array(reqs);
    }
    let bytes = serde_json::to_vec_pretty(&doc)?;
    Policy::parse(&bytes)
        .with_context(|| format!("the edited policy for {} would be invalid", a.scope))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    vouch_image::outfile::write_output(&path, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// One row of `trust show`, with podman's JSON field names.
fn row(transport: &str, name: &str, reqs: &Value, g: &Global) -> Value {
    let first = reqs.get(0).cloned().unwrap_or(Value::Null);
    let kind = match first.get("type").and_then(Value::as_str) {
        Some("insecureAcceptAnything") => "accept",
        Some("reject") => "reject",
        Some("signedBy") => "signed",
        Some(other) => other,
        None => "",
    };
    let mut ids = Vec::new();
    for r in reqs.as_array().into_iter().flatten() {
        let keys: Vec<Vec<u8>> = match (r.get("keyPath"), r.get("keyData")) {
            (Some(Value::String(p)), _) => std::fs::read(p).ok().into_iter().collect(),
            (_, Some(Value::String(d))) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(d)
                    .ok()
                    .into_iter()
                    .collect()
            }
            _ => vec![],
        };
        for k in keys {
            ids.extend(Keyring::import(&k).identities().iter().cloned());
        }
    }
    let store = if transport == "repository" {
        let probe = if name.contains('/') {
            format!("{name}:latest")
        } else {
            format!("{name}/x:latest")
        };
        DockerRef::parse_normalized(&probe)
            .ok()
            .and_then(|r| {
                trust::load_registries_d(g)
                    .ok()
                    .and_then(|c| c.read_value(&r).map(|(v, _)| v.to_string()))
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    json!({"transport": transport, "name": name, "repo_name": name, "type": kind, "gpg_id": ids.join(", "), "sigstore": store})
}

fn show(g: &Global, a: ShowArgs) -> anyhow::Result<ExitCode> {
    let path = policy_path(a.policypath.as_deref(), Some(g));
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if a.raw {
        print!("{}", String::from_utf8_lossy(&bytes));
        return Ok(ExitCode::SUCCESS);
    }
    Policy::parse(&bytes).with_context(|| format!("invalid policy in {}", path.display()))?;
    let doc: Value = serde_json::from_slice(&bytes)?;
    let mut rows = vec![row("all", "default", &doc["default"], g)];
    if let Some(docker) = doc.pointer("/transports/docker").and_then(Value::as_object) {
        for (scope, reqs) in docker {
            rows.push(row("repository", scope, reqs, g));
        }
    }
    if let Some(s) = &a.scope {
        rows.retain(|r| r["name"] == s.as_str());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let cols = ["transport", "name", "type", "gpg_id", "sigstore"];
    let mut table: Vec<Vec<String>> = Vec::new();
    if !a.noheading {
        table.push(
            ["TRANSPORT", "NAME", "TYPE", "ID", "STORE"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
    }
    for r in &rows {
        table.push(
            cols.iter()
                .map(|c| r[c].as_str().unwrap_or("").to_string())
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..cols.len())
        .map(|i| table.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for r in table {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:w$}", w = widths[i]))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
