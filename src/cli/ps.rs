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
    /// `json` or `table` (default).
    #[arg(long)]
    pub format: Option<String>,
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
    if a.quiet {
        for e in &list {
            writeln!(
                out,
                "{}",
                if a.no_trunc {
                    &e.cfg.id[..]
                } else {
                    vouch_runtime::id::short(&e.cfg.id)
                }
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    match a.format.as_deref() {
        Some("json") => {
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
                            e.cfg.id.clone()
                        } else {
                            vouch_runtime::id::short(&e.cfg.id).to_string()
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
        Some(other) => anyhow::bail!("unsupported --format {other:?}: use json or table"),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Containers (name or ID), or images when none is a container; or one
    /// `docker://REF`: a registry image, described as skopeo inspect does.
    #[arg(required = true)]
    pub containers: Vec<String>,
    #[command(flatten)]
    pub remote: super::remote_inspect::RemoteInspectFlags,
}

pub fn inspect(g: &Global, a: InspectArgs) -> anyhow::Result<ExitCode> {
    if a.containers.iter().any(|c| c.starts_with("docker://")) {
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
