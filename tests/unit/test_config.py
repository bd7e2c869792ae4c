"""The environment schema: every class of error is one line naming the file, the key and the fix."""

from pathlib import Path

import pytest
import yaml

from rollbook.core.config import (
    ENVIRONMENTS_DIR,
    available_environments,
    extended_files,
    load_environment,
    load_file,
    parse_duration,
    secret,
)
from rollbook.core.errors import UserError


def write_env(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((ENVIRONMENTS_DIR / "staging.yaml").read_text())
    change(data)
    path = tmp_path / f"{data.get('name', 'staging')}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_environments_load() -> None:
    assert available_environments() == [
        "fleet",
        "fleet-ssh",
        "production",
        "sandbox",
        "sandbox-demo",
        "sandbox-filer",
        "sandbox-systemd",
        "sandbox-wagtail",
        "staging",
    ]
    staging = load_environment("staging")
    assert staging.app.path == "/var/www/iact-backend"
    assert staging.database.name == "iact_staging"
    assert staging.database.max_backup_age == 24 * 3600
    assert staging.health.url == "http://localhost:8000/api/health/"
    assert staging.maintenance is not None
    assert staging.maintenance.page == "/usr/share/nginx/html/maintenance.html"


def test_relative_paths_resolve_against_the_file() -> None:
    sandbox = load_file(ENVIRONMENTS_DIR / "sandbox.yaml")  # not a sandbox instance's copy
    assert sandbox.app.path == str(ENVIRONMENTS_DIR.parent / ".sandbox/www/iact-backend")
    assert all(Path(f).is_absolute() for f in sandbox.logs.files)
    # in a command line, paths are resolved and options and bare commands are kept
    check = sandbox.services.proxy_check
    assert check[:3] == ["/usr/sbin/nginx", "-t", "-q"]
    assert check[4] == str(ENVIRONMENTS_DIR.parent / ".sandbox/etc/nginx/nginx.conf")
    assert load_environment("staging").services.proxy_check == ["nginx", "-t", "-q"]


def test_unknown_environment_lists_the_files() -> None:
    with pytest.raises(
        UserError,
        match="choose one of fleet, fleet-ssh, production, sandbox, sandbox-demo, sandbox-filer, "
        "sandbox-systemd, sandbox-wagtail, staging",
    ):
        load_environment("nope")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(colour="red"), "key 'colour' is not a known key"),
        (lambda d: d["database"].pop("name"), "key 'database.name' is missing"),
        (lambda d: d["database"].update(port="five"), "key 'database.port': Input should be"),
        (lambda d: d["database"].update(max_backup_age="soon"), "expected a duration"),
        (lambda d: d["services"].update(manager="upstart"), "key 'services.manager'"),
        (lambda d: d["hosts"].update(app=[]), "key 'hosts.app' needs at least one host"),
        (lambda d: d.update(name="other"), "key 'name' is 'other'"),
        # a key of app.env goes in front of every app command as `env KEY=…`: a variable name
        (
            lambda d: d["app"].update(env={"--split-string": "x"}),
            "'--split-string' is not a variable name",
        ),
        (
            lambda d: d["services"].update(ready={"nginx": {"log": "ready"}}),
            "key 'services.ready' names nginx, not in services.workers",
        ),
        (
            lambda d: d["services"].update(ready={"celery": {}}),
            "key 'services.ready.celery': give one of log, command",
        ),
        (
            lambda d: d["services"].update(ready={"celery": {"log": "(ready"}}),
            "key 'services.ready.celery.log' is not a regular expression",
        ),
        # a key that is a value or a mapping: named as the file writes it, what is wrong inside
        (
            lambda d: d.update(sudo={"appuser": "www"}),
            "key 'sudo.appuser' is not a known key (remove it or check its spelling)",
        ),
    ],
)
def test_each_class_of_error_names_file_and_key(tmp_path: Path, change, expected: str) -> None:
    path = write_env(tmp_path, change)
    if "other" in expected:
        path = path.rename(tmp_path / "staging.yaml")
    with pytest.raises(UserError) as error:
        load_file(path)
    message = str(error.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message
    assert "SudoConfig" not in message and "valid boolean" not in message, message


def test_an_app_without_celery(tmp_path: Path) -> None:
    """Workers that are not celery's, or none: `celery` may be left out or null."""
    for change in (lambda d: d.pop("celery"), lambda d: d.update(celery=None)):
        assert load_file(write_env(tmp_path, change)).celery is None


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nhosts: [unclosed\n")
    with pytest.raises(UserError, match=r"broken.yaml: not valid YAML at line \d"):
        load_file(path)


@pytest.mark.parametrize(
    ("value", "seconds"), [("24h", 86400), ("120s", 120), ("5m", 300), (3, 3), ("250ms", 0.25)]
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_secret_from_environment_then_env_file(tmp_path: Path, monkeypatch) -> None:
    env_file = tmp_path / "secrets.env"
    env_file.write_text("# comment\nIACT_DB_PASSWORD=from-file\n")
    env = load_environment("staging").model_copy(update={"env_file": str(env_file)})
    monkeypatch.delenv("IACT_DB_PASSWORD", raising=False)
    assert secret(env, "IACT_DB_PASSWORD") == "from-file"
    monkeypatch.setenv("IACT_DB_PASSWORD", "from-env")
    assert secret(env, "IACT_DB_PASSWORD") == "from-env"
    with pytest.raises(UserError, match="OTHER_SECRET is not set"):
        secret(env, "OTHER_SECRET")


def test_an_environment_that_extends_another_takes_its_values_and_names_its_file(
    tmp_path: Path,
) -> None:
    base = write_env(tmp_path, lambda data: data.update(name="base"))
    child = tmp_path / "child.yaml"
    child.write_text("name: child\nextends: base.yaml\nlogs: {watch: 120s}\n")
    env = load_file(child)
    assert (env.name, env.logs.watch) == ("child", 120.0)
    assert env.app.path == load_file(base).app.path  # the rest from the file it extends
    assert env.logs.error_pattern == load_file(base).logs.error_pattern  # merged key by key
    assert extended_files(child) == [base.resolve()]
    assert extended_files(base) == []
