//! The engine: turns an image and `run`'s flags into a container directory,
//! a mounted rootfs, a network and an OCI bundle, and takes them down again.
//! Every step that creates something has a matching idempotent teardown,
//! and a failure anywhere undoes all earlier steps (fail closed: no veth, no
//! nft rule, no mount, no state directory left behind).

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vouch_image::manifest::ImageConfig;
use vouch_image::{ImageRecord, Store};

use crate::error::{io, Result, RuntimeError};
use crate::id::ContainerId;
use crate::net::{bridge, NetConfig, NetError, PortMapping};
use crate::oci::{OciRuntime, Runc};
use crate::signal::Signal;
use crate::spec::{self, SpecInput};
use crate::state::{
    now_rfc3339, read_json, write_json, ContainerConfig, ContainerDir, Flock, NetworkMode, State,
    Status,
};
use crate::sys::Sys;
use crate::{defaults, rootfs, user};

/// See [`Engine::net_dir`].
pub const NET_DIR: &str = "/run/vouch";

/// The host's own files the engine reads or writes outside the store, in
/// one place so tests can point them into a temporary directory.
#[derive(Clone, Debug)]
pub struct HostPaths {
    /// procfs: liveness of monitors and inits.
    pub proc: PathBuf,
    /// The cgroup root: which controllers `--memory`/`--pids-limit` can use.
    pub cgroup: PathBuf,
    /// Host-wide network state (address leases per bridge, the nft lock):
    /// the bridge is shared by every store, so its leases cannot live in a
    /// per-store runroot.
    pub net_dir: PathBuf,
    /// Copied into containers that have a network.
    pub resolv_conf: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        Self {
            proc: "/proc".into(),
            cgroup: "/sys/fs/cgroup".into(),
            net_dir: NET_DIR.into(),
            resolv_conf: "/etc/resolv.conf".into(),
        }
    }
}

/// Where things live.
pub struct Engine {
    /// The store root (`--root`); containers live in `ROOT/containers`.
    pub root: PathBuf,
    /// Volatile state (`--runroot`, default /run/vouch): runc state, IPAM,
    /// console sockets.
    pub run_dir: PathBuf,
    pub sys: Box<dyn Sys>,
    pub host: HostPaths,
    /// The OCI runtime for every container instead of each one's
    /// configured binary (tests: [`crate::oci::fake::FakeRuntime`]).
    pub oci: Option<Arc<dyn OciRuntime>>,
}

/// The flags of `run`/`create` after parsing.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub image_name: String,
    pub args: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub network: Option<NetworkMode>,
    pub ports: Vec<PortMapping>,
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub memory: Option<i64>,
    pub pids_limit: Option<i64>,
    pub runtime: Option<PathBuf>,
}

pub(crate) fn random_id() -> Result<ContainerId> {
    ContainerId::random().map_err(io("/dev/urandom"))
}

/// podman's name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

/// podman's generated names are adjective_noun; vouch's are shorter but of
/// the same shape.
fn generated_name(id: &ContainerId) -> String {
    const A: &[&str] = &[
        "brave", "calm", "eager", "fond", "keen", "lucid", "proud", "quiet", "swift", "witty",
    ];
    const N: &[&str] = &[
        "otter", "heron", "lynx", "finch", "mole", "newt", "orca", "panda", "raven", "yak",
    ];
    let b = u64::from_str_radix(id.short(), 16).unwrap_or(0);
    format!(
        "{}_{}{}",
        A[(b % 10) as usize],
        N[((b / 10) % 10) as usize],
        id.get(..4).unwrap_or(id)
    )
}

impl Engine {
    /// The engine of the real host for the store at `root` and `--runroot`.
    pub fn new(root: PathBuf, run_dir: PathBuf) -> Self {
        Self {
            root,
            run_dir,
            sys: Box::new(crate::sys::RealSys),
            host: HostPaths::default(),
            oci: None,
        }
    }
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }
    /// The container's layer directories in this store, uppermost first.
    pub fn lower_dirs(&self, cfg: &ContainerConfig) -> Vec<PathBuf> {
        cfg.layers
            .iter()
            .map(|d| vouch_image::store::layer_dir(&self.root, d))
            .collect()
    }
    pub fn dir(&self, id: &ContainerId) -> ContainerDir {
        ContainerDir {
            dir: self.containers_dir().join(id),
        }
    }
    /// The OCI runtime that drives `cfg`'s container.
    pub fn runtime_for(&self, cfg: &ContainerConfig) -> Result<Arc<dyn OciRuntime>> {
        self.runtime_at(&cfg.runtime)
    }
    fn runtime_at(&self, path: &Path) -> Result<Arc<dyn OciRuntime>> {
        if let Some(rt) = &self.oci {
            return Ok(rt.clone());
        }
        Ok(Arc::new(Runc::locate(path, &self.run_dir.join("runc"))?))
    }
    pub fn console_dir(&self) -> PathBuf {
        self.run_dir.join("console")
    }
    /// See [`HostPaths::net_dir`].
    pub fn net_dir(&self) -> PathBuf {
        self.host.net_dir.clone()
    }

    /// All container IDs: the directories holding a config whose names
    /// are IDs (anything else in the directory is not a container of
    /// vouch's).
    pub fn ids(&self) -> Result<Vec<ContainerId>> {
        let d = self.containers_dir();
        let rd = match fs::read_dir(&d) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            r => r.map_err(io(&d))?,
        };
        Ok(rd
            .flatten()
            .filter(|e| e.path().join("config.json").is_file())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| ContainerId::parse(n).ok())
            })
            .collect())
    }

    /// Finds a container by full ID, unique ID prefix or name.
    pub fn lookup(&self, what: &str) -> Result<(ContainerDir, ContainerConfig)> {
        let ids = self.ids()?;
        if let Some(id) = ids.iter().find(|i| *i == what) {
            let d = self.dir(id);
            let c = d.read_config()?;
            return Ok((d, c));
        }
        let mut by_prefix = Vec::new();
        for id in &ids {
            let d = self.dir(id);
            let Ok(c) = d.read_config() else { continue };
            if c.name == what {
                return Ok((d, c));
            }
            if what.len() >= 3 && id.starts_with(what) {
                by_prefix.push((d, c));
            }
        }
        if by_prefix.len() == 1 {
            return Ok(by_prefix.remove(0));
        }
        Err(RuntimeError::NoSuchContainer(what.to_string()))
    }

    /// Writes the container's config under a fresh ID, with the name
    /// allocated under the global names lock. Nothing is mounted yet.
    pub fn create(
        &self,
        o: &CreateOptions,
        image: &ImageRecord,
        store: &Store,
    ) -> Result<(ContainerDir, ContainerConfig)> {
        let img_cfg_bytes =
            store
                .read_blob(&image.config.digest)
                .map_err(|source| RuntimeError::Image {
                    image: o.image_name.clone(),
                    source,
                })?;
        let ic: ImageConfig =
            serde_json::from_slice(&img_cfg_bytes).map_err(|source| RuntimeError::ImageConfig {
                image: o.image_name.clone(),
                source,
            })?;
        let rc = ic.config.unwrap_or_default();
        let entrypoint = o
            .entrypoint
            .clone()
            .unwrap_or_else(|| rc.entrypoint.clone().unwrap_or_default());
        let cmd = if !o.args.is_empty() {
            o.args.clone()
        } else if o.entrypoint.is_some() {
            vec![] // --entrypoint resets the image's Cmd (docker/podman)
        } else {
            rc.cmd.clone().unwrap_or_default()
        };
        let command: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        if command.is_empty() {
            return Err(RuntimeError::Usage(format!(
                "{}: no command specified and the image has none",
                o.image_name
            )));
        }
        let mut env = rc.env.clone().unwrap_or_default();
        for e in &o.env {
            let key = e.split('=').next().unwrap_or("");
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        let caps = defaults::capabilities(&o.cap_add, &o.cap_drop).map_err(RuntimeError::Usage)?;
        let _ = caps;
        let runtime = o.runtime.clone().unwrap_or_else(|| PathBuf::from("runc"));
        self.runtime_at(&runtime)?;
        let network = o.network.unwrap_or(NetworkMode::Bridge);
        if network != NetworkMode::Bridge && !o.ports.is_empty() {
            return Err(RuntimeError::Usage(format!(
                "-p needs --network bridge, not {}",
                network.as_str()
            )));
        }
        if o.memory.is_some() && !self.cgroup_has("memory") {
            return Err(RuntimeError::Cgroup {
                id: "(new)".into(),
                what: "--memory (no memory controller)".into(),
            });
        }
        if o.pids_limit.is_some() && !self.cgroup_has("pids") {
            return Err(RuntimeError::Cgroup {
                id: "(new)".into(),
                what: "--pids-limit (no pids controller)".into(),
            });
        }
        let id = random_id()?;
        let name = o.name.clone().unwrap_or_else(|| generated_name(&id));
        if !valid_name(&name) {
            return Err(RuntimeError::BadName(name));
        }
        let layers = image
            .layers
            .iter()
            .rev()
            .map(|l| l.diff_id.clone())
            .collect();
        let cfg = ContainerConfig {
            id: id.clone(),
            name: name.clone(),
            image_name: o.image_name.clone(),
            image_id: image.id.clone(),
            created: now_rfc3339(),
            command,
            env,
            working_dir: o
                .workdir
                .clone()
                .or(rc.working_dir.clone())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user: o.user.clone().or(rc.user.clone()).unwrap_or_default(),
            hostname: o.hostname.clone().unwrap_or_else(|| id.short().to_string()),
            tty: o.tty,
            interactive: o.interactive,
            auto_remove: o.auto_remove,
            network,
            ports: o.ports.clone(),
            ip: None,
            mac: None,
            bridge: None,
            runtime,
            read_only: o.read_only,
            stop_signal: rc
                .stop_signal
                .as_deref()
                .and_then(|s| Signal::parse(s).ok())
                .unwrap_or(Signal::TERM),
            layers,
            cap_add: o.cap_add.clone(),
            cap_drop: o.cap_drop.clone(),
            memory: o.memory,
            pids_limit: o.pids_limit,
        };
        let cdir = self.containers_dir();
        fs::create_dir_all(&cdir).map_err(io(&cdir))?;
        let _names = Flock::take(&cdir.join(".lock"))?;
        for other in self.ids()? {
            if let Ok(c) = self.dir(&other).read_config() {
                if c.name == name {
                    return Err(RuntimeError::NameInUse {
                        name,
                        id: other.to_string(),
                    });
                }
            }
        }
        let d = self.dir(&id);
        fs::create_dir_all(&d.dir).map_err(io(&d.dir))?;
        let r = write_json(&d.config(), &cfg).and_then(|_| {
            d.write_state(&State {
                status: Some(Status::Created),
                ..Default::default()
            })
        });
        if let Err(e) = r {
            let _ = fs::remove_dir_all(&d.dir);
            return Err(e);
        }
        Ok((d, cfg))
    }

    /// Mounts the rootfs, sets up the network and writes the bundle. On
    /// failure everything done here is undone. Returns the updated config
    /// (with the assigned address).
    pub fn prepare(&self, d: &ContainerDir, mut cfg: ContainerConfig) -> Result<ContainerConfig> {
        let had_address = cfg.ip.is_some();
        let r = self.prepare_inner(d, &mut cfg);
        if let Err(e) = r {
            self.undo_prepare(d, &cfg, had_address);
            return Err(e);
        }
        Ok(cfg)
    }

    /// Undoes [`Engine::prepare`] (and a failed start after it): teardown,
    /// the state says nothing is mounted or up, and an address leased by
    /// this attempt is freed (a recorded one stays with the container).
    pub fn undo_prepare(&self, d: &ContainerDir, cfg: &ContainerConfig, had_address: bool) {
        let _ = self.teardown(cfg);
        if let Ok(mut st) = d.read_state() {
            if st.mounted || st.network_up {
                st.mounted = false;
                st.network_up = false;
                let _ = d.write_state(&st);
            }
        }
        if !had_address {
            self.release_address(cfg);
        }
    }

    fn prepare_inner(&self, d: &ContainerDir, cfg: &mut ContainerConfig) -> Result<()> {
        let id = cfg.id.clone();
        rootfs::mount(self.sys.as_ref(), &id, d, &self.lower_dirs(cfg))?;
        let u = user::resolve(&d.rootfs(), &cfg.user).ok_or_else(|| RuntimeError::NoUser {
            id: id.to_string(),
            user: cfg.user.clone(),
        })?;
        let mut netns_path = None;
        if cfg.network == NetworkMode::Bridge {
            let net = NetConfig::from_env().map_err(|source| RuntimeError::Network {
                id: id.to_string(),
                source,
            })?;
            let want: Option<Ipv4Addr> = cfg.ip;
            if let Some(ip) = want {
                // Take the recorded address again (stable across stop/start).
                let f = self.net_dir().join("ipam").join(&net.bridge);
                fs::create_dir_all(&f).map_err(io(&f))?;
                let p = f.join(ip.to_string());
                match fs::read_to_string(&p) {
                    Ok(owner) if id != owner => {
                        return Err(RuntimeError::Network {
                            id: id.to_string(),
                            source: NetError::AddressTaken { ip, owner },
                        })
                    }
                    _ => fs::write(&p, id.as_str()).map_err(io(&p))?,
                }
            }
            cfg.bridge = Some(net.bridge.clone());
            let ip = bridge::setup(&self.net_dir(), &net, &id, want, &cfg.ports)?;
            cfg.ip = Some(ip);
            cfg.mac = Some(bridge::mac_for(ip));
            netns_path = Some(bridge::netns_path(&id));
        }
        let etc = d.dir.join("etc");
        fs::create_dir_all(&etc).map_err(io(&etc))?;
        let mut etc_files = vec![];
        let hosts = format!(
            "127.0.0.1 localhost\n::1 localhost\n{} {}\n",
            cfg.ip.unwrap_or(Ipv4Addr::new(127, 0, 1, 1)),
            cfg.hostname
        );
        for (name, content) in [
            ("hostname", format!("{}\n", cfg.hostname)),
            ("hosts", hosts),
        ] {
            fs::write(etc.join(name), content).map_err(io(etc.join(name)))?;
            etc_files.push((format!("/etc/{name}"), etc.join(name)));
        }
        if cfg.network != NetworkMode::None {
            if let Ok(r) = fs::read(&self.host.resolv_conf) {
                fs::write(etc.join("resolv.conf"), r).map_err(io(etc.join("resolv.conf")))?;
                etc_files.push(("/etc/resolv.conf".into(), etc.join("resolv.conf")));
            }
        }
        let caps =
            defaults::capabilities(&cfg.cap_add, &cfg.cap_drop).map_err(RuntimeError::Usage)?;
        let input = SpecInput {
            id: id.to_string(),
            hostname: cfg.hostname.clone(),
            args: cfg.command.clone(),
            env: cfg.env.clone(),
            cwd: cfg.working_dir.clone(),
            uid: u.uid,
            gid: u.gid,
            additional_gids: u.additional_gids,
            terminal: cfg.tty,
            read_only: cfg.read_only,
            caps,
            netns_path,
            new_netns: cfg.network != NetworkMode::Host,
            memory: cfg.memory,
            pids_limit: cfg
                .pids_limit
                .or(self.cgroup_has("pids").then_some(defaults::PIDS_LIMIT)),
            etc_files,
            nofile_limit: rlimit(libc::RLIMIT_NOFILE),
            nproc_limit: rlimit(libc::RLIMIT_NPROC),
            cgroups_path: format!("/vouch-{id}"),
            kernel: crate::seccomp::running_kernel(),
            console_size: cfg.tty.then(vouch_monitor::terminal::local_size).flatten(),
        };
        let spec = spec::generate(&input)?;
        let p = d.bundle().join("config.json");
        spec.save(&p).map_err(|source| spec::SpecError::Save {
            path: p.clone(),
            source,
        })?;
        write_json(&d.config(), &*cfg)?;
        let mut st = d.read_state()?;
        st.mounted = true;
        st.network_up = cfg.network == NetworkMode::Bridge;
        d.write_state(&st)
    }

    /// Deletes the runtime's container, unmounts and removes the network;
    /// idempotent, and tolerant of pieces that never existed. The address
    /// lease is kept: a stopped or checkpointed container gets its address
    /// back on start/restore. [`Engine::release_address`] frees it when the
    /// container itself goes.
    pub fn teardown(&self, cfg: &ContainerConfig) -> Result<()> {
        let d = self.dir(&cfg.id);
        if let Ok(rt) = self.runtime_for(cfg) {
            let _ = rt.delete(&cfg.id, true);
        }
        if cfg.network == NetworkMode::Bridge {
            let b = cfg
                .bridge
                .clone()
                .unwrap_or_else(|| crate::net::DEFAULT_BRIDGE.into());
            bridge::teardown_with(&self.net_dir(), &b, &cfg.id, None, !cfg.ports.is_empty());
        }
        rootfs::unmount(self.sys.as_ref(), &cfg.id, &d)?;
        let _ = fs::remove_dir_all(d.work());
        Ok(())
    }

    /// Frees the container's address lease (if it still holds it): called
    /// when the container record is deleted.
    pub fn release_address(&self, cfg: &ContainerConfig) {
        if let Some(ip) = cfg.ip {
            let b = cfg
                .bridge
                .clone()
                .unwrap_or_else(|| crate::net::DEFAULT_BRIDGE.into());
            bridge::release(&self.net_dir(), &b, &cfg.id, ip);
        }
    }

    /// The state as readers should see it: `state.json` merged with the exit
    /// file and the liveness of the monitor (podman's syncContainer +
    /// checkExitFile). Never writes.
    pub fn effective_state(&self, d: &ContainerDir, proc: &Path) -> Result<State> {
        let mut st = d.read_state()?;
        if let Some(x) = d.read_exit()? {
            st.status = Some(Status::Exited);
            st.exit_code = Some(x.code);
            st.finished_at = Some(x.finished_at);
            st.pid = None;
            return Ok(st);
        }
        if matches!(st.status, Some(Status::Running) | Some(Status::Stopping)) {
            let monitor_alive = st
                .monitor_pid
                .is_some_and(|p| crate::state::pid_alive(proc, p, st.monitor_start));
            if !monitor_alive {
                // The monitor died without an exit file (SIGKILL): the
                // container is not supervised any more; report it exited.
                st.status = Some(Status::Exited);
                st.exit_code = st.exit_code.or(Some(-1));
            }
        }
        Ok(st)
    }

    /// The spec the container was started with, for inspect.
    pub fn read_spec(&self, d: &ContainerDir) -> Option<serde_json::Value> {
        read_json(&d.bundle().join("config.json")).ok()
    }
}

impl Engine {
    /// Whether a cgroup controller is usable here (v1 hierarchy or v2 list).
    pub fn cgroup_has(&self, controller: &str) -> bool {
        let root = &self.host.cgroup;
        if root.join(controller).join("cgroup.procs").exists() {
            return true;
        }
        fs::read_to_string(root.join("cgroup.controllers"))
            .is_ok_and(|s| s.split_whitespace().any(|c| c == controller))
    }
}

fn rlimit(res: libc::__rlimit_resource_t) -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a valid struct.
    if unsafe { libc::getrlimit(res, &mut r) } != 0 {
        return (1024, 1024);
    }
    (r.rlim_cur, r.rlim_max)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oci::fake::FakeRuntime;
    use crate::state::ExitFile;
    use crate::sys::{Call, FakeSys};
    use std::sync::Arc;

    /// An engine whose store, run dir and host paths are all under `t`,
    /// with the given kernel and runtime fakes.
    pub(crate) fn engine_in(t: &Path, sys: Arc<FakeSys>, rt: Arc<FakeRuntime>) -> Engine {
        Engine {
            root: t.into(),
            run_dir: t.join("run"),
            sys: Box::new(sys),
            host: HostPaths {
                proc: t.join("proc"),
                cgroup: t.join("cgroup"),
                net_dir: t.join("net"),
                resolv_conf: t.join("resolv.conf"),
            },
            oci: Some(rt),
        }
    }

    /// `/proc/PID/stat` of a process started at `start` (field 22).
    pub(crate) fn fake_proc(proc: &Path, pid: i32, start: u64) {
        fs::create_dir_all(proc.join(pid.to_string())).unwrap();
        fs::write(
            proc.join(format!("{pid}/stat")),
            format!("{pid} (vouch) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0\n"),
        )
        .unwrap();
    }

    /// A running container whose monitor is pid 77 started at 500 (see
    /// [`fake_proc`]).
    pub(crate) fn running() -> State {
        State {
            status: Some(Status::Running),
            pid: Some(78),
            monitor_pid: Some(77),
            monitor_start: Some(500),
            ..Default::default()
        }
    }

    /// A container record as `create` leaves it, in `e`'s store.
    /// `id` (64 hex, as every test container's) as a [`ContainerId`].
    pub(crate) fn cid(id: &str) -> ContainerId {
        ContainerId::parse(id).unwrap()
    }

    pub(crate) fn stored(e: &Engine, id: &str, st: State) -> (ContainerDir, ContainerConfig) {
        let d = e.dir(&cid(id));
        fs::create_dir_all(&d.dir).unwrap();
        let c = config(id);
        write_json(&d.config(), &c).unwrap();
        d.write_state(&st).unwrap();
        (d, c)
    }

    pub(crate) fn config(id: &str) -> ContainerConfig {
        ContainerConfig {
            id: cid(id),
            name: "t".into(),
            image_name: "localhost/x:latest".into(),
            image_id: vouch_image::ImageId::parse(&"0".repeat(64)).unwrap(),
            created: now_rfc3339(),
            command: vec!["/bin/true".into()],
            env: vec![],
            working_dir: "/".into(),
            user: String::new(),
            hostname: cid(id).short().into(),
            tty: false,
            interactive: false,
            auto_remove: false,
            network: NetworkMode::None,
            ports: vec![],
            ip: None,
            mac: None,
            bridge: None,
            runtime: "/nonexistent/runc".into(),
            read_only: false,
            stop_signal: Signal::TERM,
            layers: vec![vouch_image::Digest::of(b"layer")],
            cap_add: vec![],
            cap_drop: vec![],
            memory: None,
            pids_limit: None,
        }
    }

    #[test]
    fn a_failed_mount_is_undone() {
        let t = tempfile::tempdir().unwrap();
        let e = engine_in(t.path(), Arc::new(FakeSys::failing_at(1)), Arc::default());
        let id = "ab".repeat(32);
        let d = e.dir(&cid(&id));
        fs::create_dir_all(&d.dir).unwrap();
        let err = e.prepare(&d, config(&id)).unwrap_err();
        assert!(err.to_string().contains(&id), "names the container: {err}");
        assert!(!d.work().exists(), "work dir removed");
        assert!(
            !d.bundle().join("config.json").exists(),
            "no bundle written"
        );
    }

    #[test]
    fn teardown_unmounts_through_the_seam() {
        let t = tempfile::tempdir().unwrap();
        let sys = Arc::new(FakeSys::default());
        let rt = Arc::new(FakeRuntime::default());
        let e = engine_in(t.path(), sys.clone(), rt.clone());
        let id = "cd".repeat(32);
        e.teardown(&config(&id)).unwrap();
        assert_eq!(
            sys.calls(),
            vec![Call::Umount {
                target: e.dir(&cid(&id)).rootfs()
            }]
        );
        assert_eq!(
            rt.calls(),
            vec![crate::oci::fake::Call::Delete {
                id: id.clone(),
                force: true
            }]
        );
    }

    #[test]
    fn readers_merge_exit_file_and_notice_a_dead_monitor() {
        let t = tempfile::tempdir().unwrap();
        let e = engine_in(t.path(), Arc::default(), Arc::default());
        let d = e.dir(&cid(&"ef".repeat(32)));
        fs::create_dir_all(&d.dir).unwrap();
        let proc = t.path().join("proc");
        fs::create_dir_all(proc.join("77")).unwrap();
        let stat = |start: u64| {
            format!("77 (vouch) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0\n")
        };
        fs::write(proc.join("77/stat"), stat(500)).unwrap();
        let running = State {
            status: Some(Status::Running),
            monitor_pid: Some(77),
            monitor_start: Some(500),
            ..Default::default()
        };
        d.write_state(&running).unwrap();
        assert_eq!(
            e.effective_state(&d, &proc).unwrap().status,
            Some(Status::Running)
        );
        // The monitor's pid now belongs to another process: it died.
        fs::write(proc.join("77/stat"), stat(900)).unwrap();
        let st = e.effective_state(&d, &proc).unwrap();
        assert_eq!((st.status, st.exit_code), (Some(Status::Exited), Some(-1)));
        // An exit file wins over everything.
        write_json(
            &d.exit(),
            &ExitFile {
                code: 137,
                finished_at: now_rfc3339(),
            },
        )
        .unwrap();
        assert_eq!(e.effective_state(&d, &proc).unwrap().exit_code, Some(137));
    }

    #[test]
    fn names() {
        assert!(valid_name("basic_httpd"));
        assert!(!valid_name("-x") && !valid_name("") && !valid_name("a/b"));
        assert!(valid_name(&generated_name(&cid(&"ab".repeat(32)))));
    }
}
