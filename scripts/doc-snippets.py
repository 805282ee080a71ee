#!/usr/bin/env python3
"""Checks that every code block of the getting-started pages is the code the tests run.

A page marks a block with `<!-- snippet: PATH#NAME -->` on the line before its opening fence;
PATH (from the repository root) holds the region `// [start:NAME]` ... `// [end:NAME]`. The
block must equal the region's lines with their common indentation removed. Exit 1 on any
difference, naming the page, the snippet and the first differing line.
"""
import pathlib
import re
import sys
import textwrap

root = pathlib.Path(__file__).resolve().parent.parent
pages = sorted((root / "docs").glob("getting-started-*.md"))
marker = re.compile(r"<!-- snippet: (\S+)#(\S+) -->")
failures = 0
checked = 0


def region(path, name):
    try:
        lines = (root / path).read_text().splitlines()
    except OSError:
        return None
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == f"// [start:{name}]")
        end = next(i for i, l in enumerate(lines) if l.strip() == f"// [end:{name}]")
    except StopIteration:
        return None
    return textwrap.dedent("\n".join(lines[start + 1:end])).splitlines()


for page in pages:
    lines = page.read_text().splitlines()
    for i, line in enumerate(lines):
        m = marker.search(line)
        if not m:
            continue
        path, name = m.groups()
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            print(f"{page.name}: snippet {name} is not followed by a code block")
            failures += 1
            continue
        close = next((j for j in range(i + 2, len(lines)) if lines[j].startswith("```")), None)
        block = lines[i + 2:close]
        want = region(path, name)
        checked += 1
        if want is None:
            print(f"{page.name}: no region {name} in {path}")
            failures += 1
        elif block != want:
            diff = next((k for k in range(max(len(block), len(want)))
                         if k >= len(block) or k >= len(want) or block[k] != want[k]), 0)
            print(f"{page.name}: snippet {name} differs from {path} at its line {diff + 1}")
            failures += 1

if checked == 0:
    print("no snippets found in docs/getting-started-*.md")
    sys.exit(1)
print(f"doc snippets: {checked} checked, {failures} differ")
sys.exit(1 if failures else 0)
