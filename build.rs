//! Links the `vouch` executable at a fixed address (no PIE), as Debian
//! builds podman, skopeo and runc. A position-independent executable has
//! every pointer in its read-only data (~670 KB here: vtables, string
//! tables) rewritten by the dynamic loader at start-up, which turns those
//! pages into private memory in *every* process. The per-container monitor
//! is this binary and lives as long as its container, so that start-up cost
//! is paid once per running container; without PIE the pages stay shared,
//! clean file pages and are only read in when used.

fn main() {
    println!("cargo:rustc-link-arg-bin=vouch=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
