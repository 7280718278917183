#!/usr/bin/env python3
"""Run an example of examples/python or examples/go against a meson build
(meson tests examples/python-tour and examples/go-tour).

Writes an OCI image layout with scripts/make-example-layout.py into a
temporary folder, then runs the example with that layout, against a
memory: registry and then a file:// registry (pushed twice: the second push
finds every blob already there).

Usage: run_example.py SOURCE_ROOT LIBECR_SO WORK_DIR python|go
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "go"))
import run_go_test  # noqa: E402


def main():
    src, lib, work = (os.path.abspath(a) for a in sys.argv[1:4])
    lang = sys.argv[4]
    with tempfile.TemporaryDirectory(prefix="ecr-example-") as tmp:
        layout = os.path.join(tmp, "layout")
        subprocess.run([sys.executable, os.path.join(src, "scripts", "make-example-layout.py"), layout],
                       check=True, stdout=subprocess.DEVNULL)
        data = "file://" + os.path.join(tmp, "data")
        if lang == "python":
            env = dict(os.environ, LIBECR_LIBRARY=lib, PYTHONPATH=os.path.join(src, "bindings", "python"),
                       PYTHONDONTWRITEBYTECODE="1")
            cmd = [sys.executable, os.path.join(src, "examples", "python", "registry_tour.py"), layout]
            cwd = src
        else:
            env = run_go_test.go_env(src, lib, work)
            exe = os.path.join(work, "registry-tour")
            rc = subprocess.call([run_go_test.go_program(), "build", "-o", exe, "./registry-tour"],
                                 cwd=os.path.join(src, "examples", "go"), env=env)
            if rc != 0:
                return rc
            cmd, cwd = [exe, layout], tmp
        for url in ("memory:", data, data):
            print("==> %s %s" % (" ".join(os.path.basename(c) for c in cmd), url), flush=True)
            rc = subprocess.call(cmd + [url], cwd=cwd, env=env)
            if rc != 0:
                return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
