//! Image IDs: the hex of an image's config digest, as podman names images.
//! The type is validated when made or read back from a record, so the
//! short form podman prints is always there to take and no caller slices
//! an unchecked string.

use std::fmt;

use crate::Digest;

/// Whether `s` is 64 lowercase hex characters: the shape of vouch's and
/// podman's image and container IDs (and of a sha256 digest's hex).
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why a string is not an ID.
#[derive(Debug, thiserror::Error)]
#[error("invalid {kind} ID {id:?}: expected 64 lowercase hex characters")]
pub struct BadId {
    pub kind: &'static str,
    pub id: String,
}

/// An image ID: 64 lowercase hex characters (the config digest's hex).
/// Serialized as the bare string, as image records have always held it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageId(String);

impl ImageId {
    pub fn parse(s: &str) -> Result<Self, BadId> {
        Self::try_from(s.to_string())
    }
    /// The ID of the image whose config has digest `config`.
    pub fn of_config(config: &Digest) -> Self {
        Self(config.hex().to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The first 12 characters, as podman prints image IDs.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl TryFrom<String> for ImageId {
    type Error = BadId;
    fn try_from(s: String) -> Result<Self, BadId> {
        if is_hex64(&s) {
            Ok(Self(s))
        } else {
            Err(BadId {
                kind: "image",
                id: s,
            })
        }
    }
}

impl From<ImageId> for String {
    fn from(id: ImageId) -> String {
        id.0
    }
}

impl std::ops::Deref for ImageId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ImageId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ImageId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ImageId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// As the string's: `{:?}` of an ID reads as it did when IDs were
/// Strings (podman's `.containerenv` quotes them this way).
impl fmt::Debug for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_lowercase_hex_is_an_id() {
        let hex = "ab".repeat(32);
        let id = ImageId::parse(&hex).unwrap();
        assert_eq!((id.short(), id.as_str()), ("abababababab", hex.as_str()));
        for bad in ["abc", &"AB".repeat(32), &format!("{hex}0"), "ééééééééééééé"] {
            assert!(ImageId::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<ImageId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ImageId>("\"abc\"").is_err());
    }
}
