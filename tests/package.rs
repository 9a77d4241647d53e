//! Installing vouch (issue 16 item 5): `scripts/install.sh` into a
//! temporary prefix, and the Debian package of `scripts/package.sh`
//! (cargo-deb) installed with `dpkg -i` into this machine, then run from
//! /usr/bin and removed again (CI runs as root on a throwaway machine).
//! Both build the binaries with the dev profile, which the test run has
//! built already.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The cargo target directory the test binaries were built into.
fn target_dir() -> PathBuf {
    // <target>/debug/vouch
    Path::new(env!("CARGO_BIN_EXE_vouch"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn script(name: &str) -> Command {
    let mut c = Command::new("bash");
    c.arg(common::repo_root().join("scripts").join(name))
        .env("PROFILE", "dev")
        .env("CARGO_TARGET_DIR", target_dir());
    c
}

fn ok(c: &mut Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The unit files the package and install.sh must carry: whatever
/// dist/systemd holds.
fn units() -> Vec<String> {
    let dir = common::repo_root().join("dist/systemd");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".service") || n.ends_with(".socket"))
        .collect();
    names.sort();
    names
}

/// What both installs put under the prefix (relative paths); cargo-deb
/// compresses man pages (`man` reads either).
fn expected_files(zsh_dir: &str, unit_dir: &str, man: &str) -> Vec<String> {
    let mut want = Vec::new();
    // The monitor is no command: no man page, no completions.
    want.push("bin/vouch-monitor".into());
    for b in ["vouch", "sigstore-server", "policy-lint"] {
        want.push(format!("bin/{b}"));
        want.push(format!("share/man/man1/{b}{man}"));
        want.push(format!("share/bash-completion/completions/{b}"));
        want.push(format!("{zsh_dir}/_{b}"));
        want.push(format!("share/fish/vendor_completions.d/{b}.fish"));
    }
    for page in ["vouch-pull", "vouch-image-trust-show", "vouch-completion"] {
        want.push(format!("share/man/man1/{page}{man}"));
    }
    for u in units() {
        want.push(format!("{unit_dir}/{u}"));
    }
    want
}

#[test]
fn install_sh_fills_a_prefix() {
    let dest = tempfile::tempdir().unwrap();
    let prefix = "/opt/vouch";
    ok(script("install.sh")
        .env("DESTDIR", dest.path())
        .env("PREFIX", prefix));
    let root = dest.path().join("opt/vouch");
    for f in expected_files("share/zsh/site-functions", "lib/systemd/system", ".1") {
        assert!(root.join(&f).is_file(), "{f} was not installed");
    }
    let out = ok(Command::new(root.join("bin/vouch")).arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("vouch {}\n", env!("CARGO_PKG_VERSION"))
    );
    // The monitor is linked statically (no program interpreter), vouch not.
    assert!(!has_interpreter(&root.join("bin/vouch-monitor")));
    assert!(has_interpreter(&root.join("bin/vouch")));
    let bash =
        std::fs::read_to_string(root.join("share/bash-completion/completions/vouch")).unwrap();
    assert!(bash.contains("complete -F _vouch"), "{bash}");
    let man = std::fs::read_to_string(root.join("share/man/man1/vouch-pull.1")).unwrap();
    assert!(man.contains("Examples:"), "{man}");
    // The units run the binaries of this prefix.
    for u in units() {
        let text = std::fs::read_to_string(root.join("lib/systemd/system").join(&u)).unwrap();
        assert!(!text.contains("ExecStart=/usr/bin/"), "{u}: {text}");
    }
    // Only the data, as package.sh stages it.
    let data = tempfile::tempdir().unwrap();
    ok(script("install.sh")
        .arg("--no-build")
        .arg("--data-only")
        .env("DESTDIR", data.path())
        .env("PREFIX", "/usr"));
    assert!(!data.path().join("usr/bin").exists());
    assert!(data
        .path()
        .join("usr/share/zsh/vendor-completions/_vouch")
        .is_file());
}

/// Whether the ELF executable at `p` names a program interpreter
/// (PT_INTERP): a dynamically linked one does, a static-pie does not.
fn has_interpreter(p: &Path) -> bool {
    let b = std::fs::read(p).unwrap();
    assert_eq!(b.get(..4), Some(&b"\x7fELF"[..]), "{}", p.display());
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (size, n) = (u16_at(0x36), u16_at(0x38));
    (0..n).any(|i| {
        let o = phoff + i * size;
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3
    })
}

#[test]
fn install_sh_refuses_unknown_arguments() {
    let out = script("install.sh").arg("--prefix=/x").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--prefix=/x"), "{err}");
}

/// Removes the package again, however the test ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-r", "vouch"]).status();
    }
}

fn installed_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", "vouch"])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.starts_with("install ok installed").then_some(s)
}

#[test]
fn the_deb_installs_and_runs_from_usr_bin() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return common::skip::skip("dpkg -i needs root");
    }
    if Command::new("cargo-deb").arg("--version").output().is_err() {
        return common::skip::skip("cargo-deb is not installed (scripts/setup.sh installs it)");
    }
    if let Some(v) = installed_version() {
        return common::skip::skip(&format!(
            "a vouch package is installed here already ({v}); not replacing it"
        ));
    }
    let out_dir = tempfile::tempdir().unwrap();
    let deb = out_dir.path().join("vouch.deb");
    ok(script("package.sh").arg("--fast").arg("-o").arg(&deb));
    assert!(deb.is_file());

    let listing = ok(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    for f in expected_files(
        "share/zsh/vendor-completions",
        "lib/systemd/system",
        ".1.gz",
    ) {
        assert!(
            listing.contains(&format!("./usr/{f}\n")),
            "{f} missing:\n{listing}"
        );
    }

    let _installed = Installed;
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    assert!(installed_version().is_some());

    let out = ok(Command::new("/usr/bin/vouch").arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("vouch {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = ok(Command::new("/usr/bin/sigstore-server").arg("--help"));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("lookaside") && help.contains("Examples:"),
        "{help}"
    );
    ok(Command::new("/usr/bin/policy-lint").arg("--version"));
    assert!(!has_interpreter(Path::new("/usr/bin/vouch-monitor")));
    for f in expected_files(
        "share/zsh/vendor-completions",
        "lib/systemd/system",
        ".1.gz",
    ) {
        assert!(
            Path::new("/usr").join(&f).is_file(),
            "/usr/{f} was not installed"
        );
    }
    // The installed completion is the one `vouch completion` prints.
    let printed = ok(Command::new("/usr/bin/vouch").args(["completion", "bash"]));
    let installed = std::fs::read("/usr/share/bash-completion/completions/vouch").unwrap();
    assert_eq!(printed.stdout, installed);

    ok(Command::new("dpkg").args(["-r", "vouch"]));
    assert!(installed_version().is_none());
    assert!(!Path::new("/usr/bin/vouch").exists());
    assert!(!Path::new("/usr/share/man/man1/vouch.1.gz").exists());
}
