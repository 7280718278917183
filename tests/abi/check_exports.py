#!/usr/bin/env python3
"""Export check (STYLE.md sections 13 and 18).

The functions declared in the public headers (include/ecr.h, include/ecr/*.h
and include/ecr/sys/*.h, read with bindings/gen/ecr_header.py) must be exactly
the functions libecr.so exports (nm -D --defined-only), every exported symbol
must start with "ecr_" (and never "ecr__", the internal prefix), and the
version script libecr/libecr.map must list exactly the same symbols.

Usage: check_exports.py LIBECR_SO [--root SOURCE_DIR] [--nm NM]
Exit status 0 when all three sets agree; 1 with the differences printed.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def exported_symbols(lib, nm):
    """(functions, other) defined dynamic symbols of lib, without @VERSION."""
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    funcs, other = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[-2], parts[-1]
        name = name.split("@")[0]
        if kind == "A":  # the version nodes themselves (LIBECR_0.1)
            continue
        if kind in ("T", "t", "W", "i"):
            funcs.add(name)
        else:
            other.add(name)
    return funcs, other


def map_symbols(path):
    """Symbols in the global: parts of a linker version script."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"#[^\n]*", "", text)
    syms = set()
    for node in re.finditer(r"\{(.*?)\}", text, flags=re.S):
        body = node.group(1)
        section = None
        for item in body.split(";"):
            item = item.strip()
            m = re.match(r"^(global|local)\s*:\s*(.*)$", item, flags=re.S)
            if m:
                section, item = m.group(1), m.group(2).strip()
            if section == "global" and item:
                syms.add(item)
    return syms


def show(title, names):
    if names:
        print("%s (%d):" % (title, len(names)))
        for n in sorted(names):
            print("    " + n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lib", help="path of the built libecr.so")
    ap.add_argument("--root", default=ROOT, help="the source tree")
    ap.add_argument("--nm", default=os.environ.get("NM", "nm"))
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(args.root, "bindings", "gen"))
    import ecr_header

    header = set(ecr_header.parse(args.root, include_sys=True).function_names())
    exported, exported_data = exported_symbols(args.lib, args.nm)
    mapped = map_symbols(os.path.join(args.root, "libecr", "libecr.map"))

    ok = True
    problems = [
        ("declared in include/ but not exported by %s" % os.path.basename(args.lib), header - exported),
        ("exported but not declared in include/", exported - header),
        ("exported data symbols (the API has functions only)", exported_data),
        ("exported without the ecr_ prefix or with the internal ecr__ prefix",
         {s for s in exported | exported_data if not s.startswith("ecr_") or s.startswith("ecr__")}),
        ("declared in include/ without the ecr_ prefix",
         {s for s in header if not s.startswith("ecr_") or s.startswith("ecr__")}),
        ("declared in include/ but missing from libecr/libecr.map", header - mapped),
        ("listed in libecr/libecr.map but not declared in include/", mapped - header),
        ("wildcards in libecr/libecr.map global: (list symbols explicitly)", {s for s in mapped if "*" in s or "?" in s}),
    ]
    for title, names in problems:
        if names:
            ok = False
            show(title, names)
    print("%d functions declared, %d exported, %d in libecr.map: %s" % (
        len(header), len(exported), len(mapped), "OK" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
