#!/usr/bin/env python3
"""Run the examples end to end (the meson test examples/push-and-list).

1. scripts/make-example-layout.py writes an OCI image layout into a temporary
   folder;
2. push-layout pushes it into a file:// registry in another temporary folder
   as example/hello:latest, twice (the second time every blob is already
   there and the manifest is put again);
3. list lists that registry, and its output must show the repository, the
   manifest digest of the layout's index.json, the tag and the image size.

Usage: test-examples.py PUSH_LAYOUT LIST MAKE_EXAMPLE_LAYOUT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    print(proc.stdout, end="", flush=True)
    if proc.returncode != 0:
        sys.exit("FAIL: %s exited with %d" % (cmd[0], proc.returncode))
    return proc.stdout


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
    print("ok - " + what)


def main():
    push, lister, make_layout = sys.argv[1:4]
    tmp = tempfile.mkdtemp(prefix="ecr-examples-")
    try:
        layout = os.path.join(tmp, "layout")
        data = os.path.join(tmp, "registry")
        url = "file://" + data
        printed = run([sys.executable, make_layout, layout]).strip()
        with open(os.path.join(layout, "index.json")) as f:
            index = json.load(f)
        desc = index["manifests"][0]
        digest = desc["digest"]
        check(printed == digest, "make-example-layout.py prints the digest in index.json")
        with open(os.path.join(layout, "blobs", "sha256", digest.split(":")[1])) as f:
            manifest = json.load(f)
        size = sum(layer["size"] for layer in manifest["layers"])

        out = run([push, layout, url, "example/hello:latest"])
        check("pushed example/hello:latest " + digest in out, "push-layout reports the pushed digest")
        check(out.count("uploaded") == 1 + len(manifest["layers"]), "the config and every layer were uploaded")

        out = run([push, layout, url, "example/hello:latest"])
        check("uploaded" not in out and out.count(" exists") == 1 + len(manifest["layers"]),
              "a second push uploads nothing (ecr_blob_stat finds every blob)")

        out = run([lister, url])
        lines = out.splitlines()
        check(any(l.startswith("example/hello ") for l in lines), "list shows the repository")
        image = [l for l in lines if l.strip().startswith(digest)]
        check(len(image) == 1, "list shows the image digest from index.json once")
        check("tags: latest " in image[0], "the image is tagged latest")
        check("size: %d " % size in image[0], "the image size is the sum of its layers (%d)" % size)
        check(lines[-1] == "1 repositories, 1 images", "list counts one repository and one image")

        # A multi-platform image: an image index whose child is pushed first.
        multi = os.path.join(tmp, "multi")
        index_digest = run([sys.executable, make_layout, multi, "--index", "--tag", "v1"]).strip()
        out = run([push, multi, url, "example/multi:v1"])
        check(out.find("manifest " + digest) >= 0 and out.find("manifest " + digest) < out.find("manifest " + index_digest),
              "push-layout puts the child manifest before the image index")
        out = run([lister, url])
        lines = out.splitlines()
        check(any(l.startswith("example/multi ") for l in lines), "list shows the second repository")
        check(any(l.strip().startswith(index_digest) and "tags: v1 " in l for l in lines),
              "list shows the image index tagged v1")
        check(any(l.strip().startswith(digest) and "<untagged>" in l for l in lines),
              "list shows its child manifest untagged")
        check(lines[-1] == "2 repositories, 3 images", "list counts two repositories and three images")

        # Mistakes fail cleanly, with a message.
        proc = subprocess.run([push, layout, url, "example/hello:nosuchtag-but-one-manifest"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        check(proc.returncode == 0, "with one manifest in index.json any tag can be given")
        proc = subprocess.run([push, os.path.join(tmp, "missing"), url, "example/hello:latest"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        check(proc.returncode != 0 and "index.json" in proc.stdout, "a missing layout is reported")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
