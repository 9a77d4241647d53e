//! The rule catalogue: stable ids, names, severities and one-line summaries.
//! Ids never change meaning and are never reused; docs/policy-lint.md lists
//! every rule with an example (keep in sync).

use std::fmt;

/// How bad a finding is. `Error`: containers/image refuses the file, or a
/// key can never verify anything. `Warning`: valid but dangerous. `Note`:
/// nothing wrong, but how the file will be read is worth saying (never
/// fails a run, not even with `--strict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! rules {
    ($($variant:ident = $id:literal, $name:literal, $sev:ident, $load:literal, $summary:literal;)*) => {
        /// Every rule policy-lint knows.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $($variant,)*
        }

        impl Rule {
            /// All rules, in id order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stable id (`PL001`).
            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// A kebab-case name (`unknown-key`).
            pub fn name(self) -> &'static str {
                match self { $(Rule::$variant => $name,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$sev,)* }
            }

            /// Whether containers/image refuses to load a policy with this
            /// finding (the skopeo agreement test compares exactly these).
            pub fn is_load_error(self) -> bool {
                match self { $(Rule::$variant => $load,)* }
            }

            /// One line saying what the rule finds.
            pub fn summary(self) -> &'static str {
                match self { $(Rule::$variant => $summary,)* }
            }
        }
    };
}

rules! {
    InvalidJson = "PL001", "invalid-json", Error, true, "the file is not one valid JSON value";
    UnknownKey = "PL002", "unknown-key", Error, true, "a member containers/image does not know (keys are case-sensitive)";
    DuplicateKey = "PL003", "duplicate-key", Error, true, "a member given twice in one object";
    WrongType = "PL004", "wrong-type", Error, true, "a value of the wrong JSON type";
    MissingDefault = "PL005", "missing-default", Error, true, "the top-level `default` list is missing";
    EmptyRequirements = "PL006", "empty-requirements", Error, true, "a requirement list is empty or null";
    UnknownRequirementType = "PL007", "unknown-requirement-type", Error, true, "a requirement `type` outside the closed set";
    InvalidScope = "PL008", "invalid-scope", Error, true, "a scope key its transport does not accept";
    KeySource = "PL009", "key-source", Error, true, "not exactly one of keyPath, keyPaths, keyData";
    MissingMember = "PL010", "missing-member", Error, true, "a required member is missing";
    BadKeyType = "PL011", "bad-key-type", Error, true, "keyType missing or not one of the four known values";
    BadKeyData = "PL012", "bad-key-data", Error, true, "keyData is not standard padded base64";
    BadSignedIdentity = "PL013", "bad-signed-identity", Error, true, "a malformed signedIdentity / baseLayerIdentity";
    BadSigstore = "PL014", "bad-sigstore-signed", Error, true, "a sigstoreSigned requirement breaking its member rules";
    FulcioWithoutRekor = "PL015", "fulcio-without-rekor", Error, true, "a sigstoreSigned fulcio requirement without a Rekor public key";
    KeyFileMissing = "PL020", "key-file-missing", Error, false, "a key, Rekor key or CA file (signedBy or sigstoreSigned) that cannot be read";
    NoPublicKey = "PL021", "no-public-key", Error, false, "a key file or keyData holding no OpenPGP public key";
    BadSigstoreMaterial = "PL022", "bad-sigstore-material", Error, false, "a sigstoreSigned key, Rekor key or CA that is not the PEM public key or certificate it must be";
    RegistriesD = "PL030", "registries-d-invalid", Error, false, "registries.d that containers/image refuses to load";
    PermissiveDefault = "PL101", "permissive-default", Warning, false, "`default` accepts anything while some scopes demand signatures";
    UnknownTransport = "PL102", "unknown-transport", Warning, false, "a transport name no tool knows: its scopes never apply";
    DeadScope = "PL103", "dead-scope", Warning, false, "a scope no image can ever select (shadowed)";
    RedundantScope = "PL104", "redundant-scope", Warning, false, "a scope that repeats the requirements that would apply without it";
    KeyExpired = "PL105", "key-expired", Warning, false, "a signedBy key that has expired";
    KeyRevoked = "PL106", "key-revoked", Warning, false, "a signedBy key that is revoked";
    WeakKey = "PL107", "weak-key", Warning, false, "a signedBy key that is RSA under 2048 bits, DSA, or bound with SHA-1";
    RelativeKeyPath = "PL108", "relative-key-path", Warning, false, "a keyPath relative to whatever directory podman runs in";
    NoLookaside = "PL109", "no-lookaside", Warning, false, "a signedBy scope for which registries.d configures no lookaside";
    BadLookasideUrl = "PL110", "bad-lookaside-url", Warning, false, "a lookaside or staging URL that does not parse or cannot be read";
    UnimplementedKeyType = "PL111", "unimplemented-key-type", Warning, false, "a keyType other than GPGKeys: every image is rejected";
    SignedBaseLayer = "PL112", "signed-base-layer", Warning, false, "signedBaseLayer is not implemented: every image is rejected";
    NoSigstoreAttachments = "PL113", "no-sigstore-attachments", Warning, false, "a sigstoreSigned scope for which registries.d never turns on use-sigstore-attachments";
    SigstoreBundles = "PL114", "sigstore-bundles", Note, false, "a sigstoreSigned scope checked against Sigstore bundle referrers as well as `.sig` attachments";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Rule::ALL.len());
        for r in Rule::ALL {
            assert!(r.id().starts_with("PL") && r.id().len() == 5, "{r:?}");
            assert_eq!(r.is_load_error(), r.id() < "PL020", "{r:?}");
        }
    }
}
