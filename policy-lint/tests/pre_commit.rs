//! The real `pre-commit` (from PyPI; scripts/setup.sh installs it) adds the
//! hook from this repository's `.pre-commit-hooks.yaml` by repository URL,
//! and a commit of a broken policy.json is blocked while a good one passes.
//! Everything lives in a temporary directory, pre-commit's cache included.

use std::path::Path;
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("running {cmd:?}: {e} (scripts/setup.sh installs pre-commit and git)")
    })
}

#[track_caller]
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pre_commit_blocks_a_bad_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_policy-lint"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let git = |dir: &Path| {
        let mut c = Command::new("git");
        c.current_dir(dir)
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", tmp.path().join("cache"))
            .env("HOME", tmp.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com");
        c
    };
    // The hook repository: this repository's .pre-commit-hooks.yaml, committed.
    let hooks = tmp.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.pre-commit-hooks.yaml"),
        hooks.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    ok(git(&hooks).args(["init", "-q", "-b", "main"]));
    ok(git(&hooks).args(["add", "."]));
    ok(git(&hooks).args(["commit", "-q", "-m", "hooks"]));
    let rev = ok(git(&hooks).args(["rev-parse", "HEAD"]))
        .trim()
        .to_string();

    // The user's repository, adding the hook by URL.
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    ok(git(&repo).args(["init", "-q", "-b", "main"]));
    std::fs::write(
        repo.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: file://{}\n    rev: {rev}\n    hooks:\n      - id: policy-lint\n",
            hooks.display()
        ),
    )
    .unwrap();
    let mut install = Command::new("pre-commit");
    install
        .current_dir(&repo)
        .env("PATH", &path)
        .env("PRE_COMMIT_HOME", tmp.path().join("cache"))
        .env("HOME", tmp.path())
        .arg("install");
    ok(&mut install);

    // A bad policy: the commit is refused, with policy-lint's diagnostic.
    std::fs::create_dir(repo.join("containers")).unwrap();
    let policy = repo.join("containers/policy.json");
    std::fs::write(&policy, "{\"default\": [{\"type\": \"acceptAll\"}]}\n").unwrap();
    ok(git(&repo).args(["add", "."]));
    let out = run(git(&repo).args(["commit", "-q", "-m", "bad policy"]));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "bad policy was committed:\n{text}");
    assert!(
        text.contains("containers/policy.json:1:14: error[PL007]"),
        "{text}"
    );
    assert!(!ok(git(&repo).args(["log", "--oneline", "--all"])).contains("bad policy"));

    // Fixed: the commit goes through.
    std::fs::write(&policy, "{\"default\": [{\"type\": \"reject\"}]}\n").unwrap();
    ok(git(&repo).args(["add", "."]));
    ok(git(&repo).args(["commit", "-q", "-m", "good policy"]));
}
