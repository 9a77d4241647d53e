//! A recording [`OciRuntime`] for unit tests, like [`crate::sys::FakeSys`]:
//! every call is recorded as a typed [`Call`], call number `fail_at` fails
//! as runc would, and a hook may act on the (fake) host when a call is made
//! (e.g. write the exit file a real monitor would write after a kill).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Checkpoint, InitCommand, OciRuntime, Restore};
use crate::error::{Result, RuntimeError};

/// One recorded runtime call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Run {
        id: String,
        bundle: PathBuf,
    },
    Restore {
        id: String,
        bundle: PathBuf,
        restore: Restore,
    },
    Kill {
        id: String,
        signal: i32,
        all: bool,
    },
    Delete {
        id: String,
        force: bool,
    },
    Exec {
        id: String,
        args: Vec<String>,
    },
    Checkpoint {
        id: String,
        checkpoint: Checkpoint,
    },
}

type Hook = Box<dyn Fn(&Call) + Send + Sync>;

#[derive(Default)]
pub struct FakeRuntime {
    calls: Mutex<Vec<Call>>,
    /// The 1-based call that fails.
    pub fail_at: Option<usize>,
    hook: Option<Hook>,
}

impl FakeRuntime {
    pub fn failing_at(n: usize) -> Self {
        Self {
            fail_at: Some(n),
            ..Default::default()
        }
    }
    /// Runs `f` on each call after recording it (also on a failing one).
    pub fn with_hook(mut self, f: impl Fn(&Call) + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(f));
        self
    }
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, c: Call) -> Result<()> {
        let (action, id) = match &c {
            Call::Run { id, .. } => ("run", id.clone()),
            Call::Restore { id, .. } => ("restore", id.clone()),
            Call::Kill { id, .. } => ("kill", id.clone()),
            Call::Delete { id, .. } => ("delete", id.clone()),
            Call::Exec { id, .. } => ("exec", id.clone()),
            Call::Checkpoint { id, .. } => ("checkpoint", id.clone()),
        };
        let n = {
            let mut calls = self.calls.lock().map_err(|_| self.fail(action, &id))?;
            calls.push(c.clone());
            calls.len()
        };
        if let Some(h) = &self.hook {
            h(&c);
        }
        if self.fail_at == Some(n) {
            return Err(self.fail(action, &id));
        }
        Ok(())
    }

    fn fail(&self, action: &'static str, id: &str) -> RuntimeError {
        RuntimeError::Runtime {
            runtime: self.name(),
            action,
            id: id.into(),
            stderr: "injected failure".into(),
        }
    }
}

/// A command that exits at once, standing in for runc's detached parent,
/// with its pid in the pid file as runc leaves init's there.
fn detached_parent(pidfile: &Path) -> InitCommand {
    InitCommand {
        program: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            "echo $$ > \"$0\"".into(),
            pidfile.display().to_string(),
        ],
        env: vec![],
    }
}

impl OciRuntime for FakeRuntime {
    fn name(&self) -> String {
        "fake".into()
    }
    fn run_command(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        _console: Option<&Path>,
    ) -> Result<InitCommand> {
        self.record(Call::Run {
            id: id.into(),
            bundle: bundle.into(),
        })?;
        Ok(detached_parent(pidfile))
    }
    fn restore_command(
        &self,
        id: &str,
        bundle: &Path,
        pidfile: &Path,
        _console: Option<&Path>,
        r: &Restore,
    ) -> Result<InitCommand> {
        self.record(Call::Restore {
            id: id.into(),
            bundle: bundle.into(),
            restore: r.clone(),
        })?;
        Ok(detached_parent(pidfile))
    }
    fn kill(&self, id: &str, signal: crate::signal::Signal, all: bool) -> Result<()> {
        self.record(Call::Kill {
            id: id.into(),
            signal: signal.as_raw(),
            all,
        })
    }
    fn delete(&self, id: &str, force: bool) -> Result<()> {
        self.record(Call::Delete {
            id: id.into(),
            force,
        })
    }
    fn exec(
        &self,
        id: &str,
        _tty: bool,
        _env: &[String],
        _cwd: Option<&str>,
        _user: Option<&str>,
        args: &[String],
    ) -> Result<i32> {
        self.record(Call::Exec {
            id: id.into(),
            args: args.to_vec(),
        })?;
        Ok(0)
    }
    fn checkpoint(&self, id: &str, c: &Checkpoint) -> Result<()> {
        self.record(Call::Checkpoint {
            id: id.into(),
            checkpoint: c.clone(),
        })
    }
}
