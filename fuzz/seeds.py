#!/usr/bin/env python3
"""Regenerate the committed seed corpora of the fuzz targets (fuzz/corpus/).

Usage: python3 fuzz/seeds.py [SHARED_FIXTURES]

SHARED_FIXTURES defaults to ../shared/fixtures/containers-image beside the
repository (the upstream containers/image fixtures, see its README). Seeds
are copied from there and from this repository, or crafted below. Each seed
is named for what it is; reproducers of fixed crashes are committed next to
them as `crash-<what>` and are never regenerated (this script only adds).
Tarballs are trimmed to their content plus the two-block trailer, so the
whole corpus stays a few hundred KB.
"""

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")
HEX = "0123456789abcdef" * 4
DIGEST = "sha256:" + HEX
ESCAPE = "/tmp/vouch-fuzz-escape"  # the unpack target's absolute sentinel
UP = "../" * 8


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def copy(target, name, path):
    with open(path, "rb") as f:
        put(target, name, f.read())


def files(root, pred):
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            p = os.path.join(dirpath, n)
            if pred(p):
                yield p


def slug(root, path):
    return os.path.relpath(path, root).replace("/", "_")


# --- tarballs ---------------------------------------------------------------

def tar_bytes(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data else None)
        end = t.offset
    return buf.getvalue()[: end + 1024]


def info(name, kind=tarfile.REGTYPE, linkname="", data=b"", mode=0o644, size=None):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = linkname
    ti.size = len(data) if size is None else size
    ti.mode = mode
    ti.mtime = 1_600_000_000
    ti.uname = ti.gname = "root"
    return ti, data


def d(name, mode=0o755):
    return info(name, tarfile.DIRTYPE, mode=mode)


def sym(name, target):
    return info(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def hard(name, target):
    return info(name, tarfile.LNKTYPE, linkname=target)


def f(name, data=b"x\n", mode=0o644):
    return info(name, data=data, mode=mode)


def zstd(data):
    try:
        return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def unpack_seeds():
    layers = {
        "plain": [d("etc"), f("etc/hostname", b"box\n"), f("bin/sh", b"#!\n", 0o755)],
        "whiteouts": [d("a"), f("a/.wh.gone"), d("b"), f("b/.wh..wh..opq"), f(".wh.top")],
        "links": [f("t", b"target\n"), hard("h", "t"), sym("s", "t"), sym("abs", "/t")],
        "replace": [d("x"), f("x/y"), f("x"), sym("x", "elsewhere"), d("x")],
        "dev": [info("null", tarfile.CHRTYPE), info("fifo", tarfile.FIFOTYPE)],
        "dotdot": [f(UP + "outside/canary", b"owned\n")],
        "abs-dotdot": [f("/" + UP + "tmp/vouch-fuzz-escape/owned")],
        "sym-outside": [sym("o", "../outside"), f("o/owned")],
        "sym-abs": [sym("e", ESCAPE), f("e/owned"), d("e/dir")],
        "sym-parent": [d("a"), sym("a/b", UP + "tmp/vouch-fuzz-escape"), f("a/b/owned")],
        "sym-replace": [d("d"), f("d/ok"), sym("d", ESCAPE), f("d/owned")],
        "hard-outside": [hard("h", "../outside/canary")],
        "hard-abs": [hard("h", ESCAPE + "/canary")],
        "hard-through-sym": [sym("s", ESCAPE), hard("h", "s/canary")],
        "whiteout-dotdot": [d("a"), f("a/.wh..."), f("a/.wh.."), f(".wh.")],
        "root-replace": [d("./"), f("./"), sym(".", "/")],
        "sparse-like": [info("big", data=b"", size=0)],
        "modes": [d("locked", 0o000), f("locked/f", b"x", 0o4755), d("sticky", 0o1777)],
    }
    for name, entries in layers.items():
        raw = tar_bytes(entries)
        put("unpack", name + ".tar", raw)
        if name in ("plain", "whiteouts", "sym-abs"):
            put("unpack", name + ".tar.gz", gzip.compress(raw, mtime=0))
            z = zstd(raw)
            if z:
                put("unpack", name + ".tar.zst", z)
    put("unpack", "pax.tar", tar_bytes([f("p" * 150 + "/long" * 10), sym("l" * 120, "t" * 200)], tarfile.PAX_FORMAT))
    put("unpack", "gnu-long.tar", tar_bytes([f("g" * 300), hard("h" * 200, "g" * 300)], tarfile.GNU_FORMAT))
    # A real GNU sparse file (the 1 GiB claim of issue 11, scaled down).
    try:
        tmp = os.path.join(HERE, "target", "seed-sparse")
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.seek(1 << 20)
            fh.write(b"end")
        out = subprocess.run(["tar", "-c", "--sparse", "-C", os.path.dirname(tmp), "-f", "-", "seed-sparse"],
                             capture_output=True, check=True).stdout
        os.unlink(tmp)
        while out.endswith(b"\0" * 512):
            out = out[:-512]
        put("unpack", "gnu-sparse.tar", out + b"\0" * 1024)
    except (OSError, subprocess.CalledProcessError):
        pass


# A real CRIU core image of a container's PID 1 (fixtures/criu/README.md).
REAL_CORE = os.path.join(REPO, "fixtures", "criu", "core-1.img")
IMG_COMMON_MAGIC, CORE_MAGIC, CREDS_MAGIC = 0x54564319, 0x55053847, 0x54023547


def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_uint(tag, v):
    return pb_varint(tag << 3) + pb_varint(v)


def pb_msg(tag, body):
    return pb_varint(tag << 3 | 2) + pb_varint(len(body)) + body


def criu_img(magic, body):
    return (IMG_COMMON_MAGIC.to_bytes(4, "little") + magic.to_bytes(4, "little")
            + len(body).to_bytes(4, "little") + body)


def creds_body(eff, secbits=0, nnp=1):
    b = b"".join(pb_uint(t, 0) for t in range(1, 9))
    for tag in (9, 10, 11, 12, 19):  # inh, prm, eff, bnd, amb
        for w in eff if tag != 9 else (0, 0):
            b += pb_uint(tag, w)
    return b + pb_uint(13, secbits) + pb_msg(15, b"unconfined") + pb_uint(18, nnp)


def criu_seeds():
    with open(REAL_CORE, "rb") as fh:
        real = fh.read()
    put("criu_image", "real-core.img", real)
    default = (0x800405FB, 0)
    put("criu_image", "creds.img", criu_img(CREDS_MAGIC, creds_body(default)))
    put("criu_image", "core-widened.img", criu_img(CORE_MAGIC, pb_uint(1, 1) + pb_msg(5, pb_msg(10, creds_body((0xFFFFFFFF, 0x1FF), 0x14, 0)))))
    put("criu_image", "core-no-creds.img", criu_img(CORE_MAGIC, pb_msg(5, b"")))
    put("criu_image", "core-no-thread-core.img", criu_img(CORE_MAGIC, pb_uint(1, 1)))
    return real


def checkpoint_seeds():
    real_core = criu_seeds()
    config = {
        "id": HEX, "name": "fuzzed", "image": "localhost/fuzz:latest", "imageId": HEX,
        "command": ["/bin/sh"], "env": [], "network": "none",
    }
    dump = {
        "vouchCheckpointVersion": 1, "id": HEX, "name": "fuzzed",
        "rootfsImageID": HEX, "rootfsImageName": "localhost/fuzz:latest",
        "createdTime": "2026-01-01T00:00:00Z", "vouch": config, "checkpoint": {},
    }
    podman = {"rootfsImageName": "localhost/fuzz:latest", "rootfsImageID": HEX, "id": HEX,
              "name": "fuzzed", "spec": {"process": {"args": ["/bin/sh"]}}}
    spec = {"ociVersion": "1.0.2", "process": {"args": ["/bin/sh"], "env": ["PATH=/bin"]}, "root": {"path": "rootfs"}}
    base = [
        d("checkpoint"),
        f("checkpoint/inventory.img", b"\x00" * 16),
        f("checkpoint/core-1.img", real_core),
        f("checkpoint/descriptors.json", b"[]"),
        f("spec.dump", json.dumps(spec).encode()),
        f("network.status", b"null"),
        f("deleted.files", b'["etc/gone"]'),
        f("ctr.log", b"2026-01-01T00:00:00Z stdout F hello\n"),
        f("rootfs-diff.tar", tar_bytes([f("new", b"n\n")])),
    ]
    vouch = tar_bytes([f("config.dump", json.dumps(dump).encode())] + base)
    put("checkpoint_archive", "vouch.tar", vouch)
    put("checkpoint_archive", "vouch.tar.gz", gzip.compress(vouch, mtime=0))
    z = zstd(vouch)
    if z:
        put("checkpoint_archive", "vouch.tar.zst", z)
    put("checkpoint_archive", "podman.tar", tar_bytes([f("config.dump", json.dumps(podman).encode())] + base))
    put("checkpoint_archive", "version-2.tar", tar_bytes([f("config.dump", b'{"vouchCheckpointVersion":2}')] + base))
    put("checkpoint_archive", "evil.tar", tar_bytes([
        f("config.dump", json.dumps(dump).encode()), sym("spec.dump", "/etc/passwd"),
        f("../escape"), f("/abs"), d("checkpoint"), f("checkpoint/a/b"),
        hard("checkpoint/inventory.img", "/etc/shadow"), f("config.dump"),
    ]))


# --- copy transports, auth files, remote inspect -----------------------------

IMAGE_NAMES = [
    "docker://busybox", "docker://localhost:5000/a/b:1", "docker://quay.io/x/y@" + DIGEST,
    "docker://docker://alpine", "docker:busybox", "dir:/tmp/d", "dir:relative", "dir:/x:y",
    "oci:/tmp/l:v1", "oci:/tmp/l", "oci:/tmp/l:", "oci:l:a:b", "oci::x", "oci:/l:ref/with:colon@x",
    "oci-archive:a.tar:ref", "oci-archive:/a.tar", "docker-archive:/a.tar:busybox:latest",
    "docker-archive:a.tar:@0", "docker-archive:a.tar:quay.io/a@" + DIGEST, "vouch-store:busybox",
    "vouch-store:localhost:5000/x:1", "containers-storage:x", "ftp:x", "busybox", ":", "dir:",
]


def b64(s):
    import base64
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()


def auth_seeds():
    up = b64("u:p")
    docs = {
        "docker-io": {"auths": {"docker.io": {"auth": up}}},
        "hub-url": {"auths": {"https://index.docker.io/v1/": {"auth": up, "email": "x@y"}}},
        "hub-names": {"auths": {"registry-1.docker.io": {"auth": b64("a:1")}, "index.docker.io": {"auth": b64("b:2")}}},
        "namespaced": {"auths": {"r:5000": {"auth": b64("a:1")}, "r:5000/ns": {"auth": b64("b:2")},
                                 "r:5000/ns/repo": {"auth": b64("c:3")}}},
        "token": {"auths": {"quay.io": {"auth": b64("<token>:"), "identitytoken": "tok"}}},
        "helpers": {"auths": {"localhost:5000": {"auth": up}}, "credHelpers": {"quay.io": "gcloud", "r:5000": "../x"}},
        "bad-base64": {"auths": {"r:5000": {"auth": "!!"}}},
        "no-colon": {"auths": {"r:5000": {"auth": b64("nocolon")}, "quay.io": {}}},
        "nul-trimmed": {"auths": {"localhost:5000": {"auth": b64(b"u:\0p\0\0")}}},
        "line-breaks": {"auths": {"localhost:5000": {"auth": "dTpw\r\nZA=="}}},
        "url-keys": {"auths": {"http://localhost:5000/v2/": {"auth": up}, "https://quay.io": {"auth": up},
                               "fuzz.example:5000": {"auth": up}}},
        "unicode": {"auths": {"r\u2028x.io/<&>": {"auth": b64("\u00e9:\u2603")}}},
        "wrong-types": {"auths": {"r:5000": {"auth": 5}}},
        "null-auths": {"auths": None, "credHelpers": None},
    }
    for name, doc in docs.items():
        put("auth_file", name + ".json", b"\0" + json.dumps(doc, ensure_ascii=False).encode())
    legacy = {"https://r:5000/v1/": {"auth": b64("old:pw"), "email": "x@y"}, "r:5000/ns": {"auth": b64("ns:pw")},
              "docker.io": {"auth": up}}
    put("auth_file", "legacy.dockercfg", b"\1" + json.dumps(legacy).encode())
    put("auth_file", "legacy-modern-shape.dockercfg", b"\1" + json.dumps(docs["docker-io"]).encode())
    for i, t in enumerate(["{}", "{", "null", "[]", '{"auths":{"a":{"auth":"dTpw"}},"auths":{}}', "\ufeff{}"]):
        put("auth_file", f"crafted-{i}.json", b"\0" + t.encode())


def remote_seeds(shared):
    fixtures = os.path.join(shared, "internal", "manifest", "testdata")
    diff = "sha256:" + "1" * 64
    docker_cfg = json.dumps({
        "architecture": "amd64", "os": "linux", "docker_version": "20.10", "created": "2024-01-02T03:04:05.500Z",
        "config": {"Env": ["A=1"], "ExposedPorts": {"80/tcp": {}}, "labels": {"b": "<&>"}, "Cmd": ["sh"],
                   "Volumes": {"/v": {}}, "WorkingDir": "/w", "User": "u", "StopSignal": "TERM"},
        "rootfs": {"type": "layers", "diff_ids": [diff]},
        "history": [{"created": "2024-01-02T03:04:05+05:30", "created_by": "RUN x", "empty_layer": True}, None],
    })
    oci_cfg = json.dumps({"architecture": "arm64", "variant": "v8", "os": "linux", "os.version": "1",
                          "os.features": ["f"], "author": "a", "rootfs": {"type": "layers", "diff_ids": None}})
    tags = '{"name":"fuzz/image","tags":["1","latest",null]}'
    links = "\n".join([
        '</v2/fuzz/image/tags/list?n=2&last=b>; rel="next"',
        '<https://evil.example/v2/x/tags/list?last=b>; rel="next"',
        '<//evil.example/x>', '<http://evil:80>', '<v2/rel#frag>', "<>",
        "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456789+05:30", "2024-01-02T23:59:60Z",
        "2024-01-02t03:04:05z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59",
    ])

    def seed(name, manifest, config, page=tags):
        if isinstance(manifest, str):
            manifest = manifest.encode()
        put("remote_inspect", name, manifest + b"\0" + config.encode() + b"\0" + page.encode() + b"\0" + links.encode())

    for fx in sorted(os.listdir(fixtures)):
        if fx.endswith(".json"):
            with open(os.path.join(fixtures, fx), "rb") as fh:
                seed("fixture-" + fx, fh.read(), docker_cfg if "v2" in fx else oci_cfg)
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST, "size": 1}
    oci = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2},
           "layers": [layer]}
    seed("oci-image", json.dumps(oci), oci_cfg)
    seed("oci-artifact", json.dumps({**oci, "config": {**oci["config"], "mediaType": "application/x-thing"}}), "{}")
    seed("docker-image", json.dumps({**oci, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}),
         docker_cfg, '{"TAGS":["x"]} trailing')
    seed("empty-config", json.dumps(oci), "{}", "null")
    seed("bad-config", json.dumps(oci), '{"config":{"Env":"A=1"},"created":"yesterday"}', '{"tags":"1"}')


def local_seeds():
    import hashlib

    def dg(b):
        return "sha256:" + hashlib.sha256(b).hexdigest()

    def hexof(b):
        return hashlib.sha256(b).hexdigest()

    def desc(mt, b, **kw):
        return {"mediaType": mt, "digest": dg(b), "size": len(b), **kw}

    sep = b"\0--\0"
    layer = tar_bytes([f("hello.txt", b"hello")])
    layer_gz = gzip.compress(layer, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [dg(layer)]}}).encode()
    oci_mt = "application/vnd.oci.image.manifest.v1+json"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": oci_mt,
                           "config": desc("application/vnd.oci.image.config.v1+json", config),
                           "layers": [desc("application/vnd.oci.image.layer.v1.tar", layer)]}).encode()
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [desc(oci_mt, manifest, platform={"architecture": "amd64", "os": "linux"})]}).encode()
    version = b"@version\nDirectory Transport Version: 1.1\n"

    def parts(*ps):
        return sep.join(ps)

    put("local_transports", "dir-image", b"\0" + parts(manifest, config, layer, version, b"@signature-1\nsig",
                                                        b"@signature-2\n\0sigstore-json\n{}"))
    put("local_transports", "dir-list", b"\0" + parts(index, b"@" + hexof(manifest).encode() + b".manifest.json\n" + manifest,
                                                       config, layer, b"@" + hexof(manifest).encode() + b".signature-1\ns"))
    put("local_transports", "dir-bad-digest", b"\0" + parts(manifest, config + b" ", layer, b"@signature-1\n"))

    def oci_index(*entries):
        return json.dumps({"schemaVersion": 2, "manifests": list(entries)}).encode()

    named = desc(oci_mt, manifest, annotations={"org.opencontainers.image.ref.name": "latest"})
    put("local_transports", "oci-latest", bytes([1 | 1 << 2]) + parts(oci_index(named), manifest, config, layer))
    put("local_transports", "oci-only", b"\1" + parts(oci_index(desc(oci_mt, manifest)), manifest, config, layer))
    put("local_transports", "oci-two", b"\1" + parts(oci_index(named, desc(oci_mt, index)), manifest, index, config))
    put("local_transports", "oci-list", b"\1" + parts(oci_index(desc("application/vnd.oci.image.index.v1+json", index)),
                                                      index, manifest, config, layer))
    put("local_transports", "oci-unsupported", bytes([1 | 1 << 2]) + parts(oci_index(
        {**named, "mediaType": "application/x-other"}), manifest))

    def layout(extra=()):
        h = hexof
        return [d("blobs"), d("blobs/sha256"), f("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                f("index.json", oci_index(named)), f("blobs/sha256/" + h(manifest), manifest),
                f("blobs/sha256/" + h(config), config), f("blobs/sha256/" + h(layer), layer), *extra]

    oa = tar_bytes(layout())
    put("local_transports", "oci-archive.tar", bytes([2 | 1 << 2]) + oa)
    put("local_transports", "oci-archive.tar.gz", b"\2" + gzip.compress(oa, mtime=0))
    z = zstd(oa)
    if z:
        put("local_transports", "oci-archive.tar.zst", b"\2" + z)
    put("local_transports", "oci-archive-evil.tar", b"\2" + tar_bytes([
        f("index.json", oci_index(desc(oci_mt, manifest))), sym("blobs/sha256/" + hexof(manifest), "../../../outside/canary"),
        f("../outside/canary", b"owned"), f("/abs"), hard("h", ESCAPE + "/canary"), info("fifo", tarfile.FIFOTYPE),
        f("index.json", b"{}")]))

    dcfg_hex = hexof(config)
    items = json.dumps([{"Config": dcfg_hex + ".json", "RepoTags": ["busybox:latest"],
                         "Layers": ["l1/layer.tar"]}]).encode()
    da = tar_bytes([f("manifest.json", items), f(dcfg_hex + ".json", config), d("l1"), f("l1/layer.tar", layer),
                    f("repositories", b"{}")])
    put("local_transports", "docker-archive.tar", b"\3" + da)
    put("local_transports", "docker-archive-at0.tar", bytes([3 | 2 << 2]) + da)
    put("local_transports", "docker-archive-tag.tar", bytes([3 | 3 << 2]) + da)
    put("local_transports", "docker-archive.tar.gz", b"\3" + gzip.compress(da, mtime=0))
    gz_cfg = json.dumps({"rootfs": {"diff_ids": [dg(layer), dg(layer)]}}).encode()
    put("local_transports", "docker-archive-links.tar", b"\3" + tar_bytes([
        f("manifest.json", json.dumps([{"Config": "c.json", "Layers": ["a/layer.tar", "b/layer.tar"]}]).encode()),
        f("c.json", gz_cfg), d("a"), f("a/layer.tar", layer_gz), d("b"), sym("b/layer.tar", "../a/layer.tar")]))
    put("local_transports", "docker-archive-evil.tar", b"\3" + tar_bytes([
        f("manifest.json", json.dumps([{"Config": "../outside/canary", "Layers": ["x"]}]).encode()),
        sym("x", "../../outside/canary"), sym("y", ESCAPE + "/canary"), hard("z", "../outside/canary")]))
    put("local_transports", "docker-archive-sym-config.tar", b"\3" + tar_bytes([
        f("manifest.json", json.dumps([{"Config": "c.json", "Layers": []}]).encode()),
        sym("c.json", "../../outside/canary")]))


# --- text seeds -------------------------------------------------------------

REFS = [
    "busybox", "busybox:latest", "library/busybox:1.36", "docker.io/library/busybox",
    "index.docker.io/busybox", "localhost/app", "localhost:5000/ns/app:v1",
    "quay.io/ns/sub/app@" + DIGEST, "quay.io/ns/app:v1@" + DIGEST, "Example.COM/app",
    "example.com:443/a_b/c__d/e--f/g.h:tag_1.2-3", "a" * 64, "UPPER", "a/b:c:d",
    "foo@sha256:" + "A" * 64, "foo@sha512:" + "f" * 128, "[::1]:5000/app", "x/" * 60 + "y",
    "host/a@md5:" + "0" * 32, "docker.io/library/a/b",
]

PATHS = [
    "/ns/app@" + DIGEST.replace(":", "=") + "/signature-1",
    "/sigs/ns/app@" + DIGEST.replace(":", "=") + "/signatures",
    "/a@sha512=" + "f" * 128 + "/signature-4294967295",
    "/ns/app%40sha256%3D" + HEX + "/signature-1",
    "/%2e%2e/app@" + DIGEST.replace(":", "=") + "/signature-1",
    "/ns%2f..%2fapp@sha256=" + HEX + "/signature-1",
    "/%252e%252e/x", "//etc/passwd", "/ns/app@sha256=" + HEX + "/signature-01",
    "/ns/.upload-1@sha256=" + HEX + "/signature-1", "/@sha256=" + HEX + "/signature-1",
    "/a=b/c@sha256=" + HEX + "/signature-1",
]

PAYLOADS = [
    {"critical": {"identity": {"docker-reference": "busybox"}, "image": {"docker-manifest-digest": DIGEST},
                  "type": "atomic container signature"}, "optional": {"creator": "vouch", "timestamp": 1700000000}},
    {"critical": {"identity": {"docker-reference": "a<b>&\u2028"}, "image": {"docker-manifest-digest": DIGEST},
                  "type": "atomic container signature"}, "optional": {}},
]
PAYLOAD_TEXT = [
    '{"critical":{"identity":{"docker-reference":null},"image":{"docker-manifest-digest":"%s"},'
    '"type":"atomic container signature"},"optional":{"creator":null,"timestamp":null}}' % DIGEST,
    '{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"%s"},'
    '"type":"atomic container signature"},"optional":{"timestamp":1.5e3},"optional":{}}' % DIGEST,
    '{"critical":{"identity":{"docker-reference":"\\ud800\\udc00\\ud800"},"image":{"docker-manifest-digest":"%s"},'
    '"type":"atomic container signature"},"optional":{"timestamp":-9223372036854775808}}' % DIGEST,
]

JSON_EXTRA = [
    '{"a":1,"a":[true,false,null,-0,0.5e-3,1E+2,"\\u00e9\\ud83d\\ude00\\ud800x\\/\\t"]}',
    '"\xff\xfe" ', "[" * 130 + "]" * 130, "1e400", '{"default":[{"type":"reject"}],"x":1}',
    '{"default":[{"type":"signedBy","keyType":"GPGKeys","keyData":"AAAA","signedIdentity":'
    '{"type":"remapIdentity","prefix":"quay.io","signedPrefix":"example.com"}}]}',
    '{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"quay.io/ns":'
    '[{"type":"signedBy","keyType":"GPGKeys","keyPaths":["/a","/b"],"signedIdentity":{"type":"exactReference",'
    '"dockerReference":"quay.io/ns/app:v1"}}],"*.example.com":[{"type":"reject"}]},"atomic":{},'
    '"dir":{"":[{"type":"signedBaseLayer","baseLayerIdentity":{"type":"exactRepository","dockerRepository":"a/b"}}]}}}',
    '{"default":[{"type":"sigstoreSigned","keyData":"AAAA","signedIdentity":{"type":"matchRepository"}}]}',
]

YAML_EXTRA = [
    "default-docker:\n  lookaside: file:///srv/sigs\n...\ndefault-docker:\n  lookaside: https://x\n",
    "docker:\n  quay.io/ns:\n    lookaside: https://l.example.com/a%2Fb\n    use-sigstore-attachments: true\n"
    "...\ndocker:\n  quay.io/ns:\n    sigstore: /x\n",
    "docker:\n  localhost:5000/a:\n    lookaside-staging: 'file:///tmp/%zz'\n  '*.example.com': ~\n",
    "&a {x: *a}\n", "docker: !!binary aGVsbG8=\n", "- 1\n- 2\n", "",
]

# Envelopes that stop at each check of the reader, wrapped in PEM.
def _key_pem(envelope, label="ENCRYPTED COSIGN PRIVATE KEY"):
    import base64
    body = base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


_ENV = {"kdf": {"name": "scrypt", "params": {"N": 65536, "r": 8, "p": 1}, "salt": "AAAA"},
        "cipher": {"name": "nacl/secretbox", "nonce": "A" * 32}, "ciphertext": "AAAA"}
SIGSTORE_KEYS = [
    _key_pem(_ENV),
    _key_pem(_ENV, "ENCRYPTED SIGSTORE PRIVATE KEY"),
    _key_pem({**_ENV, "kdf": {**_ENV["kdf"], "name": "pbkdf2"}}),
    _key_pem({**_ENV, "kdf": {**_ENV["kdf"], "params": {"N": 1 << 40, "r": 8, "p": 1}}}),
    _key_pem({**_ENV, "cipher": {"name": "nacl/secretbox", "nonce": "AA=="}}),
    "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
    "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n!!\n",
]


def main(argv):
    shared = argv[1] if len(argv) > 1 else os.path.join(REPO, "..", "shared", "fixtures", "containers-image")
    if not os.path.isdir(shared):
        sys.exit(f"seeds: {shared}: no such directory")
    sigdirs = [os.path.join(shared, "signature", "fixtures"), os.path.join(shared, "generated")]
    for root in sigdirs:
        for p in files(root, lambda p: "signature" in os.path.basename(p) and not p.endswith(".txt")):
            if os.path.getsize(p) <= 8192:
                copy("signature", slug(shared, p), p)
    with open(os.path.join(shared, "generated", "gpg-skopeo-standalone", "busybox.signature"), "rb") as fh:
        put("signature", "prefixed-simple-signing", b"\0simple-signing\n" + fh.read())
    put("signature", "prefixed-sigstore", b"\0sigstore-json\n{}")

    for p in files(shared, lambda p: p.endswith("payload.json") or p.endswith("rekor-payload")):
        copy("payload", slug(shared, p), p)
    for i, pl in enumerate(PAYLOADS):
        put("payload", f"crafted-{i}.json", json.dumps(pl, separators=(",", ":"), ensure_ascii=False))
    for i, t in enumerate(PAYLOAD_TEXT):
        put("payload", f"crafted-text-{i}.json", t)

    for p in files(shared, lambda p: p.endswith(".json") and os.path.getsize(p) <= 16384):
        copy("policy_json", slug(shared, p), p)
    for p in files(os.path.join(REPO, "tests"), lambda p: p.endswith("policy.json")):
        copy("policy_json", "repo-" + slug(REPO, p), p)
    for i, t in enumerate(JSON_EXTRA):
        put("policy_json", f"crafted-{i}.json", t.encode("latin-1") if "\xff" in t else t)

    for p in files(shared, lambda p: p.endswith(".yaml") or p.endswith(".notyaml")):
        copy("registries_d", slug(shared, p), p)
    for i, t in enumerate(YAML_EXTRA):
        put("registries_d", f"crafted-{i}.yaml", t)

    for i, r in enumerate(REFS):
        put("docker_ref", f"ref-{i}", r)
    for i, p in enumerate(PATHS):
        put("sigstore_path", f"path-{i}", p)

    keys = os.path.join(REPO, "sign", "src", "sigstore", "testdata")
    for name in ("skopeo-1.22.private", "skopeo-1.22.pub"):
        copy("sigstore_key", name, os.path.join(keys, name))
    for i, t in enumerate(SIGSTORE_KEYS):
        put("sigstore_key", f"crafted-{i}", t)

    bundles = os.path.join(REPO, "fixtures", "sigstore-bundles", "conformance")
    for name in sorted(os.listdir(bundles)):
        p = os.path.join(bundles, name, "bundle.sigstore.json")
        if os.path.isfile(p):
            copy("sigstore_bundle", name + ".json", p)
    put("sigstore_bundle", "crafted-empty.json", "{}")
    put("sigstore_bundle", "crafted-snake-case.json", '{"media_type":"application/vnd.dev.sigstore.bundle.v0.3+json","verification_material":{"public_key":{"hint":""}},"message_signature":{"signature":"AA"}}')

    unpack_seeds()
    checkpoint_seeds()

    for i, n in enumerate(IMAGE_NAMES):
        put("image_name", f"name-{i}", n)
    auth_seeds()
    remote_seeds(shared)
    local_seeds()


if __name__ == "__main__":
    main(sys.argv)
