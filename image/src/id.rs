//! Image IDs: the hex of an image's config digest, as podman names images.
//! The type is validated when made or read back from a record, so the
//! short form podman prints is always there to take and no caller slices
//! an unchecked string.

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

/// Defines a validated 64-hex ID newtype: image IDs here, container IDs
/// in the runtime. One definition, so the two kinds cannot drift in how
/// they validate, serialize (the bare string, as records have always held
/// it) or print (`{:?}` as the string's: podman's `.containerenv` quotes
/// IDs this way). The calling crate needs `serde` with `derive`.
#[macro_export]
macro_rules! hex64_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> ::std::result::Result<Self, $crate::id::BadId> {
                Self::try_from(s.to_string())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The short form podman prints and names things by: the
            /// first 12 characters (always there: the type is validated).
            pub fn short(&self) -> &str {
                &self.0[..12]
            }
        }

        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::id::BadId;
            fn try_from(s: String) -> ::std::result::Result<Self, $crate::id::BadId> {
                if $crate::id::is_hex64(&s) {
                    Ok(Self(s))
                } else {
                    Err($crate::id::BadId { kind: $kind, id: s })
                }
            }
        }

        impl ::std::convert::From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl ::std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::cmp::PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl ::std::cmp::PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl ::std::cmp::PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hex64_id!(
    /// An image ID: 64 lowercase hex characters (the config digest's hex).
    ImageId,
    "image"
);

impl ImageId {
    /// The ID of the image whose config has digest `config`.
    pub fn of_config(config: &Digest) -> Self {
        Self(config.hex().to_string())
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
