//! The runc side of checkpoint/restore: `runc checkpoint` and `runc
//! restore --detach` command lines (conmon src/runtime_args.c), CRIU's
//! configuration file, and CRIU's own reason when runc only says
//! "criu failed".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{io_err, RestoreRequest, Result, RuntimeCheckpoint};
use crate::error::RuntimeError;
use crate::oci::{clean_stderr, Runc};

/// The CRIU configuration vouch hands CRIU through `CRIU_CONFIG_FILE`
/// (network lock backend); CRIU reads it in addition to the RPC options.
fn criu_conf(work: &Path, lock: &str) -> Result<PathBuf> {
    let p = work.join("criu.conf");
    fs::write(&p, format!("network-lock {lock}\n")).map_err(io_err(&p))?;
    Ok(p)
}

fn runc_cmd(rt: &Runc, criu: &Path, conf: Option<&Path>) -> Command {
    let mut c = Command::new(&rt.path);
    c.arg("--root").arg(&rt.state_root).arg("--criu").arg(criu);
    if let Some(conf) = conf {
        c.env("CRIU_CONFIG_FILE", conf);
    }
    c
}

/// `runc checkpoint` (what [`crate::oci::OciRuntime::checkpoint`] does for runc).
pub fn runc_checkpoint(rt: &Runc, id: &str, o: &RuntimeCheckpoint) -> crate::Result<()> {
    let conf = criu_conf(&o.work_path, &o.network_lock).ok();
    let mut c = runc_cmd(rt, &o.criu, conf.as_deref());
    c.arg("checkpoint")
        .arg("--image-path")
        .arg(&o.image_path)
        .arg("--work-path")
        .arg(&o.work_path);
    if o.leave_running {
        c.arg("--leave-running");
    }
    if o.tcp_established {
        c.arg("--tcp-established");
    }
    c.arg(id);
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| RuntimeError::Runtime {
            runtime: rt.path.display().to_string(),
            action: "checkpoint",
            id: id.into(),
            stderr: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(RuntimeError::Runtime {
        runtime: rt.path.display().to_string(),
        action: "checkpoint",
        id: id.into(),
        stderr: with_criu_log(clean_stderr(&out.stderr), &o.work_path.join("dump.log")),
    })
}

/// `runc restore --detach` with the monitor's stdio (what
/// [`crate::oci::OciRuntime::spawn_restore`] does for runc; conmon's
/// runtime_args.c restore line).
pub fn runc_spawn_restore(
    rt: &Runc,
    id: &str,
    bundle: &Path,
    pidfile: &Path,
    console: Option<&Path>,
    stdio: [Stdio; 3],
    r: &RestoreRequest,
) -> crate::Result<Child> {
    let conf = criu_conf(&r.work_path, &r.network_lock).ok();
    let mut c = runc_cmd(rt, &r.criu, conf.as_deref());
    c.args(["restore", "--detach", "--bundle"])
        .arg(bundle)
        .arg("--pid-file")
        .arg(pidfile);
    c.arg("--image-path")
        .arg(&r.image_path)
        .arg("--work-path")
        .arg(&r.work_path);
    if r.tcp_established {
        c.arg("--tcp-established");
    }
    if let Some(s) = console {
        c.arg("--console-socket").arg(s);
    }
    c.arg(id);
    let [i, o, e] = stdio;
    c.stdin(i).stdout(o).stderr(e);
    c.spawn().map_err(|e| RuntimeError::Runtime {
        runtime: rt.path.display().to_string(),
        action: "restore",
        id: id.into(),
        stderr: e.to_string(),
    })
}

/// runc says only "criu failed: type DUMP errno 0"; the reason is in the
/// first `Error` line of CRIU's log (not counting the harmless rlimit one,
/// runtime-notes §0.6).
pub(crate) fn with_criu_log(msg: String, log: &Path) -> String {
    let Ok(text) = fs::read_to_string(log) else {
        return msg;
    };
    let errs: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error (") && !l.contains("RLIMIT_NOFILE"))
        .collect();
    // The first error is the cause; later ones ("Dumping FAILED") follow from it.
    match errs.first() {
        Some(e) => format!("{msg} (CRIU: {})", e.trim()),
        None => msg,
    }
}
