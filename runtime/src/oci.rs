//! The OCI runtime binary behind a trait: runc by default (Debian's 1.1.5
//! works on this host's hybrid cgroups; crun refuses them), or any
//! runc-compatible CLI via `--runtime PATH` (crun, youki). Checkpoint and
//! restore will go through the same trait.
//!
//! The command lines are conmon's (src/runtime_args.c): `run --detach
//! --bundle B --pid-file P [--console-socket S] ID` from the monitor, whose
//! stdio pipes the runtime hands to the container.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::error::{Result, RuntimeError};

pub trait OciRuntime: Send + Sync {
    fn name(&self) -> String;
    /// Starts `id` detached; the caller waits for the child and then reads
    /// the pid file. stdio are the container's.
    fn spawn_run(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        console_socket: Option<&Path>,
        stdio: [Stdio; 3],
    ) -> Result<Child>;
    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()>;
    /// Deletes the runtime's state (and cgroup); `force` kills first.
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// `exec` a process in a running container; returns its exit code.
    fn exec(
        &self,
        id: &str,
        tty: bool,
        env: &[String],
        cwd: Option<&str>,
        user: Option<&str>,
        args: &[String],
    ) -> Result<i32>;
    /// Dumps `id` with CRIU (see [`crate::checkpoint`]).
    fn checkpoint(&self, id: &str, o: &crate::checkpoint::RuntimeCheckpoint) -> Result<()> {
        let _ = o;
        Err(RuntimeError::Runtime {
            runtime: self.name(),
            action: "checkpoint",
            id: id.into(),
            stderr: "not supported by this runtime".into(),
        })
    }
    /// Like `spawn_run`, but restores `id` from CRIU images.
    fn spawn_restore(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        console_socket: Option<&Path>,
        stdio: [Stdio; 3],
        r: &crate::checkpoint::RestoreRequest,
    ) -> Result<Child> {
        let _ = (bundle, pidfile, console_socket, stdio, r);
        Err(RuntimeError::Runtime {
            runtime: self.name(),
            action: "restore",
            id: id.into(),
            stderr: "not supported by this runtime".into(),
        })
    }
}

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

    fn check(&self, id: &str, action: &'static str, mut c: Command) -> Result<()> {
        let out = c
            .stdin(Stdio::null())
            .output()
            .map_err(|e| RuntimeError::Runtime {
                runtime: self.name(),
                action,
                id: id.into(),
                stderr: e.to_string(),
            })?;
        if out.status.success() {
            return Ok(());
        }
        Err(RuntimeError::Runtime {
            runtime: self.name(),
            action,
            id: id.into(),
            stderr: clean_stderr(&out.stderr),
        })
    }
}

/// runc's logrus lines (`time=".." level=error msg="..."`) reduced to the msg.
pub fn clean_stderr(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut msgs = Vec::new();
    for line in s.lines() {
        if let Some(i) = line.find("msg=\"") {
            let rest = &line[i + 5..];
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

impl OciRuntime for Runc {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn spawn_run(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        console_socket: Option<&Path>,
        stdio: [Stdio; 3],
    ) -> Result<Child> {
        let mut c = self.cmd();
        c.args(["run", "--detach", "--bundle"])
            .arg(bundle)
            .arg("--pid-file")
            .arg(pidfile);
        if let Some(s) = console_socket {
            c.arg("--console-socket").arg(s);
        }
        c.arg(id);
        let [i, o, e] = stdio;
        c.stdin(i).stdout(o).stderr(e);
        c.spawn().map_err(|e| RuntimeError::Runtime {
            runtime: self.name(),
            action: "run",
            id: id.into(),
            stderr: e.to_string(),
        })
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let mut c = self.cmd();
        c.arg("kill");
        if all {
            c.arg("--all");
        }
        c.arg(id).arg(signal.to_string());
        self.check(id, "kill", c)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut c = self.cmd();
        c.arg("delete");
        if force {
            c.arg("--force");
        }
        c.arg(id);
        match self.check(id, "delete", c) {
            Err(RuntimeError::Runtime { stderr, .. }) if stderr.contains("does not exist") => {
                Ok(())
            }
            r => r,
        }
    }

    fn checkpoint(&self, id: &str, o: &crate::checkpoint::RuntimeCheckpoint) -> Result<()> {
        crate::checkpoint::runc_checkpoint(self, id, o)
    }

    fn spawn_restore(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        console_socket: Option<&Path>,
        stdio: [Stdio; 3],
        r: &crate::checkpoint::RestoreRequest,
    ) -> Result<Child> {
        crate::checkpoint::runc_spawn_restore(self, id, bundle, pidfile, console_socket, stdio, r)
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
        let st = c.status().map_err(|e| RuntimeError::Runtime {
            runtime: self.name(),
            action: "exec",
            id: id.into(),
            stderr: e.to_string(),
        })?;
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
}
