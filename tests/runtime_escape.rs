//! Escape attempts from inside a default container (rootful podman
//! defaults: 11 capabilities, no_new_privs, the containers-common seccomp
//! profile, masked and read-only paths, own pid/mount/uts/ipc/net
//! namespaces). Each must fail, and the host must be unchanged.

mod common;

use common::{ContainerGuard, Vouch};

/// Runs `script` in a fresh default container; (exit code, stdout+stderr).
fn inside(v: &Vouch, script: &str) -> (i32, String) {
    let (code, out, err) = v.run3(&[
        "run",
        "--rm",
        "--network",
        "none",
        v.httpd(),
        "sh",
        "-c",
        script,
    ]);
    (code, format!("{out}{err}"))
}

#[test]
fn mount_fails() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let (code, out) = inside(&v, "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x");
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("ermission denied") || out.contains("not permitted"),
        "{out}"
    );
    let (code, out) = inside(&v, "mount -o remount,rw /sys");
    assert_ne!(code, 0, "{out}");
}

#[test]
fn reboot_fails() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    // Inside a pid namespace a permitted reboot(2) would only end the
    // container; without CAP_SYS_BOOT it is refused outright.
    let (code, out) = inside(&v, "reboot -f; echo still-here");
    assert!(out.contains("still-here"), "{out}");
    let _ = code;
    let (_, out) = inside(&v, "reboot -f 2>&1; echo rc=$?");
    assert!(
        out.contains("rc=1") || out.contains("not permitted"),
        "{out}"
    );
}

#[test]
fn loading_a_module_fails() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    // A file that looks like a module; init_module must be refused before
    // the kernel ever parses it (seccomp EPERM without CAP_SYS_MODULE).
    let (code, out) = inside(&v, "printf '\\177ELF' > /tmp/x.ko && insmod /tmp/x.ko");
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("not permitted") || out.contains("ermission"),
        "{out}"
    );
    let (code, out) = inside(&v, "modprobe -q dummy");
    assert_ne!(code, 0, "{out}");
}

#[test]
fn writing_proc_sys_fails() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let (code, out) = inside(&v, "echo evil > /proc/sys/kernel/domainname");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("Read-only"), "{out}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before
    );
    let (code, _) = inside(&v, "echo 1 > /proc/sysrq-trigger");
    assert_ne!(code, 0);
}

#[test]
fn reading_proc_kcore_yields_nothing() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    // Masked: /dev/null is bind-mounted over it (runc maskedPaths); on a
    // kernel without /proc/kcore the open fails instead. Either way no byte.
    let (code, out) = inside(
        &v,
        "cat /proc/kcore 2>/dev/null | wc -c; cat /proc/keys | wc -c; ls /sys/firmware | wc -l",
    );
    assert_eq!(code, 0, "{out}");
    let n: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(n, ["0", "0", "0"], "{out}");
}

#[test]
fn changing_the_hostname_fails() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let (code, out) = inside(&v, "hostname evil-host");
    assert_ne!(code, 0, "{out}");
    let (code, out) = inside(&v, "echo evil-host > /proc/sys/kernel/hostname");
    assert_ne!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
}

#[test]
fn host_processes_are_invisible() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let (code, out) = inside(
        &v,
        "ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '",
    );
    assert_eq!(code, 0, "{out}");
    let mut l = out.lines();
    let n: usize = l.next().unwrap().trim().parse().unwrap();
    assert!(n <= 4, "container sees {n} processes:\n{out}");
    assert!(
        l.next().unwrap().starts_with("sh -c"),
        "pid 1 is the container's own: {out}"
    );
    // Nor can it signal a host process it cannot see.
    let (code, _) = inside(&v, &format!("kill -0 {}", std::process::id()));
    assert_ne!(code, 0);
}

#[test]
fn privileges_cannot_be_regained() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let (_, out) = inside(&v, "grep -E 'NoNewPrivs|Seccomp:|CapBnd' /proc/self/status");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    let bnd = out.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    let caps = u64::from_str_radix(bnd.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(
        caps.count_ones(),
        11,
        "upstream default capability set: {bnd}"
    );
    assert_eq!(caps & (1 << 21), 0, "no CAP_SYS_ADMIN");
    // unshare would need CAP_SYS_ADMIN.
    let (code, _) = inside(&v, "unshare -m true");
    assert_ne!(code, 0);
}
