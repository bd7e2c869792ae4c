"""Runs on an app host with the app's Python (`python -c`), never imported by rollbook.

argv: the checkout and the refs to read. Prints one JSON object: each squashed migration
("app.name", by its folder) of those refs' trees and the migrations it replaces (its `replaces`
list, read from the file's syntax tree at that ref, never executed).
"""

import ast
import json
import re
import subprocess
import sys

FILE = re.compile(r"(?:^|/)([^/]+)/migrations/(\d{4}[^/]*)\.py$")


def git(*args):
    return subprocess.run(["git", "-C", sys.argv[1], *args], capture_output=True, text=True,
                          check=False).stdout  # fmt: skip


def replaces(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "replaces" for t in node.targets
        ):
            return [f"{app}.{name}" for app, name in ast.literal_eval(node.value)]
    return None


found = {}
for ref in sys.argv[2:]:
    for line in git("grep", "-l", "-e", "replaces", ref, "--", "*/migrations/*.py").split():
        path = line.split(":", 1)[1]
        match = FILE.search(path)
        replaced = replaces(git("show", f"{ref}:{path}")) if match else None
        if replaced:
            found[f"{match.group(1)}.{match.group(2)}"] = replaced
print(json.dumps(found))
