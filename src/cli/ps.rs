//! Read-only container views: `ps`, `inspect`, `logs`, `top`. None of them
//! takes a lock; they read state files, exit files and procfs.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use vouch_runtime::inspect::{inspect_json, ps_json, status_text, Entry};
use vouch_runtime::logs::{self, LogOptions};
use vouch_runtime::state::Status;

use super::common::Global;
use super::containers::engine;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default: running only).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print IDs only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate IDs and commands.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// `json`, `table` (default) or a Go template over podman's fields
    /// (`{{.ID}} {{.Names}}`, `table {{.ID}}\t{{.Status}}`; docs/format.md).
    #[arg(long)]
    pub format: Option<String>,
}

/// podman's ps fields with a header other than the camel-case split.
const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("CreatedHuman", "CREATED"),
    ("Pod", "POD ID"),
    ("PodName", "PODNAME"),
];

const PS_FIELDS: &[&str] = &[
    "AutoRemove",
    "Command",
    "Created",
    "CreatedAt",
    "CreatedHuman",
    "Exited",
    "ExitedAt",
    "ExitCode",
    "ID",
    "Image",
    "ImageID",
    "IsInfra",
    "Labels",
    "Mounts",
    "Names",
    "Namespaces",
    "Networks",
    "Pid",
    "Pod",
    "PodName",
    "Ports",
    "RunningFor",
    "Size",
    "StartedAt",
    "State",
    "Status",
];

/// One container as podman's `ps` template sees it (psReporter): IDs and
/// the command shortened unless `--no-trunc`, times as Go prints them.
fn ps_row(
    e: &Entry,
    no_trunc: bool,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> serde_json::Value {
    let c = &e.cfg;
    let s = &e.state;
    let short = |full: &str, short: &str| {
        if no_trunc {
            full.to_string()
        } else {
            short.to_string()
        }
    };
    let command = c.command.join(" ");
    let ago = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| {
                format!(
                    "{} ago",
                    vouch_runtime::inspect::human((now - t).num_seconds())
                )
            })
    };
    let unix = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| t.timestamp())
    };
    let running_for = ago(&Some(c.created.clone())).unwrap_or_default();
    // podman 4.3 words a running container's age as "Up 3 seconds ago".
    let status = match s.status {
        Some(Status::Running) => format!("Up {}", ago(&s.started_at).unwrap_or_default()),
        _ => status_text(s, now),
    };
    serde_json::json!({
        "AutoRemove": c.auto_remove,
        "Command": if no_trunc { command } else { trunc(&command, 17) },
        "Created": super::template::go_time(&c.created),
        "CreatedAt": super::template::go_time(&c.created),
        "CreatedHuman": running_for,
        "Exited": s.status == Some(Status::Exited),
        "ExitedAt": unix(&s.finished_at),
        "ExitCode": s.exit_code.unwrap_or(0),
        "ID": short(&c.id, c.id.short()),
        "Image": c.image_name,
        "ImageID": short(&c.image_id, c.image_id.short()),
        "IsInfra": false,
        "Labels": {},
        "Mounts": [],
        "Names": c.name,
        "Namespaces": {},
        "Networks": ps_json(e)["Networks"].as_array().map(|n| {
            n.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(",")
        }),
        "Pid": s.pid.unwrap_or(0),
        "Pod": "",
        "PodName": "",
        "Ports": ports_text(e),
        "RunningFor": running_for,
        "Size": "",
        "StartedAt": unix(&s.started_at),
        "State": status,
        "Status": status,
    })
}

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

fn ports_text(e: &Entry) -> String {
    e.cfg
        .ports
        .iter()
        .map(|p| {
            let ip = p
                .host_ip
                .map(|i| i.to_string())
                .unwrap_or_else(|| "0.0.0.0".into());
            format!(
                "{ip}:{}->{}/{}",
                p.host_port,
                p.container_port,
                p.protocol.as_str()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn ps(g: &Global, a: PsArgs) -> anyhow::Result<ExitCode> {
    let list: Vec<Entry> = engine(g)
        .list()?
        .into_iter()
        .filter(|e| a.all || e.state.status == Some(Status::Running))
        .collect();
    let mut out = std::io::stdout().lock();
    // podman: any --format (JSON or a template) overrides -q.
    if a.quiet && a.format.is_none() {
        for e in &list {
            writeln!(
                out,
                "{}",
                if a.no_trunc {
                    e.cfg.id.as_str()
                } else {
                    e.cfg.id.short()
                }
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    match a.format.as_deref() {
        Some(f) if vouch_format::is_json(f) => {
            let v: Vec<_> = list.iter().map(ps_json).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        None | Some("table") => {
            let now = chrono::Local::now().fixed_offset();
            let rows: Vec<[String; 7]> = list
                .iter()
                .map(|e| {
                    let created = chrono::DateTime::parse_from_rfc3339(&e.cfg.created)
                        .map(|t| {
                            format!(
                                "{} ago",
                                vouch_runtime::inspect::human((now - t).num_seconds())
                            )
                        })
                        .unwrap_or_default();
                    [
                        if a.no_trunc {
                            e.cfg.id.to_string()
                        } else {
                            e.cfg.id.short().to_string()
                        },
                        e.cfg.image_name.clone(),
                        if a.no_trunc {
                            e.cfg.command.join(" ")
                        } else {
                            trunc(&e.cfg.command.join(" "), 17)
                        },
                        created,
                        status_text(&e.state, now),
                        ports_text(e),
                        e.cfg.name.clone(),
                    ]
                })
                .collect();
            let head = [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ];
            let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
            let line = |cells: Vec<&str>| {
                let mut s = String::new();
                for (i, c) in cells.iter().enumerate() {
                    if i + 1 == cells.len() {
                        s.push_str(c);
                    } else {
                        s.push_str(&format!("{:<width$}  ", c, width = w[i]));
                    }
                }
                s
            };
            writeln!(out, "{}", line(head.to_vec()))?;
            for r in &rows {
                writeln!(out, "{}", line(r.iter().map(|s| s.as_str()).collect()))?;
            }
        }
        Some(t) => {
            let now = chrono::Local::now().fixed_offset();
            let rows: Vec<_> = list.iter().map(|e| ps_row(e, a.no_trunc, now)).collect();
            let header = vouch_format::headers(PS_FIELDS, PS_HEADERS);
            super::template::print(t, Some(&header), &rows)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Containers (name or ID), or images when none is a container; or one
    /// `docker://REF`: a registry image, described as skopeo inspect does.
    #[arg(required = true)]
    pub containers: Vec<String>,
    /// `json` (default) or a Go template over podman's inspect keys
    /// (`{{.State.Status}}`, `{{.NetworkSettings.IPAddress}}`).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[command(flatten)]
    pub remote: super::remote_inspect::RemoteInspectFlags,
}

/// Inspect keys holding times, which a template sees as Go's `time.Time`.
const TIME_KEYS: &[&str] = &["Created", "StartedAt", "FinishedAt"];

/// JSON keys whose Go field, the name a template uses, is spelled otherwise
/// (libpod/define's inspect structs).
const GO_NAMES: &[(&str, &str)] = &[("Id", "ID")];

/// An inspect document as podman's template sees the Go struct behind it:
/// Go field names, times printed as Go prints `time.Time`.
pub fn go_view(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(o) => serde_json::Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) if TIME_KEYS.contains(&k.as_str()) => {
                            serde_json::Value::String(super::template::go_time(s))
                        }
                        other => go_view(other),
                    };
                    let k = GO_NAMES
                        .iter()
                        .find(|(j, _)| j == k)
                        .map_or(k.as_str(), |(_, g)| g);
                    (k.to_string(), v)
                })
                .collect(),
        ),
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(go_view).collect()),
        other => other.clone(),
    }
}

pub fn inspect(g: &Global, a: InspectArgs) -> anyhow::Result<ExitCode> {
    if a.containers.iter().any(|c| c.starts_with("docker://")) {
        if a.format.is_some() {
            anyhow::bail!("--format is not supported with a docker:// reference (docs/format.md)");
        }
        return super::remote_inspect::run(g, &a.containers, &a.remote);
    }
    if a.remote.any() {
        anyhow::bail!("--raw, --config and --no-tags need a docker:// reference");
    }
    let e = engine(g);
    // podman inspect: containers first, images when no argument names a container.
    let known = |n: &String| {
        !matches!(
            e.lookup(n),
            Err(vouch_runtime::RuntimeError::NoSuchContainer(_))
        )
    };
    if !a.containers.iter().any(known) {
        return super::images::inspect(
            g,
            super::images::InspectArgs {
                images: a.containers,
                format: a.format,
            },
        );
    }
    let mut docs = Vec::new();
    for n in &a.containers {
        let (dir, cfg) = e.lookup(n)?;
        let state = e.effective_state(&dir, Path::new("/proc"))?;
        let spec = e.read_spec(&dir);
        docs.push(inspect_json(&Entry { dir, cfg, state }, spec));
    }
    if let Some(t) = a.format.as_deref().filter(|f| !vouch_format::is_json(f)) {
        let rows: Vec<_> = docs.iter().map(go_view).collect();
        let t = super::template::inspect_normalize(t, false);
        super::template::print(&t, None, &rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&docs)?
    )?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow the log until the container exits.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines (-1: all).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// Only lines after this time (RFC 3339, Unix time or a duration like 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Prefix each line with its timestamp.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    pub container: String,
}

pub fn logs(g: &Global, a: LogsArgs) -> anyhow::Result<ExitCode> {
    let e = engine(g);
    let (dir, _cfg) = e.lookup(&a.container)?;
    let parse = |s: &Option<String>, what: &str| -> anyhow::Result<_> {
        s.as_deref()
            .map(|t| logs::parse_since(t).with_context(|| format!("invalid --{what} {t:?}")))
            .transpose()
    };
    let o = LogOptions {
        tail: (a.tail >= 0).then_some(a.tail as usize),
        since: parse(&a.since, "since")?,
        until: parse(&a.until, "until")?,
        timestamps: a.timestamps,
    };
    let done = || {
        e.effective_state(&dir, Path::new("/proc"))
            .map(|s| s.status != Some(Status::Running))
            .unwrap_or(true)
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    logs::print(&dir.log(), &o, a.follow, &done, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// ps descriptors (default: user pid ppid pcpu etime tty time args).
    pub descriptors: Vec<String>,
}

pub fn top(g: &Global, a: TopArgs) -> anyhow::Result<ExitCode> {
    let e = engine(g);
    let (dir, cfg) = e.lookup(&a.container)?;
    let st = e.effective_state(&dir, Path::new("/proc"))?;
    let pid = match (st.status, st.pid) {
        (Some(Status::Running), Some(p)) => p,
        _ => anyhow::bail!("container {} is not running", cfg.name),
    };
    let table = vouch_runtime::top::top(Path::new("/proc"), pid, &dir.rootfs(), &a.descriptors)?;
    write!(std::io::stdout().lock(), "{table}")?;
    Ok(ExitCode::SUCCESS)
}
