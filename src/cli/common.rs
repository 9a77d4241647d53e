//! Flags shared by several commands, and the helpers that turn them into
//! library options.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use vouch_image::registry::RegistryOptions;
use vouch_image::{auth, store};
use vouch_image::{ImageRef, Store};

/// Global flags (podman's names).
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Root directory of the image store.
    #[arg(long, global = true, default_value = super::DEFAULT_ROOT, env = "VOUCH_ROOT")]
    pub root: PathBuf,
    /// Directory for volatile container state (OCI runtime state, console sockets).
    #[arg(
        long,
        global = true,
        default_value = "/run/vouch",
        env = "VOUCH_RUNROOT"
    )]
    pub runroot: PathBuf,
    /// Log messages above specified level (trace, debug, info, warn, warning, error, fatal, panic).
    #[arg(long = "log-level", global = true, default_value = "warn", value_parser = LOG_LEVELS, hide_possible_values = true)]
    pub log_level: String,
    /// policy.json to enforce (default: ~/.config/containers/policy.json, then /etc/containers/policy.json).
    #[arg(long, global = true)]
    pub policy: Option<PathBuf>,
    /// Accept any image, ignoring policy.json (skopeo's flag).
    #[arg(long = "insecure-policy", global = true)]
    pub insecure_policy: bool,
    /// Directory of registries.d/*.yaml (default /etc/containers/registries.d).
    #[arg(long = "registries.d", global = true)]
    pub registries_d: Option<PathBuf>,
    /// Largest uncompressed size of one layer, holes of sparse files included (e.g. 512m, 10GiB).
    #[arg(long = "max-layer-size", global = true, env = "VOUCH_MAX_LAYER_SIZE", default_value = "64GiB", value_parser = store::parse_size)]
    pub max_layer_size: u64,
    /// Largest uncompressed size of all layers of one image together.
    #[arg(long = "max-image-size", global = true, env = "VOUCH_MAX_IMAGE_SIZE", default_value = "128GiB", value_parser = store::parse_size)]
    pub max_image_size: u64,
    /// Pick manifest-list instances for this OS instead of the host's (skopeo's flag).
    #[arg(long = "override-os", global = true)]
    pub override_os: Option<String>,
    /// Pick manifest-list instances for this architecture (skopeo's flag).
    #[arg(long = "override-arch", global = true)]
    pub override_arch: Option<String>,
    /// Pick manifest-list instances for this architecture variant (skopeo's flag).
    #[arg(long = "override-variant", global = true)]
    pub override_variant: Option<String>,
}

impl Global {
    pub fn store(&self) -> anyhow::Result<Store> {
        let limits = store::Limits {
            max_layer_bytes: self.max_layer_size,
            max_image_bytes: self.max_image_size,
        };
        Store::open(&self.root)
            .map(|s| s.with_limits(limits))
            .with_context(|| format!("opening store {}", self.root.display()))
    }
}

/// Registry flags of pull and push (podman's).
#[derive(Args, Debug, Clone)]
pub struct RegistryFlags {
    /// Require HTTPS and verify certificates (`--tls-verify=false` for a plain-HTTP registry).
    #[arg(long = "tls-verify", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: Option<bool>,
    /// Credentials USER:PASSWORD for the registry.
    #[arg(long)]
    pub creds: Option<String>,
    /// Path of a containers-auth.json file.
    #[arg(long, env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Directory of CA certificates (`*.crt`) for the registry, in place of
    /// its certs.d directory.
    #[arg(long = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
    /// Suppress progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

impl RegistryFlags {
    pub fn options(&self, r: &ImageRef) -> anyhow::Result<RegistryOptions> {
        let credentials = auth::resolve(
            self.creds.as_deref(),
            self.authfile.as_deref(),
            r.registry(),
            r.repository(),
        )?;
        let tls_verify = self.tls_verify.unwrap_or(true);
        Ok(RegistryOptions {
            tls_verify,
            credentials,
            concurrency: 3,
            extra_roots: extra_roots(tls_verify, r, self.cert_dir.as_deref())?,
        })
    }
}

/// The CAs to trust for `r`'s registry over TLS: `cert_dir`, else its
/// certs.d directory (containers/image's lookup); none over plain HTTP.
pub fn extra_roots(
    tls_verify: bool,
    r: &ImageRef,
    cert_dir: Option<&std::path::Path>,
) -> anyhow::Result<Vec<Vec<u8>>> {
    if !tls_verify {
        return Ok(Vec::new());
    }
    Ok(vouch_image::certs::roots_for(r.registry(), cert_dir)?)
}

/// podman's `--log-level` values (logrus's levels).
pub const LOG_LEVELS: [&str; 8] = [
    "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic",
];

/// The tracing filter for a podman log level. vouch logs nothing at
/// logrus's fatal or panic levels (a failure is the `Error:` line, printed
/// whatever the level, as podman prints its), so those show no log at all.
pub fn tracing_directive(level: &str) -> &'static str {
    match level {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "error" => "error",
        "fatal" | "panic" => "off",
        _ => "warn",
    }
}

/// Logs on stderr at `--log-level`; `VOUCH_LOG` (an `EnvFilter` directive
/// such as `vouch_copy=debug`) overrides it for debugging.
pub fn init_tracing(g: &Global) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VOUCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(tracing_directive(&g.log_level)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr())
        .try_init();
}

/// Colour only on a terminal, and never with `NO_COLOR` set (no-color.org:
/// any non-empty value): escape codes in a log file or a CI capture are noise
/// that hides what was said.
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal as _;
    !no_color() && std::io::stderr().is_terminal()
}

/// Whether `NO_COLOR` asks for no colour (no-color.org: any non-empty value).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// A tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting async runtime")
}

/// Prints podman-style progress on stderr unless quiet; lines carry names
/// from input, so they are escaped.
pub struct Progress {
    pub quiet: bool,
}

impl Progress {
    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", super::escape::escape(msg.as_ref()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_log_levels_map_to_tracing_filters() {
        let got: Vec<&str> = LOG_LEVELS.iter().map(|l| tracing_directive(l)).collect();
        assert_eq!(
            got,
            ["trace", "debug", "info", "warn", "warn", "error", "off", "off"]
        );
        for d in got {
            tracing_subscriber::EnvFilter::try_new(d).unwrap();
        }
    }
}
