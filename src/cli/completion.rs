//! `vouch completion SHELL` (podman's command, same flags) and the hidden
//! `vouch __generate-docs DIR` that packagers run: completions and man pages
//! of all three binaries, generated from the same clap definitions that
//! parse their arguments, so they cannot drift from the flags.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use super::Global;

/// The shells podman's `completion` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl From<CompletionShell> for Shell {
    fn from(s: CompletionShell) -> Self {
        match s {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        }
    }
}

/// Flags of `vouch completion` (podman's).
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  vouch completion bash > /etc/bash_completion.d/vouch
  vouch completion zsh -f \"${fpath[1]}/_vouch\"
  vouch completion fish --no-desc > ~/.config/fish/completions/vouch.fish

Packages install these already (docs/install.md).")]
pub struct CompletionArgs {
    /// Output the completion to file rather than stdout.
    #[arg(short, long)]
    pub file: Option<PathBuf>,
    /// Don't include descriptions in the completion output.
    #[arg(long = "no-desc")]
    pub no_desc: bool,
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// `vouch __generate-docs DIR`: writes `DIR/man/man1/*.1` and
/// `DIR/completions/{bash,zsh,fish}/…` (scripts/install.sh runs it).
pub const GENERATE_DOCS_ARG: &str = "__generate-docs";

/// The three binaries a package ships, each with the name it is run by.
fn binaries() -> [clap::Command; 3] {
    [
        super::examples::command(),
        sigstore_server::cli::Cli::command(),
        policy_lint::cli::Cli::command(),
    ]
}

pub fn completion(_g: &Global, a: CompletionArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = super::examples::command();
    if a.no_desc {
        cmd = without_descriptions(cmd);
    }
    let script = render(a.shell.into(), cmd);
    match &a.file {
        Some(path) => write_file(path, &script)?,
        None => std::io::stdout()
            .lock()
            .write_all(&script)
            .context("writing the completion script")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The entry point of [`GENERATE_DOCS_ARG`], given the arguments after it.
pub fn generate_docs_main(mut args: impl Iterator<Item = std::ffi::OsString>) -> ExitCode {
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("Error: {GENERATE_DOCS_ARG} takes one argument, the output directory");
        return ExitCode::from(2);
    };
    match generate_docs(Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {}", super::one_line(&e));
            ExitCode::from(2)
        }
    }
}

fn generate_docs(dir: &Path) -> anyhow::Result<()> {
    let man = dir.join("man/man1");
    std::fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    for cmd in binaries() {
        let name = cmd.get_name().to_string();
        clap_mangen::generate_to(cmd.clone(), &man)
            .with_context(|| format!("writing the man pages of {name} to {}", man.display()))?;
        for (shell, file) in completion_files(&name) {
            let path = dir.join("completions").join(file);
            write_file(&path, &render(shell, cmd.clone()))?;
        }
    }
    Ok(())
}

/// Where each shell's completion for binary `name` goes under
/// `completions/`, named as each shell's loader looks it up.
fn completion_files(name: &str) -> [(Shell, String); 3] {
    [
        (Shell::Bash, format!("bash/{name}")),
        (Shell::Zsh, format!("zsh/_{name}")),
        (Shell::Fish, format!("fish/{name}.fish")),
    ]
}

fn render(shell: Shell, mut cmd: clap::Command) -> Vec<u8> {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

/// `cmd` with every about and help text removed, recursively: what
/// completion scripts then show is only the names.
fn without_descriptions(cmd: clap::Command) -> clap::Command {
    cmd.about(None)
        .long_about(None)
        .mut_args(|a| a.help(None).long_help(None))
        .mut_subcommands(without_descriptions)
}

/// Writes through a temporary file and a rename, so a reader never sees
/// half a script. The file gets the usual 0666 & umask (a completion under
/// /etc must be readable by every user), not a private temp file's 0600.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binary_completes_its_subcommands() {
        for cmd in binaries() {
            let name = cmd.get_name().to_string();
            let bash = String::from_utf8(render(Shell::Bash, cmd.clone())).unwrap();
            assert!(bash.contains(&format!(" {name}\n")), "{name}: {bash}");
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                assert!(bash.contains(sub.get_name()), "{name} {}", sub.get_name());
            }
        }
    }

    #[test]
    fn no_desc_drops_the_help_texts() {
        let full = String::from_utf8(render(Shell::Fish, super::super::Cli::command())).unwrap();
        let bare = String::from_utf8(render(
            Shell::Fish,
            without_descriptions(super::super::Cli::command()),
        ))
        .unwrap();
        assert!(full.contains("Pull an image from a registry"), "{full}");
        assert!(!bare.contains("Pull an image from a registry"), "{bare}");
        assert!(bare.contains("pull"), "{bare}");
    }

    #[test]
    fn hidden_entry_points_are_not_offered() {
        let bash = String::from_utf8(render(Shell::Bash, super::super::Cli::command())).unwrap();
        assert!(!bash.contains(GENERATE_DOCS_ARG), "{bash}");
        assert!(!bash.contains("__cleanup"), "{bash}");
    }

    #[test]
    fn docs_are_written_for_all_three_binaries() {
        let dir = tempfile::tempdir().unwrap();
        generate_docs(dir.path()).unwrap();
        for page in [
            "vouch",
            "vouch-pull",
            "vouch-image-trust-show",
            "sigstore-server",
            "policy-lint",
        ] {
            let text =
                std::fs::read_to_string(dir.path().join(format!("man/man1/{page}.1"))).unwrap();
            assert!(text.contains(".TH"), "{page}: {text}");
        }
        let pull = std::fs::read_to_string(dir.path().join("man/man1/vouch-pull.1")).unwrap();
        assert!(pull.contains("Examples:"), "{pull}");
        for f in [
            "bash/vouch",
            "zsh/_sigstore-server",
            "fish/policy-lint.fish",
        ] {
            assert!(dir.path().join("completions").join(f).is_file(), "{f}");
        }
    }
}
