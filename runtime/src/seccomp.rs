//! The default seccomp profile, converted from containers-common's format to
//! the OCI `linux.seccomp` object, as podman does per container
//! (containers/common pkg/seccomp/conversion.go + filter_linux.go): keep the
//! rules whose `includes` match the container's capabilities, architecture
//! and kernel, drop those whose `excludes` match, and map the arch table.
//!
//! The profile is Debian's golang-github-containers-common
//! `/usr/share/containers/seccomp.json`, embedded so a container's filter
//! never depends on a file the host may change. Unknown syscalls get
//! `defaultErrnoRet` 38 (ENOSYS), so glibc falls back (clone3 → clone).

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Result, RuntimeError};

const PROFILE: &str = include_str!("seccomp-containers-common.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    syscalls: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    names: Vec<String>,
    action: String,
    #[serde(default)]
    args: Option<Vec<Value>>,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// Go's GOARCH for this build, as the profile's `arches` use it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// libseccomp's name for a Go arch (containers/common seccomp goArchToSeccompArchMap).
fn seccomp_arch(go: &str) -> &'static str {
    match go {
        "amd64" => "SCMP_ARCH_X86_64",
        "386" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// "5.8" → (5, 8); the running kernel compared with `minKernel`.
fn kernel_at_least(running: (u32, u32), min: &str) -> bool {
    let mut it = min.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let want = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    running >= want
}

pub fn running_kernel() -> (u32, u32) {
    let r = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut it = r.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// The OCI `linux.seccomp` value for a container with capabilities `caps`.
pub fn oci_profile(caps: &[String], kernel: (u32, u32)) -> Result<Value> {
    let p: Profile = serde_json::from_str(PROFILE).map_err(RuntimeError::Seccomp)?;
    let arch = go_arch();
    let native = seccomp_arch(arch);
    let mut arches = vec![native.to_string()];
    if let Some(m) = p.arch_map.iter().find(|m| m.architecture == native) {
        arches.extend(m.sub_architectures.iter().cloned());
    }
    let mut syscalls = Vec::new();
    for r in &p.syscalls {
        let inc = &r.includes;
        if !inc.caps.iter().all(|c| caps.contains(c)) {
            continue;
        }
        if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == arch) {
            continue;
        }
        if let Some(k) = &inc.min_kernel {
            if !kernel_at_least(kernel, k) {
                continue;
            }
        }
        let exc = &r.excludes;
        if exc.caps.iter().any(|c| caps.contains(c)) || exc.arches.iter().any(|a| a == arch) {
            continue;
        }
        let mut s = json!({ "names": r.names, "action": r.action });
        if let Some(e) = r.errno_ret {
            s["errnoRet"] = json!(e);
        }
        if let Some(args) = r.args.as_ref().filter(|a| !a.is_empty()) {
            let args: Vec<Value> = args
                .iter()
                .map(|a| {
                    json!({
                        "index": a["index"], "value": a["value"],
                        "valueTwo": a.get("valueTwo").cloned().unwrap_or(json!(0)), "op": a["op"],
                    })
                })
                .collect();
            s["args"] = json!(args);
        }
        syscalls.push(s);
    }
    let mut out = json!({
        "defaultAction": p.default_action,
        "architectures": arches,
        "syscalls": syscalls,
    });
    if let Some(e) = p.default_errno_ret {
        out["defaultErrnoRet"] = json!(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::CAPS_UPSTREAM;

    fn names(v: &Value, action: &str) -> Vec<String> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["action"] == action)
            .flat_map(|s| {
                s["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
            })
            .collect()
    }

    #[test]
    fn default_caps_profile_denies_admin_syscalls_with_enosys_default() {
        let caps: Vec<String> = CAPS_UPSTREAM.iter().map(|s| s.to_string()).collect();
        let v = oci_profile(&caps, (6, 18)).unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 38);
        let allowed = names(&v, "SCMP_ACT_ALLOW");
        assert!(allowed.contains(&"read".to_string()));
        assert!(
            allowed.contains(&"chroot".to_string()),
            "CAP_SYS_CHROOT is a default"
        );
        for denied in [
            "init_module",
            "sethostname",
            "kexec_load",
            "bpf",
            "perf_event_open",
        ] {
            assert!(!allowed.contains(&denied.to_string()), "{denied} allowed");
        }
        assert!(names(&v, "SCMP_ACT_ERRNO").contains(&"kexec_load".to_string()));
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(v["architectures"][0], "SCMP_ARCH_X86_64");
        }
        // It parses as an oci-spec type.
        let _: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(v).unwrap();
    }

    #[test]
    fn cap_sys_admin_opens_its_group() {
        let mut caps: Vec<String> = CAPS_UPSTREAM.iter().map(|s| s.to_string()).collect();
        caps.push("CAP_SYS_ADMIN".into());
        let v = oci_profile(&caps, (6, 18)).unwrap();
        assert!(names(&v, "SCMP_ACT_ALLOW").contains(&"sethostname".to_string()));
    }

    #[test]
    fn min_kernel_compares_numerically() {
        assert!(kernel_at_least((6, 18), "5.8"));
        assert!(!kernel_at_least((4, 9), "4.14"));
    }
}
