//! `vouch standalone-sign` / `standalone-verify`: skopeo's offline commands
//! for signing a manifest file in a pipeline and checking one.
//!
//! Both also take `--batch LISTFILE` (a vouch extension): the key or keyring
//! is loaded once and every line of LISTFILE is one signature, so signing or
//! checking hundreds of manifests costs one process, not hundreds
//! (docs/signing.md, bench/sign-verify.sh).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::Args;
use vouch_sign::sigstore::{read_passphrase_first_line, SigstoreSigningKey};
use vouch_sign::{Passphrase, SigningKey};
use vouch_verify::keyring::Keyring;
use vouch_verify::standalone::{verify_standalone, ExpectedKeys};

use super::common::Global;
use super::trust::PolicyRejected;

#[derive(Args, Debug)]
pub struct StandaloneSignArgs {
    /// Write the signature here (not with --batch).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// File holding the key's passphrase.
    #[arg(long = "passphrase-file")]
    pub passphrase_file: Option<PathBuf>,
    /// Sign with the secret key in this file instead of GnuPG's.
    #[arg(long = "key-file")]
    pub key_file: Option<PathBuf>,
    /// Make a sigstore signature with this (cosign-format) private key
    /// instead, written as a `dir:` image's `signature-N` holds it.
    #[arg(long = "sigstore-private-key", conflicts_with_all = ["key_file", "jobs"])]
    pub sigstore_private_key: Option<PathBuf>,
    /// With --sigstore-private-key: write a Sigstore bundle (cosign 3's
    /// image signature, its subject named DOCKER-REFERENCE) instead of the
    /// stored form.
    #[arg(long = "sigstore-bundle", requires = "sigstore_private_key")]
    pub sigstore_bundle: bool,
    /// Sign every line `MANIFEST DOCKER-REFERENCE OUTPUT` of this file
    /// (blank lines and `#` comments skipped) with one loaded key; the only
    /// positional argument is then the optional KEY-FINGERPRINT.
    #[arg(long)]
    pub batch: Option<PathBuf>,
    /// With --batch and --key-file: signing threads (default: one per CPU).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// MANIFEST DOCKER-REFERENCE [KEY-FINGERPRINT]; the key (fingerprint,
    /// key ID or e-mail) is GnuPG's and ignored with --key-file.
    #[arg(value_name = "ARGS", num_args = 0..=3)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StandaloneVerifyArgs {
    /// Public keys to verify with (default: the GnuPG keyring).
    #[arg(long = "public-key-file")]
    pub public_key_file: Vec<PathBuf>,
    /// Verify sigstore signatures (containers/image's stored form, as a
    /// `dir:` image's `signature-N`, or a Sigstore bundle as cosign 3
    /// attaches it) with these PEM public keys instead; the arguments are
    /// then MANIFEST DOCKER-REFERENCE SIGNATURE, or none with --batch.
    #[arg(long = "sigstore-public-key", conflicts_with = "public_key_file")]
    pub sigstore_public_key: Vec<PathBuf>,
    /// With --sigstore-public-key: require a transparency-log entry signed
    /// by one of these Rekor public keys (a policy's rekorPublicKeyPaths).
    #[arg(long = "sigstore-rekor-public-key", requires = "sigstore_public_key")]
    pub sigstore_rekor_public_key: Vec<PathBuf>,
    /// Verify every line `MANIFEST DOCKER-REFERENCE SIGNATURE` of this file
    /// (blank lines and `#` comments skipped) against one loaded keyring;
    /// the only positional argument is then KEY-FINGERPRINTS (none with
    /// --sigstore-public-key).
    #[arg(long)]
    pub batch: Option<PathBuf>,
    /// MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE; fingerprints
    /// are comma-separated, or `any` (with --public-key-file).
    #[arg(value_name = "ARGS", num_args = 0..=4)]
    pub args: Vec<String>,
}

fn read(p: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

/// Reads a manifest or signature file of at most 4 MiB (containers/image's
/// limits for both, docs/trust-formats.md §1.4), so a huge or endless file
/// is refused before it is buffered.
pub(super) fn read_capped(p: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    const LIMIT: usize = vouch_verify::bounds::MAX_SIGNATURE_BYTES;
    let file = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
    let mut bytes = Vec::new();
    file.take(LIMIT as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", p.display()))?;
    anyhow::ensure!(
        bytes.len() <= LIMIT,
        "reading {}: more than {LIMIT} bytes",
        p.display()
    );
    Ok(bytes)
}

/// The lines of a batch file: (line number, whitespace-separated fields),
/// each line holding exactly three fields.
pub(super) fn batch_lines(list: &Path) -> anyhow::Result<Vec<(usize, [String; 3])>> {
    let text =
        std::fs::read_to_string(list).with_context(|| format!("reading {}", list.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [a, b, c] = fields[..] else {
            anyhow::bail!(
                "{}:{}: expected 3 fields, found {}",
                list.display(),
                i + 1,
                fields.len()
            );
        };
        out.push((i + 1, [a.to_string(), b.to_string(), c.to_string()]));
    }
    Ok(out)
}

fn load_signing_key(a: &StandaloneSignArgs, spec: Option<&str>) -> anyhow::Result<SigningKey> {
    let pass = a
        .passphrase_file
        .as_deref()
        .map(Passphrase::read_file)
        .transpose()?;
    Ok(match (&a.key_file, spec) {
        (Some(f), _) => SigningKey::from_key_file(f, pass.as_ref())?,
        (None, Some(spec)) => SigningKey::from_gpg_agent(spec, None, pass.as_ref())?,
        (None, None) => anyhow::bail!("name a GnuPG key (KEY-FINGERPRINT) or --key-file"),
    })
}

pub fn sign(_g: &Global, a: StandaloneSignArgs) -> anyhow::Result<ExitCode> {
    if let Some(key) = &a.sigstore_private_key {
        return sign_sigstore(&a, key);
    }
    if let Some(list) = &a.batch {
        anyhow::ensure!(a.output.is_none(), "--output is per line with --batch");
        anyhow::ensure!(
            a.args.len() <= 1,
            "with --batch, the only argument is KEY-FINGERPRINT"
        );
        let lines = batch_lines(list)?;
        let spec = a.args.first().map(String::as_str);
        // Key files sign in-process, so lines are spread over worker
        // threads, each with its own copy of the key; gpg-agent serialises
        // its operations anyway, so it gets one.
        let jobs = match (&a.key_file, a.jobs) {
            (None, _) => 1,
            (Some(_), Some(j)) => j.max(1),
            (Some(_), None) => std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
        }
        .min(lines.len().max(1));
        let stop = std::sync::atomic::AtomicBool::new(false);
        let results: Vec<anyhow::Result<Vec<String>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..jobs)
                .map(|w| {
                    let (a, lines, stop) = (&a, &lines, &stop);
                    scope.spawn(move || -> anyhow::Result<Vec<String>> {
                        let mut key = load_signing_key(a, spec)?;
                        let mut written = Vec::new();
                        for (n, [manifest, reference, output]) in lines.iter().skip(w).step_by(jobs)
                        {
                            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                                break;
                            }
                            let at = || format!("{}:{n}", list.display());
                            let signed = read(Path::new(manifest)).with_context(at).and_then(|m| {
                                key.sign_manifest(&m, reference)
                                    .with_context(|| format!("{}: signing {reference}", at()))
                            });
                            let done = signed.and_then(|sig| {
                                vouch_image::outfile::write_output_unsynced(Path::new(output), &sig)
                                    .with_context(at)
                            });
                            if let Err(e) = done {
                                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                                return Err(e);
                            }
                            written.push(output.clone());
                        }
                        Ok(written)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|h| h.join().expect("signing worker panicked"))
                .collect()
        });
        let mut written = Vec::with_capacity(lines.len());
        for r in results {
            written.extend(r?);
        }
        // One flush at the end instead of an fsync per signature: the
        // first sync_data commits the journal for all of them.
        for output in written {
            std::fs::File::open(&output)
                .and_then(|f| f.sync_data())
                .with_context(|| format!("flushing {output}"))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (manifest, reference, spec) = match &a.args[..] {
        [m, r] => (m, r, None),
        [m, r, k] => (m, r, Some(k.as_str())),
        _ => anyhow::bail!(
            "usage: vouch standalone-sign -o OUTPUT MANIFEST DOCKER-REFERENCE [KEY-FINGERPRINT]"
        ),
    };
    let Some(output) = &a.output else {
        anyhow::bail!("--output (-o) is required");
    };
    let manifest = read(Path::new(manifest))?;
    let mut key = load_signing_key(&a, spec)?;
    let sig = key.sign_manifest(&manifest, reference)?;
    vouch_image::outfile::write_output(output, &sig)?;
    Ok(ExitCode::SUCCESS)
}

/// Sigstore signing, one line or a batch: the key is decrypted once (scrypt
/// dominates a single signature) and an ECDSA signature costs microseconds,
/// so one thread is enough.
fn sign_sigstore(a: &StandaloneSignArgs, key_file: &Path) -> anyhow::Result<ExitCode> {
    let lines: Vec<(String, [String; 3])> = match &a.batch {
        Some(list) => {
            anyhow::ensure!(a.output.is_none(), "--output is per line with --batch");
            anyhow::ensure!(
                a.args.is_empty(),
                "with --batch and --sigstore-private-key, there are no arguments"
            );
            batch_lines(list)?
                .into_iter()
                .map(|(n, f)| (format!("{}:{n}", list.display()), f))
                .collect()
        }
        None => {
            let ([m, r], Some(o)) = (&a.args[..], &a.output) else {
                anyhow::bail!("usage: vouch standalone-sign --sigstore-private-key KEY -o OUTPUT MANIFEST DOCKER-REFERENCE");
            };
            vec![(m.clone(), [m.clone(), r.clone(), o.display().to_string()])]
        }
    };
    let pass = match &a.passphrase_file {
        Some(f) => read_passphrase_first_line(f)?,
        None => super::passphrase_prompt::prompt(key_file)?,
    };
    let key = SigstoreSigningKey::load(key_file, &pass)?;
    for (at, [manifest, reference, output]) in &lines {
        let m = read(Path::new(manifest)).with_context(|| at.clone())?;
        let digest = vouch_image::manifest_digest::manifest_digest(&m)
            .with_context(|| format!("{at}: {manifest}"))?;
        let blob = if a.sigstore_bundle {
            vouch_sign::sigstore::sign_image_bundle(
                &key,
                &digest.to_string(),
                Some(reference),
                &Default::default(),
            )
            .with_context(|| format!("{at}: signing {reference}"))?
        } else {
            key.sign(reference, &digest)
                .with_context(|| format!("{at}: signing {reference}"))?
                .to_blob()
        };
        vouch_image::outfile::write_output_unsynced(Path::new(output), &blob)
            .with_context(|| at.clone())?;
    }
    for (_, [_, _, output]) in &lines {
        std::fs::File::open(output)
            .and_then(|f| f.sync_data())
            .with_context(|| format!("flushing {output}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn load_keyring(a: &StandaloneVerifyArgs, expected: &ExpectedKeys) -> anyhow::Result<Keyring> {
    if a.public_key_file.is_empty() {
        anyhow::ensure!(
            *expected != ExpectedKeys::Any,
            "\"any\" key fingerprint requires --public-key-file"
        );
        return Ok(Keyring::from_gnupg_home(None)?);
    }
    let mut k = Keyring::import(&read(&a.public_key_file[0])?);
    for f in &a.public_key_file[1..] {
        k.add(&read(f)?);
    }
    Ok(k)
}

pub(super) fn rejected(e: vouch_verify::standalone::StandaloneError) -> String {
    format!(
        "Error verifying signature: {}",
        super::one_line(&anyhow::Error::new(e))
    )
}

pub fn verify(_g: &Global, a: StandaloneVerifyArgs) -> anyhow::Result<ExitCode> {
    if !a.sigstore_public_key.is_empty() {
        return super::standalone_sigstore::verify(
            &a.sigstore_public_key,
            &a.sigstore_rekor_public_key,
            a.batch.as_deref(),
            &a.args,
        );
    }
    if let Some(list) = &a.batch {
        let [fprs] = &a.args[..] else {
            anyhow::bail!("with --batch, the only argument is KEY-FINGERPRINTS");
        };
        let lines = batch_lines(list)?;
        let expected = ExpectedKeys::parse(fprs);
        let keyring = load_keyring(&a, &expected)?;
        // Every line is judged; the exit code is the worst outcome:
        // 2 if a line could not be read, else 1 if one was rejected.
        let (mut errors, mut rejections) = (0usize, 0usize);
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        for (n, [manifest, reference, signature]) in lines {
            let at = format!("{}:{n}", list.display());
            let inputs = read_capped(Path::new(&manifest))
                .and_then(|m| Ok((m, read_capped(Path::new(&signature))?)));
            let (manifest, signature) = match inputs {
                Ok(x) => x,
                Err(e) => {
                    eprintln!(
                        "Error: {}: {}",
                        super::escape::escape(&at),
                        super::one_line(&e)
                    );
                    errors += 1;
                    continue;
                }
            };
            match verify_standalone(
                &manifest,
                &reference,
                &expected,
                &keyring,
                &signature,
                SystemTime::now(),
            ) {
                Ok(sig) => {
                    use std::io::Write as _;
                    writeln!(
                        stdout,
                        "Signature verified using fingerprint {}, digest {}",
                        sig.key_fingerprint(),
                        sig.manifest_digest()
                    )
                    .context("writing to stdout")?;
                }
                Err(e) => {
                    eprintln!("Error: {}: {}", super::escape::escape(&at), rejected(e));
                    rejections += 1;
                }
            }
        }
        use std::io::Write as _;
        stdout.flush().context("writing to stdout")?;
        return Ok(if errors > 0 {
            ExitCode::from(2)
        } else if rejections > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let [manifest, reference, fprs, signature] = &a.args[..] else {
        anyhow::bail!(
            "usage: vouch standalone-verify MANIFEST DOCKER-REFERENCE KEY-FINGERPRINTS SIGNATURE"
        );
    };
    let manifest = read_capped(Path::new(manifest))?;
    let signature = read_capped(Path::new(signature))?;
    let expected = ExpectedKeys::parse(fprs);
    let keyring = load_keyring(&a, &expected)?;
    match verify_standalone(
        &manifest,
        reference,
        &expected,
        &keyring,
        &signature,
        SystemTime::now(),
    ) {
        Ok(sig) => {
            println!(
                "Signature verified using fingerprint {}, digest {}",
                sig.key_fingerprint(),
                sig.manifest_digest()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(PolicyRejected(rejected(e)).into()),
    }
}
