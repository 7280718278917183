#!/usr/bin/env python3
"""registry_tour.py: libecr from Python, end to end.

    registry_tour.py LAYOUT_DIR [REGISTRY_URL]

Embeds a registry (default "memory:"), pushes the OCI image layout LAYOUT_DIR
into it as example/hello:latest (blobs streamed through upload sessions,
children of an index first), lists the images, previews a lifecycle policy,
then serves the registry over HTTP (the OCI Distribution API) and reads the
tag list back with urllib. Uses the libecr package (bindings/python); set
LIBECR_LIBRARY when libecr.so is not installed. Public domain (CC0).
"""
import json
import os
import sys
import urllib.request

import libecr

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


def blob_path(layout, digest):
    alg, hexpart = digest.split(":", 1)
    if not alg.isalnum() or not all(c in "0123456789abcdef" for c in hexpart):
        raise ValueError("unsafe digest %r" % digest)
    return os.path.join(layout, "blobs", alg, hexpart)


def push_blob(repo, layout, digest):
    if repo.has_blob(digest):
        return
    with repo.upload() as up, open(blob_path(layout, digest), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            up.write(chunk)
        up.commit(digest)


def push_manifest(repo, layout, desc, tag=None):
    data = open(blob_path(layout, desc["digest"]), "rb").read()
    manifest = json.loads(data)
    media_type = desc.get("mediaType") or manifest.get("mediaType")
    if media_type in INDEX_TYPES:
        for child in manifest["manifests"]:
            push_manifest(repo, layout, child)
    else:
        for d in [manifest["config"]] + manifest.get("layers", []):
            push_blob(repo, layout, d["digest"])
    with repo.put_image(data, tag=tag, media_type=media_type) as img:
        return img.digest


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    layout = sys.argv[1]
    url = sys.argv[2] if len(sys.argv) > 2 else "memory:"
    print("libecr", libecr.version())
    with libecr.Registry(url) as reg:
        # 1. push the layout
        try:
            repo = reg.create_repository("example/hello")
        except libecr.RepositoryAlreadyExistsError:
            repo = reg.repository("example/hello")
        with repo:
            index = json.load(open(os.path.join(layout, "index.json")))
            top = index["manifests"][0]
            digest = push_manifest(repo, layout, top, tag="latest")
            print("pushed example/hello:latest", digest)
            # 2. list
            for name in reg.repositories():
                print("repository", name)
            for info in repo.images():
                print("image %s %s %d bytes tags=%s" % (info.digest, info.media_type, info.size, ",".join(info.tags)))
            # 3. lifecycle preview: what would "keep 1 image" do?
            policy = json.dumps({"rules": [{"rulePriority": 1, "description": "keep only the newest image",
                                            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                          "countNumber": 1},
                                            "action": {"type": "expire"}}]})
            for info, action, prio in repo.lifecycle_preview(policy):
                print("lifecycle preview: %s -> %s (rule %d)" % (info.digest, action.name, prio))
        # 4. serve over HTTP and read it back
        with libecr.Server(reg, port=0, no_auth=True) as srv:
            base = "http://127.0.0.1:%d" % srv.port
            tags = json.load(urllib.request.urlopen(base + "/v2/example/hello/tags/list", timeout=30))
            print("served on", base, "tags:", tags["tags"])
            req = urllib.request.Request(base + "/v2/example/hello/manifests/latest", method="HEAD",
                                         headers={"Accept": ",".join(INDEX_TYPES + (
                                             "application/vnd.oci.image.manifest.v1+json",))})
            served = urllib.request.urlopen(req, timeout=30).headers["Docker-Content-Digest"]
            print("served digest", served)
            if served != digest or tags["tags"] != ["latest"]:
                print("unexpected answer from the server")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
