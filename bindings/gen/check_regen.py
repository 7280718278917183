#!/usr/bin/env python3
"""The regeneration check (meson test bindings/regen): run gen_bindings.py into
a temporary folder and compare with the committed files. Fails, with a diff,
when the public headers changed and the bindings were not regenerated
(python3 bindings/gen/gen_bindings.py)."""
import argparse
import difflib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_bindings  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(HERE)))
    args = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory(prefix="ecr-regen-") as tmp:
        rc = subprocess.call([sys.executable, os.path.join(HERE, "gen_bindings.py"), "--root", args.root,
                              "--out", tmp])
        if rc != 0:
            print("gen_bindings.py failed (%d)" % rc)
            return 1
        for rel in (gen_bindings.PY_OUT, gen_bindings.GO_OUT, gen_bindings.GO_API_OUT):
            committed = os.path.join(args.root, rel)
            fresh = os.path.join(tmp, rel)
            old = open(committed, encoding="utf-8").read().splitlines(True) if os.path.exists(committed) else []
            new = open(fresh, encoding="utf-8").read().splitlines(True)
            if old != new:
                bad += 1
                sys.stdout.writelines(list(difflib.unified_diff(old, new, rel + " (committed)",
                                                                rel + " (from include/)"))[:200])
                print("\n%s is stale" % rel)
            else:
                print("%s: up to date (%d lines)" % (rel, len(new)))
    if bad:
        print("\nRegenerate with: python3 bindings/gen/gen_bindings.py (and commit the result)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
