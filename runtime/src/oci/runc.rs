//! runc (or a runc-compatible CLI) and all its command lines. They are
//! conmon's (src/runtime_args.c): `run --detach --bundle B --pid-file P
//! [--console-socket S] ID`, built here and run by the monitor (which hands
//! its stdio pipes to the container), and `checkpoint` / `restore --detach`
//! with `--criu PATH` and CRIU's configuration in `CRIU_CONFIG_FILE`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Checkpoint, CriuOptions, InitCommand, OciRuntime, Restore};
use crate::error::{Result, RuntimeError};

/// runc (or a compatible CLI) at `path` with its state under `state_root`.
pub struct Runc {
    pub path: PathBuf,
    pub state_root: PathBuf,
}

impl Runc {
    /// Finds `path` (absolute, or a name looked up on PATH) and checks it is
    /// executable, so a missing runtime is reported before anything is made.
    pub fn locate(path: &Path, state_root: &Path) -> Result<Self> {
        match crate::tools::find(path) {
            Some(p) => Ok(Self {
                path: p,
                state_root: state_root.to_path_buf(),
            }),
            None => Err(RuntimeError::RuntimeMissing {
                path: path.to_path_buf(),
            }),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.path);
        c.arg("--root").arg(&self.state_root);
        c
    }

    /// [`Runc::cmd`] with `--criu` and CRIU's configuration file (network
    /// lock backend), which CRIU reads in addition to runc's RPC options.
    fn criu_cmd(&self, o: &CriuOptions) -> Command {
        let mut c = self.cmd();
        c.arg("--criu").arg(&o.criu);
        let conf = o.work_path.join("criu.conf");
        if fs::write(&conf, format!("network-lock {}\n", o.network_lock)).is_ok() {
            c.env("CRIU_CONFIG_FILE", conf);
        }
        c
    }

    fn failed(&self, id: &str, action: &'static str, stderr: String) -> RuntimeError {
        RuntimeError::Runtime {
            runtime: self.name(),
            action,
            id: id.into(),
            stderr,
        }
    }

    /// Runs `c` to completion with its stderr captured; a failure is a
    /// [`RuntimeError::Runtime`] with runc's message, followed by CRIU's
    /// first error from `criu_log` when given (runc only says "criu
    /// failed").
    fn check(
        &self,
        id: &str,
        action: &'static str,
        mut c: Command,
        criu_log: Option<&Path>,
    ) -> Result<()> {
        let out = c
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.failed(id, action, e.to_string()))?;
        if out.status.success() {
            return Ok(());
        }
        let mut msg = clean_stderr(&out.stderr);
        if let Some(log) = criu_log {
            msg = with_criu_log(msg, log);
        }
        Err(self.failed(id, action, msg))
    }

    /// `c` as the monitor's request carries it.
    fn init_command(&self, id: &str, action: &'static str, c: &Command) -> Result<InitCommand> {
        let text = |s: &std::ffi::OsStr| {
            s.to_str()
                .map(str::to_string)
                .ok_or_else(|| self.failed(id, action, format!("{s:?} is not UTF-8")))
        };
        Ok(InitCommand {
            program: text(c.get_program())?,
            args: c.get_args().map(text).collect::<Result<_>>()?,
            env: c
                .get_envs()
                .filter_map(|(k, v)| Some((text(k), text(v?))))
                .map(|(k, v)| Ok((k?, v?)))
                .collect::<Result<_>>()?,
        })
    }
}

/// `--bundle B --pid-file P [--console-socket S] ID`, common to run and
/// restore.
fn detached(c: &mut Command, bundle: &Path, pidfile: &Path, console: Option<&Path>) {
    c.arg("--detach")
        .arg("--bundle")
        .arg(bundle)
        .arg("--pid-file")
        .arg(pidfile);
    if let Some(s) = console {
        c.arg("--console-socket").arg(s);
    }
}

fn image_args(c: &mut Command, o: &CriuOptions) {
    c.arg("--image-path")
        .arg(&o.image_path)
        .arg("--work-path")
        .arg(&o.work_path);
    if o.tcp_established {
        c.arg("--tcp-established");
    }
}

/// runc's logrus lines (`time=".." level=error msg="..."`) reduced to the msg.
pub fn clean_stderr(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut msgs = Vec::new();
    for line in s.lines() {
        if let Some(i) = line.find("msg=\"") {
            let rest = line.get(i + 5..).unwrap_or_default();
            msgs.push(
                rest.strip_suffix('"')
                    .unwrap_or(rest)
                    .replace("\\\"", "\"")
                    .to_string(),
            );
        } else if !line.trim().is_empty() {
            msgs.push(line.trim().to_string());
        }
    }
    msgs.join("; ")
}

/// runc says only "criu failed: type DUMP errno 0"; the reason is in the
/// first `Error` line of CRIU's log (not counting the harmless rlimit one,
/// runtime-notes §0.6).
pub fn with_criu_log(msg: String, log: &Path) -> String {
    let Ok(text) = fs::read_to_string(log) else {
        return msg;
    };
    // The first error is the cause; later ones ("Dumping FAILED") follow from it.
    match text
        .lines()
        .find(|l| l.contains("Error (") && !l.contains("RLIMIT_NOFILE"))
    {
        Some(e) => format!("{msg} (CRIU: {})", e.trim()),
        None => msg,
    }
}

impl OciRuntime for Runc {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn run_command(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        console_socket: Option<&Path>,
    ) -> Result<InitCommand> {
        let mut c = self.cmd();
        c.arg("run");
        detached(&mut c, bundle, pidfile, console_socket);
        c.arg(id);
        self.init_command(id, "run", &c)
    }

    fn kill(&self, id: &str, signal: crate::signal::Signal, all: bool) -> Result<()> {
        let mut c = self.cmd();
        c.arg("kill");
        if all {
            c.arg("--all");
        }
        c.arg(id).arg(signal.as_raw().to_string());
        self.check(id, "kill", c, None)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut c = self.cmd();
        c.arg("delete");
        if force {
            c.arg("--force");
        }
        c.arg(id);
        match self.check(id, "delete", c, None) {
            Err(RuntimeError::Runtime { stderr, .. }) if stderr.contains("does not exist") => {
                Ok(())
            }
            r => r,
        }
    }

    fn checkpoint(&self, id: &str, o: &Checkpoint) -> Result<()> {
        let mut c = self.criu_cmd(&o.criu);
        c.arg("checkpoint");
        image_args(&mut c, &o.criu);
        if o.leave_running {
            c.arg("--leave-running");
        }
        c.arg(id);
        let log = o.criu.work_path.join("dump.log");
        self.check(id, "checkpoint", c, Some(&log))
    }

    fn restore_command(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        console_socket: Option<&Path>,
        r: &Restore,
    ) -> Result<InitCommand> {
        let mut c = self.criu_cmd(&r.criu);
        c.arg("restore");
        detached(&mut c, bundle, pidfile, console_socket);
        image_args(&mut c, &r.criu);
        c.arg(id);
        self.init_command(id, "restore", &c)
    }

    fn exec(
        &self,
        id: &str,
        tty: bool,
        env: &[String],
        cwd: Option<&str>,
        user: Option<&str>,
        args: &[String],
    ) -> Result<i32> {
        let mut c = self.cmd();
        c.arg("exec");
        if tty {
            c.arg("--tty");
        }
        for e in env {
            c.arg("--env").arg(e);
        }
        if let Some(w) = cwd {
            c.arg("--cwd").arg(w);
        }
        if let Some(u) = user {
            c.arg("--user").arg(u);
        }
        c.arg(id).args(args);
        // exec's stdio is the caller's terminal, so it is not captured.
        let st = c
            .status()
            .map_err(|e| self.failed(id, "exec", e.to_string()))?;
        Ok(st.code().unwrap_or(125))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_runtime_is_reported_by_path() {
        let e = Runc::locate(Path::new("/nonexistent/runc"), Path::new("/tmp"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/runc"));
        assert!(Runc::locate(Path::new("no-such-runtime-xyz"), Path::new("/tmp")).is_err());
    }

    #[test]
    fn runc_errors_are_reduced_to_messages() {
        let s = br#"time="2026" level=error msg="container \"x\" does not exist""#;
        assert_eq!(clean_stderr(s), r#"container "x" does not exist"#);
    }

    /// A stand-in runc that prints its argv and fails like runc does.
    fn script(dir: &Path, body: &str) -> Runc {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("runc");
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        Runc {
            path: p,
            state_root: dir.join("state"),
        }
    }

    #[test]
    fn a_failed_checkpoint_names_runc_and_criu_causes() {
        let t = tempfile::tempdir().unwrap();
        let rt = script(
            t.path(),
            r#"echo "$@" > "$(dirname "$0")/argv"; echo 'time="x" level=error msg="criu failed: type DUMP errno 0"' >&2; exit 1"#,
        );
        let work = t.path().join("work");
        fs::create_dir_all(&work).unwrap();
        fs::write(
            work.join("dump.log"),
            "(00.1) Error (criu/x.c:1): RLIMIT_NOFILE\n(00.2) Error (criu/sk.c:9): unix socket\n(00.3) Error (criu/cr.c:2): Dumping FAILED\n",
        )
        .unwrap();
        let req = Checkpoint {
            criu: CriuOptions {
                image_path: t.path().join("img"),
                work_path: work.clone(),
                tcp_established: true,
                criu: "/usr/sbin/criu".into(),
                network_lock: "skip".into(),
            },
            leave_running: true,
        };
        let e = rt.checkpoint("cid", &req).unwrap_err().to_string();
        assert!(
            e.contains(
                "criu failed: type DUMP errno 0 (CRIU: (00.2) Error (criu/sk.c:9): unix socket)"
            ),
            "{e}"
        );
        let argv = fs::read_to_string(t.path().join("argv")).unwrap();
        let state = t.path().join("state");
        assert_eq!(
            argv.trim(),
            format!(
                "--root {} --criu /usr/sbin/criu checkpoint --image-path {} --work-path {} --tcp-established --leave-running cid",
                state.display(),
                t.path().join("img").display(),
                work.display()
            )
        );
        assert_eq!(
            fs::read_to_string(work.join("criu.conf")).unwrap(),
            "network-lock skip\n"
        );
    }

    #[test]
    fn run_and_restore_are_conmons_detached_command_lines() {
        let t = tempfile::tempdir().unwrap();
        let rt = Runc {
            path: "/usr/sbin/runc".into(),
            state_root: "/run/vouch/runc".into(),
        };
        let (b, p) = (Path::new("/c/bundle"), Path::new("/c/pidfile"));
        let run = rt
            .run_command("cid", b, p, Some(Path::new("/run/vouch/console/c.sock")))
            .unwrap();
        assert_eq!(run.program, "/usr/sbin/runc");
        assert_eq!(
            run.args.join(" "),
            "--root /run/vouch/runc run --detach --bundle /c/bundle --pid-file /c/pidfile --console-socket /run/vouch/console/c.sock cid"
        );
        assert!(run.env.is_empty());
        let work = t.path().join("work");
        fs::create_dir_all(&work).unwrap();
        let r = Restore {
            criu: CriuOptions {
                image_path: "/c/checkpoint".into(),
                work_path: work.clone(),
                tcp_established: true,
                criu: "/usr/sbin/criu".into(),
                network_lock: "nftables".into(),
            },
        };
        let restore = rt.restore_command("cid", b, p, None, &r).unwrap();
        assert_eq!(
            restore.args.join(" "),
            format!("--root /run/vouch/runc --criu /usr/sbin/criu restore --detach --bundle /c/bundle --pid-file /c/pidfile --image-path /c/checkpoint --work-path {} --tcp-established cid", work.display())
        );
        let conf = work.join("criu.conf");
        assert_eq!(
            restore.env,
            vec![("CRIU_CONFIG_FILE".to_string(), conf.display().to_string())]
        );
        assert_eq!(fs::read_to_string(conf).unwrap(), "network-lock nftables\n");
    }

    #[test]
    fn delete_of_an_unknown_container_is_not_an_error() {
        let t = tempfile::tempdir().unwrap();
        let rt = script(
            t.path(),
            r#"echo 'time="x" level=error msg="container does not exist"' >&2; exit 1"#,
        );
        rt.delete("cid", true).unwrap();
        let rt = script(t.path(), r#"echo 'permission denied' >&2; exit 1"#);
        let e = rt
            .kill("cid", crate::signal::Signal::TERM, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("kill failed for container cid: permission denied"),
            "{e}"
        );
    }
}
