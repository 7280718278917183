#!/usr/bin/env python3
"""Write the C program of README.md's "Using the library" section (its first
```c block) to a file, so the build compiles it and the tests run it.
Usage: extract-readme-example.py README.md OUT.c"""
import re
import sys

readme, out = sys.argv[1], sys.argv[2]
text = open(readme, encoding="utf-8").read()
section = text.split("## Using the library", 1)
if len(section) != 2:
    sys.exit("%s: no '## Using the library' section" % readme)
m = re.search(r"^```c\n(.*?)^```", section[1], flags=re.S | re.M)
if not m:
    sys.exit("%s: no ```c block in 'Using the library'" % readme)
with open(out, "w", encoding="utf-8") as f:
    f.write("/* Generated from README.md by examples/extract-readme-example.py. */\n")
    f.write(m.group(1))
