#!/usr/bin/env bash
# Installs vouch (with its per-container monitor, vouch-monitor, which vouch
# runs from its own directory), sigstore-server and policy-lint with their
# man pages, shell completions and systemd units (docs/install.md):
#
#   scripts/install.sh                      # build (release), install into /usr/local
#   PREFIX=/usr DESTDIR=/tmp/root scripts/install.sh
#   scripts/install.sh --no-build           # install binaries built already
#   scripts/install.sh --data-only          # man pages, completions, units only
#
# Variables (GNU's names): PREFIX (/usr/local), DESTDIR (staging root, empty),
# BINDIR ($PREFIX/bin), MANDIR ($PREFIX/share/man), SYSTEMDUNITDIR
# ($PREFIX/lib/systemd/system), PROFILE (cargo profile: release; dev reads
# target/debug), CARGO_TARGET_DIR (target).
#
# The man pages and completions come from the built vouch itself
# (`vouch __generate-docs`), from the same clap definitions that parse the
# flags. The systemd units are whatever dist/systemd/*.service and *.socket
# hold, with ExecStart pointed at $BINDIR.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
bins=1
for arg in "$@"; do
    case $arg in
    --no-build) build=0 ;;
    --data-only) bins=0 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "install.sh: unknown argument $arg (see --help)" >&2
        exit 2
        ;;
    esac
done

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BINDIR=${BINDIR:-$PREFIX/bin}
MANDIR=${MANDIR:-$PREFIX/share/man}
SYSTEMDUNITDIR=${SYSTEMDUNITDIR:-$PREFIX/lib/systemd/system}
PROFILE=${PROFILE:-release}
target=${CARGO_TARGET_DIR:-target}
case $PROFILE in
dev | debug) outdir=$target/debug ;;
*) outdir=$target/$PROFILE ;;
esac
# Debian's zsh reads packages' completions from vendor-completions, and a
# local administrator's from site-functions.
if [[ $PREFIX == /usr ]]; then
    zshdir=$PREFIX/share/zsh/vendor-completions
else
    zshdir=$PREFIX/share/zsh/site-functions
fi

# The binaries a package ships; add a new workspace binary here and to
# [package.metadata.deb] assets in Cargo.toml. COMMANDS are those a user
# runs, with a man page and completions; vouch-monitor is started by vouch
# from the same directory (BINDIR), so it is installed there too.
BINARIES=(vouch vouch-monitor sigstore-server policy-lint)
COMMANDS=(vouch sigstore-server policy-lint)

if ((build)); then
    # Not PREFIX nor DESTDIR: sequoia-ipc compiles $PREFIX in (option_env!)
    # to find GnuPG, so a build under PREFIX=/opt/x would look for gpg there.
    env -u PREFIX -u DESTDIR cargo build --profile "$PROFILE" -p vouch -p sigstore-server -p policy-lint --bins
    # The monitor lives as long as its container: linked statically (glibc's
    # static-pie), it maps no shared libc and stays under 2 MB resident
    # (docs/runtime.md, "Monitor memory"). Cargo has no per-binary flag for
    # that, so it is relinked on its own, last.
    env -u PREFIX -u DESTDIR cargo rustc --profile "$PROFILE" -p vouch --bin vouch-monitor -- -C target-feature=+crt-static
fi
for b in "${BINARIES[@]}"; do
    [[ -x $outdir/$b ]] || {
        echo "install.sh: $outdir/$b is not built (run without --no-build, or set PROFILE)" >&2
        exit 2
    }
done

gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
"$outdir/vouch" __generate-docs "$gen"

if ((bins)); then
    for b in "${BINARIES[@]}"; do
        install -D -m 755 "$outdir/$b" "$DESTDIR$BINDIR/$b"
    done
fi

install -d -m 755 "$DESTDIR$MANDIR/man1"
install -m 644 "$gen"/man/man1/*.1 "$DESTDIR$MANDIR/man1/"

for b in "${COMMANDS[@]}"; do
    install -D -m 644 "$gen/completions/bash/$b" "$DESTDIR$PREFIX/share/bash-completion/completions/$b"
    install -D -m 644 "$gen/completions/zsh/_$b" "$DESTDIR$zshdir/_$b"
    install -D -m 644 "$gen/completions/fish/$b.fish" "$DESTDIR$PREFIX/share/fish/vendor_completions.d/$b.fish"
done

shopt -s nullglob
units=(dist/systemd/*.service dist/systemd/*.socket)
if ((${#units[@]})); then
    install -d -m 755 "$DESTDIR$SYSTEMDUNITDIR"
    for u in "${units[@]}"; do
        # The units name /usr/bin; an install elsewhere runs its own binaries.
        sed -E "s#^(ExecStart[A-Za-z]*=[-@+!:]*)/usr/bin/#\1$BINDIR/#" "$u" >"$gen/unit"
        install -m 644 "$gen/unit" "$DESTDIR$SYSTEMDUNITDIR/$(basename "$u")"
    done
fi

echo "install.sh: installed into ${DESTDIR}${PREFIX}" >&2
