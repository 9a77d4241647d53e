//! Container IDs as vouch makes them and as they are read back from disk.
//! The type is validated wherever one is made (a fresh ID, a state file, a
//! checkpoint archive), so the short form is always there to take and no
//! caller slices an unchecked string.

use std::path::Path;

pub use vouch_image::id::{is_hex64, BadId};

vouch_image::hex64_id!(
    /// A container ID: 64 lowercase hex characters, as vouch and podman
    /// make them.
    ContainerId,
    "container"
);

impl ContainerId {
    /// A fresh random ID (32 bytes of /dev/urandom, as podman's
    /// stringid.GenerateRandomID).
    pub fn random() -> std::io::Result<Self> {
        use std::io::Read;
        let mut b = [0u8; 32];
        std::fs::File::open(Path::new("/dev/urandom"))?.read_exact(&mut b)?;
        Ok(Self(b.iter().map(|x| format!("{x:02x}")).collect()))
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
