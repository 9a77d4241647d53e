//! Escape attempts from inside a default container (rootful podman
//! defaults: 11 capabilities, no_new_privs, the containers-common seccomp
//! profile, masked and read-only paths, own pid/mount/uts/ipc/net
//! namespaces). Each must fail with the error the kernel gives (EPERM,
//! EROFS, ESRCH, as busybox prints it), and the host must be unchanged.

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
    // busybox says this for EPERM from mount(2).
    let (code, out) = inside(&v, "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x");
    assert_eq!(
        (code, out.as_str()),
        (1, "mount: permission denied (are you root?)\n")
    );
    let (code, out) = inside(&v, "mount -o remount,rw /sys");
    assert_eq!(
        (code, out.as_str()),
        (1, "mount: permission denied (are you root?)\n")
    );
}

#[test]
fn reboot_fails() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    // Inside a pid namespace a permitted reboot(2) would only end the
    // container; without CAP_SYS_BOOT it is refused outright.
    let (code, out) = inside(&v, "reboot -f 2>&1; echo rc=$?");
    assert_eq!(
        (code, out.as_str()),
        (0, "reboot: (null): Operation not permitted\nrc=1\n")
    );
}

#[test]
fn loading_a_module_fails() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    // A file that looks like a module; init_module must be refused before
    // the kernel ever parses it (seccomp EPERM without CAP_SYS_MODULE).
    // (modprobe is not tried: it fails on the image's missing
    // /lib/modules before any syscall the kernel could refuse.)
    let (code, out) = inside(&v, "printf '\\177ELF' > /tmp/x.ko && insmod /tmp/x.ko");
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "insmod: can't insert '/tmp/x.ko': Operation not permitted\n"
        )
    );
}

#[test]
fn writing_proc_sys_fails() {
    require_runtime!();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    let before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let (code, out) = inside(&v, "echo evil > /proc/sys/kernel/domainname");
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "sh: can't create /proc/sys/kernel/domainname: Read-only file system\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before
    );
    // Read-only where the kernel has it; some (this CI's) have none.
    let (code, out) = inside(&v, "echo 1 > /proc/sysrq-trigger");
    let why = if std::path::Path::new("/proc/sysrq-trigger").exists() {
        "Read-only file system"
    } else {
        "nonexistent directory"
    };
    assert_eq!(
        (code, out),
        (1, format!("sh: can't create /proc/sysrq-trigger: {why}\n"))
    );
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
    assert_eq!(
        (code, out.as_str()),
        (1, "hostname: sethostname: Operation not permitted\n")
    );
    let (code, out) = inside(&v, "echo evil-host > /proc/sys/kernel/hostname");
    assert_eq!(
        (code, out.as_str()),
        (
            1,
            "sh: can't create /proc/sys/kernel/hostname: Read-only file system\n"
        )
    );
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
    let me = std::process::id();
    let (code, out) = inside(&v, &format!("kill -0 {me}"));
    assert_eq!(
        (code, out),
        (1, format!("sh: can't kill pid {me}: No such process\n"))
    );
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
    let (code, out) = inside(&v, "unshare -m true");
    assert_eq!(
        (code, out.as_str()),
        (1, "unshare: unshare(0x20000): Operation not permitted\n")
    );
}
