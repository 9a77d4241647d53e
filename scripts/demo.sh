#!/usr/bin/env bash
# The demo: start a real registry, build the busybox httpd fixture image,
# push it, remove it locally, pull it back, and list the store.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash scripts/setup.sh
cargo build --release --quiet
vouch=$here/target/release/vouch

work=$(mktemp -d /tmp/vouch-demo.XXXXXX)
regpid=
cleanup() {
  [[ -n $regpid ]] && kill "$regpid" 2>/dev/null && wait "$regpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

run() { printf '\n$ %s\n' "$*"; "$@"; }
v() { run "$vouch" --root "$work/store" "$@"; }

bash fixtures/build-httpd.sh "$work/httpd-rootfs.tar" >/dev/null
v import --change 'CMD ["/bin/httpd","-f","-v","-p","80","-h","/www"]' --change 'EXPOSE 80/tcp' \
  "$work/httpd-rootfs.tar" localhost/httpd
v images
v push --tls-verify=false localhost/httpd "127.0.0.1:$port/httpd:latest"
v rmi localhost/httpd
v images
v pull --tls-verify=false "127.0.0.1:$port/httpd:latest"
v images
run skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/httpd:latest" --format '{{.Digest}}'
echo
echo "demo: done (registry on 127.0.0.1:$port, store in $work/store, both removed on exit)"
