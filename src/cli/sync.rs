//! `vouch sync --src docker|dir|yaml --dest docker|dir SOURCE DESTINATION`:
//! skopeo 1.9.3's command and flags. Which images, where each goes and the
//! order of the copies are `vouch_copy::sync`'s; each copy is `vouch copy`'s
//! (policy first, signatures carried, tag last). This file maps flags,
//! reaches each registry with the right credentials, and prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;
use vouch_copy::engine::{Event, Report};
use vouch_copy::sync::config::SyncConfig;
use vouch_copy::sync::plan::{self, Job};
use vouch_copy::sync::sources::{self, RegistrySettings};
use vouch_copy::sync::{run as sync_run, DestKind, SourceKind, SyncError};
use vouch_copy::ImageName;
use vouch_image::auth::Credentials;
use vouch_image::registry::RegistryOptions;
use vouch_image::ImageRef;

use super::common::{extra_roots, runtime, Global};
use super::copy::{user_options, Copier, EndFlags};
use super::progress::{self, plain_line, Stream};
use super::signing::{SignFlags, SignPlan};
use super::trust;

/// Copies at once when nothing is signed (signing asks one key, one by one).
const DEFAULT_JOBS: u16 = 4;

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// SOURCE transport type: docker, dir or yaml.
    #[arg(short = 's', long = "src", default_value = "")]
    pub src: String,
    /// DESTINATION transport type: docker or dir.
    #[arg(short = 'd', long = "dest", default_value = "")]
    pub dest: String,
    /// Prefix each destination with the full source image path.
    #[arg(long)]
    pub scoped: bool,
    /// Copy every image of a manifest list, and the list.
    #[arg(short, long)]
    pub all: bool,
    /// Say what would be copied, copy nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Refuse any change to a manifest (vouch never changes one).
    #[arg(long = "preserve-digests")]
    pub preserve_digests: bool,
    /// Go on with the other images when one fails; exit non-zero at the end.
    #[arg(long = "keep-going")]
    pub keep_going: bool,
    /// Do not copy signatures from the source images.
    #[arg(long = "remove-signatures")]
    pub remove_signatures: bool,
    /// Copies in flight at once (1 when signing).
    #[arg(long, default_value_t = DEFAULT_JOBS, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Suppress progress output.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub ends: EndFlags,
    #[command(flatten)]
    pub sign: SignFlags,
    /// A repository, an image, a directory or a YAML file, per --src.
    pub source: String,
    /// A registry repository prefix or a directory, per --dest.
    pub destination: String,
}

/// One copy's progress lines, held until the copies before it have printed.
#[derive(Default)]
struct Held(Mutex<Vec<String>>);

impl Report for Held {
    fn event(&self, e: Event<'_>) {
        if let (Some(l), Ok(mut lines)) = (plain_line(&e), self.0.lock()) {
            lines.push(l);
        }
    }
}

impl Held {
    fn print(&self, quiet: bool) {
        if quiet {
            return;
        }
        let lines = self.0.lock().map(|l| l.clone()).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        for l in lines {
            let _ = writeln!(out, "{}", super::escape::escape(&l));
        }
    }
}

/// The options for a source registry: the `--src-*` flags, with a YAML
/// section's `tls-verify` and `credentials` in their place.
fn source_options(
    ends: &EndFlags,
    r: &ImageRef,
    settings: Option<&RegistrySettings>,
) -> anyhow::Result<RegistryOptions> {
    let Some(s) = settings else {
        return ends.source(&ImageName::Docker(r.clone()));
    };
    let credentials = match &s.credentials {
        Some((user, password)) => Credentials::Basic {
            user: user.clone(),
            password: password.clone(),
        },
        None => ends.source(&ImageName::Docker(r.clone()))?.credentials,
    };
    Ok(RegistryOptions {
        tls_verify: s.tls_verify,
        credentials,
        concurrency: 6,
        extra_roots: extra_roots(s.tls_verify, r, s.cert_dir.as_deref())?,
    })
}

fn say(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("{}", super::escape::escape(msg));
    }
}

pub fn run(g: &Global, a: SyncArgs) -> anyhow::Result<ExitCode> {
    let src_kind = SourceKind::parse(&a.src)?;
    let dest_kind = DestKind::parse(&a.dest)?;
    if src_kind == SourceKind::Dir && dest_kind == DestKind::Dir {
        anyhow::bail!("sync from 'dir' to 'dir' not implemented, consider using rsync instead");
    }
    anyhow::ensure!(
        a.sign.sign_identity.is_none(),
        "--sign-identity cannot be used with sync: each image is signed for its own destination"
    );
    let rt = runtime()?;
    // Loaded before any registry is asked, so a bad policy fails first.
    let gate = Arc::new(trust::gate(g, None)?);
    let options_for = |r: &ImageRef, s: Option<&RegistrySettings>| {
        source_options(&a.ends, r, s).map_err(|e| super::one_line(&e))
    };
    let (repos, unlisted) = rt.block_on(async {
        match src_kind {
            SourceKind::Docker => Ok((sources::docker(&a.source, &options_for).await?, Vec::new())),
            SourceKind::Dir => Ok((sources::dir(&a.source)?, Vec::new())),
            SourceKind::Yaml => {
                let cfg = SyncConfig::load(&PathBuf::from(&a.source))?;
                sources::yaml(&cfg, &options_for, a.keep_going).await
            }
        }
    })?;
    for e in &unlisted {
        eprintln!("Error processing repo, skipping: {}", super::error_line(e));
    }
    let mut repos = repos;
    let regd = trust::load_registries_d(g)?;
    let dropped = sources::drop_attachment_tags(&mut repos, |r| {
        vouch_verify::gate::use_sigstore_attachments(&regd, r.as_docker())
    });
    if dropped > 0 {
        say(
            a.quiet,
            &format!(
                "Skipping {dropped} sigstore signature tags: they travel with the images they sign"
            ),
        );
    }
    let jobs = plan::jobs(&repos, a.scoped, &a.destination, dest_kind)?;
    if a.dry_run {
        for j in &jobs {
            say(
                a.quiet,
                &format!(
                    "Would have copied image ref {}/{} from {} to {}",
                    j.index, j.count, j.source, j.dest
                ),
            );
        }
        say(
            a.quiet,
            &format!(
                "Would have synced {} images from {} sources",
                jobs.len(),
                repos.len()
            ),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let signer = match jobs.first() {
        Some(first) => Some(SignPlan::for_copy(g, &a.sign, &first.dest)?),
        None => None,
    };
    let signs = signer.as_ref().is_some_and(SignPlan::signs);
    let copier = Copier {
        g,
        ends: &a.ends,
        sign: &a.sign,
        opts: user_options(g, a.all, a.remove_signatures),
        quiet: a.quiet,
        progress: Stream::Stdout,
        insecure_source: false,
    };
    let signer = tokio::sync::Mutex::new(signer);
    let at_once = if signs { 1 } else { usize::from(a.jobs) };
    let quiet = a.quiet;
    // On a terminal every copy draws into one set of live bars; elsewhere
    // each copy's lines are held and printed in the source's order.
    let live: Option<Arc<dyn Report>> = (!quiet && progress::live(Stream::Stdout))
        .then(|| progress::for_output(false, Stream::Stdout));
    let copy_one = |job: &Job| {
        let (copier, gate, signer, ends) = (&copier, Arc::clone(&gate), &signer, &a.ends);
        let job = job.clone();
        let live = live.clone();
        async move {
            let held = Arc::new(Held::default());
            let report: Arc<dyn Report> = match live {
                Some(r) => r,
                None => held.clone(),
            };
            let result = async {
                let src_opts = match &job.image {
                    vouch_copy::sync::SourceImage::Docker(r) => {
                        source_options(ends, r, job.settings.as_ref())?
                    }
                    vouch_copy::sync::SourceImage::Dir(_) => RegistryOptions::default(),
                };
                if !signs {
                    return copier
                        .copy_with(&job.source, &job.dest, &mut None, gate, &src_opts, &report)
                        .await;
                }
                // One signer, one copy at a time (at_once is 1 when signing).
                let mut guard = signer.lock().await;
                if let Some(s) = guard.as_mut() {
                    s.retarget_for_copy(copier.g, copier.sign, &job.dest)?;
                }
                copier
                    .copy_with(&job.source, &job.dest, &mut guard, gate, &src_opts, &report)
                    .await
            }
            .await;
            match result {
                Ok(_) => Ok(held),
                Err(e) => Err((held, e)),
            }
        }
    };
    let summary = rt.block_on(sync_run::run(
        &jobs,
        at_once,
        a.keep_going,
        copy_one,
        |job, result| {
            say(
                quiet,
                &format!(
                    "Copying image ref {}/{} from {} to {}",
                    job.index, job.count, job.source, job.dest
                ),
            );
            match result {
                Ok(held) => held.print(quiet),
                Err((held, e)) => {
                    held.print(quiet);
                    if a.keep_going {
                        eprintln!(
                            "Error copying ref {:?}: {}",
                            job.source.to_string(),
                            super::one_line(e)
                        );
                    }
                }
            }
        },
    ));
    let is_rejection = |e: &anyhow::Error| e.chain().any(|c| c.is::<trust::PolicyRejected>());
    let mut failures = summary.failures;
    if summary.aborted {
        if let Some((i, (_, e))) = failures.pop() {
            let source = jobs
                .get(i)
                .map(|j| j.source.to_string())
                .unwrap_or_default();
            return Err(e).with_context(|| format!("Error copying ref {source:?}"));
        }
    }
    say(
        quiet,
        &format!(
            "Synced {} images from {} sources",
            summary.synced,
            repos.len()
        ),
    );
    if failures.is_empty() && unlisted.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let msg = "Sync failed due to previous reported error(s) for one or more images";
    if unlisted.is_empty() && failures.iter().all(|(_, (_, e))| is_rejection(e)) {
        return Err(trust::PolicyRejected(msg.into()).into());
    }
    Err(anyhow::Error::new(SyncError::Usage(msg.into())))
}
