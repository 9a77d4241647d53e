//! Which instance of a manifest list an inspect describes:
//! containers/image's `WantedPlatforms` and `ChooseInstance` (v5.22), so
//! `--override-os/-arch/-variant` pick the instance skopeo picks.

use crate::manifest::{Descriptor, Index, Platform};

/// The overrides a user gave (skopeo's `--override-*`).
#[derive(Clone, Debug, Default)]
pub struct PlatformChoice {
    pub os: Option<String>,
    pub arch: Option<String>,
    pub variant: Option<String>,
}

/// Known variants per architecture, most capable first.
fn compatibility(arch: &str) -> Option<&'static [&'static str]> {
    match arch {
        "arm" => Some(&["v8", "v7", "v6", "v5"]),
        "arm64" => Some(&["v8"]),
        _ => None,
    }
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        other => other,
    }
}

/// The host's variant, detected only when the architecture is not
/// overridden (as upstream; arm64 hosts are `v8`).
fn host_variant(arch: &str) -> &'static str {
    match arch {
        "arm64" => "v8",
        "arm" => "v7",
        _ => "",
    }
}

/// Candidate platforms, most wanted first.
pub fn wanted(choice: &PlatformChoice) -> Vec<Platform> {
    let (arch, mut variant) = match choice.arch.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => (a.to_string(), String::new()),
        None => (
            host_arch().to_string(),
            host_variant(host_arch()).to_string(),
        ),
    };
    if let Some(v) = choice.variant.as_deref().filter(|v| !v.is_empty()) {
        variant = v.to_string();
    }
    let os = choice
        .os
        .clone()
        .filter(|o| !o.is_empty())
        .unwrap_or_else(|| "linux".to_string());
    let mut variants: Vec<String> = Vec::new();
    if !variant.is_empty() {
        match compatibility(&arch)
            .and_then(|c| c.iter().position(|v| *v == variant).map(|i| &c[i..]))
        {
            Some(rest) => variants.extend(rest.iter().map(|v| v.to_string())),
            None => variants.push(variant),
        }
        variants.push(String::new());
    } else {
        variants.push(String::new());
        variants.extend(
            compatibility(&arch)
                .unwrap_or(&[])
                .iter()
                .map(|v| v.to_string()),
        );
    }
    variants
        .into_iter()
        .map(|v| Platform {
            architecture: arch.clone(),
            os: os.clone(),
            variant: Some(v).filter(|v| !v.is_empty()),
        })
        .collect()
}

/// The first entry matching the most wanted platform; entries without a
/// platform (allowed in an OCI index) never match.
pub fn choose<'a>(index: &'a Index, want: &[Platform]) -> Option<&'a Descriptor> {
    want.iter().find_map(|w| {
        index.manifests.iter().find(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.architecture == w.architecture
                    && p.os == w.os
                    && p.variant.as_deref().unwrap_or("") == w.variant.as_deref().unwrap_or("")
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(os: &str, arch: &str, variant: &str) -> PlatformChoice {
        let s = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        PlatformChoice {
            os: s(os),
            arch: s(arch),
            variant: s(variant),
        }
    }

    fn names(p: &[Platform]) -> Vec<String> {
        p.iter()
            .map(|p| {
                format!(
                    "{}/{}/{}",
                    p.os,
                    p.architecture,
                    p.variant.as_deref().unwrap_or("")
                )
            })
            .collect()
    }

    #[test]
    fn walks_variants_as_containers_image() {
        assert_eq!(
            names(&wanted(&choice("", "arm", "v6"))),
            ["linux/arm/v6", "linux/arm/v5", "linux/arm/"]
        );
        assert_eq!(
            names(&wanted(&choice("", "arm", ""))),
            [
                "linux/arm/",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ]
        );
        assert_eq!(
            names(&wanted(&choice("windows", "amd64", "x"))),
            ["windows/amd64/x", "windows/amd64/"]
        );
    }
}
