#!/usr/bin/env python3
"""Runs every ```python block of a Markdown file (README.md, docs/python.md) in order, in
one namespace, from the source root, as a reader would paste them."""
import os
import re
import sys


def main(path):
    with open(path, encoding="utf-8") as f:
        blocks = re.findall(r"^```python\n(.*?)^```", f.read(), re.M | re.S)
    assert blocks, "%s has no python examples" % path
    os.chdir(os.environ["VLM_SOURCE_ROOT"])
    namespace = {"__name__": "__main__"}
    for i, code in enumerate(blocks, 1):
        print("# %s: example %d" % (os.path.basename(path), i))
        exec(compile(code, "%s example %d" % (path, i), "exec"), namespace)
    print("%d examples OK" % len(blocks))


if __name__ == "__main__":
    main(sys.argv[1])
