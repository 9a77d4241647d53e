//! Container IDs as vouch makes them and as they are read back from disk.
//! The type is validated wherever one is made (a fresh ID, a state file, a
//! checkpoint archive), so the short form is always there to take and no
//! caller slices an unchecked string.

use std::fmt;
use std::path::Path;

pub use vouch_image::id::{is_hex64, BadId};

/// A container ID: 64 lowercase hex characters, as vouch and podman make
/// them. Serialized as the bare string, as state files have always held it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerId(String);

impl ContainerId {
    pub fn parse(s: &str) -> Result<Self, BadId> {
        Self::try_from(s.to_string())
    }
    /// A fresh random ID (32 bytes of /dev/urandom, as podman's
    /// stringid.GenerateRandomID).
    pub fn random() -> std::io::Result<Self> {
        use std::io::Read;
        let mut b = [0u8; 32];
        std::fs::File::open(Path::new("/dev/urandom"))?.read_exact(&mut b)?;
        Ok(Self(b.iter().map(|x| format!("{x:02x}")).collect()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The short form podman prints and names things by: the first 12
    /// characters.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl TryFrom<String> for ContainerId {
    type Error = BadId;
    fn try_from(s: String) -> Result<Self, BadId> {
        if is_hex64(&s) {
            Ok(Self(s))
        } else {
            Err(BadId {
                kind: "container",
                id: s,
            })
        }
    }
}

impl From<ContainerId> for String {
    fn from(id: ContainerId) -> String {
        id.0
    }
}

impl std::ops::Deref for ContainerId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ContainerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for ContainerId {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_ref()
    }
}

impl AsRef<Path> for ContainerId {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

impl PartialEq<str> for ContainerId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ContainerId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for ContainerId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// As the string's: `{:?}` of an ID reads as it did when IDs were
/// Strings (podman's `.containerenv` quotes them this way).
impl fmt::Debug for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated_and_read_as_written() {
        let hex = "ab".repeat(32);
        let id = ContainerId::parse(&hex).unwrap();
        assert_eq!(id.short(), "abababababab");
        for bad in [
            "abc",
            &"AB".repeat(32),
            "ééééééééééééé",
            &format!("../{hex}"),
        ] {
            assert!(ContainerId::parse(bad).is_err(), "{bad:?}");
        }
        // State files hold the bare string.
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<ContainerId>(&json).unwrap(), id);
        let fresh = ContainerId::random().unwrap();
        assert!(is_hex64(&fresh) && fresh != id);
    }
}
