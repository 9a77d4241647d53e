//! `vouch copy SRC DST`: skopeo's command and flags. The engine
//! (`vouch_copy::engine`) checks the source against the policy before the
//! destination is opened, carries signatures, and tags last; this file maps
//! flags to its options and prints skopeo's progress lines.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use vouch_copy::docker::DockerDestConfig;
use vouch_copy::engine::{self, Options};
use vouch_copy::open::{self, DestContext, SourceContext};
use vouch_copy::{CopyError, ImageName};
use vouch_image::auth;
use vouch_image::registry::RegistryOptions;
use vouch_image::{manifest, ImageRef};

use super::common::{extra_roots, runtime, Global, Progress};
use super::progress::Stream;
use super::signing::{registries_d_staging, SignFlags, SignPlan};
use super::trust;

/// skopeo's per-end registry flags.
#[derive(Args, Debug, Clone, Default)]
pub struct EndFlags {
    /// Require HTTPS and verify certificates of the source registry.
    #[arg(long = "src-tls-verify", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub src_tls_verify: Option<bool>,
    /// Require HTTPS and verify certificates of the destination registry.
    #[arg(long = "dest-tls-verify", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub dest_tls_verify: Option<bool>,
    /// Credentials USER[:PASSWORD] for the source registry.
    #[arg(long = "src-creds", visible_alias = "screds")]
    pub src_creds: Option<String>,
    /// Credentials USER[:PASSWORD] for the destination registry.
    #[arg(long = "dest-creds", visible_alias = "dcreds")]
    pub dest_creds: Option<String>,
    /// auth.json for both ends (containers-auth.json).
    #[arg(long, env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// auth.json for the source registry.
    #[arg(long = "src-authfile")]
    pub src_authfile: Option<PathBuf>,
    /// auth.json for the destination registry.
    #[arg(long = "dest-authfile")]
    pub dest_authfile: Option<PathBuf>,
    /// Access the source registry anonymously.
    #[arg(long = "src-no-creds")]
    pub src_no_creds: bool,
    /// Access the destination registry anonymously.
    #[arg(long = "dest-no-creds")]
    pub dest_no_creds: bool,
    /// CA certificates (`*.crt`) for the source registry, in place of its certs.d.
    #[arg(long = "src-cert-dir")]
    pub src_cert_dir: Option<PathBuf>,
    /// CA certificates (`*.crt`) for the destination registry, in place of its certs.d.
    #[arg(long = "dest-cert-dir")]
    pub dest_cert_dir: Option<PathBuf>,
}

impl EndFlags {
    fn options(
        r: &ImageRef,
        tls: Option<bool>,
        creds: Option<&str>,
        authfile: Option<&std::path::Path>,
        no_creds: bool,
        cert_dir: Option<&std::path::Path>,
    ) -> anyhow::Result<RegistryOptions> {
        anyhow::ensure!(
            !(no_creds && creds.is_some()),
            "--src-creds/--dest-creds and --src-no-creds/--dest-no-creds cannot be used together"
        );
        let credentials = if no_creds {
            auth::Credentials::Anonymous
        } else {
            auth::resolve(creds, authfile, r.registry(), r.repository())?
        };
        let tls_verify = tls.unwrap_or(true);
        Ok(RegistryOptions {
            tls_verify,
            credentials,
            concurrency: 6,
            extra_roots: extra_roots(tls_verify, r, cert_dir)?,
        })
    }

    pub fn source(&self, name: &ImageName) -> anyhow::Result<RegistryOptions> {
        match name {
            ImageName::Docker(r) => Self::options(
                r,
                self.src_tls_verify,
                self.src_creds.as_deref(),
                self.src_authfile.as_deref().or(self.authfile.as_deref()),
                self.src_no_creds,
                self.src_cert_dir.as_deref(),
            ),
            _ => Ok(RegistryOptions::default()),
        }
    }

    pub fn dest(&self, name: &ImageName) -> anyhow::Result<RegistryOptions> {
        match name {
            ImageName::Docker(r) => Self::options(
                r,
                self.dest_tls_verify,
                self.dest_creds.as_deref(),
                self.dest_authfile.as_deref().or(self.authfile.as_deref()),
                self.dest_no_creds,
                self.dest_cert_dir.as_deref(),
            ),
            _ => Ok(RegistryOptions::default()),
        }
    }
}

/// skopeo's `--multi-arch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MultiArch {
    /// The image for this system's platform (or the --override-* one).
    System,
    /// Every image of the list, and the list.
    All,
    /// The list alone, without its images.
    IndexOnly,
}

#[derive(Args, Debug)]
pub struct CopyArgs {
    #[command(flatten)]
    pub ends: EndFlags,
    #[command(flatten)]
    pub sign: SignFlags,
    /// Copy every image of a manifest list, and the list (same as --multi-arch=all).
    #[arg(short, long)]
    pub all: bool,
    /// Which images of a manifest list to copy.
    #[arg(long = "multi-arch", value_enum, conflicts_with = "all")]
    pub multi_arch: Option<MultiArch>,
    /// Do not copy signatures from the source.
    #[arg(long = "remove-signatures")]
    pub remove_signatures: bool,
    /// Refuse any change to the manifest (vouch never changes one).
    #[arg(long = "preserve-digests")]
    pub preserve_digests: bool,
    /// Write the digest of the copied manifest to this file.
    #[arg(long)]
    pub digestfile: Option<PathBuf>,
    /// Suppress progress output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Source image (`transport:reference`).
    pub source: String,
    /// Destination image (`transport:reference`).
    pub destination: String,
}

/// The parsed name, or skopeo's one-line refusal naming the argument.
pub fn parse_name(what: &str, s: &str) -> anyhow::Result<ImageName> {
    ImageName::parse(s).map_err(|e| anyhow::anyhow!("Invalid {what} name {s}: {e}"))
}

/// The platform a copy picks from a list.
pub fn platform(os: Option<&str>, arch: Option<&str>, variant: Option<&str>) -> manifest::Platform {
    let mut p = manifest::wanted_platform(None, arch);
    if let Some(os) = os {
        p.os = os.to_string();
    }
    p.variant = variant.map(str::to_string);
    p
}

/// The engine options from the user's flags: `--all`, `--remove-signatures`
/// and the global `--override-*`.
pub fn user_options(g: &Global, all: bool, remove_signatures: bool) -> Options {
    Options {
        all,
        remove_signatures,
        platform: platform(
            g.override_os.as_deref(),
            g.override_arch.as_deref(),
            g.override_variant.as_deref(),
        ),
        concurrency: 6,
        blob_locks: Default::default(),
    }
}

/// A copy error as the exit code wants it: the policy's "no" is exit 1.
pub fn copy_err(e: CopyError) -> anyhow::Error {
    match e {
        CopyError::Rejected(r) => {
            trust::PolicyRejected(super::one_line(&anyhow::Error::new(r))).into()
        }
        other => other.into(),
    }
}

/// Everything one copy needs besides the two names.
pub struct Copier<'a> {
    pub g: &'a Global,
    pub ends: &'a EndFlags,
    pub sign: &'a SignFlags,
    pub opts: Options,
    pub quiet: bool,
    /// skopeo reports on stdout, podman's push on stderr.
    pub progress: Stream,
    /// The source is the user's own store, pushed as `vouch push` pushes:
    /// no policy applies to it (the destination's readers judge it).
    pub insecure_source: bool,
}

impl Copier<'_> {
    /// Copies `src` to `dst`, returning the digest the destination names.
    pub async fn copy(
        &self,
        src: &ImageName,
        dst: &ImageName,
        plan_signer: &mut Option<SignPlan>,
    ) -> anyhow::Result<Option<vouch_image::Digest>> {
        let gate = Arc::new(trust::gate(self.g, None)?);
        let src_opts = self.ends.source(src)?;
        let report = super::progress::for_output(self.quiet, self.progress);
        self.copy_with(src, dst, plan_signer, gate, &src_opts, &report)
            .await
    }

    /// [`Copier::copy`] with the policy gate, source registry options and
    /// progress report given: a sync builds the gate once and reaches each
    /// YAML registry its own way.
    pub async fn copy_with(
        &self,
        src: &ImageName,
        dst: &ImageName,
        plan_signer: &mut Option<SignPlan>,
        gate: Arc<vouch_verify::gate::Gate>,
        src_opts: &RegistryOptions,
        report: &Arc<dyn engine::Report>,
    ) -> anyhow::Result<Option<vouch_image::Digest>> {
        let g = self.g;
        let store_cell = std::sync::OnceLock::new();
        let store = || -> Result<Arc<vouch_image::Store>, CopyError> {
            if let Some(s) = store_cell.get() {
                return Ok(Arc::clone(s));
            }
            let s = Arc::new(g.store().map_err(|e| CopyError::Store {
                image: g.root.display().to_string(),
                detail: super::one_line(&e),
            })?);
            Ok(Arc::clone(store_cell.get_or_init(|| s)))
        };
        let source = open::source(
            src,
            SourceContext {
                registry: src_opts,
                gate: gate.clone(),
                store: &store,
            },
        )
        .await
        .map_err(copy_err)?;
        let accept_all = vouch_verify::policy::Policy::insecure_accept_anything();
        let policy = if self.insecure_source {
            &accept_all
        } else {
            gate.policy()
        };
        let mut plan = engine::plan(source.as_ref(), policy, &self.opts)
            .await
            .map_err(copy_err)?;
        let p = Progress { quiet: self.quiet };
        if let Some(signer) = plan_signer.as_mut().filter(|s| s.signs()) {
            tokio::task::block_in_place(|| plan.sign_with(|m| signer.sign_blobs(&m.bytes, &p)))?;
        }
        let needs_staging = plan
            .manifests
            .iter()
            .flat_map(|m| m.carried.iter().chain(m.new.iter()))
            .any(|s| s.first() != Some(&0));
        let docker = match dst {
            ImageName::Docker(r) => {
                let cfg = trust::load_registries_d(g)?;
                let docker_ref = trust::docker_ref(r)?;
                let staging = if needs_staging {
                    Some(registries_d_staging(g, self.sign, r)?)
                } else {
                    None
                };
                DockerDestConfig {
                    staging,
                    sigstore_attachments: cfg.use_sigstore_attachments(&docker_ref),
                    registries_d: trust::registries_d_dir(g),
                }
            }
            _ => DockerDestConfig {
                staging: None,
                sigstore_attachments: false,
                registries_d: String::new(),
            },
        };
        let dst_opts = self.ends.dest(dst)?;
        let mut dest = open::dest(
            dst,
            DestContext {
                registry: &dst_opts,
                docker,
                store: &store,
            },
        )
        .await
        .map_err(copy_err)?;
        let copied = engine::transfer(&plan, source.as_ref(), dest.as_mut(), &self.opts, report)
            .await
            .map_err(copy_err)
            .with_context(|| format!("copying {src} to {dst}"))?;
        Ok(copied.digest)
    }
}

pub fn run(g: &Global, a: CopyArgs) -> anyhow::Result<ExitCode> {
    let src = parse_name("source", &a.source)?;
    let dst = parse_name("destination", &a.destination)?;
    let multi = match (a.all, a.multi_arch) {
        (true, _) => MultiArch::All,
        (false, Some(m)) => m,
        (false, None) => MultiArch::System,
    };
    anyhow::ensure!(
        multi != MultiArch::IndexOnly,
        "--multi-arch=index-only is not supported: a list without its images would name images the destination lacks"
    );
    let mut signer = Some(SignPlan::for_copy(g, &a.sign, &dst)?);
    let copier = Copier {
        g,
        ends: &a.ends,
        sign: &a.sign,
        opts: user_options(g, multi == MultiArch::All, a.remove_signatures),
        quiet: a.quiet,
        progress: Stream::Stdout,
        insecure_source: false,
    };
    let digest = runtime()?.block_on(copier.copy(&src, &dst, &mut signer))?;
    if let (Some(f), Some(d)) = (&a.digestfile, digest) {
        vouch_image::outfile::write_output(f, d.to_string().as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
