//! Which registries.d files are read: one directory given on the command
//! line, or containers/image's drop-in directories ([`crate::config_lookup`]),
//! where a file in a higher-priority directory replaces the file of the same
//! name in a lower one. Different names are all read and merged, so one scope
//! in two files is still refused (containers/image `configfile.Read`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::RegistriesDError;
use crate::config_lookup::ConfigEnv;

/// Directories to read, highest priority first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    dirs: Vec<PathBuf>,
    explicit: bool,
}

impl Search {
    /// `--registries.d DIR`: only `DIR`, every default directory ignored.
    pub fn explicit(dir: &Path) -> Self {
        Self {
            dirs: vec![dir.to_path_buf()],
            explicit: true,
        }
    }

    /// The drop-in directories for `env`.
    pub fn default_for(env: &ConfigEnv) -> Self {
        Self {
            dirs: env.registries_d_dirs(),
            explicit: false,
        }
    }

    /// The drop-in directories for this process's user and environment.
    pub fn from_env() -> Self {
        Self::default_for(&ConfigEnv::from_process())
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The `--registries.d` directory, if this search is one.
    pub fn explicit_dir(&self) -> Option<&Path> {
        self.dirs
            .first()
            .filter(|_| self.explicit)
            .map(PathBuf::as_path)
    }

    /// Whether any of the directories exists (an explicit one always counts).
    pub fn any_exists(&self) -> bool {
        self.explicit || self.dirs.iter().any(|d| d.is_dir())
    }

    /// For messages: the directory, or the directories that exist (all of
    /// them when none does), so the user knows where to add a file.
    pub fn describe(&self) -> String {
        if self.explicit {
            return self
                .dirs
                .first()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
        }
        let existing: Vec<&PathBuf> = self.dirs.iter().filter(|d| d.is_dir()).collect();
        let shown = if existing.is_empty() {
            self.dirs.iter().collect()
        } else {
            existing
        };
        shown
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `*.yaml` files to read, in name order, each name from the
    /// highest-priority directory that has it. Missing directories are
    /// skipped; any other error reading one is fatal.
    pub fn files(&self) -> Result<Vec<PathBuf>, RegistriesDError> {
        let mut by_name: BTreeMap<std::ffi::OsString, PathBuf> = BTreeMap::new();
        for dir in self.dirs.iter().rev() {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(RegistriesDError::ReadDir {
                        dir: dir.clone(),
                        source,
                    })
                }
            };
            for entry in entries {
                let entry = entry.map_err(|source| RegistriesDError::ReadDir {
                    dir: dir.clone(),
                    source,
                })?;
                let name = entry.file_name();
                // Like Go's DirEntry.IsDir: the entry's own type, not a symlink's target.
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if is_dir || !name.to_string_lossy().ends_with(".yaml") {
                    continue;
                }
                by_name.insert(name, entry.path());
            }
        }
        Ok(by_name.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), body).unwrap();
    }

    fn search(dirs: &[&Path]) -> Search {
        Search {
            dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
            explicit: false,
        }
    }

    #[test]
    fn higher_directories_shadow_same_names_and_files_merge_in_name_order() {
        let t = tempfile::tempdir().unwrap();
        let (user, etc, usr) = (t.path().join("u"), t.path().join("e"), t.path().join("s"));
        write(
            &usr,
            "10-vendor.yaml",
            "docker:\n  a.io:\n    lookaside: https://vendor\n",
        );
        write(
            &etc,
            "10-vendor.yaml",
            "docker:\n  a.io:\n    lookaside: https://admin\n",
        );
        write(
            &usr,
            "20-only-vendor.yaml",
            "docker:\n  b.io:\n    lookaside: https://b\n",
        );
        write(
            &user,
            "00-user.yaml",
            "default-docker:\n  lookaside: file:///user\n",
        );
        write(&etc, "notes.yml", "docker: [not, read]\n");
        std::fs::create_dir_all(etc.join("sub.yaml")).unwrap();
        let s = search(&[&user, &etc, &t.path().join("missing"), &usr]);
        assert_eq!(
            s.files().unwrap(),
            [
                user.join("00-user.yaml"),
                etc.join("10-vendor.yaml"),
                usr.join("20-only-vendor.yaml")
            ]
        );
        let rd = super::super::RegistriesD::load_search(&s).unwrap();
        assert_eq!(
            rd.docker["a.io"].section.lookaside.as_deref(),
            Some("https://admin")
        );
        assert_eq!(rd.docker["a.io"].file, etc.join("10-vendor.yaml"));
        assert_eq!(rd.docker["b.io"].file, usr.join("20-only-vendor.yaml"));
        assert_eq!(rd.default_docker.unwrap().file, user.join("00-user.yaml"));
        assert_eq!(
            s.describe(),
            format!("{}, {}, {}", user.display(), etc.display(), usr.display())
        );
    }

    #[test]
    fn one_scope_in_two_names_is_refused_across_directories() {
        let t = tempfile::tempdir().unwrap();
        let (etc, usr) = (t.path().join("e"), t.path().join("s"));
        write(
            &usr,
            "a.yaml",
            "docker:\n  a.io:\n    lookaside: https://vendor\n",
        );
        write(
            &etc,
            "b.yaml",
            "docker:\n  a.io:\n    lookaside: https://admin\n",
        );
        let err = super::super::RegistriesD::load_search(&search(&[&etc, &usr]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"docker\" namespace \"a.io\" defined both in"),
            "{err}"
        );
        assert!(
            err.contains(&*usr.join("a.yaml").to_string_lossy()),
            "{err}"
        );
    }

    #[test]
    fn explicit_directory_replaces_the_defaults() {
        let t = tempfile::tempdir().unwrap();
        let s = Search::explicit(&t.path().join("mine"));
        assert_eq!(s.dirs(), [t.path().join("mine")]);
        assert!(s.files().unwrap().is_empty());
        assert_eq!(s.describe(), t.path().join("mine").display().to_string());
    }
}
