//! The "Examples:" blocks of `--help` (podman prints one per command), kept
//! in one table and attached to the clap definitions at start, so `--help`,
//! the man pages and the completions all come from one [`command`].

use clap::{Command, CommandFactory};

/// `vouch`'s command definition with its examples.
pub fn command() -> Command {
    EXAMPLES
        .iter()
        .fold(super::Cli::command(), |c, (path, text)| {
            attach(c, path, text)
        })
}

/// (subcommand path, the examples shown after its help).
const EXAMPLES: &[(&[&str], &str)] = &[
    (
        &["pull"],
        "Examples:
  vouch pull quay.io/libpod/alpine:latest
  vouch pull --tls-verify=false localhost:5000/app:1
  vouch pull --signature-policy /etc/containers/policy.json registry.example.com/app@sha256:…",
    ),
    (
        &["push"],
        "Examples:
  vouch push localhost/app:1 registry.example.com/app:1
  vouch push --sign-by release@example.com localhost/app:1 registry.example.com/app:1
  vouch push --sign-by-sigstore-private-key cosign.key localhost/app:1 docker://registry.example.com/app:1",
    ),
    (
        &["copy"],
        "Examples:
  vouch copy docker://quay.io/libpod/alpine:latest oci:alpine:latest
  vouch copy --all --sign-by release@example.com docker://src.example.com/app:1 docker://dst.example.com/app:1
  vouch copy --dest-tls-verify=false docker-archive:app.tar docker://localhost:5000/app:1",
    ),
    (
        &["sync"],
        "Examples:
  vouch sync --src docker --dest dir quay.io/libpod/alpine /srv/mirror
  vouch sync --src yaml --dest docker sync.yaml registry.example.com/mirror
  vouch sync --src docker --dest docker --keep-going --sign-by release@example.com src.example.com/app dst.example.com",
    ),
    (
        &["run"],
        "Examples:
  vouch run --rm quay.io/libpod/alpine echo hello
  vouch run -d --name web -p 8080:80 localhost/httpd
  vouch run -it --rm quay.io/libpod/alpine sh

Exit status: the container's, or 125 when vouch itself fails, 126 when the
command cannot be run, 127 when it is not found (as podman's).",
    ),
    (
        &["image", "sign"],
        "Examples:
  vouch image sign --sign-by release@example.com docker://registry.example.com/app:1
  vouch image sign --all --sign-by-sigstore-private-key cosign.key docker://registry.example.com/app:1
  vouch image sign -d /srv/sigstore --sign-by release@example.com docker://registry.example.com/app@sha256:…",
    ),
    (
        &["image", "trust", "show"],
        "Examples:
  vouch image trust show
  vouch image trust show --json registry.example.com
  vouch image trust show --raw --signature-policy ./policy.json",
    ),
    (
        &["image", "trust", "set"],
        "Examples:
  vouch image trust set -t signedBy -f /etc/pki/release.gpg registry.example.com/app
  vouch image trust set -t reject default
  vouch image trust set -t accept docker.io",
    ),
    (
        &["login"],
        "Examples:
  vouch login registry.example.com
  vouch login -u ci --password-stdin registry.example.com < token.txt
  vouch login --authfile ./auth.json --tls-verify=false localhost:5000",
    ),
    (
        &["sigstore-server"],
        "Examples:
  vouch sigstore-server --root /srv/sigstore --listen 127.0.0.1:8000
  vouch sigstore-server --root /srv/sigstore --tokens /etc/sigstore/tokens --require-signer release.gpg
  vouch sigstore-server hash-token --prefix ns/app --label ci < ci.token >> /etc/sigstore/tokens",
    ),
    (
        &["completion"],
        "Examples:
  vouch completion bash > /etc/bash_completion.d/vouch
  vouch completion zsh -f \"${fpath[1]}/_vouch\"
  vouch completion fish --no-desc > ~/.config/fish/completions/vouch.fish",
    ),
];

fn attach(c: Command, path: &[&str], text: &'static str) -> Command {
    match path {
        [] => c.after_help(text),
        [first, rest @ ..] => c.mut_subcommand(*first, |s| attach(s, rest, text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(c: &'a Command, path: &[&str]) -> Option<&'a Command> {
        match path {
            [] => Some(c),
            [first, rest @ ..] => find(c.find_subcommand(first)?, rest),
        }
    }

    #[test]
    fn every_example_names_its_command_and_is_attached() {
        let cmd = command();
        cmd.clone().debug_assert();
        for (path, text) in EXAMPLES {
            let sub = find(&cmd, path).unwrap_or_else(|| panic!("no command {path:?}"));
            assert_eq!(
                sub.get_after_help().map(|s| s.to_string()).as_deref(),
                Some(*text)
            );
            let prefix = format!("vouch {}", path.join(" "));
            for line in text.lines().filter(|l| l.starts_with("  ")) {
                assert!(line.contains(&prefix), "{path:?}: {line}");
            }
        }
    }

    #[test]
    fn every_example_parses() {
        for (path, text) in EXAMPLES {
            for line in text.lines().filter_map(|l| l.strip_prefix("  vouch ")) {
                // Shell syntax (pipes, redirections, quotes) is not ours to parse.
                let words: Vec<&str> = line
                    .split(['|', '<', '>'])
                    .next()
                    .unwrap_or(line)
                    .split_whitespace()
                    .collect();
                if words.iter().any(|w| w.contains('"') || w.contains('$')) {
                    continue;
                }
                let argv = std::iter::once("vouch").chain(words.iter().copied());
                if let Err(e) = command().try_get_matches_from(argv) {
                    panic!("{path:?}: `vouch {line}` does not parse: {e}");
                }
            }
        }
    }
}
