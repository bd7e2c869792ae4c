"""The command line of a run (--env, --reason, …) and the incident folder reserved at configure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rollbook.core.config import load_environment
from rollbook.core.errors import UserError
from rollbook.core.option_table import add_options, report_folder
from rollbook.core.run import OPTIONS, new_incident_dir
from rollbook.plugin.keys import ENV_KEY, FOLDER_KEY


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(
        parser.getgroup("rollbook", "rollbook: the rollback procedure PROCED-BACK-003").addoption,
        OPTIONS,
    )


RECORD_CSS = Path(__file__).with_name("record.css")  # the record's look, inlined by pytest-html


@pytest.hookimpl(tryfirst=True)  # before pytest-html reads --html
def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("--env")
    if name is None:
        return
    try:
        env = config.stash[ENV_KEY] = load_environment(name)
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("collectonly"):
        return
    report_dir = report_folder(config.getoption("--report-dir"))
    try:
        incident, folder = new_incident_dir(report_dir, env.name, datetime.now(UTC))
    except OSError as exc:
        raise pytest.UsageError(
            f"--report-dir {report_dir}: cannot create the incident folder ({exc.strerror}): "
            "give a writable folder"
        ) from None
    config.stash[FOLDER_KEY] = (incident, folder)
    if not config.getoption("htmlpath", None):
        config.option.htmlpath = str(folder / "report.html")
        config.option.self_contained_html = True
    config.option.css = [*(config.getoption("css", None) or []), str(RECORD_CSS)]
