"""Runs on an app host with the app's Python (`python -c`), never imported by rollbook.

argv: the checkout and the refs to read. Prints one JSON object: per ref, its migrations
("label.name", or null when the ref is not in the checkout), and each squashed migration of
those refs with the migrations it replaces (its `replaces` list). An app's label is what Django
records in django_migrations: the `label` its apps.py's AppConfig sets (the one marked
`default = True` when several set one), else its folder's name. Files are read from their
syntax trees at that ref, never executed.
"""

import ast
import json
import re
import subprocess
import sys

FILE = re.compile(r"^(?:(.*)/)?([^/]+)/migrations/(\d{4}[^/]*)\.py$")


def git(*args):
    return subprocess.run(["git", "-C", sys.argv[1], *args], capture_output=True, text=True,
                          check=False).stdout  # fmt: skip


def parsed(ref, path):
    try:
        return ast.parse(git("show", f"{ref}:{path}"))
    except (SyntaxError, ValueError):
        return ast.parse("")


def assigned(body, name):
    """The literal value of `name = …` in a class or module body, or None."""
    for node in body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def label(ref, folder, name):
    """The label Django gives the app in `folder` (its last part is `name`) at ref."""
    configs = [node.body for node in ast.walk(parsed(ref, f"{folder}/apps.py"))
               if isinstance(node, ast.ClassDef)]  # fmt: skip
    labels = [(assigned(body, "label"), assigned(body, "default") is True) for body in configs]
    labels = [(text, default) for text, default in labels if isinstance(text, str)]
    chosen = [text for text, default in labels if default] or [text for text, _ in labels]
    return chosen[0] if len(set(chosen)) == 1 else name


migrations, squashes = {}, {}
for ref in sys.argv[2:]:
    listed = git("ls-tree", "-r", "--name-only", ref)
    if not listed:
        migrations[ref] = None
        continue
    squashing = {line.split(":", 1)[1] for line in git(
        "grep", "-l", "-e", "replaces", ref, "--", "*/migrations/*.py").split()}  # fmt: skip
    labels, found = {}, []
    for path in listed.splitlines():
        match = FILE.search(path)
        if not match:
            continue
        folder = f"{match.group(1)}/{match.group(2)}" if match.group(1) else match.group(2)
        if folder not in labels:
            labels[folder] = label(ref, folder, match.group(2))
        name = f"{labels[folder]}.{match.group(3)}"
        found.append(name)
        if path in squashing:
            every = [n for n in ast.walk(parsed(ref, path)) if isinstance(n, ast.Assign)]
            replaced = assigned(every, "replaces")
            if replaced:
                squashes[name] = [f"{app}.{each}" for app, each in replaced]
    migrations[ref] = sorted(found)
print(json.dumps({"migrations": migrations, "squashes": squashes}))
