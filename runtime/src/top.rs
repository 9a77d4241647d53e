//! `top`: the container's processes with podman's descriptors (psgo,
//! runtime-notes §7). Rather than setns into the container (which needs a
//! throwaway thread), processes are found on the host: every `/proc/<pid>`
//! in init's pid namespace, with container PIDs from the last field of
//! `NSpid`. Users resolve against the container's own `/etc/passwd`. All
//! readers take the procfs root as a parameter, so tests use fixture files.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::error::{Result, RuntimeError};

pub const DEFAULT_DESCRIPTORS: &[&str] = &[
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

fn header(d: &str) -> Option<&'static str> {
    Some(match d {
        "user" => "USER",
        "pid" => "PID",
        "ppid" => "PPID",
        "pcpu" => "%CPU",
        "etime" => "ELAPSED",
        "tty" => "TTY",
        "time" => "TIME",
        "args" => "COMMAND",
        "comm" => "COMMAND",
        "group" => "GROUP",
        "nice" => "NI",
        "pgid" => "PGID",
        "rss" => "RSS",
        "vsz" => "VSZ",
        "state" => "STATE",
        "hpid" => "HPID",
        "huser" => "HUSER",
        _ => return None,
    })
}

/// One process as read from procfs.
#[derive(Debug, Clone)]
pub struct Proc {
    pub host_pid: i32,
    pub ctr_pid: i32,
    pub host_ppid: i32,
    pub state: String,
    pub comm: String,
    pub args: String,
    pub uid: u32,
    pub gid: u32,
    pub utime: u64,
    pub stime: u64,
    pub nice: i64,
    pub pgrp: i64,
    pub tty_nr: u64,
    pub start: u64,
    pub vsize: u64,
    pub rss_pages: i64,
}

fn read_proc(proc: &Path, pid: i32) -> Option<Proc> {
    let dir = proc.join(pid.to_string());
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let status = fs::read_to_string(dir.join("status")).ok()?;
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .map(|l| l[k.len()..].split_whitespace().collect::<Vec<_>>())
    };
    let uid = field("Uid:")
        .and_then(|v| v.get(1).and_then(|s| s.parse().ok()))
        .unwrap_or(0);
    let gid = field("Gid:")
        .and_then(|v| v.get(1).and_then(|s| s.parse().ok()))
        .unwrap_or(0);
    let ctr_pid = field("NSpid:")
        .and_then(|v| v.last().and_then(|s| s.parse().ok()))
        .unwrap_or(pid);
    let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let n = |i: usize| f.get(i).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    Some(Proc {
        host_pid: pid,
        ctr_pid,
        host_ppid: n(1) as i32,
        state: f.first().unwrap_or(&"?").to_string(),
        args: if args.is_empty() {
            format!("[{comm}]")
        } else {
            args.join(" ")
        },
        comm,
        uid,
        gid,
        utime: n(11) as u64,
        stime: n(12) as u64,
        nice: n(16),
        pgrp: n(2),
        tty_nr: n(4) as u64,
        start: n(19) as u64,
        vsize: n(20) as u64,
        rss_pages: n(21),
    })
}

/// Processes in the same pid namespace as `init` (host pid), init first.
pub fn container_procs(proc: &Path, init: i32) -> Result<Vec<Proc>> {
    let ns = |p: i32| fs::read_link(proc.join(p.to_string()).join("ns/pid")).ok();
    let want = ns(init).ok_or_else(|| RuntimeError::Io {
        path: proc.join(init.to_string()),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    })?;
    let mut out = Vec::new();
    for e in fs::read_dir(proc)
        .map_err(crate::error::io(proc))?
        .flatten()
    {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if ns(pid).as_ref() == Some(&want) {
            if let Some(p) = read_proc(proc, pid) {
                out.push(p);
            }
        }
    }
    out.sort_by_key(|p| p.ctr_pid);
    Ok(out)
}

/// Go's time.Duration String(), as podman prints ELAPSED and TIME.
pub fn go_duration(secs: f64) -> String {
    if secs <= 0.0 {
        return "0s".into();
    }
    if secs < 1.0 {
        let ms = secs * 1000.0;
        return format!("{}ms", trim_float(ms));
    }
    let total = secs;
    let h = (total / 3600.0).floor();
    let m = ((total - h * 3600.0) / 60.0).floor();
    let s = total - h * 3600.0 - m * 60.0;
    let mut out = String::new();
    if h > 0.0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0.0 || m > 0.0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", trim_float(s)));
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn tty_name(nr: u64) -> String {
    if nr == 0 {
        return "?".into();
    }
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    if (136..=143).contains(&major) {
        format!("pts/{}", minor + (major - 136) * 256)
    } else {
        format!("{major}:{minor}")
    }
}

fn names(content: &str) -> HashMap<u32, String> {
    content
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f[0].to_string()))
        })
        .collect()
}

/// The `top` table for the container whose init is `init`; `rootfs` is the
/// mounted root, for its passwd and group files.
pub fn top(proc: &Path, init: i32, rootfs: &Path, descriptors: &[String]) -> Result<String> {
    let descs: Vec<String> = if descriptors.is_empty() {
        DEFAULT_DESCRIPTORS.iter().map(|s| s.to_string()).collect()
    } else {
        // podman accepts "pid,user" as well as separate arguments.
        descriptors
            .iter()
            .flat_map(|d| d.split(',').map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect()
    };
    for d in &descs {
        if header(d).is_none() {
            return Err(RuntimeError::Usage(format!("unknown top descriptor {d:?}")));
        }
    }
    let procs = container_procs(proc, init)?;
    let users = names(&crate::user::read_in_root(rootfs, "etc/passwd").unwrap_or_default());
    let groups = names(&crate::user::read_in_root(rootfs, "etc/group").unwrap_or_default());
    let host_users = names(&fs::read_to_string("/etc/passwd").unwrap_or_default());
    let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let btime: f64 = fs::read_to_string(proc.join("stat"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("btime "))
                .and_then(|l| l[6..].trim().parse().ok())
        })
        .unwrap_or(0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let by_host: HashMap<i32, i32> = procs.iter().map(|p| (p.host_pid, p.ctr_pid)).collect();
    let page_kb = 4;
    let mut rows = vec![descs
        .iter()
        .map(|d| header(d).unwrap_or("?").to_string())
        .collect::<Vec<_>>()];
    for p in &procs {
        let started = btime + (p.start as f64 / tck).trunc();
        let elapsed = (now - started).max(0.0);
        let cpu = (p.utime + p.stime) as f64 / tck;
        let row = descs
            .iter()
            .map(|d| match d.as_str() {
                "user" => users
                    .get(&p.uid)
                    .cloned()
                    .unwrap_or_else(|| p.uid.to_string()),
                "huser" => host_users
                    .get(&p.uid)
                    .cloned()
                    .unwrap_or_else(|| p.uid.to_string()),
                "group" => groups
                    .get(&p.gid)
                    .cloned()
                    .unwrap_or_else(|| p.gid.to_string()),
                "pid" => p.ctr_pid.to_string(),
                "hpid" => p.host_pid.to_string(),
                "ppid" => by_host.get(&p.host_ppid).copied().unwrap_or(0).to_string(),
                "pcpu" => format!(
                    "{:.3}",
                    if elapsed > 0.0 {
                        100.0 * cpu / elapsed
                    } else {
                        0.0
                    }
                ),
                "etime" => go_duration(elapsed),
                "tty" => tty_name(p.tty_nr),
                "time" => go_duration(cpu.trunc()),
                "args" => p.args.clone(),
                "comm" => p.comm.clone(),
                "nice" => p.nice.to_string(),
                "pgid" => by_host
                    .get(&(p.pgrp as i32))
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                "rss" => (p.rss_pages * page_kb).to_string(),
                "vsz" => (p.vsize / 1024).to_string(),
                "state" => p.state.clone(),
                _ => "?".into(),
            })
            .collect();
        rows.push(row);
    }
    let cols = descs.len();
    let mut w = vec![0; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 == cols {
                out.push_str(c);
            } else {
                out.push_str(&format!("{:<width$}  ", c, width = w[i]));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(proc: &Path, pid: i32, ppid: i32, nspid: i32, ns: &str, cmd: &[u8]) {
        let d = proc.join(pid.to_string());
        fs::create_dir_all(d.join("ns")).unwrap();
        std::os::unix::fs::symlink(ns, d.join("ns/pid")).unwrap();
        fs::write(d.join("stat"), format!("{pid} (httpd) S {ppid} {pid} {pid} 0 -1 0 0 0 0 0 150 50 0 0 20 0 1 0 100 1000000 200 0\n")).unwrap();
        fs::write(d.join("status"), format!("Name:\thttpd\nUid:\t33\t33\t33\t33\nGid:\t33\t33\t33\t33\nNSpid:\t{pid}\t{nspid}\n")).unwrap();
        fs::write(d.join("cmdline"), cmd).unwrap();
    }

    #[test]
    fn lists_only_the_container_namespace_with_podman_columns() {
        let t = tempfile::tempdir().unwrap();
        let proc = t.path().join("proc");
        fixture(&proc, 500, 400, 1, "pid:[111]", b"/bin/httpd\0-f\0");
        fixture(&proc, 501, 500, 7, "pid:[111]", b"");
        fixture(&proc, 600, 1, 600, "pid:[222]", b"/sbin/host-daemon\0");
        fs::write(proc.join("stat"), "cpu 0\nbtime 1000\n").unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/passwd"), "www-data:x:33:33::/:/bin/false\n").unwrap();
        let out = top(&proc, 500, &root, &[]).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        let head: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            head,
            ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]
        );
        let init: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(&init[..3], ["www-data", "1", "0"]);
        assert_eq!(init[6], "2s", "utime+stime = 200 ticks");
        assert!(lines[1].ends_with("/bin/httpd -f"));
        assert!(lines[2].ends_with("[httpd]"));
        assert!(!out.contains("host-daemon"));
        let custom = top(&proc, 500, &root, &["pid,hpid".into(), "comm".into()]).unwrap();
        assert!(custom.starts_with("PID"), "{custom}");
        assert!(custom.contains("500"));
        assert!(top(&proc, 500, &root, &["bogus".into()]).is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(0.0), "0s");
        assert_eq!(go_duration(0.5283), "528.3ms");
        assert_eq!(go_duration(3.5), "3.5s");
        assert_eq!(go_duration(62.0), "1m2s");
        assert_eq!(go_duration(3723.0), "1h2m3s");
    }
}
