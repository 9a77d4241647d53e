//! Judging the dumped tasks' credentials in an imported archive. CRIU
//! gives each restored task the capabilities, securebits and
//! no_new_privs its images say, as root and without regard to the
//! container's bundle, so a hand-edited `core-*.img` could hand a task
//! CAP_SYS_ADMIN in a container that has only `vouch run`'s default set.
//!
//! What a task may hold is what the restored container's own processes
//! get (the capability set of its config, after [`super::privileges`]
//! allowed that set): every capability set (`cap_eff`, `cap_prm`,
//! `cap_inh`, `cap_bnd`, `cap_amb`) within it, no securebit that keeps
//! capabilities across a uid change (`SECBIT_KEEP_CAPS`,
//! `SECBIT_NO_SETUID_FIXUP`) or that this kernel ABI does not define, and
//! no_new_privs on, as runc sets it for every container process. The
//! restrictive securebits and their locks only take privilege away and
//! are allowed. Uids and gids are not judged: without a user namespace
//! the container's root is the host's uid 0 with the container's
//! capabilities, which is what the capability check bounds.

use std::collections::BTreeMap;
use vouch_image::chain::one_line;

use super::criu_image::{self, CredsEntry};
use crate::defaults::ALL_CAPS;

/// One task's (or thread's) credentials and the image they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskCreds {
    /// `checkpoint/core-<tid>.img` or `checkpoint/creds-<pid>.img`.
    pub image: String,
    pub creds: CredsEntry,
}

/// Which credential-bearing image a `checkpoint/` file name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Core,
    Creds,
}

/// CRIU names them `core-%u.img` and `creds-%u.img`; the number is kept
/// as text so the two kinds can be paired exactly.
pub fn image_kind(name: &str) -> Option<(ImageKind, &str)> {
    let (kind, rest) = if let Some(r) = name.strip_prefix("core-") {
        (ImageKind::Core, r)
    } else {
        (ImageKind::Creds, name.strip_prefix("creds-")?)
    };
    let id = rest.strip_suffix(".img")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some((kind, id))
}

/// Gathers the credentials of every core and creds image of an archive.
#[derive(Debug, Default)]
pub struct Collector {
    cores: BTreeMap<String, Option<CredsEntry>>,
    old: BTreeMap<String, CredsEntry>,
}

impl Collector {
    /// Parses one image (`name` as [`image_kind`] gave it). Err: one line
    /// naming the image.
    pub fn add(&mut self, kind: ImageKind, id: &str, bytes: &[u8]) -> Result<(), String> {
        let at = |e: criu_image::ImageError| format!("{}: {}", image_name(kind, id), one_line(&e));
        match kind {
            ImageKind::Core => {
                self.cores
                    .insert(id.to_string(), criu_image::core_creds(bytes).map_err(at)?);
            }
            ImageKind::Creds => {
                self.old
                    .insert(id.to_string(), criu_image::creds_image(bytes).map_err(at)?);
            }
        }
        Ok(())
    }

    /// Every task's credentials. A core without creds must have its old
    /// creds image (CRIU fails without it, but the check must not rely on
    /// that); an archive without any core image is not a checkpoint.
    pub fn finish(self) -> Result<Vec<TaskCreds>, String> {
        if self.cores.is_empty() {
            return Err("checkpoint/core-*.img is missing: the archive dumps no task".into());
        }
        let mut out = Vec::new();
        for (id, creds) in &self.cores {
            if creds.is_none() && !self.old.contains_key(id) {
                return Err(format!(
                    "{}: no creds, and {} is missing",
                    image_name(ImageKind::Core, id),
                    image_name(ImageKind::Creds, id)
                ));
            }
            if let Some(c) = creds {
                out.push(TaskCreds {
                    image: image_name(ImageKind::Core, id),
                    creds: c.clone(),
                });
            }
        }
        for (id, c) in self.old {
            out.push(TaskCreds {
                image: image_name(ImageKind::Creds, &id),
                creds: c,
            });
        }
        Ok(out)
    }
}

fn image_name(kind: ImageKind, id: &str) -> String {
    let k = match kind {
        ImageKind::Core => "core",
        ImageKind::Creds => "creds",
    };
    format!("{}/{k}-{id}.img", super::IMAGES_DIR)
}

/// What the restored container's processes may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// Bit n: capability n.
    caps: u64,
}

impl Allowed {
    /// For a container with capabilities `caps` (names as
    /// [`crate::defaults::capabilities`] gives them).
    pub fn with_caps(caps: &[String]) -> Result<Self, String> {
        let mut mask = 0u64;
        for c in caps {
            let n = ALL_CAPS
                .iter()
                .position(|k| k == c)
                .ok_or_else(|| format!("unknown capability {c:?}"))?;
            mask |= 1 << n;
        }
        Ok(Self { caps: mask })
    }
}

/// One credential an image asks for beyond what the container has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excess {
    pub image: String,
    pub field: &'static str,
    /// What it grants: `CAP_SYS_ADMIN,CAP_NET_ADMIN`, `SECBIT_KEEP_CAPS`, `off`.
    pub grants: String,
    /// Why that is more than the container has.
    pub why: &'static str,
}

impl Excess {
    /// The refusal: `checkpoint/core-1.img: cap_eff grants CAP_SYS_ADMIN, which …`.
    pub fn refusal(&self) -> String {
        format!(
            "{}: {} grants {}, {}",
            self.image, self.field, self.grants, self.why
        )
    }

    /// The line `--grant-archive-privileges` prints.
    pub fn grant(&self) -> String {
        format!("{}: {} {}", self.image, self.field, self.grants)
    }
}

/// Securebits that keep capabilities across a change away from uid 0
/// (linux/securebits.h: bits 2 and 4). `vouch run` sets neither.
const LOOSENING_SECBITS: &[(u32, &str)] = &[(2, "SECBIT_NO_SETUID_FIXUP"), (4, "SECBIT_KEEP_CAPS")];
/// Bits 0..=11 are defined (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS,
/// NO_CAP_AMBIENT_RAISE, EXEC_RESTRICT_FILE, EXEC_DENY_INTERACTIVE, each
/// with its lock).
const KNOWN_SECBITS: u32 = (1 << 12) - 1;

fn cap_names(bits: impl Iterator<Item = u32>) -> String {
    bits.map(|n| match ALL_CAPS.get(n as usize) {
        Some(c) => (*c).to_string(),
        None => format!("capability {n}"),
    })
    .collect::<Vec<_>>()
    .join(",")
}

/// The capabilities in CRIU's u32 words (word 0: capabilities 0..=31) not
/// in `allowed`.
fn extra_caps(words: &[u32], allowed: u64) -> Vec<u32> {
    let mut out = Vec::new();
    for (w, word) in words.iter().enumerate() {
        for b in 0..32u32 {
            let n = (w as u64) * 32 + u64::from(b);
            if word & (1 << b) == 0 {
                continue;
            }
            let granted = n < 64 && allowed & (1u64 << n) != 0;
            if !granted {
                out.push(u32::try_from(n).unwrap_or(u32::MAX));
            }
        }
    }
    out
}

/// What `t` holds beyond `allowed`, field by field.
pub fn check(t: &TaskCreds, allowed: &Allowed) -> Vec<Excess> {
    let c = &t.creds;
    let mut out = Vec::new();
    let mut push = |field, grants: String, why| {
        out.push(Excess {
            image: t.image.clone(),
            field,
            grants,
            why,
        })
    };
    for (field, words) in [
        ("cap_eff", &c.cap_eff),
        ("cap_prm", &c.cap_prm),
        ("cap_inh", &c.cap_inh),
        ("cap_bnd", &c.cap_bnd),
        ("cap_amb", &c.cap_amb),
    ] {
        let extra = extra_caps(words, allowed.caps);
        if !extra.is_empty() {
            push(
                field,
                cap_names(extra.into_iter()),
                "which the container does not have",
            );
        }
    }
    let mut bits: Vec<String> = LOOSENING_SECBITS
        .iter()
        .filter(|(b, _)| c.secbits & (1 << b) != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let unknown = c.secbits & !KNOWN_SECBITS;
    if unknown != 0 {
        bits.push(format!("{unknown:#x}"));
    }
    if !bits.is_empty() {
        push("secbits", bits.join(","), "which `vouch run` never sets");
    }
    if c.no_new_privs != Some(1) {
        push(
            "no_new_privs",
            "off".into(),
            "but every container process runs with no_new_privs",
        );
    }
    out
}

/// [`check`] over every task.
pub fn check_all(tasks: &[TaskCreds], allowed: &Allowed) -> Vec<Excess> {
    tasks.iter().flat_map(|t| check(t, allowed)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::capabilities;

    fn default_mask() -> [u32; 2] {
        // The 11 default capabilities: 0,1,3,4,5,6,7,8,10,18,31.
        [0x8004_05fb, 0]
    }

    fn task(f: impl FnOnce(&mut CredsEntry)) -> TaskCreds {
        let m = default_mask().to_vec();
        let mut c = CredsEntry {
            cap_prm: m.clone(),
            cap_eff: m.clone(),
            cap_bnd: m,
            cap_inh: vec![0, 0],
            cap_amb: vec![0, 0],
            no_new_privs: Some(1),
            ..Default::default()
        };
        f(&mut c);
        TaskCreds {
            image: "checkpoint/core-1.img".into(),
            creds: c,
        }
    }

    fn default_allowed() -> Allowed {
        Allowed::with_caps(&capabilities(&[], &[]).unwrap()).unwrap()
    }

    #[test]
    fn capability_numbers_are_the_kernels() {
        assert_eq!(ALL_CAPS.len(), 41);
        for (n, c) in [
            (0, "CAP_CHOWN"),
            (21, "CAP_SYS_ADMIN"),
            (31, "CAP_SETFCAP"),
            (40, "CAP_CHECKPOINT_RESTORE"),
        ] {
            assert_eq!(ALL_CAPS[n], c);
        }
        let a = default_allowed();
        assert_eq!(a.caps, u64::from(default_mask()[0]));
    }

    #[test]
    fn a_real_dump_passes() {
        // fixtures/README.md: a default container's PID 1, dumped by CRIU 4.2.1.
        let img = include_bytes!("../../../fixtures/criu/core-1.img");
        let c = criu_image::core_creds(img).unwrap().unwrap();
        assert_eq!(c, task(|_| {}).creds);
        let t = TaskCreds {
            image: "checkpoint/core-1.img".into(),
            creds: c,
        };
        assert!(check(&t, &default_allowed()).is_empty());
        // Without CAP_KILL (--cap-drop kill) the same dump asks for more.
        let caps = capabilities(&[], &["CAP_KILL".into()]).unwrap();
        let e = check(&t, &Allowed::with_caps(&caps).unwrap());
        let fields: Vec<&str> = e.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["cap_eff", "cap_prm", "cap_bnd"]);
        assert_eq!(e[0].grants, "CAP_KILL");
    }

    #[test]
    fn a_container_like_dump_passes() {
        assert!(check(&task(|_| {}), &default_allowed()).is_empty());
        // Fewer capabilities, restrictive securebits and their locks are fine.
        let t = task(|c| {
            c.cap_eff = vec![1, 0];
            c.secbits = 0b1110_1011; // NOROOT(+lock), locks of 2 and 4, NO_CAP_AMBIENT_RAISE(+lock)
        });
        assert!(check(&t, &default_allowed()).is_empty());
    }

    #[test]
    fn each_excess_is_named() {
        let t = task(|c| {
            c.cap_eff = vec![u32::MAX, 0x1ff];
            c.cap_amb = vec![1 << 21, 0, 1];
            c.secbits = (1 << 4) | (1 << 20);
            c.no_new_privs = None;
        });
        let got = check(&t, &default_allowed());
        let lines: Vec<String> = got.iter().map(Excess::refusal).collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].starts_with(
            "checkpoint/core-1.img: cap_eff grants CAP_DAC_READ_SEARCH,CAP_LINUX_IMMUTABLE,"
        ));
        assert!(lines[0].ends_with("CAP_CHECKPOINT_RESTORE, which the container does not have"));
        assert_eq!(
            lines[1],
            "checkpoint/core-1.img: cap_amb grants CAP_SYS_ADMIN,capability 64, which the container does not have"
        );
        assert_eq!(
            lines[2],
            "checkpoint/core-1.img: secbits grants SECBIT_KEEP_CAPS,0x100000, which `vouch run` never sets"
        );
        assert_eq!(got[3].grant(), "checkpoint/core-1.img: no_new_privs off");
    }

    #[test]
    fn granted_capabilities_are_allowed() {
        let caps = capabilities(&["CAP_SYS_ADMIN".into()], &[]).unwrap();
        let a = Allowed::with_caps(&caps).unwrap();
        let t = task(|c| c.cap_eff = vec![default_mask()[0] | 1 << 21, 0]);
        assert!(check(&t, &a).is_empty());
        assert_eq!(check(&t, &default_allowed())[0].grants, "CAP_SYS_ADMIN");
        assert!(Allowed::with_caps(&["CAP_BOGUS".into()]).is_err());
    }

    #[test]
    fn image_names_and_pairing() {
        assert_eq!(image_kind("core-12.img"), Some((ImageKind::Core, "12")));
        assert_eq!(image_kind("creds-7.img"), Some((ImageKind::Creds, "7")));
        for n in [
            "core-.img",
            "core-1.img.bak",
            "core-x.img",
            "pstree.img",
            "corefile",
        ] {
            assert_eq!(image_kind(n), None, "{n}");
        }
        let none = criu_image::encode(
            criu_image::CORE_MAGIC,
            &criu_image::CoreEntry {
                thread_core: Some(criu_image::ThreadCoreEntry { creds: None }),
            },
        );
        let mut c = Collector::default();
        assert!(c.clone_err_finish().contains("core-*.img is missing"));
        c.add(ImageKind::Core, "5", &none).unwrap();
        assert_eq!(
            c.clone_err_finish(),
            "checkpoint/core-5.img: no creds, and checkpoint/creds-5.img is missing"
        );
        let old = criu_image::encode(criu_image::CREDS_MAGIC, &task(|_| {}).creds);
        c.add(ImageKind::Creds, "5", &old).unwrap();
        let got = c.finish().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].image, "checkpoint/creds-5.img");
        let mut c = Collector::default();
        let e = c.add(ImageKind::Core, "1", b"ju").unwrap_err();
        assert_eq!(e, "checkpoint/core-1.img: truncated header");
    }

    impl Collector {
        fn clone_err_finish(&self) -> String {
            Collector {
                cores: self.cores.clone(),
                old: self.old.clone(),
            }
            .finish()
            .unwrap_err()
        }
    }
}
