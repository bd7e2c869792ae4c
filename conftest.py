"""Wires the rollbook plugin and the step definitions; nothing else."""

pytest_plugins = [
    "rollbook.plugin",
    "steps.evaluation",
    "steps.services",
    "steps.code",
    "steps.database",
    "steps.validation",
    "steps.closing",
    "steps.checklist",
    "steps.prerequisites",
    "steps.decision",
]
