"""Every change the procedure makes to a system goes through Host.run (journaled as an intent
before it runs, refused in a read-only run, planned and not run in a dry-run: test_executor.py).
Walked here over the source of the layers that act on the environment: no module of them calls
the operating system itself, save the few that write the run's own incident folder, named below
with why."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACTING = ("actions", "checks", "services", "lifecycle", "governance")

# calls that change something by themselves, outside Host.run
DIRECT = {
    "subprocess": {"run", "Popen", "call", "check_call", "check_output"},
    "shutil": {"rmtree", "move", "copy", "copy2", "copyfile", "copytree", "chown"},
    "os": {
        "remove",
        "unlink",
        "rename",
        "replace",
        "rmdir",
        "makedirs",
        "mkdir",
        "chmod",
        "chown",
        "open",
        "fdopen",
        "system",
        "kill",
        "killpg",
    },
}
PATH_WRITES = {
    "write_text",
    "write_bytes",
    "unlink",
    "mkdir",
    "chmod",
    "rename",
    "touch",
    "rmdir",
    "symlink_to",
    "hardlink_to",
}

# (module, function): why it may write by itself — the run's own folder on the operator's machine,
# or the tool's own files, never the environment it acts on
OWN_FILES = {
    (
        "actions/database/loss_statement.py",
        "_write_list",
    ): "the lost rows' list, in the incident folder",
    (
        "actions/database/row_recovery.py",
        "_keep_salvage",
    ): "the salvage rows' dump, in the incident folder",
    ("actions/in_app/trees.py", "git"): "runs on the app host, sent there by Host.run",
    ("lifecycle/watch_result.py", "append"): "§8.2's verdict written into the incident folder",
    ("governance/people.py", "record_signers"): "an allowed_signers file in a scratch folder",
    ("governance/statements.py", "sign"): "a signed statement written beside the record",
    ("governance/statements.py", "read"): "an allowed_signers file in a scratch folder",
    ("governance/approval.py", "replan"): "the approval's re-plan: a dry-run, in a scratch folder",
    ("governance/approval.py", "_stop"): "stops that dry-run's own process group",
    ("governance/approval.py", "_keep"): "the approval's statement copied beside the record",
    ("governance/provenance.py", "git"): "git describes this checkout of rollbook (reads)",
    ("governance/provenance.py", "tool_versions"): "the local tools' versions (reads)",
    ("governance/signing.py", "ssh_keygen"): "ssh-keygen signs and verifies the record's files",
    ("governance/signing.py", "_in_agent"): "ssh-add lists the agent's keys (reads)",
    ("governance/signing.py", "_write_private"): "a key file written for ssh-keygen (0600)",
    ("governance/signing.py", "sign_folder"): "the incident folder's signature written",
}


def direct_calls(path: Path) -> list[tuple[str, str, int]]:
    """(function, call, line) of each call of the module that changes something by itself."""
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef) else function
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                owner, name = child.func.value, child.func.attr
                module = owner.id if isinstance(owner, ast.Name) else ""
                if name in DIRECT.get(module, set()) or (
                    name in PATH_WRITES and module not in DIRECT
                ):
                    found.append((function, f"{ast.unparse(owner)}.{name}", child.lineno))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


def walk(layers: tuple[str, ...] = ACTING) -> list[tuple[str, str, str, int]]:
    """(module, function, call, line) of every direct change in the acting layers."""
    return [
        (str(path.relative_to(ROOT / "rollbook")), function, call, line)
        for layer in layers
        for path in sorted((ROOT / "rollbook" / layer).rglob("*.py"))
        for function, call, line in direct_calls(path)
    ]


def test_the_acting_layers_change_systems_only_through_host_run() -> None:
    found = walk()
    assert [
        f"rollbook/{m}:{line} {f}: {call}" for m, f, call, line in found if (m, f) not in OWN_FILES
    ] == []
    assert set(OWN_FILES) - {(m, f) for m, f, _, _ in found} == set(), "no longer needed: drop"


def test_a_direct_change_is_found(tmp_path: Path) -> None:
    source = tmp_path / "made_up.py"
    source.write_text(
        "import shutil, subprocess\n"
        "def clean(folder, path):\n"
        "    shutil.rmtree(folder)\n"
        "    subprocess.run(['rm', path])\n"
        "    path.write_text('x')\n"
        "    host.run(['rm', path], mutating=True)\n"
    )
    assert direct_calls(source) == [
        ("clean", "shutil.rmtree", 3),
        ("clean", "subprocess.run", 4),
        ("clean", "path.write_text", 5),
    ]
