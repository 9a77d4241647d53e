//! Command-line front end shared by the `sigstore-server` binary and
//! `vouch sigstore-server`: flag definitions and the process-level glue
//! (runtime, signals, TLS files, logging). Uses anyhow like a binary does;
//! everything below it returns typed errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::activation;
use crate::api::{app, AppConfig, AppState};
use crate::check::{SignedBy, Structural, UploadCheck};
use crate::logbuf;
use crate::notify::notify;
use crate::path::valid_prefix;
use crate::server::{serve, ServeOptions, WorkerLoad};
use crate::store::Store;
use crate::tokens::{hash_token, Tokens};

/// Log line format on stderr.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Serving flags (everything but the directory, which `vouch` takes from its
/// global `--root`).
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free one; the chosen address is
    /// printed on stderr). Ignored when socket-activated (LISTEN_FDS).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Token file enabling uploads: lines `sha256:<hex> <prefix>[,<prefix>…] [label]`
    /// (see `sigstore-server hash-token`). Without it the server is read-only.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Accept only uploads that verify against the public keys in KEYRING.
    #[arg(long, value_name = "KEYRING")]
    pub require_signer: Option<PathBuf>,
    /// Cache-Control max-age of signature responses, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub max_age: u32,
    /// Largest upload body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body: usize,
    /// PEM certificate chain; serves HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has to send each request head (and a TLS handshake).
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a client has to send an upload body.
    #[arg(long, default_value_t = 10)]
    pub body_timeout: u64,
    /// Connections served at once; more wait in the listen queue.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    #[arg(long, default_value_t = 30)]
    pub shutdown_timeout: u64,
    /// Signature files kept in memory (0 disables the cache).
    #[arg(long, default_value_t = 65536)]
    pub cache_entries: usize,
    /// Memory for cached files, in MiB.
    #[arg(long, default_value_t = 32)]
    pub cache_mb: usize,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Do not log one line per request.
    #[arg(long)]
    pub no_access_log: bool,
    /// Worker threads (default: one per CPU).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Serve a containers/image lookaside directory over HTTP(S), with
/// authenticated write-once uploads.
///
/// Examples:
///   sigstore-server --root /srv/sigstore --listen 127.0.0.1:8000
///   sigstore-server --root /srv/sigstore --tokens /etc/sigstore/tokens --require-signer release.gpg
///   sigstore-server hash-token --prefix ns/app --label ci < ci.token >> /etc/sigstore/tokens
///
/// Exit codes: 0 after a clean shutdown, 2 on any error (printed on one line).
#[derive(Parser, Debug)]
#[command(
    name = "sigstore-server",
    version,
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// The lookaside directory to serve (the `lookaside-staging` directory of registries.d).
    #[arg(long, value_name = "DIR", required = true)]
    pub root: Option<PathBuf>,
    #[command(flatten)]
    pub cmd: ServerCommand,
}

/// The serving flags and the subcommands, defined once for both entry points
/// (`sigstore-server` and `vouch sigstore-server`), which differ only in
/// where the root directory comes from.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ServerCommand {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read a token on stdin and print its token-file line.
    HashToken {
        /// Repository prefix the token may publish under (repeatable; `*` = all).
        #[arg(long = "prefix", required = true)]
        prefixes: Vec<String>,
        /// Name of the publisher, shown in upload logs.
        #[arg(long)]
        label: Option<String>,
    },
}

impl ServerCommand {
    /// Runs the subcommand, or serves the directory `root` names; `root` is
    /// asked only when serving, since `hash-token` needs no directory.
    pub fn run(self, root: impl FnOnce() -> anyhow::Result<PathBuf>) -> anyhow::Result<()> {
        match self.command {
            Some(Command::HashToken { prefixes, label }) => {
                hash_token_cmd(&prefixes, label.as_deref())
            }
            None => run(&root()?, &self.server),
        }
    }
}

/// `main` of the standalone binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.root;
    let result = cli
        .cmd
        .run(|| root.ok_or_else(|| anyhow::anyhow!("--root is required")));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The stderr subscriber; `RUST_LOG` overrides the default (`info`, which
/// includes the access log). Installed per thread rather than globally, so
/// `vouch sigstore-server` (whose process already has vouch's subscriber)
/// logs exactly like the standalone binary.
fn log_dispatch(format: LogFormat) -> tracing::Dispatch {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal, and never under NO_COLOR (no-color.org).
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = !no_color && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(logbuf::Stderr);
    match format {
        LogFormat::Text => tracing::Dispatch::new(b.finish()),
        LogFormat::Json => tracing::Dispatch::new(b.json().flatten_event(true).finish()),
    }
}

fn hash_token_cmd(prefixes: &[String], label: Option<&str>) -> anyhow::Result<()> {
    let mut token = String::new();
    std::io::stdin()
        .read_line(&mut token)
        .context("reading the token from stdin")?;
    let token = token.trim();
    if token.len() < 16 {
        bail!("refusing a token shorter than 16 characters");
    }
    if let Some(p) = prefixes.iter().find(|p| *p != "*" && !valid_prefix(p)) {
        bail!("invalid --prefix {p:?}: expected a repository path such as ns/app, or *");
    }
    if let Some(l) =
        label.filter(|l| l.is_empty() || l.contains(|c: char| c.is_whitespace() || c == '#'))
    {
        bail!("invalid --label {l:?}: expected one word without '#'");
    }
    let line = format!(
        "{} {}{}",
        hash_token(token),
        prefixes.join(","),
        label.map(|l| format!(" {l}")).unwrap_or_default()
    );
    Tokens::parse(&line).map_err(|(_, problem)| anyhow::anyhow!("{problem}"))?;
    println!("{line}");
    Ok(())
}

/// Builds the state from flags, binds, and serves until SIGTERM/SIGINT.
pub fn run(root: &Path, a: &ServerArgs) -> anyhow::Result<()> {
    let dispatch = log_dispatch(a.log_format);
    let _main_guard = tracing::dispatcher::set_default(&dispatch);
    // First, while this is the only thread: it removes LISTEN_* variables.
    let inherited = activation::take().context("socket activation")?;
    raise_fd_limit();
    let store = Store::open(root, a.cache_entries, a.cache_mb.saturating_mul(1 << 20))?;
    let tokens = a.tokens.as_deref().map(Tokens::load).transpose()?;
    let check: Arc<dyn UploadCheck> = match &a.require_signer {
        None => Arc::new(Structural),
        Some(p) => {
            let blob =
                std::fs::read(p).with_context(|| format!("reading keyring {}", p.display()))?;
            let s = SignedBy::new(&blob)
                .with_context(|| format!("no public keys in {}", p.display()))?;
            tracing::info!(keys = ?s.fingerprints(), "uploads must be signed by these keys");
            Arc::new(s)
        }
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(tls_acceptor(c, k)?),
        _ => None,
    };
    let config = AppConfig {
        max_age: a.max_age,
        max_body: a.max_body,
        body_timeout: Duration::from_secs(a.body_timeout),
        access_log: !a.no_access_log,
    };
    let state = AppState::new(store, tokens, check, config);
    let opts = ServeOptions {
        header_timeout: Duration::from_secs(a.header_timeout.max(1)),
        grace: Duration::from_secs(a.shutdown_timeout),
        metrics: Some(state.metrics()),
        tls,
        ..ServeOptions::default()
    }
    .max_connections(a.max_connections);
    let workers = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let listeners = match inherited {
        Some(v) => v
            .into_iter()
            .map(|(l, name)| (l, format!(" (socket-activated: {name})")))
            .collect(),
        None => vec![(
            bind(a.listen).with_context(|| format!("listening on {}", a.listen))?,
            String::new(),
        )],
    };
    let mut addrs = Vec::with_capacity(listeners.len());
    for (l, how) in &listeners {
        l.set_nonblocking(true)?;
        addrs.push((l.local_addr()?, how.clone()));
    }

    // One single-threaded runtime per worker, all accepting from the same
    // socket (nginx's model): a request never hops threads, idle workers
    // pick up new connections first, and there is no work-stealing traffic —
    // each request is only a few microseconds of CPU. (Not SO_REUSEPORT:
    // that would let a second instance silently share the port.) With
    // several sockets (socket activation), every worker serves all of them.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = app(state);
    let mut handles = Vec::with_capacity(workers);
    let load = WorkerLoad::new(workers);
    // A worker that stops on its own (an error) ends the process too.
    let (exited_tx, mut exited_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    for i in 0..workers {
        let exited = exited_tx.clone();
        let mine = listeners
            .iter()
            .map(|(l, _)| l.try_clone())
            .collect::<std::io::Result<Vec<_>>>()
            .context("sharing the listening socket")?;
        let (app, opts, stop) = (app.clone(), opts.clone().worker(&load, i), stop_rx.clone());
        let dispatch = dispatch.clone();
        let h = std::thread::Builder::new()
            .name(format!("sigstore-worker-{i}"))
            .spawn(move || -> anyhow::Result<()> {
                let _guard = tracing::dispatcher::set_default(&dispatch);
                logbuf::enable_for_this_thread();
                let blocking_dispatch = dispatch.clone();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .on_thread_start(move || {
                        // Upload checks run on the blocking pool; lives as long as the thread.
                        std::mem::forget(tracing::dispatcher::set_default(&blocking_dispatch));
                    })
                    .build()
                    .context("starting the async runtime")?;
                let result = rt.block_on(async move {
                    tokio::spawn(async {
                        loop {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            logbuf::flush_this_thread();
                        }
                    });
                    let mut loops = Vec::with_capacity(mine.len());
                    for listener in mine {
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        let mut stop = stop.clone();
                        loops.push(serve(listener, app.clone(), opts.clone(), async move {
                            let _ = stop.wait_for(|s| *s).await;
                        }));
                    }
                    futures_util::future::try_join_all(loops).await.map(drop)
                });
                logbuf::flush_this_thread();
                let _ = exited.send(i);
                Ok(result?)
            })
            .context("starting worker threads")?;
        handles.push(h);
    }
    drop(listeners);
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    for (addr, how) in &addrs {
        eprintln!(
            "sigstore-server: serving {} on {scheme}://{addr}{how}",
            root.display()
        );
    }
    let urls: Vec<String> = addrs
        .iter()
        .map(|(a, _)| format!("{scheme}://{a}"))
        .collect();
    let status = format!("READY=1\nSTATUS=serving on {}\n", urls.join(" "));
    if let Err(e) = notify(&status) {
        tracing::warn!(error = %e, "could not notify the service manager (NOTIFY_SOCKET)");
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal runtime")?;
    rt.block_on(async {
        tokio::select! {
            () = shutdown_signal() => {}
            Some(i) = exited_rx.recv() => tracing::error!(worker = i, "a worker stopped; shutting down"),
        }
    });
    let _ = notify("STOPPING=1\n");
    let _ = stop_tx.send(true);
    let mut first_err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => first_err = first_err.or(Some(e)),
            Err(_) => first_err = first_err.or(Some(anyhow::anyhow!("a worker thread panicked"))),
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// A listening socket with a deep accept queue: std's `bind` asks for 128,
/// which a burst of new clients overflows (each overflow costs the client a
/// 1-second SYN retransmission). nginx asks for 511; the kernel caps the
/// value at `net.core.somaxconn` (4096 by default).
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    let fd = std::os::fd::IntoRawFd::into_raw_fd(sock);
    // SAFETY: `fd` is a bound socket we own.
    let listener = unsafe { <std::net::TcpListener as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: listen(2) on the descriptor `listener` owns.
    if unsafe { libc::listen(fd, 4096) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(listener)
}

/// Raises the soft descriptor limit to the hard one (nginx's
/// `worker_rlimit_nofile`): every connection is a descriptor, and the common
/// soft default of 1024 is below `--max-connections`.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a stack struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::warn!("could not raise the descriptor limit");
            }
        }
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading TLS certificates from {}", cert.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading TLS key from {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
