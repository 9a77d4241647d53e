//! How a command signs what it writes: podman's `--sign-by` (gpg-agent),
//! vouch's `--sign-by-key` (an armored key file, as CI secrets hold keys)
//! and podman's `--sign-by-sigstore-private-key` (a cosign-format key whose
//! signature goes into the registry's `.sig` attachment or a bundle
//! referrer). Shared by push, copy, sync and image sign, so every writer
//! checks keys, staging and identity the same way before a byte moves.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use vouch_copy::ImageName;
use vouch_image::sigstore_blob::{SigstoreComponents, BUNDLE_BLOB_PREFIX};
use vouch_image::{Digest, ImageRef};
use vouch_sign::sigstore::{read_passphrase_first_line, sign_image_bundle, SigstoreSigningKey};
use vouch_sign::{Passphrase, SigningKey};
use vouch_verify::lookaside::LookasideUrl;
use vouch_verify::registries_d::BuiltinDefault;

use super::common::{runtime, Global, Progress};
use super::sigstore_layout::{self, SigstoreLayout};
use super::trust;

/// How to sign (podman/skopeo flags plus `--sign-by-key`).
#[derive(Args, Debug, Clone, Default)]
pub struct SignFlags {
    /// Sign with this GnuPG key (fingerprint, key ID or e-mail) through gpg-agent.
    #[arg(long = "sign-by", conflicts_with = "sign_by_key")]
    pub sign_by: Option<String>,
    /// Sign with the secret key in this (armored or binary) file.
    #[arg(long = "sign-by-key")]
    pub sign_by_key: Option<PathBuf>,
    /// Sign with the sigstore private key in this file; the signature is
    /// appended to the registry's `sha256-<hex>.sig` attachment.
    #[arg(long = "sign-by-sigstore-private-key")]
    pub sign_by_sigstore_private_key: Option<PathBuf>,
    /// Where the sigstore signature goes: the `.sig` attachment podman
    /// reads, the Sigstore bundle referrer cosign 3 reads, or both
    /// (default: the scope's registries.d `sigstore-layout`, else attachment).
    #[arg(
        long = "sigstore-layout",
        value_enum,
        requires = "sign_by_sigstore_private_key"
    )]
    pub sigstore_layout: Option<SigstoreLayout>,
    /// File holding the passphrase of the signing key (only one key may be
    /// given with it, as in skopeo).
    #[arg(long = "sign-passphrase-file")]
    pub sign_passphrase_file: Option<PathBuf>,
    /// Identity to sign for, instead of the destination reference.
    #[arg(long = "sign-identity")]
    pub sign_identity: Option<String>,
    /// Bearer token for publishing to an http(s) staging URL (a sigstore-server).
    #[arg(long = "sigstore-token-file", env = "VOUCH_SIGSTORE_TOKEN_FILE")]
    pub sigstore_token_file: Option<PathBuf>,
}

/// The environment variable holding a sigstore-server token itself.
pub const TOKEN_ENV: &str = "VOUCH_SIGSTORE_TOKEN";

pub use vouch_copy::staging::Staging;

/// The staging registries.d names for writing `dest`'s signatures.
pub fn registries_d_staging(
    g: &Global,
    flags: &SignFlags,
    dest: &ImageRef,
) -> anyhow::Result<Staging> {
    let cfg = trust::load_registries_d(g)?;
    let base = cfg.write_base(&trust::docker_ref(dest)?, &BuiltinDefault::from_env())?;
    resolve_staging(base, flags)
}

/// The staging for `base`: a sigstore-server needs a token, from
/// `--sigstore-token-file` or the environment.
pub fn resolve_staging(base: LookasideUrl, flags: &SignFlags) -> anyhow::Result<Staging> {
    match base.scheme() {
        Some("http" | "https") => {
            let token = match &flags.sigstore_token_file {
                Some(f) => std::fs::read_to_string(f)
                    .with_context(|| format!("reading --sigstore-token-file {}", f.display()))?
                    .trim()
                    .to_string(),
                None => std::env::var(TOKEN_ENV)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            anyhow::ensure!(
                !token.is_empty(),
                "staging URL {base} is a sigstore-server: give a token with --sigstore-token-file or {TOKEN_ENV}"
            );
            Ok(Staging::Server { base, token })
        }
        _ => Ok(Staging::File(base)),
    }
}

impl SignFlags {
    /// The passphrase file's passphrase, read once for every key.
    fn passphrase(&self) -> anyhow::Result<Option<Passphrase>> {
        Ok(self
            .sign_passphrase_file
            .as_deref()
            .map(Passphrase::read_file)
            .transpose()?)
    }

    /// skopeo's rule (`sharedCopyOptions.copyOptions`): one passphrase file
    /// serves one key, so it is never silently offered to a second key it
    /// was not written for. Both kinds in one push then need the sigstore
    /// passphrase from the terminal (or a GPG key that has none).
    fn check_passphrase_file_use(&self) -> anyhow::Result<()> {
        let keys = [
            self.sign_by.is_some(),
            self.sign_by_key.is_some(),
            self.sign_by_sigstore_private_key.is_some(),
        ];
        anyhow::ensure!(
            self.sign_passphrase_file.is_none() || keys.iter().filter(|k| **k).count() <= 1,
            "Only one of --sign-by, --sign-by-key and --sign-by-sigstore-private-key can be used with --sign-passphrase-file"
        );
        Ok(())
    }

    /// The GPG signing key, if GPG signing was asked for.
    pub fn key(&self) -> anyhow::Result<Option<SigningKey>> {
        self.check_passphrase_file_use()?;
        let pass = self.passphrase()?;
        let key = match (&self.sign_by, &self.sign_by_key) {
            (Some(spec), None) => SigningKey::from_gpg_agent(spec, None, pass.as_ref())?,
            (None, Some(file)) => SigningKey::from_key_file(file, pass.as_ref())?,
            (None, None) => {
                if self.sign_by_sigstore_private_key.is_none()
                    && (self.sign_passphrase_file.is_some() || self.sign_identity.is_some())
                {
                    anyhow::bail!("--sign-passphrase-file and --sign-identity need --sign-by, --sign-by-key or --sign-by-sigstore-private-key");
                }
                return Ok(None);
            }
            (Some(_), Some(_)) => anyhow::bail!("--sign-by and --sign-by-key are exclusive"),
        };
        if key.is_subkey() {
            eprintln!(
                "Warning: key {} signs with subkey {}; podman/skopeo before containers/image 5.37 reject such signatures",
                key.primary_fingerprint(),
                key.signing_fingerprint()
            );
        }
        Ok(Some(key))
    }

    /// The sigstore signing key, decrypted with the passphrase file or, as
    /// skopeo does, a passphrase typed at the terminal.
    pub fn sigstore_key(&self) -> anyhow::Result<Option<SigstoreSigningKey>> {
        let Some(file) = &self.sign_by_sigstore_private_key else {
            return Ok(None);
        };
        self.check_passphrase_file_use()?;
        // skopeo reads the first line for sigstore keys (only "\n" dropped).
        let pass = match &self.sign_passphrase_file {
            Some(f) => read_passphrase_first_line(f)?,
            None => super::passphrase_prompt::prompt(file)?,
        };
        Ok(Some(SigstoreSigningKey::load(file, &pass)?))
    }
}

/// Refuses a sigstore signature the destination would not store:
/// containers/image writes sigstore signatures only to attachments, and only
/// where registries.d turns them on. Checked before a blob moves, where
/// containers/image fails only after the image is pushed.
pub fn require_attachments(g: &Global, dest: &ImageRef) -> anyhow::Result<()> {
    let cfg = trust::load_registries_d(g)?;
    anyhow::ensure!(
        cfg.use_sigstore_attachments(&trust::docker_ref(dest)?),
        "{dest}: writing sigstore attachments is disabled by configuration: set use-sigstore-attachments: true for its scope in {}",
        trust::registries_d_dir(g)
    );
    Ok(())
}

/// `--sign-identity`: a docker reference with a tag or digest, as skopeo's.
fn parse_identity(i: &str) -> anyhow::Result<String> {
    let r = vouch_verify::docker_ref::DockerRef::parse_canonical(i)
        .with_context(|| format!("--sign-identity {i:?}"))?;
    anyhow::ensure!(
        !r.is_name_only(),
        "--sign-identity {i:?} must include a tag or digest"
    );
    Ok(i.to_string())
}

/// Everything signing a destination needs, checked before a byte moves, so
/// a misconfiguration (no staging, attachments off, a key that will not
/// open) never leaves an unsigned image behind.
pub struct SignPlan {
    key: Option<SigningKey>,
    staging: Option<Staging>,
    sigstore_key: Option<SigstoreSigningKey>,
    layout: SigstoreLayout,
    identity: String,
    /// The destination as messages name it.
    dest: String,
}

/// The sigstore signatures made for one manifest; the GPG signature, if
/// any, is already in the staging by the time this exists.
#[derive(Default)]
pub struct Made {
    pub sigstore: Vec<SigstoreComponents>,
    pub bundles: Vec<Vec<u8>>,
}

/// Where a plan stores simple signatures itself.
enum StagingTarget {
    /// registries.d's write base for the destination.
    RegistriesD,
    /// A given lookaside base (`image sign --directory`).
    Dir(LookasideUrl),
    /// Nowhere: the caller stores the blobs (a copy's destination).
    None,
}

impl SignPlan {
    /// The plan for `dest`: keys opened, layout and staging resolved,
    /// `--sign-identity` parsed (it must name a tag or digest, as skopeo's).
    pub fn new(g: &Global, flags: &SignFlags, dest: &ImageRef) -> anyhow::Result<Self> {
        Self::with_staging(g, flags, dest, None)
    }

    /// [`SignPlan::new`], with simple signatures stored under `staging` (a
    /// repository base, as `write_base` returns) instead of the registries.d
    /// one: podman's `image sign --directory`.
    pub fn with_staging(
        g: &Global,
        flags: &SignFlags,
        dest: &ImageRef,
        staging: Option<LookasideUrl>,
    ) -> anyhow::Result<Self> {
        let target = match staging {
            Some(base) => StagingTarget::Dir(base),
            None => StagingTarget::RegistriesD,
        };
        Self::targeting(g, flags, dest, target)
    }

    fn targeting(
        g: &Global,
        flags: &SignFlags,
        dest: &ImageRef,
        target: StagingTarget,
    ) -> anyhow::Result<Self> {
        let mut plan = Self {
            key: flags.key()?,
            staging: None,
            sigstore_key: flags.sigstore_key()?,
            layout: SigstoreLayout::Attachment,
            identity: String::new(),
            dest: dest.to_string(),
        };
        plan.retarget_to(g, flags, dest, target)?;
        Ok(plan)
    }

    /// The same keys, opened once, for another destination: a command that
    /// signs several images asks for a passphrase once.
    pub fn retarget(
        &mut self,
        g: &Global,
        flags: &SignFlags,
        dest: &ImageRef,
        staging: Option<LookasideUrl>,
    ) -> anyhow::Result<()> {
        let target = match staging {
            Some(base) => StagingTarget::Dir(base),
            None => StagingTarget::RegistriesD,
        };
        self.retarget_to(g, flags, dest, target)
    }

    fn retarget_to(
        &mut self,
        g: &Global,
        flags: &SignFlags,
        dest: &ImageRef,
        target: StagingTarget,
    ) -> anyhow::Result<()> {
        // Bundles too need use-sigstore-attachments: vouch's pull reads bundle
        // referrers only under that switch, as it does attachments.
        self.layout = match &self.sigstore_key {
            Some(_) => {
                require_attachments(g, dest)?;
                let cfg = trust::load_registries_d(g)?;
                sigstore_layout::resolve(flags.sigstore_layout, &cfg, &trust::docker_ref(dest)?)?
            }
            None => SigstoreLayout::Attachment,
        };
        self.staging = match (&self.key, target) {
            (None, _) | (_, StagingTarget::None) => None,
            (Some(_), StagingTarget::Dir(base)) => Some(Staging::File(base)),
            (Some(_), StagingTarget::RegistriesD) => Some(registries_d_staging(g, flags, dest)?),
        };
        self.identity = match &flags.sign_identity {
            Some(i) => parse_identity(i)?,
            None => dest.to_string(),
        };
        self.dest = dest.to_string();
        Ok(())
    }

    /// Whether sigstore signatures will be made (the writer then needs to
    /// push to the registry).
    pub fn signs_sigstore(&self) -> bool {
        self.sigstore_key.is_some()
    }

    /// The plan for a copy to `dest`: signatures are returned as blobs for
    /// the destination to store (a registry's staging, `dir:`'s
    /// `signature-N`), so no staging is resolved here. A destination with no
    /// docker reference needs `--sign-identity`, as in skopeo.
    pub fn for_copy(g: &Global, flags: &SignFlags, dest: &ImageName) -> anyhow::Result<Self> {
        if let ImageName::Docker(r) = dest {
            let mut plan = Self::targeting(g, flags, r, StagingTarget::None)?;
            plan.dest = dest.to_string();
            return Ok(plan);
        }
        let key = flags.key()?;
        let sigstore_key = flags.sigstore_key()?;
        if key.is_none() && sigstore_key.is_none() {
            return Ok(Self {
                key,
                staging: None,
                sigstore_key,
                layout: SigstoreLayout::Attachment,
                identity: String::new(),
                dest: dest.to_string(),
            });
        }
        anyhow::ensure!(
            flags.sigstore_layout.is_none_or(|l| l == SigstoreLayout::Attachment),
            "--sigstore-layout {}: Sigstore bundle referrers need a registry destination, not {dest}",
            flags.sigstore_layout.unwrap_or(SigstoreLayout::Attachment)
        );
        let identity = match &flags.sign_identity {
            Some(i) => parse_identity(i)?,
            None => {
                anyhow::bail!("Cannot determine canonical Docker reference for destination {dest}")
            }
        };
        Ok(Self {
            key,
            staging: None,
            sigstore_key,
            layout: SigstoreLayout::Attachment,
            identity,
            dest: dest.to_string(),
        })
    }

    /// [`SignPlan::for_copy`] for the next destination of a sync, keys kept
    /// open. A registry destination signs for its own reference; any other
    /// has none to sign for (sync takes no `--sign-identity`).
    pub fn retarget_for_copy(
        &mut self,
        g: &Global,
        flags: &SignFlags,
        dest: &ImageName,
    ) -> anyhow::Result<()> {
        match dest {
            ImageName::Docker(r) => {
                self.retarget_to(g, flags, r, StagingTarget::None)?;
                self.dest = dest.to_string();
                Ok(())
            }
            _ if !self.signs() => Ok(()),
            _ => {
                anyhow::bail!("Cannot determine canonical Docker reference for destination {dest}")
            }
        }
    }

    /// Whether any signature will be made.
    pub fn signs(&self) -> bool {
        self.key.is_some() || self.sigstore_key.is_some()
    }

    /// Signs `manifest` into blobs in the evaluator's vocabulary: the
    /// OpenPGP signature as is, sigstore ones `\0sigstore-json\n`-prefixed,
    /// bundles `\0sigstore-bundle\n`-prefixed.
    pub fn sign_blobs(&mut self, manifest: &[u8], p: &Progress) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let dest = &self.dest;
        if let Some(key) = self.key.as_mut() {
            out.push(
                key.sign_manifest(manifest, &self.identity)
                    .with_context(|| format!("signing {dest}"))?,
            );
        }
        let made = self.sign_sigstore(manifest, p)?;
        out.extend(made.sigstore.iter().map(SigstoreComponents::to_blob));
        out.extend(made.bundles.into_iter().map(|b| {
            let mut blob = BUNDLE_BLOB_PREFIX.to_vec();
            blob.extend(b);
            blob
        }));
        Ok(out)
    }

    /// Signs `manifest`: the GPG signature goes to the staging now (before
    /// the tag that makes it matter); the sigstore ones are returned for the
    /// writer to attach before it tags.
    pub fn sign(&mut self, manifest: &[u8], p: &Progress) -> anyhow::Result<Made> {
        let digest = Digest::of(manifest).to_string();
        let dest = &self.dest;
        if let (Some(key), Some(base)) = (self.key.as_mut(), self.staging.as_ref()) {
            let sig = key
                .sign_manifest(manifest, &self.identity)
                .with_context(|| format!("signing {dest}"))?;
            p.say("Storing signatures");
            runtime()?.block_on(base.store(&digest, sig))?;
        }
        self.sign_sigstore(manifest, p)
    }

    fn sign_sigstore(&self, manifest: &[u8], p: &Progress) -> anyhow::Result<Made> {
        let digest = Digest::of(manifest).to_string();
        let dest = &self.dest;
        let mut made = Made::default();
        if let Some(k) = &self.sigstore_key {
            if self.layout.attachment() {
                p.say("Creating signature: Signing image using a sigstore signature");
                made.sigstore.push(
                    k.sign(&self.identity, &digest)
                        .with_context(|| format!("signing {dest}"))?,
                );
            }
            // cosign 3's layout: the bundle JSON, the one layer of a referrer
            // artifact whose subject is the manifest, named with the identity
            // so signedIdentity rules can check it (cosign names only the digest).
            if self.layout.bundle() {
                p.say("Creating signature: Signing image using a Sigstore bundle");
                made.bundles.push(
                    sign_image_bundle(k, &digest, Some(&self.identity), &BTreeMap::new())
                        .with_context(|| format!("signing {dest}"))?,
                );
            }
        }
        Ok(made)
    }
}

/// Says what was attached in the registry for one signed manifest, in
/// push's words.
pub fn say_attached(
    p: &Progress,
    attachment: Option<&vouch_image::attach::write::Appended>,
    referrers: &[Digest],
) {
    if let Some(att) = attachment {
        p.say(format!(
            "Storing signatures: {} added to {} ({} already present)",
            att.added, att.tag, att.already_present
        ));
    }
    for r in referrers {
        p.say(format!("Storing signatures: Sigstore bundle referrer {r}"));
    }
}
