//! `vouch images`, `tag`, `rmi`, `image inspect|ls|rm|tag`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use vouch_image::manifest::ImageConfig;
use vouch_image::store::Removed;
use vouch_image::{ImageRecord, ImageRef, Store};

use super::common::Global;

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// `json`, the default table, or a Go template over podman's fields
    /// (`{{.Repository}}:{{.Tag}}`; docs/format.md).
    #[arg(long)]
    pub format: Option<String>,
    /// Print image IDs only.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images (accepted for podman compatibility).
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// Local image to name.
    pub image: String,
    /// New names.
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove the image even when it has several names.
    #[arg(short, long)]
    pub force: bool,
    /// Remove all images.
    #[arg(short, long)]
    pub all: bool,
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// `json` (default) or a Go template over podman's inspect keys
    /// (`{{.Id}}`, `{{.RepoTags}}`, `{{.Config.Cmd}}`).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Show details of local images as JSON.
    Inspect(InspectArgs),
    /// List local images.
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Remove local images.
    Rm(RmiArgs),
    /// Add names to a local image.
    Tag(TagArgs),
    /// Sign images already in a registry, by digest, without re-pushing them.
    Sign(Box<super::image_sign::ImageSignArgs>),
    /// Show or set the trust policy (policy.json), as podman does.
    #[command(subcommand)]
    Trust(super::image_trust::TrustCommand),
}

pub fn image(g: &Global, c: ImageCommand) -> anyhow::Result<ExitCode> {
    match c {
        ImageCommand::Inspect(a) => inspect(g, a),
        ImageCommand::Ls(a) => images(g, a),
        ImageCommand::Rm(a) => rmi(g, a),
        ImageCommand::Tag(a) => tag(g, a),
        ImageCommand::Sign(a) => super::image_sign::run(g, *a),
        ImageCommand::Trust(c) => super::image_trust::run(g, c),
    }
}

/// Splits a stored name into podman's REPOSITORY and TAG columns.
fn repo_tag(name: &str) -> (String, String) {
    match ImageRef::parse(name) {
        Ok(r) => (r.name(), r.tag().unwrap_or("<none>").to_string()),
        Err(_) => (name.to_string(), "<none>".into()),
    }
}

/// podman's images fields with their own header; the times it adds by
/// method (`CreatedAt`, `CreatedSince`, `CreatedTime`) have none, so a
/// table heads them `<no value>` as podman 4.3 does.
const IMAGE_HEADERS: &[(&str, &str)] = &[("ID", "IMAGE ID"), ("ReadOnly", "R/O")];

const IMAGE_FIELDS: &[&str] = &[
    "Containers",
    "Created",
    "Dangling",
    "Digest",
    "History",
    "ID",
    "Labels",
    "Names",
    "ReadOnly",
    "Repository",
    "SharedSize",
    "Size",
    "Tag",
    "VirtualSize",
];

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One row per name (one `<none>` row when untagged), as podman's
/// imageReporter shows it to a template.
fn image_rows(i: &ImageRecord, now: i64) -> Vec<serde_json::Value> {
    let created = created_unix(i);
    let since = created.map(|c| human_ago(now - c)).unwrap_or_default();
    let at = created
        .map(super::template::go_time_unix)
        .unwrap_or_default();
    let names: Vec<(String, String)> = if i.names.is_empty() {
        vec![("<none>".into(), "<none>".into())]
    } else {
        i.names.iter().map(|n| repo_tag(n)).collect()
    };
    names
        .into_iter()
        .map(|(repo, tag)| {
            json!({
                "Containers": 0,
                "Created": since,
                "CreatedAt": at,
                "CreatedSince": since,
                "CreatedTime": at,
                "Dangling": i.names.is_empty(),
                "Digest": i.digest.to_string(),
                "History": i.names.join(", "),
                "ID": i.id.short(),
                "IsReadOnly": false,
                "Labels": {},
                "Names": i.names,
                "ReadOnly": false,
                "Repository": repo,
                "SharedSize": 0,
                "Size": human_size(i.size()),
                "Tag": tag,
                "VirtualSize": i.size(),
            })
        })
        .collect()
}

fn created_unix(rec: &ImageRecord) -> Option<i64> {
    let c = rec.created.as_deref().unwrap_or(&rec.stored);
    chrono::DateTime::parse_from_rfc3339(c)
        .ok()
        .map(|t| t.timestamp())
}

/// go-units `HumanDuration`, which podman's CREATED column uses.
fn human_ago(secs: i64) -> String {
    let s = secs.max(0);
    let out = match s {
        0 => "Less than a second".to_string(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s < 3600 => format!("{} minutes", s / 60),
        s if (s as f64 / 3600.0).round() as i64 == 1 => "About an hour".into(),
        s if s < 48 * 3600 => format!("{} hours", (s as f64 / 3600.0).round() as i64),
        s if s < 7 * 24 * 3600 * 2 => format!("{} days", s / 86400),
        s if s < 30 * 24 * 3600 * 3 => format!("{} weeks", s / (7 * 86400)),
        s if s < 365 * 24 * 3600 * 2 => format!("{} months", s / (30 * 86400)),
        s => format!("{} years", s / (365 * 86400)),
    };
    format!("{out} ago")
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits.
fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = if i == 0 {
        format!("{}", n)
    } else {
        format!("{v:.digits$}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s} {}", units[i])
}

pub fn images(g: &Global, a: ImagesArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let list = store.images()?;
    let mut out = std::io::stdout().lock();
    // podman: JSON first, then -q (over any template).
    if a.quiet && !a.format.as_deref().is_some_and(vouch_format::is_json) {
        for i in &list {
            writeln!(out, "{}", i.id.short())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.format.as_deref().is_some_and(vouch_format::is_json) {
        let v: Vec<_> = list
            .iter()
            .map(|i| {
                let created = created_unix(i).unwrap_or(0);
                json!({
                    "Id": i.id,
                    "ParentId": "",
                    "RepoTags": null,
                    "RepoDigests": i.repo_digests,
                    "Size": i.size(),
                    "SharedSize": 0,
                    "VirtualSize": i.size(),
                    "Labels": null,
                    "Containers": 0,
                    "Names": i.names,
                    "Digest": i.digest.to_string(),
                    "Created": created,
                    "CreatedAt": chrono::DateTime::from_timestamp(created, 0).map(|t| t.to_rfc3339()),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(t) = a.format.as_deref().filter(|f| *f != "table") {
        let rows: Vec<_> = list
            .iter()
            .flat_map(|i| image_rows(i, now_unix()))
            .collect();
        let header = vouch_format::headers(IMAGE_FIELDS, IMAGE_HEADERS);
        super::template::print(t, Some(&header), &rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = chrono::Utc::now().timestamp();
    let mut rows = vec![[
        "REPOSITORY".to_string(),
        "TAG".into(),
        "IMAGE ID".into(),
        "CREATED".into(),
        "SIZE".into(),
    ]];
    for i in &list {
        let created = created_unix(i)
            .map(|c| human_ago(now - c))
            .unwrap_or_default();
        let names: Vec<(String, String)> = if i.names.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            i.names.iter().map(|n| repo_tag(n)).collect()
        };
        for (repo, tag) in names {
            rows.push([
                repo,
                tag,
                i.id.short().to_string(),
                created.clone(),
                human_size(i.size()),
            ]);
        }
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tag(g: &Global, a: TagArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let rec = store.resolve(&a.image)?;
    for n in &a.names {
        // podman tags short names into localhost/.
        let full = if n.contains('/') {
            n.clone()
        } else {
            format!("localhost/{n}")
        };
        let r = ImageRef::parse(&full).with_context(|| format!("tag {n:?}"))?;
        store.tag(&rec.id, &r)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rmi(g: &Global, a: RmiArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let names: Vec<String> = if a.all {
        store.images()?.into_iter().map(|i| i.id.into()).collect()
    } else {
        a.images.clone()
    };
    if names.is_empty() {
        anyhow::bail!("rmi: name at least one image, or use --all");
    }
    let mut failed = None;
    for n in &names {
        match store.remove(n, a.force || a.all) {
            Ok(Removed::Untagged(_)) => println!("Untagged: {n}"),
            Ok(Removed::Deleted(id)) => println!("Deleted: {id}"),
            Err(e) => {
                eprintln!("Error: {}", super::error_line(&e));
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(_) => Ok(ExitCode::from(2)),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Podman-shaped `image inspect` JSON, read from the stored config.
fn inspect_one(store: &Store, name: &str) -> anyhow::Result<serde_json::Value> {
    let rec = store.resolve(name)?;
    let cfg_bytes = store.read_blob(&rec.config.digest)?;
    let cfg: serde_json::Value =
        serde_json::from_slice(&cfg_bytes).context("stored image config")?;
    let parsed = ImageConfig::parse(&cfg_bytes, rec.layers.len()).context("stored image config")?;
    Ok(json!({
        "Id": rec.id,
        "Digest": rec.digest.to_string(),
        "RepoTags": rec.names,
        "RepoDigests": rec.repo_digests,
        "Created": rec.created,
        "Config": cfg.get("config").cloned().unwrap_or(json!({})),
        "Version": "",
        "Author": cfg.get("author").cloned().unwrap_or(json!("")),
        "Architecture": parsed.architecture,
        "Os": parsed.os,
        "Size": rec.size(),
        "VirtualSize": rec.size(),
        "Labels": cfg.pointer("/config/Labels").cloned().unwrap_or(json!(null)),
        "Annotations": {},
        "ManifestType": rec.manifest_media_type,
        "User": cfg.pointer("/config/User").cloned().unwrap_or(json!("")),
        "RootFS": {"Type": "layers", "Layers": parsed.rootfs.diff_ids},
        "History": parsed.history,
        "NamesHistory": rec.names,
    }))
}

pub fn inspect(g: &Global, a: InspectArgs) -> anyhow::Result<ExitCode> {
    let store = g.store()?;
    let mut out = Vec::new();
    for n in &a.images {
        out.push(inspect_one(&store, n)?);
    }
    if let Some(t) = a.format.as_deref().filter(|f| !vouch_format::is_json(f)) {
        let rows: Vec<_> = out.iter().map(super::ps::go_view).collect();
        let t = super::template::inspect_normalize(t, true);
        super::template::print(&t, None, &rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_like_podman() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1_234_567), "1.23 MB");
        assert_eq!(human_size(210_000_000), "210 MB");
        assert_eq!(human_size(4_500), "4.5 kB");
        assert_eq!(human_ago(5), "5 seconds ago");
        assert_eq!(human_ago(90), "About a minute ago");
        assert_eq!(human_ago(600), "10 minutes ago");
    }
}
