#!/usr/bin/env python3
"""Every public header has its stand-alone translation unit in tests/headers/:
include/ecr/sys/alloc.h -> tests/headers/include_ecr_sys_alloc.c, which
includes only that header. Usage: check_all_headers.py SOURCE_DIR"""
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
inc = os.path.join(root, "include")
missing = []
count = 0
for folder, _, files in os.walk(inc):
    for name in sorted(files):
        if not name.endswith(".h"):
            continue
        rel = os.path.relpath(os.path.join(folder, name), inc).replace(os.sep, "/")
        tu = os.path.join(root, "tests", "headers", "include_" + rel[:-2].replace("/", "_") + ".c")
        count += 1
        want = "#include <%s>" % rel
        if not os.path.exists(tu):
            missing.append("%s: no %s" % (rel, os.path.relpath(tu, root)))
            continue
        lines = [l.strip() for l in open(tu, encoding="utf-8") if l.strip().startswith("#include")]
        if lines != [want]:
            missing.append("%s: %s must contain exactly one #include, %s" % (rel, os.path.relpath(tu, root), want))
for m in missing:
    print(m)
print("%d public headers, %d problems" % (count, len(missing)))
sys.exit(1 if missing else 0)
