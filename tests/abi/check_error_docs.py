#!/usr/bin/env python3
"""Check that docs/errors.md documents every error code.

Every enumerator of ecr_error_code (include/ecr/errors.h, read with
bindings/gen/ecr_header.py) must have a row in the table of docs/errors.md
with its number, the Amazon ECR exception and the general category that
libecr/core/errors_table.h gives it (what ecr_error_exception() and
ecr_error_category() return); and the table must list no other code.

Usage: check_error_docs.py [--root SOURCE_DIR] [--print-table]
--print-table prints the table rows the check expects (to update the doc).
"""
import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

ROW_RE = re.compile(r"^\|\s*`?(ECR_[A-Z0-9_]+)`?\s*\|(.*)\|\s*$")


def error_table(root):
    """name -> (exception, category, text) from libecr/core/errors_table.h."""
    text = open(os.path.join(root, "libecr", "core", "errors_table.h"), encoding="utf-8").read()
    out = {}
    for m in re.finditer(r'X\(\s*(ECR_[A-Z0-9_]+)\s*,\s*"([^"]*)"\s*,\s*(ECR_[A-Z0-9_]+)\s*,\s*"([^"]*)"\s*\)', text):
        out[m.group(1)] = (m.group(2) or "(none)", m.group(3), m.group(4))
    return out


def header_comments(root):
    """name -> the doc comment of the enumerator in errors.h."""
    out = {}
    text = open(os.path.join(root, "include", "ecr", "errors.h"), encoding="utf-8").read()
    for m in re.finditer(r"(ECR_[A-Z0-9_]+)\s*=\s*-?\d+\s*,?\s*/\*\*<\s*(.*?)\s*\*/", text):
        out[m.group(1)] = m.group(2)
    return out


def doc_rows(path):
    """name -> [cells] from the markdown table rows of the doc."""
    rows = {}
    for line in open(path, encoding="utf-8"):
        m = ROW_RE.match(line.strip())
        if m:
            rows[m.group(1)] = [c.strip().strip("`") for c in m.group(2).split("|")]
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=ROOT)
    ap.add_argument("--print-table", action="store_true")
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(args.root, "bindings", "gen"))
    import ecr_header

    hdr = ecr_header.parse(args.root, include_sys=False)
    codes = next(e for e in hdr.enums if e.name == "ecr_error_code").values
    table = error_table(args.root)
    comments = header_comments(args.root)

    if args.print_table:
        print("| Code | Value | ECR exception | Category | Meaning |")
        print("|------|------:|---------------|----------|---------|")
        for name, value in codes:
            exc, cat, text = table.get(name, ("?", "?", ""))
            meaning = re.sub(r"\s*\(\w+(Exception|List)\)$", "", comments.get(name, ""))
            if not meaning or re.match(r"^\w+Exception\b", meaning):
                meaning = text + meaning[len(exc):] if meaning.startswith(exc) else text
            print("| `%s` | %d | %s | `%s` | %s |" % (name, value, exc, cat, meaning))
        return 0

    rows = doc_rows(os.path.join(args.root, "docs", "errors.md"))
    errors = []
    for name, value in codes:
        if name not in table:
            errors.append("%s is in errors.h but not in libecr/core/errors_table.h" % name)
            continue
        exc, cat = table[name][:2]
        cells = rows.pop(name, None)
        if cells is None:
            errors.append("%s (%d) is not documented in docs/errors.md" % (name, value))
            continue
        if len(cells) < 3:
            errors.append("%s: the row needs Value, ECR exception and Category columns" % name)
            continue
        if cells[0] != str(value):
            errors.append("%s: docs say %s, errors.h says %d" % (name, cells[0], value))
        if cells[1] != exc:
            errors.append("%s: docs say exception %s, errors_table.h says %s" % (name, cells[1], exc))
        if cells[2] != cat:
            errors.append("%s: docs say category %s, errors_table.h says %s" % (name, cells[2], cat))
    for name in sorted(rows):
        errors.append("%s is in docs/errors.md but not in include/ecr/errors.h" % name)
    for e in errors:
        print(e)
    print("%d error codes, %s" % (len(codes), "docs/errors.md is up to date" if not errors else
                                  "%d problems (python3 tests/abi/check_error_docs.py --print-table "
                                  "prints the expected table)" % len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
