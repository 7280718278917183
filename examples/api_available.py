#!/usr/bin/env python3
"""Print "yes" when every function named on the command line is defined in
some libecr/**/*.c file, else "no" and the missing ones (on stderr).
examples/meson.build uses it so that the examples are built only once the
engine implements what they call (they link the shared library, where a
missing function would break the build)."""
import os
import re
import sys

root = sys.argv[1]
wanted = set(sys.argv[2:])
found = set()
for folder, _, files in os.walk(os.path.join(root, "libecr")):
    for name in files:
        if name.endswith(".c"):
            text = open(os.path.join(folder, name), encoding="utf-8", errors="replace").read()
            for m in re.finditer(r"^[A-Za-z_][^;{}()]*?\b(ecr_[a-z0-9_]+)\s*\([^;]*?\)\s*\{", text, flags=re.M):
                found.add(m.group(1))
missing = sorted(wanted - found)
if missing:
    sys.stderr.write("not implemented yet: %s\n" % " ".join(missing))
print("no" if missing else "yes")
