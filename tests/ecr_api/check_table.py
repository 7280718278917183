#!/usr/bin/python3
"""Checks docs/ecr-api.md's operation-to-test table against the tests.

Usage: check_table.py [SOURCE_ROOT]

Fails when an operation of issue 4, 5 or 6 has no row, when a row names a test
that does not exist (Class.test_name in tests/ecr_api/test_boto3.py or
test_auth_attacks.py; awscli:"check name" in test_awscli.sh;
lifecycle:"check name" in test_lifecycle_cli.sh; scan:"check name" in
test_scan_cli.sh; unit:test_function in tests/server/test_ecr_api_lifecycle.c or
test_ecr_api_scan.c), or when an error __type listed for an
operation appears in none of the test files.
Prints one line per problem and, last, "N passed, M failed".
"""

import ast
import os
import re
import sys

OPERATIONS = [
    "CreateRepository", "DescribeRepositories", "DeleteRepository", "ListImages", "DescribeImages",
    "BatchGetImage", "BatchDeleteImage", "PutImage", "BatchCheckLayerAvailability", "InitiateLayerUpload",
    "UploadLayerPart", "CompleteLayerUpload", "GetDownloadUrlForLayer", "PutImageTagMutability",
    "SetRepositoryPolicy", "GetRepositoryPolicy", "DeleteRepositoryPolicy", "PutRegistryPolicy",
    "GetRegistryPolicy", "DeleteRegistryPolicy", "DescribeRegistry", "TagResource", "UntagResource",
    "ListTagsForResource", "GetAuthorizationToken", "PutImageScanningConfiguration", "ListImageReferrers",
    "GetAccountSetting", "PutAccountSetting",
    # issue 5
    "PutLifecyclePolicy", "GetLifecyclePolicy", "DeleteLifecyclePolicy", "StartLifecyclePolicyPreview",
    "GetLifecyclePolicyPreview", "UpdateImageStorageClass",
    # issue 6
    "StartImageScan", "DescribeImageScanFindings", "PutRegistryScanningConfiguration",
    "GetRegistryScanningConfiguration", "BatchGetRepositoryScanningConfiguration",
    # issue 8: replication
    "PutReplicationConfiguration", "DescribeImageReplicationStatus",
    # issue 8: repository creation templates
    "CreateRepositoryCreationTemplate", "UpdateRepositoryCreationTemplate", "DeleteRepositoryCreationTemplate",
    "DescribeRepositoryCreationTemplates",
    # issue 8: pull-through cache rules
    "CreatePullThroughCacheRule", "DescribePullThroughCacheRules", "UpdatePullThroughCacheRule",
    "DeletePullThroughCacheRule", "ValidatePullThroughCacheRule",
]
UNIT_TESTS = [os.path.join("tests", "server", "test_ecr_api_lifecycle.c"),
              os.path.join("tests", "server", "test_ecr_api_scan.c")]
PY_TESTS = ["test_boto3.py", "test_auth_attacks.py", "test_replication.py", "test_templates.py", "test_ptc.py"]


def python_tests(path):
    """{'Class.test_name'} of a unittest file."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test_"):
                    out.add("%s.%s" % (node.name, item.name))
    return out


def awscli_checks(path):
    """The names the shell test prints: first arguments of ok/notok/expect/expect_error."""
    with open(path) as f:
        text = f.read()
    names = set(re.findall(r'\b(?:ok|notok|expect|expect_error)\s+"([^"$]*)"', text))
    names |= set(re.findall(r'\b(?:expect|expect_error)\s+"([^"]*)"', text))
    return names, text


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    here = os.path.join(root, "tests", "ecr_api")
    problems = []
    checks = 0
    tests = set()
    sources = ""
    for name in PY_TESTS:
        p = os.path.join(here, name)
        tests |= python_tests(p)
        with open(p) as f:
            sources += f.read()
    cli_names, cli_text = awscli_checks(os.path.join(here, "test_awscli.sh"))
    sources += cli_text
    lc_names, lc_text = awscli_checks(os.path.join(here, "test_lifecycle_cli.sh"))
    sources += lc_text
    scan_names, scan_text = awscli_checks(os.path.join(here, "test_scan_cli.sh"))
    sources += scan_text
    unit_names = set()
    for rel in UNIT_TESTS:
        with open(os.path.join(root, rel)) as f:
            text = f.read()
        unit_names |= set(re.findall(r"\bstatic void (test_\w+)\(void \*\*state\)", text))
        sources += text
    with open(os.path.join(root, "docs", "ecr-api.md")) as f:
        doc = f.read()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"[A-Z][A-Za-z]+", cells[0]):
            rows[cells[0]] = cells
    for op in OPERATIONS:
        checks += 1
        if op not in rows:
            problems.append("%s: no row in docs/ecr-api.md" % op)
            continue
        _, test_cell, error_cell = rows[op]
        refs = [r.strip() for r in re.split(r",\s*(?=(?:[A-Z]\w*\.test_|awscli:|lifecycle:|scan:|unit:))", test_cell)
                if r.strip()]
        if not refs:
            problems.append("%s: no test named" % op)
        for ref in refs:
            checks += 1
            m = re.fullmatch(r'awscli:"(.*)"', ref)
            lc = re.fullmatch(r'lifecycle:"(.*)"', ref)
            unit = re.fullmatch(r"unit:(\w+)", ref)
            sc = re.fullmatch(r'scan:"(.*)"', ref)
            if m:
                if m.group(1) not in cli_names:
                    problems.append('%s: test_awscli.sh has no check named "%s"' % (op, m.group(1)))
            elif lc:
                if lc.group(1) not in lc_names:
                    problems.append('%s: test_lifecycle_cli.sh has no check named "%s"' % (op, lc.group(1)))
            elif sc:
                if sc.group(1) not in scan_names:
                    problems.append('%s: test_scan_cli.sh has no check named "%s"' % (op, sc.group(1)))
            elif unit:
                if unit.group(1) not in unit_names:
                    problems.append("%s: no test function %s in %s" % (op, unit.group(1), " or ".join(UNIT_TESTS)))
            elif ref not in tests:
                problems.append("%s: no test %s in %s" % (op, ref, " or ".join(PY_TESTS)))
        for err in [e.strip() for e in error_cell.split(",") if e.strip() and e.strip() != "—"]:
            checks += 1
            if not re.search(r"\b%s\b" % re.escape(err), sources):
                problems.append("%s: error %s is listed but no test mentions it" % (op, err))
    for extra in sorted(set(rows) - set(OPERATIONS)):
        if extra not in ("Operation", "Attack"):
            problems.append("%s: a row for an operation that is not in issue 4's, 5's or 6's list" % extra)
    # the attack table: every Class.test_name named anywhere in the document exists
    for ref in sorted(set(re.findall(r"\b(T\w+\.test_\w+)", doc))):
        checks += 1
        if ref not in tests:
            problems.append("docs/ecr-api.md names %s, which does not exist" % ref)
    for p in problems:
        print("FAIL: " + p)
    print("%d passed, %d failed" % (checks - len(problems), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
