//! The gate every image passes before a single layer moves: read the
//! signatures the policy will look at, from every place registries.d says
//! they live, then evaluate (containers/image `copy.Image` →
//! `IsRunningImageAllowed`, with `dockerImageSource.GetSignaturesWithFormat`
//! supplying the signatures).
//!
//! pull, run and (for the destination) push and copy/sync share this one
//! path, so "may this image be fetched?" has one answer in vouch. Reading is
//! as lazy as containers/image's: a policy that decides without signatures
//! causes no lookaside read, no attachment request and no registries.d
//! parse.

use vouch_image::attach::read::{read_attachments, AttachReadError};
use vouch_image::docker_ref::DockerRef;
use vouch_image::manifest_digest::{manifest_digest, DigestError};
use vouch_image::pull::Resolved;
use vouch_image::referrers::read::{read_bundles, ReferrersReadError};
use vouch_image::registry::Registry;
use vouch_image::sigstore_blob::BUNDLE_BLOB_PREFIX;
use vouch_image::{Digest, ImageRef};

use crate::lookaside::{
    read_signatures, FetchError, Fetcher, LookasideError, LookasideUrl, SignatureFetcher,
};
use crate::policy::{Accepted, Policy, PolicyImage, PolicyImageError, Rejected};
use crate::registries_d::{BuiltinDefault, LookupError, RegistriesD, RegistriesDError, Search};

/// Why an image did not pass the gate. Only [`GateError::Rejected`] is the
/// policy's "no" (exit 1); everything else is an error (exit 2), and fails
/// closed all the same.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Rejected(#[from] Rejected),
    #[error(transparent)]
    Image(#[from] PolicyImageError),
    #[error(transparent)]
    RegistriesD(#[from] RegistriesDError),
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("computing the manifest digest of {image}")]
    Digest {
        image: String,
        #[source]
        source: DigestError,
    },
    #[error("computing the manifest digest of {image}")]
    DigestForm {
        image: String,
        #[source]
        source: vouch_image::digest::DigestError,
    },
    #[error("setting up the lookaside client")]
    Client(#[source] FetchError),
    #[error("reading signatures of {image} from {base}")]
    Lookaside {
        image: String,
        base: LookasideUrl,
        #[source]
        source: LookasideError,
    },
    #[error("reading signatures of {image}")]
    Attachments {
        image: String,
        #[source]
        source: AttachReadError,
    },
    #[error("reading Sigstore bundle referrers of {image}")]
    Referrers {
        image: String,
        #[source]
        source: ReferrersReadError,
    },
}

/// Whether `reference`'s signatures live in its registry as `.sig`
/// attachments: the most specific registries.d scope that sets
/// `use-sigstore-attachments` decides, as for the lookaside. Readers and
/// writers (push, copy's destination) ask the same question.
pub fn use_sigstore_attachments(config: &RegistriesD, reference: &DockerRef) -> bool {
    config.use_sigstore_attachments(reference)
}

/// The policy, and where to look up signature storage, for a run of vouch.
pub struct Gate {
    policy: Policy,
    registries_d: Search,
    builtin: BuiltinDefault,
}

impl Gate {
    /// `registries_d` is read only when an image's policy needs signatures.
    pub fn new(policy: Policy, registries_d: Search, builtin: BuiltinDefault) -> Self {
        Self {
            policy,
            registries_d,
            builtin,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The registries.d configuration (absent directories are empty ones).
    pub fn registries_d(&self) -> Result<RegistriesD, RegistriesDError> {
        RegistriesD::load_search(&self.registries_d)
    }

    /// Reads the signatures of `resolved` the policy will look at and
    /// evaluates it: `Ok` means the layers may be fetched.
    pub async fn check(
        &self,
        registry: &Registry,
        resolved: &Resolved,
    ) -> Result<Accepted, GateError> {
        Ok(self.check_keeping(registry, resolved).await?.0)
    }

    /// [`check`](Self::check), also returning the signatures the policy
    /// judged, for the store to keep beside the image (as podman keeps a
    /// pull's signatures). None are read when the policy needs none.
    pub async fn check_keeping(
        &self,
        registry: &Registry,
        resolved: &Resolved,
    ) -> Result<(Accepted, Vec<Vec<u8>>), GateError> {
        let fetcher;
        let lookaside = if self.policy.needs_signatures(&policy_image(resolved)?) {
            fetcher = Fetcher::new().map_err(GateError::Client)?;
            Some(&fetcher)
        } else {
            None
        };
        self.judge(lookaside, registry, resolved).await
    }

    /// [`check`](Self::check) with a given lookaside client; `None` when the
    /// caller knows the policy needs no signatures.
    pub async fn check_with<F: SignatureFetcher + Sync>(
        &self,
        lookaside: Option<&F>,
        registry: &Registry,
        resolved: &Resolved,
    ) -> Result<Accepted, GateError> {
        Ok(self.judge(lookaside, registry, resolved).await?.0)
    }

    async fn judge<F: SignatureFetcher + Sync>(
        &self,
        lookaside: Option<&F>,
        registry: &Registry,
        resolved: &Resolved,
    ) -> Result<(Accepted, Vec<Vec<u8>>), GateError> {
        let image = policy_image(resolved)?;
        let signatures = match lookaside {
            Some(f) if self.policy.needs_signatures(&image) => {
                self.signatures(f, registry, resolved).await?
            }
            _ => Vec::new(),
        };
        let accepted = self
            .policy
            .evaluate(&image, &resolved.instance.bytes, &signatures)?;
        Ok((accepted, signatures))
    }

    /// Every stored signature of `resolved` (of the image manifest that is
    /// pulled: through a list, the chosen instance, whose signatures
    /// containers/image checks — `copySingleImage` — not the list's): lookaside first, then the registry's
    /// attachments when registries.d turns them on — containers/image's
    /// order — then, under the same switch and only when a `sigstoreSigned`
    /// requirement applies, the Sigstore bundles referring to the manifest
    /// (as `BUNDLE_BLOB_PREFIX` + JSON). Raw blobs, for the evaluator or for
    /// copying along.
    ///
    /// Bundles ride on `use-sigstore-attachments` rather than a new
    /// registries.d key: the open upstream change (container-libs #1153)
    /// adds none, the switch already means "this registry holds sigstore
    /// signatures", and podman must keep loading the same configuration.
    pub async fn signatures<F: SignatureFetcher + Sync>(
        &self,
        lookaside: &F,
        registry: &Registry,
        resolved: &Resolved,
    ) -> Result<Vec<Vec<u8>>, GateError> {
        let image = resolved.reference.to_string();
        let digest =
            manifest_digest(&resolved.instance.bytes).map_err(|source| GateError::Digest {
                image: image.clone(),
                source,
            })?;
        let digest = Digest::parse(&digest).map_err(|source| GateError::DigestForm {
            image: image.clone(),
            source,
        })?;
        let bundles = self.policy.needs_sigstore(&policy_image(resolved)?);
        self.signatures_of(lookaside, registry, &resolved.reference, &digest, bundles)
            .await
    }

    /// The stored signatures of the manifest with `digest` in `reference`'s
    /// repository, from the same places [`signatures`](Self::signatures)
    /// reads; bundle referrers only when `bundles` (a copy carries them
    /// all, a pull reads them only for a `sigstoreSigned` requirement).
    pub async fn signatures_of<F: SignatureFetcher + Sync>(
        &self,
        lookaside: &F,
        registry: &Registry,
        reference: &ImageRef,
        digest: &Digest,
        bundles: bool,
    ) -> Result<Vec<Vec<u8>>, GateError> {
        let config = self.registries_d()?;
        let docker = reference.as_docker();
        let image = reference.to_string();
        let base = config.read_base(docker, &self.builtin)?;
        let mut out = read_signatures(lookaside, &base, &digest.to_string())
            .await
            .map_err(|source| GateError::Lookaside {
                image: image.clone(),
                base,
                source,
            })?;
        if use_sigstore_attachments(&config, docker) {
            let attached = read_attachments(registry, reference, digest)
                .await
                .map_err(|source| GateError::Attachments {
                    image: image.clone(),
                    source,
                })?;
            out.extend(attached);
            if bundles {
                let found = read_bundles(registry, reference, digest)
                    .await
                    .map_err(|source| GateError::Referrers {
                        image: image.clone(),
                        source,
                    })?;
                out.extend(found.into_iter().map(|json| {
                    let mut blob = BUNDLE_BLOB_PREFIX.to_vec();
                    blob.extend(json);
                    blob
                }));
            }
        }
        Ok(out)
    }
}

fn policy_image(resolved: &Resolved) -> Result<PolicyImage, PolicyImageError> {
    PolicyImage::docker(&resolved.reference.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> RegistriesD {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), yaml).unwrap();
        RegistriesD::load(dir.path()).unwrap()
    }

    fn reference(s: &str) -> DockerRef {
        let image = PolicyImage::docker(s).unwrap();
        image.docker_reference().unwrap().clone()
    }

    #[test]
    fn most_specific_scope_decides_attachments() {
        let cfg = config(
            "docker:\n  r.example:\n    use-sigstore-attachments: true\n  r.example/signed:\n    use-sigstore-attachments: false\n",
        );
        assert!(!use_sigstore_attachments(
            &cfg,
            &reference("r.example/signed:1")
        ));
        assert!(use_sigstore_attachments(
            &cfg,
            &reference("r.example/other:1")
        ));
    }

    #[test]
    fn default_docker_applies_when_no_scope_matches() {
        let cfg = config("default-docker:\n  use-sigstore-attachments: true\n");
        assert!(use_sigstore_attachments(
            &cfg,
            &reference("r.example/signed:1")
        ));
        assert!(!use_sigstore_attachments(
            &RegistriesD::default(),
            &reference("r.example/signed:1")
        ));
    }
}
