//! Which scope keys each transport accepts in policy.json, and the namespaces
//! of a docker image that scopes are matched against (§5.3; containers/image
//! `*_transport.go` `ValidatePolicyConfigurationScope` and
//! `docker/policyconfiguration/naming.go`). Unknown transports accept any
//! scope, as upstream does.

use crate::docker_ref::{validate_digest, DockerRef};

/// Whether `scope` (not `""`, which every transport accepts) is valid for `transport`.
pub fn scope_is_valid(transport: &str, scope: &str) -> bool {
    if scope.is_empty() {
        return true;
    }
    match transport {
        "atomic" => atomic_scope(scope),
        "docker-daemon" => validate_digest(scope).is_err(),
        "docker-archive" | "tarball" => false,
        "dir" | "sif" | "oci" | "oci-archive" => clean_absolute_path(scope),
        "containers-storage" => storage_scope(scope),
        // docker: never validated; ostree and unknown transports: anything.
        _ => true,
    }
}

/// `^[^/]*(/[^:/]*(/[^:/]*(:[^:/]*)?)?)?$`: host[:port][/ns[/stream[:tag]]].
fn atomic_scope(scope: &str) -> bool {
    let mut parts = scope.splitn(3, '/');
    let _host = parts.next();
    let ns_ok = parts.next().is_none_or(|ns| !ns.contains(':'));
    let stream_ok = parts.next().is_none_or(|rest| {
        let (stream, tag) = rest.split_once(':').unwrap_or((rest, ""));
        !stream.contains('/') && !tag.contains([':', '/'])
    });
    ns_ok && stream_ok
}

/// Absolute, `filepath.Clean`-canonical, and not `/`.
fn clean_absolute_path(p: &str) -> bool {
    p.starts_with('/')
        && p != "/"
        && !p.ends_with('/')
        && p[1..]
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// `[driver@/root]` or `[/root]`, then optionally `name[:tag]`, `@digest`, `@id`.
fn storage_scope(scope: &str) -> bool {
    let Some(rest) = scope.strip_prefix('[') else {
        return false;
    };
    let Some(close) = rest.find(']').filter(|i| *i > 0) else {
        return false;
    };
    let spec = &rest[..close];
    let tail = &rest[close + 1..];
    let root_ok = match spec.split_once('@') {
        None => spec.starts_with('/'),
        Some((driver, root)) => !driver.is_empty() && root.starts_with('/'),
    };
    if !root_ok {
        return false;
    }
    if tail.is_empty() {
        return true;
    }
    let is_id =
        |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let fields: Vec<&str> = tail.splitn(3, '@').collect();
    match fields.as_slice() {
        [_] => true,
        [_, x] => is_id(x) || validate_digest(x).is_ok(),
        [_, d, id] => is_id(id) && validate_digest(d).is_ok(),
        _ => false,
    }
}

/// The namespaces searched after the exact identity, most specific first:
/// the repository, each parent namespace down to the host, then `*.domain`
/// wildcards of the port-stripped host (`localhost` yields none).
pub fn docker_namespaces(r: &DockerRef) -> Vec<String> {
    let mut out = Vec::new();
    let mut name = r.name();
    out.push(name.clone());
    while let Some(i) = name.rfind('/') {
        name.truncate(i);
        out.push(name.clone());
    }
    let host = r.domain().split(':').next().unwrap_or("");
    let mut rest = host;
    while let Some(i) = rest.find('.') {
        rest = &rest[i + 1..];
        out.push(format!("*.{rest}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_per_spec() {
        // §8.3 #74, #75.
        let ns = |s: &str| docker_namespaces(&DockerRef::parse_normalized(s).unwrap());
        assert_eq!(
            ns("yet.another.example.com:8443/ns/repo:tag"),
            [
                "yet.another.example.com:8443/ns/repo",
                "yet.another.example.com:8443/ns",
                "yet.another.example.com:8443",
                "*.another.example.com",
                "*.example.com",
                "*.com"
            ]
        );
        assert_eq!(
            ns("localhost/ns/repo:tag"),
            ["localhost/ns/repo", "localhost/ns", "localhost"]
        );
        assert_eq!(
            ns("repo:tag"),
            [
                "docker.io/library/repo",
                "docker.io/library",
                "docker.io",
                "*.io"
            ]
        );
    }

    #[test]
    fn scope_validity_per_transport() {
        // §8.5 #111–#112 and the §5.3 table.
        let h = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let valid = [
            ("docker", "A B C"),
            ("docker", "busybox"),
            ("nosuch", "anything at all"),
            ("ostree", "x"),
            ("dir", "/srv/images"),
            ("oci", "/srv/oci"),
            (
                "containers-storage",
                "[overlay@/var/lib/containers/storage]docker.io/library/busybox",
            ),
            ("containers-storage", "[/var/lib/containers/storage]"),
            ("containers-storage", &*format!("[/r]busybox@{h}")),
            (
                "containers-storage",
                &*format!("[/r]busybox@sha256:{h}@{h}"),
            ),
            ("docker-daemon", "docker.io/library/busybox:latest"),
            ("atomic", "registry.example.com:5000/ns/stream:tag"),
            ("docker-archive", ""),
        ];
        for (t, s) in valid {
            assert!(scope_is_valid(t, s), "{t} {s}");
        }
        let invalid = [
            ("dir", "relative/path"),
            ("dir", "/"),
            ("dir", "/srv/images/"),
            ("dir", "/srv/./images"),
            ("dir", "/srv//images"),
            ("docker-archive", "/x"),
            ("tarball", "/x"),
            ("docker-daemon", &*format!("sha256:{h}")),
            ("containers-storage", "docker.io/library/busybox"),
            ("containers-storage", "[relative]x"),
            ("containers-storage", "[]x"),
            ("containers-storage", "[/r]busybox@nothex"),
            ("atomic", "host/ns:x/stream"),
            ("atomic", "host/ns/stream/extra"),
        ];
        for (t, s) in invalid {
            assert!(!scope_is_valid(t, s), "{t} {s}");
        }
    }
}
