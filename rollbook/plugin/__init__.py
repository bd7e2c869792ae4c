"""The pytest plugin: the only part of rollbook that imports pytest. One module per job."""

pytest_plugins = [
    "rollbook.plugin.options",
    "rollbook.plugin.collection",
    "rollbook.plugin.session",
    "rollbook.plugin.record",
]
