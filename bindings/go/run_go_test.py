#!/usr/bin/env python3
"""Run `go test` on bindings/go against a meson build (meson test bindings/go).

Writes a libecr.pc for the build tree (the source include/ and the built
libecr.so) so that `#cgo pkg-config: libecr` finds it, sets LD_LIBRARY_PATH and
LIBECR_LIBRARY, and keeps Go offline: GOPROXY=off, GOFLAGS=-mod=mod is never
needed (standard library only), GOTOOLCHAIN=local, GOCACHE and GOPATH under
the build folder.

Usage: run_go_test.py SOURCE_ROOT LIBECR_SO WORK_DIR [go test args...]
"""
import os
import shutil
import subprocess
import sys


def go_env(src, lib, work):
    """The environment for go commands against the build (a libecr.pc in work)."""
    os.makedirs(os.path.join(work, "pkgconfig"), exist_ok=True)
    with open(os.path.join(work, "pkgconfig", "libecr.pc"), "w") as f:
        f.write("Name: libecr\nDescription: libecr (meson build tree)\nVersion: 0\n"
                "Cflags: -I%s\nLibs: -L%s -lecr\n" % (os.path.join(src, "include"), os.path.dirname(lib)))
    env = dict(os.environ)
    env.update({
        "PKG_CONFIG_PATH": os.path.join(work, "pkgconfig"),
        "LD_LIBRARY_PATH": os.path.dirname(lib) + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else ""),
        "LIBECR_LIBRARY": lib,
        "GOCACHE": os.path.join(work, "gocache"),
        "GOPATH": os.path.join(work, "gopath"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "",
        "CGO_ENABLED": "1",
    })
    return env


def go_program():
    return shutil.which("go") or "/usr/lib/go/bin/go"


def main():
    src, lib, work = (os.path.abspath(a) for a in sys.argv[1:4])
    extra = sys.argv[4:]
    go = go_program()
    env = go_env(src, lib, work)
    cmd = [go, "test", "-count=1", "-v"] + (extra or ["./..."])
    return subprocess.call(cmd, cwd=os.path.join(src, "bindings", "go"), env=env)


if __name__ == "__main__":
    sys.exit(main())
