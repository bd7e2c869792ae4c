"""The run's state between the plugin's hooks, in pytest's stash."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollbook.core.config import Environment
from rollbook.core.run import Run

RUN_KEY = pytest.StashKey[Run]()
FOLDER_KEY = pytest.StashKey[tuple[str, Path]]()
RESUMED_KEY = pytest.StashKey[set[str]]()
ENV_KEY = pytest.StashKey[Environment]()
FAILED_KEY = pytest.StashKey[str]()
