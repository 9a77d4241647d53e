//! `-u`/`User` resolution against the image's `/etc/passwd` and
//! `/etc/group`, as runc's libcontainer/user does: numeric IDs need no
//! files, names must be found. The files are container-controlled, so a
//! symlink anywhere on the way is refused rather than followed out of the
//! rootfs.

use std::path::Path;

/// uid, gid and supplementary gids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

pub fn read_in_root(root: &Path, rel: &str) -> Option<String> {
    let mut p = root.to_path_buf();
    for comp in rel.split('/') {
        p.push(comp);
        let md = std::fs::symlink_metadata(&p).ok()?;
        if md.file_type().is_symlink() {
            return None;
        }
    }
    std::fs::read_to_string(p).ok()
}

/// Resolves `spec` (`user`, `uid`, `user:group`, `uid:gid`; empty = root)
/// inside `root`. Returns None when a name is not found.
pub fn resolve(root: &Path, spec: &str) -> Option<ExecUser> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_in_root(root, "etc/passwd").unwrap_or_default();
    let group = read_in_root(root, "etc/group").unwrap_or_default();
    let mut uid = 0;
    let mut gid = 0;
    let mut name = String::new();
    if !u.is_empty() {
        let entry = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 4 && (f[0] == u || f[2] == u));
        match (entry, u.parse::<u32>()) {
            (Some(f), _) => {
                uid = f[2].parse().ok()?;
                gid = f[3].parse().ok()?;
                name = f[0].to_string();
            }
            (None, Ok(n)) => {
                uid = n;
                gid = 0; // numeric uid without an entry: gid 0, as runc
            }
            (None, Err(_)) => return None,
        }
    }
    if let Some(g) = g.filter(|g| !g.is_empty()) {
        gid = match group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && (f[0] == g || f[2] == g))
        {
            Some(f) => f[2].parse().ok()?,
            None => g.parse().ok()?,
        };
    }
    let mut additional_gids: Vec<u32> = if name.is_empty() {
        vec![]
    } else {
        group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .collect()
    };
    additional_gids.retain(|g| *g != gid);
    Some(ExecUser {
        uid,
        gid,
        additional_gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_groups() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\nwww:x:33:34::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\nwww:x:34:\nlog:x:4:www\n",
        )
        .unwrap();
        let r = |s| resolve(d.path(), s);
        assert_eq!(r("").unwrap().uid, 0);
        assert_eq!(
            r("www").unwrap(),
            ExecUser {
                uid: 33,
                gid: 34,
                additional_gids: vec![4]
            }
        );
        assert_eq!(r("1000").unwrap().uid, 1000);
        assert_eq!(r("www:root").unwrap().gid, 0);
        assert_eq!(r("1000:1000").unwrap().gid, 1000);
        assert!(r("nobody").is_none());
    }

    #[test]
    fn symlinked_passwd_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("etc/passwd")).unwrap();
        assert!(
            resolve(d.path(), "root").is_none(),
            "host passwd must not be read"
        );
    }
}
