#!/usr/bin/env python3
"""Write a small OCI image layout (https://github.com/opencontainers/image-spec,
image-layout.md) into a directory: one gzip-compressed tar layer with a couple
of files, an OCI image config whose rootfs.diff_ids is the digest of the
uncompressed tar, and an OCI image manifest listed in index.json.

Only the Python 3 standard library is used. The bytes are deterministic (fixed
mtimes, owners and gzip header), so the digests are the same on every run.

Usage: make-example-layout.py DIR [--tag TAG] [--index]
With --index, index.json points to an OCI image index (a multi-platform
image) whose one child is the image manifest. Prints the digest that
index.json points to.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MTIME = 1700000000  # fixed timestamp: 2023-11-14T22:13:20Z

FILES = [
    ("hello.txt", b"Hello from libecr!\n"),
    ("etc/os-release", b'NAME="libecr example"\nID=libecr-example\n'),
]


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def make_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({os.path.dirname(name) for name, _ in FILES if os.path.dirname(name)})
        for d in dirs:
            info = tarfile.TarInfo(d + "/")
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = MTIME
            tar.addfile(info)
        for name, data in FILES:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = MTIME
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data):
    out = io.BytesIO()
    # mtime=0 and no file name: the gzip header carries nothing that varies.
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return out.getvalue()


def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    folder = os.path.join(layout, "blobs", "sha256")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="the layout directory to write (created if missing)")
    ap.add_argument("--tag", default="latest", help="org.opencontainers.image.ref.name in index.json")
    ap.add_argument("--index", action="store_true", help="wrap the manifest in an OCI image index")
    args = ap.parse_args()

    layout = args.dir
    os.makedirs(layout, exist_ok=True)

    tar = make_tar()
    layer = gzip_bytes(tar)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    layer_digest = write_blob(layout, layer)

    config = canonical_json({
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {"Cmd": ["/bin/cat", "/hello.txt"], "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "make-example-layout.py"}],
    })
    config_digest = write_blob(layout, config)

    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": len(layer),
        }],
    })
    manifest_digest = write_blob(layout, manifest)
    top_type = "application/vnd.oci.image.manifest.v1+json"
    top_digest, top_size = manifest_digest, len(manifest)

    if args.index:
        image_index = canonical_json({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest),
                "platform": {"architecture": "amd64", "os": "linux"},
            }],
        })
        top_type = "application/vnd.oci.image.index.v1+json"
        top_digest, top_size = write_blob(layout, image_index), len(image_index)

    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": top_type,
            "digest": top_digest,
            "size": top_size,
            "annotations": {"org.opencontainers.image.ref.name": args.tag},
        }],
    }
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(canonical_json(index))
    with open(os.path.join(layout, "oci-layout"), "wb") as f:
        f.write(canonical_json({"imageLayoutVersion": "1.0.0"}))

    print(top_digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
