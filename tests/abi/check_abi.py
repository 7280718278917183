#!/usr/bin/env python3
"""ABI gate (STYLE.md section 13): compare the freshly built libecr.so with the
committed baseline abi/libecr.abi using abidiff (Debian: abigail-tools).

    check_abi.py LIBECR_SO [--root SOURCE_DIR]            check (meson test abi/abidiff)
    check_abi.py LIBECR_SO [--root SOURCE_DIR] --update   write a new baseline (release time)

The baseline is `abidw --no-corpus-path --drop-private-types --headers-dir
include/` of the released library (built with -g). The check runs `abidiff
BASELINE LIBECR_SO --headers-dir2 include/` and reads its exit status, a bit
field: 1 error, 2 usage error, 4 ABI change, 8 incompatible ABI change.
  - 8 (a function removed, a parameter retyped, ...): FAIL;
  - 1 or 2: FAIL (the check could not run);
  - 4 alone (functions added in a new version node, an options struct that
    grew at its end, an opaque struct that changed): pass, as long as the
    compile-time layout check (tests/abi/layout.c with abi/layout.h) passes,
    which catches fields inserted, reordered or retyped in public structs
    (abidiff reports those as 4 too).
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lib")
    ap.add_argument("--root", default=ROOT)
    ap.add_argument("--baseline", default=None, help="default: ROOT/abi/libecr.abi")
    ap.add_argument("--update", action="store_true", help="write the baseline from LIB instead of checking")
    ap.add_argument("--abidw", default=os.environ.get("ABIDW", "abidw"))
    ap.add_argument("--abidiff", default=os.environ.get("ABIDIFF", "abidiff"))
    args = ap.parse_args()
    include = os.path.join(args.root, "include") + os.sep
    baseline = args.baseline or os.path.join(args.root, "abi", "libecr.abi")
    if args.update:
        cmd = [args.abidw, "--no-corpus-path", "--drop-private-types", "--headers-dir", include,
               "--out-file", baseline, args.lib]
        print(" ".join(cmd))
        return subprocess.call(cmd)
    if not os.path.exists(baseline):
        print("no baseline at %s" % baseline)
        return 1
    cmd = [args.abidiff, baseline, args.lib, "--headers-dir2", include]
    print(" ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    print(proc.stdout)
    rc = proc.returncode
    if rc & 8:
        print("FAIL: incompatible ABI change against %s (abidiff exit %d)" % (os.path.relpath(baseline, args.root), rc))
        return 1
    if rc & 3:
        print("FAIL: abidiff could not compare (exit %d)" % rc)
        return 1
    print("OK: %s (abidiff exit %d)" % ("no ABI change" if rc == 0 else "compatible changes only", rc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
