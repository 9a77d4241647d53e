//! `--format` Go templates against Debian's podman 4.3.1: the same image
//! (pushed by vouch to a test registry, pulled by both), the same container
//! name, port and command, then templates taken from podman's own docs and
//! tests. Where the values can be equal the outputs must be equal; where
//! they cannot (container IDs, PIDs, addresses, ages) both must have the
//! same form.

mod common;

use std::path::Path;

use common::{free_port, peer_ok, podman, ContainerGuard, Registry, Vouch};

/// How vouch's output is judged against podman's.
enum Check {
    /// Byte for byte.
    Same,
    /// Both match this regex (`{image}`, `{port}`, `{age}` stand for the
    /// values).
    Form(&'static str),
}

/// One template: where podman has it, the command line (`{name}`,
/// `{image}` filled in), and the check.
struct Case {
    source: &'static str,
    args: &'static [&'static str],
    check: Check,
}

const AGE: &str = r"(Less than a second|1 second|\d+ seconds|About a minute)";

fn cases() -> Vec<Case> {
    use Check::*;
    vec![
        // ---- ps: podman's psReporter fields ----
        Case {
            source: "test/system/040-ps.bats:54",
            args: &["ps", "--format", "{{.ID}}"],
            check: Form(r"^[0-9a-f]{12}\n$"),
        },
        Case {
            source: "test/system/050-stop.bats:50",
            args: &["ps", "--format", "{{.Names}}"],
            check: Same,
        },
        Case {
            source: "test/system/030-run.bats:111",
            args: &["ps", "--format", "{{.Names}}--{{.ID}}"],
            check: Form(r"^fmtc--[0-9a-f]{12}\n$"),
        },
        Case {
            source: "test/system/030-run.bats:903",
            args: &["ps", "-a", "--format", "{{.Image}}--{{.Names}}"],
            check: Same,
        },
        Case {
            source: "test/system/080-pause.bats:29",
            args: &["ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}"],
            check: Form(r"^[0-9a-f]{12} fmtc Up {age} ago\n$"),
        },
        Case {
            source: "test/system/050-stop.bats:54",
            args: &["ps", "-a", "--format", "{{.Names}}--{{.Status}}"],
            check: Form(r"^fmtc--Up {age} ago\n$"),
        },
        Case {
            source: "docs/source/markdown/podman-ps.1.md:156",
            args: &[
                "ps",
                "-a",
                "--format",
                "{{.ID}}  {{.Image}}  {{.Labels}}  {{.Mounts}}",
            ],
            check: Form(r"^[0-9a-f]{12}  {image}  map\[\]  \[\]\n$"),
        },
        Case {
            source: "test/e2e/ps_test.go:289",
            args: &[
                "ps",
                "-a",
                "--format",
                "table {{.ID}} {{.Image}} {{.ImageID}} {{.Labels}}",
            ],
            check: Form(
                r"^CONTAINER ID  IMAGE +IMAGE ID      LABELS\n[0-9a-f]{12}  {image}  [0-9a-f]{12}  map\[\]\n$",
            ),
        },
        Case {
            source: "test/e2e/ps_test.go:184",
            args: &["ps", "-a", "--format", "table {{.Names}}"],
            check: Same,
        },
        Case {
            source: "test/e2e/ps_test.go:599",
            args: &["ps", "-q", "-a", "--format", "{{ .Names }}"],
            check: Same,
        },
        Case {
            source: "test/e2e/ps_test.go:517",
            args: &["ps", "--format", "{{.Ports}}"],
            check: Same,
        },
        Case {
            source: "test/e2e/ps_test.go:462",
            args: &["ps", "-a", "--format", "{{.Command}}"],
            check: Same,
        },
        Case {
            source: "test/e2e/ps_test.go:638",
            args: &["ps", "-a", "--format", "{{.RunningFor}}"],
            check: Form(r"^{age} ago\n$"),
        },
        Case {
            source: "test/e2e/ps_test.go:849",
            args: &["ps", "--all", "--format", "{{ .Networks }}"],
            check: Form(r"^[a-z][a-z0-9_-]*\n$"),
        },
        // ---- images: podman's imageReporter fields ----
        Case {
            source: "docs/source/markdown/podman-images.1.md:147",
            args: &["images", "--format", "table {{.ID}} {{.Repository}} {{.Tag}}"],
            check: Same,
        },
        Case {
            source: "test/system/120-load.bats:13",
            args: &["images", "-a", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"],
            check: Same,
        },
        Case {
            source: "test/system/120-load.bats:71",
            args: &["images", "--format", "{{.Repository}}:{{.Tag}}"],
            check: Same,
        },
        Case {
            source: "test/system/010-images.bats:67",
            args: &["images", "--format", "{{ .History }}"],
            check: Same,
        },
        Case {
            source: "test/e2e/images_test.go:107",
            args: &[
                "images",
                "--format",
                "{{.ID}}\t{{.Created}}\t{{.CreatedAt}}\t{{.CreatedSince}}\t{{.CreatedTime}}",
            ],
            check: Form(
                r"^[0-9a-f]{12}\t(\d+ \w+|About an? \w+|Less than a second) ago\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+\t(\d+ \w+|About an? \w+|Less than a second) ago\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+\n$",
            ),
        },
        // ---- container inspect: libpod's InspectContainerData ----
        Case {
            source: "docs/source/markdown/podman-inspect.1.md:130",
            args: &["inspect", "{name}", "--format", "{{.ImageName}}"],
            check: Same,
        },
        Case {
            source: "test/system/030-run.bats:701",
            args: &[
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
                "{name}",
            ],
            check: Same,
        },
        Case {
            source: "test/system/030-run.bats:915",
            args: &["inspect", "--format", "{{.Id}}", "{name}"],
            check: Form(r"^[0-9a-f]{64}\n$"),
        },
        Case {
            source: "test/system/030-run.bats:207",
            args: &["inspect", "--format", "{{.State.ConmonPid}}", "{name}"],
            check: Form(r"^[1-9]\d*\n$"),
        },
        Case {
            source: "test/e2e/create_staticip_test.go:94",
            args: &[
                "inspect",
                "--format",
                "{{.NetworkSettings.IPAddress}}",
                "{name}",
            ],
            check: Form(r"^\d+\.\d+\.\d+\.\d+\n$"),
        },
        Case {
            source: "test/e2e/inspect_test.go:57",
            args: &["inspect", "-f", "{{ .Config.Env }}", "{name}"],
            check: Form(r"^\[(\S+=\S* )*PATH=\S+( \S+=\S*)*\]\n$"),
        },
        Case {
            source: "test/e2e/inspect_test.go:461",
            args: &[
                "inspect",
                "--format",
                "{{json .NetworkSettings.Ports}}",
                "{name}",
            ],
            check: Same,
        },
        // ---- image inspect: podman's inspect.ImageData ----
        Case {
            source: "docs/source/markdown/podman-image-inspect.1.md:97",
            args: &["image", "inspect", "--format", "{{ .Id }}", "{image}"],
            check: Same,
        },
        Case {
            source: "test/system/120-load.bats:106",
            args: &["image", "inspect", "--format", "{{.Digest}}", "{image}"],
            check: Same,
        },
        Case {
            source: "test/system/020-tag.bats:47",
            args: &["image", "inspect", "{image}", "--format", "{{.RepoTags}}"],
            check: Same,
        },
        Case {
            source: "test/system/030-run.bats:559",
            args: &["inspect", "{image}", "--format", "{{.ID}} {{.Digest}}"],
            check: Same,
        },
        Case {
            source: "test/e2e/images_test.go:404",
            args: &["inspect", "--format", "{{.RootFS.Layers}}", "{image}"],
            check: Same,
        },
        Case {
            source: "docs/source/markdown/podman-inspect.1.md:140",
            args: &["image", "inspect", "--format", "size: {{.Size}}", "{image}"],
            check: Form(r"^size: [1-9]\d*\n$"),
        },
        // ---- podman's template functions (containers/common
        // pkg/report/template.go DefaultFuncs) and Go's builtins ----
        Case {
            source: "containers/common pkg/report DefaultFuncs: join",
            args: &["inspect", "-f", "{{join .Config.Cmd \" \"}}", "{name}"],
            check: Same,
        },
        Case {
            source: "containers/common pkg/report DefaultFuncs: json",
            args: &["inspect", "-f", "{{json .Config.Cmd}}", "{name}"],
            check: Same,
        },
        Case {
            source: "containers/common pkg/report DefaultFuncs: upper, lower, title",
            args: &[
                "inspect",
                "-f",
                "{{upper .Name}} {{lower \"ABC\"}} {{title .State.Status}}",
                "{name}",
            ],
            check: Same,
        },
        Case {
            source: "containers/common pkg/report DefaultFuncs: truncate",
            args: &["ps", "--format", "{{truncate .Image 9}}"],
            check: Same,
        },
        Case {
            source: "Go text/template: range, index, printf, if",
            args: &[
                "inspect",
                "-f",
                "{{range .Config.Cmd}}{{.}}-{{end}} {{index .Config.Cmd 0}} {{printf \"%s:%v\" .Name .State.Running}} {{if .State.Running}}up{{else}}down{{end}}",
                "{name}",
            ],
            check: Same,
        },
        Case {
            source: "Go text/template: a Go slice printed with %v",
            args: &["inspect", "-f", "{{.Config.Cmd}}{{\"\\n\"}}{{.Path}}", "{name}"],
            check: Same,
        },
    ]
}

const NAME: &str = "fmtc";

/// Runs every case with `run` (vouch or podman), filling in the names.
fn outputs(
    run: &dyn Fn(&[String]) -> std::process::Output,
    image: &str,
    cases: &[Case],
) -> Vec<String> {
    cases
        .iter()
        .map(|c| {
            let args: Vec<String> = c
                .args
                .iter()
                .map(|a| a.replace("{name}", NAME).replace("{image}", image))
                .collect();
            let out = run(&args);
            assert!(
                out.status.success(),
                "{args:?} ({}) failed:\n{}",
                c.source,
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        })
        .collect()
}

/// Removes podman's containers and images of a throwaway store on drop.
struct PodmanGuard<'a>(&'a Path);

impl Drop for PodmanGuard<'_> {
    fn drop(&mut self) {
        let _ = podman(self.0).args(["rm", "-f", "-a"]).output();
        let _ = podman(self.0).args(["rmi", "-f", "-a"]).output();
    }
}

#[test]
fn templates_print_what_podman_prints() {
    require_runtime!();
    require_tools!("podman");
    let reg = Registry::start();
    let v = Vouch::new();
    let _g = ContainerGuard(&v);
    v.import_httpd("localhost/fmt-httpd");
    let image = format!("{}/fmt/httpd:1", reg.host());
    v.ok(&["push", "--tls-verify=false", "localhost/fmt-httpd", &image]);
    v.ok(&["rmi", "localhost/fmt-httpd"]);
    v.ok(&["pull", "-q", "--tls-verify=false", &image]);
    let port = free_port();
    let publish = format!("{port}:80/tcp");
    let cases = cases();

    // vouch first, then podman on the same port.
    v.ok(&["run", "-d", "--name", NAME, "-p", &publish, &image]);
    let ours = outputs(&|a| v.cmd().args(a).output().unwrap(), &image, &cases);
    v.ok(&["rm", "-f", NAME]);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let _pg = PodmanGuard(dir);
    peer_ok(podman(dir).args(["pull", "-q", "--tls-verify=false", &image]));
    peer_ok(podman(dir).args(["run", "-d", "--name", NAME, "-p", &publish, &image]));
    let theirs = outputs(&|a| podman(dir).args(a).output().unwrap(), &image, &cases);
    peer_ok(podman(dir).args(["rm", "-f", NAME]));

    let mut bad = Vec::new();
    for ((c, o), t) in cases.iter().zip(&ours).zip(&theirs) {
        let ok = match &c.check {
            Check::Same => o == t,
            Check::Form(re) => {
                let re = re
                    .replace("{image}", &regex::escape(&image))
                    .replace("{port}", &port.to_string())
                    .replace("{age}", AGE);
                let re = regex::Regex::new(&re).unwrap();
                if !re.is_match(t) {
                    bad.push(format!(
                        "{}: podman's own output {t:?} misses the form {re}",
                        c.source
                    ));
                }
                re.is_match(o)
            }
        };
        if !ok {
            bad.push(format!(
                "{} {:?}:\n  vouch:  {o:?}\n  podman: {t:?}",
                c.source, c.args
            ));
        }
    }
    assert!(cases.len() >= 20);
    assert!(
        bad.is_empty(),
        "{} of {} templates differ:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

#[test]
fn bad_templates_are_one_error_line_naming_the_template() {
    let v = Vouch::new();
    v.import_httpd("localhost/fmt-bad");
    for args in [
        &["ps", "--format", "{{.ID"][..],
        &["images", "--format", "{{range .Names}}"],
        &[
            "image",
            "inspect",
            "localhost/fmt-bad",
            "-f",
            "{{.NoSuchField}}",
        ],
        &["images", "--format", "{{.NoSuchField}}"],
    ] {
        let out = v.output(args);
        let err = common::assert_fails(2, &format!("{args:?}"), &out);
        let template = args[args.len() - 1];
        assert!(
            err.contains(&format!("{template:?}")),
            "{args:?}: the error names the template:\n{err}"
        );
    }
    // A template over no rows is not an error (nothing to evaluate), as in podman.
    assert_eq!(v.ok(&["ps", "-a", "--format", "{{.NoSuchField}}"]), "");
}

/// Both spellings of JSON still print JSON.
#[test]
fn json_format_keeps_working() {
    let v = Vouch::new();
    v.import_httpd("localhost/fmt-json");
    for f in ["json", "{{json .}}"] {
        let out = v.ok(&["images", "--format", f]);
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j[0]["Names"][0], "localhost/fmt-json:latest", "{f}: {out}");
    }
    let out = v.ok(&["image", "inspect", "-f", "json", "localhost/fmt-json"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j[0]["RepoTags"][0], "localhost/fmt-json:latest");
    assert_eq!(
        v.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "localhost/fmt-json:latest\n"
    );
}
