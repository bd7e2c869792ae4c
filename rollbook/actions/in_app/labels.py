"""Sent ahead of trees.py and packages.py (`python -c`, with the app's Python), never imported by
rollbook: how Django names a migration file without executing it. An app's label is what Django
records in django_migrations: the `label` its apps.py's AppConfig sets (the one marked
`default = True` when several set one), else its folder's name; a squashed migration's
`replaces` list is read from its syntax tree."""

import ast
import re

FILE = re.compile(r"^(?:(.*)/)?([^/]+)/migrations/(\d{4}[^/]*)\.py$")


def parsed(source):
    try:
        return ast.parse(source or "")
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


def label(apps_source, name):
    """The label Django gives the app whose folder is `name` and whose apps.py is `apps_source`."""
    configs = [
        node.body for node in ast.walk(parsed(apps_source)) if isinstance(node, ast.ClassDef)
    ]
    labels = [(assigned(body, "label"), assigned(body, "default") is True) for body in configs]
    labels = [(text, default) for text, default in labels if isinstance(text, str)]
    chosen = [text for text, default in labels if default] or [text for text, _ in labels]
    return chosen[0] if len(set(chosen)) == 1 else name


def replaced(source):
    """The "label.name" migrations a squashed migration replaces, [] for any other."""
    every = [n for n in ast.walk(parsed(source)) if isinstance(n, ast.Assign)]
    found = assigned(every, "replaces") if "replaces" in (source or "") else None
    return [f"{app}.{each}" for app, each in found] if found else []


def migrations_of(paths, read, squashing=None):
    """(sorted "label.name" migrations, {squash: replaced}) of the files `paths`, `read(path)`
    giving a file's text (None when it is absent); only the files in `squashing` (None: all)
    can be squashes (what mentions `replaces`), the others are not read."""
    labels, found, squashes = {}, [], {}
    for path in paths:
        match = FILE.search(path)
        if not match:
            continue
        folder = f"{match.group(1)}/{match.group(2)}" if match.group(1) else match.group(2)
        if folder not in labels:
            labels[folder] = label(read(f"{folder}/apps.py"), match.group(2))
        name = f"{labels[folder]}.{match.group(3)}"
        found.append(name)
        squash = replaced(read(path)) if squashing is None or path in squashing else []
        if squash:
            squashes[name] = squash
    return sorted(found), squashes
