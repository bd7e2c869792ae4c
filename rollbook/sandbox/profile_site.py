"""A conformance profile (`rollbook sandbox up --profile NAME`): a real third-party Django
application from PyPI, deployed beside the demo app the way its users deploy it, with its own
environment file (environments/sandbox-NAME.yaml), folder (.sandbox/NAME/), database and
programs under the sandbox's supervisord and PostgreSQL cluster.

Provisioned once: the packages downloaded into the profile's wheelhouse, its deploy repository
generated (the application's own project generator, plus what a deployer adds) and committed at
two releases under lightweight tags, `stable` and `upgrade` (the one rolled back). The stable
release is deployed, migrated, given rows, dumped as the nightly backup and validated into the
ledger (`pytest features/validation.feature --record-release`, as a team would); then the
upgrade is deployed over it and migrated, and rows are written after it. Every `up --profile`
brings that start state back: the upgrade deployed 1 h ago over the stable release deployed 3 h
ago, the nightly backup 2 h ago (and one too old), the ledger as provisioning left it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rollbook.sandbox import app_user, appvenv, backups, faults, history, supervisor
from rollbook.sandbox.application import app_environment, manage
from rollbook.sandbox.credentials import database_password
from rollbook.sandbox.dates import Timeline
from rollbook.sandbox.layout import REPO, Layout, load_profile_layout
from rollbook.sandbox.postgres import Cluster
from rollbook.sandbox.probe import http_status
from rollbook.sandbox.shell import SandboxError, say, wait_for
from rollbook.sandbox.wheelhouse import ensure_wheelhouse

LEDGER_COPY = "ledger.jsonl"  # the ledger as provisioning left it (the stable release validated)
PROVISIONED_MARKER = "provisioned"
Step = Callable[[Layout], None]


@dataclass(frozen=True)
class Profile:
    name: str
    package: str  # the third-party application's distribution, pinned at each release
    stable: str
    upgrade: str
    pins: tuple[str, ...]  # what every release pins besides it
    committed: dict[str, datetime]  # a lightweight tag is dated by its commit
    generate: Callable[[Layout, Path], None]  # the deploy repository's files, into a new folder
    deploy_files: Step  # what the deploy writes beside the checkout, out of git (secrets)
    seed_before: Step  # rows written before the nightly backup
    seed_after: Step  # rows written after the upgrade

    def tag(self, version: str) -> str:
        return f"deploy/{self.name}-{version}"

    def requirements(self, version: str) -> str:
        return "".join(f"{pin}\n" for pin in (*self.pins, f"{self.package}=={version}"))

    @property
    def template(self) -> str:
        return f"rollbook_{self.name}_start"


def up(sandbox: Layout, cluster: Cluster, profile: Profile) -> None:
    """Provision the profile the first time; bring it to its start state; its site answering."""
    site = load_profile_layout(profile.name)
    if not _is_provisioned(site, cluster, profile):
        _provision(sandbox, site, cluster, profile)
    _apply_start_state(sandbox, site, cluster, profile)
    say(
        f"up: {profile.package} {profile.upgrade} on {site.env.health.url} — roll back with "
        f"--env=sandbox-{profile.name}"
    )


def stop(sandbox: Layout, profile: Profile) -> None:
    """Stop the profile's programs (the sandbox's supervisord keeps running)."""
    supervisor.stop_running(sandbox, load_profile_layout(profile.name).env.services.app)


def _publish(site: Layout, profile: Profile) -> None:
    """The deploy repository on a bare origin: the generated project at each pinned release."""
    site.origin.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=site.origin.parent) as scratch:
        work = Path(scratch) / "site"
        work.mkdir()
        profile.generate(site, work)
        history.git(site, work, "init", "--quiet", "--initial-branch=main")
        for version in (profile.stable, profile.upgrade):
            (work / "requirements.txt").write_text(profile.requirements(version))
            history.git(site, work, "add", "--all")
            history.git(
                site,
                work,
                "commit",
                "--quiet",
                "-m",
                f"Deploy {profile.package} {version}",
                moment=profile.committed[version],
            )
            history.git(site, work, "tag", profile.tag(version))  # lightweight, like most
        shutil.rmtree(site.origin, ignore_errors=True)
        history.git(site, work, "init", "--quiet", "--bare", "--initial-branch=main", site.origin)
        history.git(site, work, "push", "--quiet", "--mirror", site.origin)


def _record_stable_release(sandbox: Layout, site: Layout, profile: Profile) -> None:
    """What a team does after a deploy works: validation.feature with --record-release."""
    say(f"validating {profile.tag(profile.stable)} and recording it in the ledger ...")
    app_user.hand_over(site)
    _start(sandbox, site)
    reports = site.root / "reports"
    done = site.shell.run(
        [
            sys.executable,
            "-m",
            "pytest",
            REPO / "features" / "validation.feature",
            f"--env=sandbox-{profile.name}",
            "--record-release",
            f"--report-dir={reports}",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        raise SandboxError(
            f"validation.feature failed on the stable {profile.package} release: see "
            f"{site.shell.log}"
        )
    shutil.copyfile(site.env.ledger_file(), site.state / LEDGER_COPY)
    supervisor.stop_running(sandbox, site.env.services.app)


def _deploy(site: Layout, profile: Profile, version: str) -> None:
    history.deploy(site, profile.tag(version))
    profile.deploy_files(site)
    appvenv.install_requirements(site)
    manage(site, "migrate", "--noinput")


def _provision(sandbox: Layout, site: Layout, cluster: Cluster, profile: Profile) -> None:
    say(
        f"provisioning the {profile.name} profile (the first time downloads "
        f"{profile.package} from PyPI) ..."
    )
    site.state.mkdir(parents=True, exist_ok=True)
    supervisor.stop_running(sandbox, site.env.services.app)
    appvenv.ensure_venv(site)
    ensure_wheelhouse(
        site,
        [profile.requirements(profile.stable), profile.requirements(profile.upgrade)],
        str(site.venv / "bin" / "python"),
    )
    bootstrap = site.state / "requirements-stable.txt"
    bootstrap.write_text(profile.requirements(profile.stable))
    site.shell.run(
        [site.venv / "bin" / "python", "-m", "pip", "install", "--quiet", "-r", bootstrap],
        env=app_environment(site),
    )
    say(f"generating the {profile.package} deploy repository ...")
    _publish(site, profile)
    db = site.env.database
    cluster.reload()  # the app's role logs in over TCP like the demo app's
    cluster.ensure_role_and_database(database_password(site), db.user, db.name)
    cluster.empty_database(db.name, db.user)
    Path(site.env.ledger_file()).unlink(missing_ok=True)
    _deploy(site, profile, profile.stable)
    profile.seed_before(site)
    manage(site, "collectstatic", "--noinput", "--clear")
    backups.dump_stable_state(site)
    _record_stable_release(sandbox, site, profile)
    say(f"deploying the upgrade {profile.tag(profile.upgrade)} and writing rows after it ...")
    _deploy(site, profile, profile.upgrade)
    profile.seed_after(site)
    appvenv.save_snapshot(site)
    cluster.save_template(db.name, profile.template)
    (site.state / PROVISIONED_MARKER).write_text("")


def _is_provisioned(site: Layout, cluster: Cluster, profile: Profile) -> bool:
    return all(
        (
            (site.state / PROVISIONED_MARKER).is_file(),
            (site.state / LEDGER_COPY).is_file(),
            backups.nightly_dump(site).is_file(),
            cluster.has_template(profile.template),
        )
    )


def _start(sandbox: Layout, site: Layout) -> None:
    supervisor.start_programs(sandbox, site.env.services.app)
    url = site.env.health.url
    wait_for(
        lambda: http_status(url) == 200,
        f"{site.env.name} answering 200 at {url}",
        60,
        f": see {site.gunicorn_log}",
    )


def _apply_start_state(sandbox: Layout, site: Layout, cluster: Cluster, profile: Profile) -> None:
    timeline = Timeline.starting_now()
    supervisor.stop_running(sandbox, site.env.services.app)
    appvenv.put_back_aside(site.venv)
    faults.clear_faults(site)  # a lock a failed run left
    backups.lay_out_backups(site, timeline)
    say(f"deploying {profile.tag(profile.upgrade)} (stable: {profile.tag(profile.stable)}) ...")
    history.deploy(site, profile.tag(profile.stable), timeline.stable_deploy)
    history.deploy(site, profile.tag(profile.upgrade), timeline.defective_deploy)
    # the ledger as provisioning left it; the runs' snapshots and held constraints go
    ledger = Path(site.env.ledger_file())
    shutil.rmtree(ledger.parent, ignore_errors=True)
    ledger.parent.mkdir(parents=True)
    shutil.copyfile(site.state / LEDGER_COPY, ledger)
    profile.deploy_files(site)
    db = site.env.database
    say(f"restoring {db.name} to the start state ...")
    cluster.restore_from_template(db.name, db.user, profile.template)
    appvenv.restore_venv(site)
    manage(site, "collectstatic", "--noinput", "--clear")
    app_user.hand_over(site)
    _start(sandbox, site)
