"""Runs on an app host with the app's Python (`python -c`, after labels.py), never imported by
rollbook.

argv: the checkout and the refs to read. Prints one JSON object: per ref, its migrations
("label.name", or null when the ref is not in the checkout), and each squashed migration of
those refs with the migrations it replaces (its `replaces` list). Files are read from their
syntax trees at that ref, never executed.
"""

import json
import subprocess
import sys


def git(*args):
    done = subprocess.run(
        ["git", "-C", sys.argv[1], *args], capture_output=True, text=True, check=False
    )
    return done.stdout if done.returncode == 0 else None


migrations, squashes = {}, {}
for ref in sys.argv[2:]:
    listed = git("ls-tree", "-r", "--name-only", ref)
    if not listed:
        migrations[ref] = None
        continue
    grep = git("grep", "-l", "-e", "replaces", ref, "--", "*/migrations/*.py") or ""
    squashing = {line.split(":", 1)[1] for line in grep.split()}

    def show(path, ref=ref):
        return git("show", f"{ref}:{path}")

    found, squashed = migrations_of(listed.splitlines(), show, squashing)  # noqa: F821
    migrations[ref] = found
    squashes.update(squashed)
print(json.dumps({"migrations": migrations, "squashes": squashes}))
