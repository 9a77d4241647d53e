//! `vouch container checkpoint` and `vouch container restore`, with
//! podman's flags (cmd/podman/containers/checkpoint.go, restore.go). The
//! logic is in vouch_runtime::checkpoint; restoring an exported archive
//! whose image this store lacks pulls it first, through the policy, as
//! `vouch pull` does.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use vouch_image::{manifest, ImageRef};
use vouch_runtime::checkpoint::{archive, CheckpointOptions, Compression, Report, RestoreOptions};
use vouch_runtime::net::PortMapping;

use super::common::{Global, RegistryFlags};
use super::containers::engine;

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Checkpoint running containers (CRIU through the OCI runtime).
    Checkpoint(CheckpointArgs),
    /// Restore checkpointed containers, or one from an exported archive (-i).
    Restore(RestoreArgs),
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Keep the container running after writing the checkpoint.
    #[arg(short = 'R', long = "leave-running")]
    pub leave_running: bool,
    /// Checkpoint established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Keep CRIU's log and statistics files.
    #[arg(short = 'k', long)]
    pub keep: bool,
    /// Export the checkpoint to a tar archive (podman's layout).
    #[arg(short = 'e', long = "export")]
    pub export: Option<PathBuf>,
    /// Compression of the exported archive: zstd (default), gzip or none.
    #[arg(short = 'c', long = "compress", default_value = "zstd")]
    pub compress: String,
    /// Print the checkpoint's durations as JSON.
    #[arg(long = "print-stats")]
    pub print_stats: bool,
    /// CRIU binary (default: VOUCH_CRIU, then criu on PATH).
    #[arg(long)]
    pub criu: Option<PathBuf>,
    /// Containers (names or IDs).
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Restore established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Keep the checkpoint images and CRIU's logs after restoring.
    #[arg(short = 'k', long)]
    pub keep: bool,
    /// Restore from an exported checkpoint archive.
    #[arg(short = 'i', long = "import")]
    pub import: Option<PathBuf>,
    /// Name for the restored container (with -i; gives a new ID and address).
    #[arg(short = 'n', long = "name")]
    pub name: Option<String>,
    /// Publish ports instead of the checkpointed ones (with -i).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Print the restore's durations as JSON.
    #[arg(long = "print-stats")]
    pub print_stats: bool,
    /// With -i: keep what the archive's config grants beyond `vouch run`'s
    /// defaults (capabilities, host network, host ports, another user);
    /// each grant is printed on stderr. Without it such an archive is refused.
    #[arg(long = "grant-archive-privileges")]
    pub grant_archive_privileges: bool,
    /// CRIU binary (default: VOUCH_CRIU, then criu on PATH).
    #[arg(long)]
    pub criu: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Containers (names or IDs); none with -i.
    pub containers: Vec<String>,
}

pub fn run(g: &Global, c: ContainerCommand) -> anyhow::Result<ExitCode> {
    match c {
        ContainerCommand::Checkpoint(a) => checkpoint(g, a),
        ContainerCommand::Restore(a) => restore(g, a),
    }
}

fn stats_json(r: &[Report], op: &str) -> serde_json::Value {
    serde_json::json!({
        format!("vouch_{op}_duration"): r.iter().map(|x| x.total_us).sum::<u64>(),
        "containerStatistics": r.iter().map(|x| serde_json::json!({
            "Id": x.id, "Name": x.name,
            format!("runtime_{op}_duration"): x.runtime_us,
            "archive_bytes": x.archive_bytes,
        })).collect::<Vec<_>>(),
    })
}

pub fn checkpoint(g: &Global, a: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let compression: Compression = a.compress.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    anyhow::ensure!(
        a.export.is_none() || a.containers.len() == 1,
        "--export needs exactly one container"
    );
    let e = engine(g);
    let o = CheckpointOptions {
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
        keep: a.keep,
        export: a.export.clone(),
        compression,
        criu: a.criu.clone(),
    };
    let mut reports = Vec::new();
    let mut first_err = None;
    for n in &a.containers {
        match e.checkpoint(n, &o) {
            Ok(r) => {
                if !a.print_stats {
                    println!("{n}");
                }
                reports.push(r);
            }
            Err(err) if first_err.is_none() => first_err = Some(err),
            Err(err) => eprintln!("Error: {}", super::error_line(&err)),
        }
    }
    if a.print_stats {
        println!(
            "{}",
            serde_json::to_string_pretty(&stats_json(&reports, "checkpoint"))?
        );
    }
    match first_err {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

pub fn restore(g: &Global, a: RestoreArgs) -> anyhow::Result<ExitCode> {
    let ports = if a.publish.is_empty() {
        None
    } else {
        Some(
            a.publish
                .iter()
                .map(|p| PortMapping::parse(p))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let o = RestoreOptions {
        tcp_established: a.tcp_established,
        keep: a.keep,
        name: a.name.clone(),
        ports,
        criu: a.criu.clone(),
        grant_archive_privileges: a.grant_archive_privileges,
    };
    let exe = std::env::current_exe().context("locating the vouch binary")?;
    let e = engine(g);
    if let Some(file) = &a.import {
        anyhow::ensure!(a.containers.is_empty(), "--import takes no container names");
        // Fail early and plainly when CRIU is missing, before unpacking.
        vouch_runtime::checkpoint::criu::locate(o.criu.as_deref())?;
        let store = g.store()?;
        let staging = store.staging()?;
        let imp = archive::import(file, staging.path())?;
        let image = match store
            .resolve(&imp.config.image_id)
            .or_else(|_| store.resolve(&imp.config.image_name))
        {
            Ok(i) => i,
            Err(_) => {
                let reference = ImageRef::parse(&imp.config.image_name).with_context(|| {
                    format!(
                        "the checkpoint's image {:?} is not in this store",
                        imp.config.image_name
                    )
                })?;
                let platform = manifest::wanted_platform(None, None);
                eprintln!("Pulling {} for the checkpoint", imp.config.image_name);
                super::pull::pull_image(g, &reference, &a.registry, &platform, None)?
            }
        };
        let r = e.restore_import(&exe, &imp, &image, &store, &o)?;
        drop(staging);
        for g in &r.granted {
            eprintln!("Granted from {}: {g}", file.display());
        }
        if a.print_stats {
            println!(
                "{}",
                serde_json::to_string_pretty(&stats_json(&[r], "restore"))?
            );
        } else {
            println!("{}", r.id);
        }
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(
        !a.containers.is_empty(),
        "no container given (or use -i FILE)"
    );
    anyhow::ensure!(
        a.name.is_none() && a.publish.is_empty(),
        "--name and --publish need --import"
    );
    let mut reports = Vec::new();
    let mut first_err = None;
    for n in &a.containers {
        match e.restore(&exe, n, &o) {
            Ok(r) => {
                if !a.print_stats {
                    println!("{n}");
                }
                reports.push(r);
            }
            Err(err) if first_err.is_none() => first_err = Some(err),
            Err(err) => eprintln!("Error: {}", super::error_line(&err)),
        }
    }
    if a.print_stats {
        println!(
            "{}",
            serde_json::to_string_pretty(&stats_json(&reports, "restore"))?
        );
    }
    match first_err {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
