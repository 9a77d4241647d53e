//! `vouch run` and the container lifecycle commands (`start`, `stop`,
//! `restart`, `kill`, `wait`, `rm`, `exec`), with podman's flags. The logic
//! lives in vouch-runtime; this file parses flags and prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use vouch_image::store::StoreError;

use vouch_runtime::lifecycle::CLEANUP_ARG;
use vouch_runtime::net::ports::PortMapping;
use vouch_runtime::run::{RunOutcome, RunRequest};
use vouch_runtime::signal::Signal;
use vouch_runtime::state::NetworkMode;
use vouch_runtime::{CreateOptions, Engine, RuntimeError};

use super::common::{Global, RegistryFlags};

pub fn engine(g: &Global) -> Engine {
    engine_at(g.root.clone(), g.runroot.clone())
}

fn engine_at(root: PathBuf, run_dir: PathBuf) -> Engine {
    Engine::new(root, run_dir)
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Name of the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Run in the background and print the container ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep STDIN open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Publish a port: [IP:][HOST:]CONTAINER[/tcp|/udp] (repeatable).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to copy the host's).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// USER[:GROUP] to run as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Override the image's entrypoint (a string or a JSON array).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name (default: the first 12 characters of the ID).
    #[arg(long)]
    pub hostname: Option<String>,
    /// bridge (default), none or host.
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    /// Mount the root filesystem read-only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Maximum number of processes (-1: unlimited).
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// OCI runtime binary (runc, crun, youki, or a path).
    #[arg(long)]
    pub runtime: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Image to run.
    pub image: String,
    /// Command and arguments (default: the image's).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `64m` → 67108864 (podman's RAMInBytes: b, k, m, g, case-insensitive).
pub fn parse_memory(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid --memory {s:?}"))?;
    let v = (n * mult as f64) as i64;
    anyhow::ensure!(v >= 6 << 20, "--memory {s:?} is below the 6MB minimum");
    Ok(v)
}

fn env_list(a: &RunArgs) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let one = |e: &str| -> Option<String> {
        if e.contains('=') {
            Some(e.to_string())
        } else {
            std::env::var(e).ok().map(|v| format!("{e}={v}"))
        }
    };
    for f in &a.env_file {
        let s = std::fs::read_to_string(f)
            .with_context(|| format!("reading --env-file {}", f.display()))?;
        for l in s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            out.extend(one(l));
        }
    }
    for e in &a.env {
        anyhow::ensure!(!e.starts_with('='), "invalid -e {e:?}");
        out.extend(one(e));
    }
    Ok(out)
}

/// The common spellings of a local image (`name`, `name:tag`,
/// `localhost/name`, a full name) matched without parsing the reference:
/// parsing compiles the distribution reference regex, which costs more than
/// the rest of `run`. Anything not matched exactly once goes through
/// `Store::resolve`, which has the full rules.
fn quick_resolve(store: &vouch_image::Store, name: &str) -> Option<vouch_image::ImageRecord> {
    let images = store.images().ok()?;
    let mut want = vec![name.to_string()];
    let last = name.rsplit('/').next().unwrap_or(name);
    if !last.contains(':') && !last.contains('@') {
        want.push(format!("{name}:latest"));
    }
    if !name.contains('/') {
        let n = want.len();
        for i in 0..n {
            want.push(format!("localhost/{}", want[i]));
        }
    }
    let mut hits = images
        .into_iter()
        .filter(|i| i.names.iter().any(|n| want.contains(n)));
    let first = hits.next()?;
    hits.next().is_none().then_some(first)
}

pub fn run(g: &Global, a: RunArgs) -> anyhow::Result<ExitCode> {
    let ports = a
        .publish
        .iter()
        .map(|p| PortMapping::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let network = a.network.as_deref().map(NetworkMode::parse).transpose()?;
    let memory = a.memory.as_deref().map(parse_memory).transpose()?;
    let entrypoint = a
        .entrypoint
        .as_ref()
        .map(|e| serde_json::from_str::<Vec<String>>(e).unwrap_or_else(|_| vec![e.clone()]));
    let env = env_list(&a)?;
    let store = g.store()?;
    let image = match quick_resolve(&store, &a.image).map_or_else(|| store.resolve(&a.image), Ok) {
        Ok(i) => i,
        Err(StoreError::UnknownImage(_)) => {
            // The same path as `vouch pull` (and its policy check): an image
            // the policy rejects is never stored, so it never runs.
            let reference = vouch_image::ImageRef::parse(&a.image)?;
            let platform = vouch_image::manifest::wanted_platform(None, None);
            super::pull::pull_image(g, &reference, &a.registry, &platform, None)?
        }
        Err(e) => return Err(e.into()),
    };
    let create = CreateOptions {
        name: a.name,
        image_name: image.names.first().cloned().unwrap_or(a.image),
        args: a.command,
        entrypoint,
        env,
        workdir: a.workdir,
        user: a.user,
        hostname: a.hostname,
        network,
        ports,
        tty: a.tty,
        interactive: a.interactive,
        auto_remove: a.rm,
        read_only: a.read_only,
        cap_add: a.cap_add,
        cap_drop: a.cap_drop,
        memory,
        pids_limit: a.pids_limit,
        runtime: a.runtime,
    };
    let exe = std::env::current_exe().context("locating the vouch binary")?;
    let req = RunRequest {
        create,
        image,
        store,
        detach: a.detach,
        exe,
    };
    match engine(g).run(req)? {
        RunOutcome::Started(cfg) => {
            println!("{}", cfg.id);
            Ok(ExitCode::SUCCESS)
        }
        RunOutcome::Exited(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
    }
}

/// The hidden `__cleanup ROOT RUNROOT ID` entry point (see `main`): the
/// exit command `vouch-monitor` runs once the container's init is gone,
/// podman's `container cleanup`. It tears down rootfs and network through
/// the engine; the monitor writes the exit file after it.
pub fn cleanup_main(mut args: impl Iterator<Item = std::ffi::OsString>) -> ExitCode {
    let (Some(root), Some(runroot), Some(id), None) =
        (args.next(), args.next(), args.next(), args.next())
    else {
        eprintln!("Error: {CLEANUP_ARG} takes ROOT RUNROOT ID (vouch-monitor runs it)");
        return ExitCode::from(2);
    };
    match engine_at(root.into(), runroot.into()).cleanup(&id.to_string_lossy()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: cleanup: {}", vouch_image::chain::one_line(&e));
            ExitCode::from(2)
        }
    }
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    /// Act on all containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    pub containers: Vec<String>,
}

fn targets(g: &Global, a: &NamesArgs) -> anyhow::Result<Vec<String>> {
    if a.all {
        return Ok(engine(g)
            .list()?
            .into_iter()
            .map(|e| e.cfg.id.into())
            .collect());
    }
    anyhow::ensure!(!a.containers.is_empty(), "no container given");
    Ok(a.containers.clone())
}

/// Runs `f` on each target, printing what podman prints; the first error
/// is reported after all were tried (podman's behaviour for multi-targets).
fn each(
    names: Vec<String>,
    mut f: impl FnMut(&str) -> Result<String, RuntimeError>,
) -> anyhow::Result<ExitCode> {
    let mut first_err = None;
    for n in names {
        match f(&n) {
            Ok(out) => println!("{out}"),
            Err(e) => {
                if first_err.is_some() {
                    eprintln!("Error: {}", super::error_line(&e));
                } else {
                    first_err = Some(e);
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// [`each`], several at a time, as podman's parallel worker pool does for
/// stop/rm of many containers; results are printed in argument order.
fn each_parallel(
    names: Vec<String>,
    f: impl Fn(&str) -> Result<String, RuntimeError> + Sync,
) -> anyhow::Result<ExitCode> {
    const WORKERS: usize = 8;
    let results: Vec<Result<String, RuntimeError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let f = &f;
                let chunk: Vec<(usize, String)> = names
                    .iter()
                    .cloned()
                    .enumerate()
                    .filter(|(i, _)| i % WORKERS == w)
                    .collect();
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(i, n)| (i, f(&n)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Result<String, RuntimeError>)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, r)| r).collect()
    });
    let mut it = results.into_iter();
    each(names, |_| {
        it.next()
            .unwrap_or_else(|| Err(RuntimeError::Usage("internal: missing result".into())))
    })
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before SIGKILL.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: u64,
    #[command(flatten)]
    pub names: NamesArgs,
}

pub fn stop(g: &Global, a: StopArgs) -> anyhow::Result<ExitCode> {
    let e = engine(g);
    each_parallel(targets(g, &a.names)?, |n| {
        e.stop(n, Duration::from_secs(a.time))
            .map(|_| n.to_string())
    })
}

pub fn start(g: &Global, a: NamesArgs) -> anyhow::Result<ExitCode> {
    let e = engine(g);
    let exe = std::env::current_exe().context("locating the vouch binary")?;
    each(targets(g, &a)?, |n| e.start(&exe, n).map(|_| n.to_string()))
}

pub fn restart(g: &Global, a: StopArgs) -> anyhow::Result<ExitCode> {
    let e = engine(g);
    let exe = std::env::current_exe().context("locating the vouch binary")?;
    each(targets(g, &a.names)?, |n| {
        e.stop(n, Duration::from_secs(a.time))?;
        e.start(&exe, n).map(|c| c.id.into())
    })
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send (name or number).
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[command(flatten)]
    pub names: NamesArgs,
}

pub fn kill(g: &Global, a: KillArgs) -> anyhow::Result<ExitCode> {
    let sig = Signal::parse(&a.signal)?;
    let e = engine(g);
    each(targets(g, &a.names)?, |n| {
        e.kill(n, sig).map(|_| n.to_string())
    })
}

pub fn wait(g: &Global, a: NamesArgs) -> anyhow::Result<ExitCode> {
    let e = engine(g);
    each(targets(g, &a)?, |n| e.wait(n).map(|c| c.to_string()))
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Stop running containers first (SIGKILL).
    #[arg(short = 'f', long)]
    pub force: bool,
    #[command(flatten)]
    pub names: NamesArgs,
}

pub fn rm(g: &Global, a: RmArgs) -> anyhow::Result<ExitCode> {
    let e = engine(g);
    let ts = targets(g, &a.names)?;
    if ts.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    each_parallel(ts, |n| e.remove(n, a.force).map(|c| c.id.into()))
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(short = 't', long)]
    pub tty: bool,
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

pub fn exec(g: &Global, a: ExecArgs) -> anyhow::Result<ExitCode> {
    let e = engine(g);
    let (d, cfg) = e.lookup(&a.container)?;
    let st = e.effective_state(&d, std::path::Path::new("/proc"))?;
    if st.status != Some(vouch_runtime::state::Status::Running) {
        return Err(RuntimeError::BadState {
            id: cfg.name.clone(),
            state: vouch_runtime::lifecycle::status_str(st.status),
            what: "can only exec in running containers".into(),
        }
        .into());
    }
    let rt = e.runtime_for(&cfg)?;
    let code = rt.exec(
        &cfg.id,
        a.tty,
        &a.env,
        a.workdir.as_deref(),
        a.user.as_deref(),
        &a.command,
    )?;
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("64m").unwrap(), 64 << 20);
        assert_eq!(parse_memory("1G").unwrap(), 1 << 30);
        assert!(parse_memory("1k").is_err());
        assert!(parse_memory("lots").is_err());
    }
}
