//! `run`: create, prepare and start a container in one step, attached (the
//! monitor's loop runs in the caller's process) or detached (a
//! `vouch-monitor` process of its own), undoing everything made so far when
//! a step fails.

use std::path::PathBuf;

use vouch_image::{ImageRecord, Store};

use crate::engine::{CreateOptions, Engine};
use crate::error::{Result, RuntimeError};
use crate::lifecycle::Init;
use crate::net::ports;
use crate::state::{ContainerConfig, NetworkMode};

/// What `run` is asked to do, after its flags are parsed and the image is
/// resolved (or pulled).
pub struct RunRequest {
    /// `create`'s options; `ports` are reserved before anything is made.
    pub create: CreateOptions,
    pub image: ImageRecord,
    /// Released once the container is created, so a long-running attached
    /// container does not hold the store.
    pub store: Store,
    /// `-d`: leave the container to its own monitor process.
    pub detach: bool,
    /// The vouch executable: `vouch-monitor` is found beside it, and it is
    /// the monitor's exit command.
    pub exe: PathBuf,
}

/// How `run` ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// Detached: the container is running under its monitor.
    Started(Box<ContainerConfig>),
    /// Attached: the container ran and exited with this code.
    Exited(i32),
}

impl Engine {
    /// podman run. On failure nothing is left: no held port, container
    /// record, mount, network or address lease.
    pub fn run(&self, r: RunRequest) -> Result<RunOutcome> {
        let RunRequest {
            create,
            image,
            store,
            detach,
            exe,
        } = r;
        let mut maps = create.ports.clone();
        if !maps.is_empty() && create.network.is_some_and(|n| n != NetworkMode::Bridge) {
            return Err(RuntimeError::Usage("-p needs --network bridge".into()));
        }
        // Ports first: a conflict must fail before anything exists.
        let held = ports::reserve(&mut maps)?;
        let o = CreateOptions {
            ports: maps,
            ..create
        };
        let (d, cfg) = self.create(&o, &image, &store)?;
        drop(store);
        let cfg = match self.prepare(&d, cfg.clone()) {
            Ok(c) => c,
            Err(e) => {
                self.discard(&cfg);
                return Err(e);
            }
        };
        if detach {
            return match self.spawn_monitor(&exe, &cfg, held, Init::Run) {
                Ok(_) => Ok(RunOutcome::Started(Box::new(cfg))),
                Err(e) => {
                    self.discard(&cfg);
                    Err(e)
                }
            };
        }
        let req = match self.monitor_request(&exe, &cfg, Init::Run, held.len()) {
            Ok(r) => r,
            Err(e) => {
                self.discard(&cfg);
                return Err(e);
            }
        };
        let m = vouch_monitor::Monitor {
            req,
            held_ports: held,
            attach: true,
        };
        // Attached, the exit command's work is done in this process.
        let mut cleanup = || self.teardown_for_exit(&cfg).is_ok();
        match m.run(&mut |_| {}, &mut cleanup) {
            Ok(code) => Ok(RunOutcome::Exited(code)),
            Err(e) => {
                self.discard(&cfg);
                Err(RuntimeError::from_monitor(&cfg.id, e))
            }
        }
    }

    /// Removes a container that never got going: teardown, its directory
    /// and its address lease.
    fn discard(&self, cfg: &ContainerConfig) {
        let _ = self.teardown(cfg);
        let _ = std::fs::remove_dir_all(&self.dir(&cfg.id).dir);
        self.release_address(cfg);
    }

    /// What a monitor does when init is gone: tear down, and free the
    /// address too when `--rm` deletes the container with it.
    pub fn teardown_for_exit(&self, c: &ContainerConfig) -> Result<()> {
        let r = self.teardown(c);
        if c.auto_remove {
            self.release_address(c);
        }
        r
    }
}
