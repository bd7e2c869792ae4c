"""The app's workers work (Pasos 2.1, 5.2, 6.3; §8.1, §8.2), each by the method its stack allows.

The service manager's "running" is always checked first. Then, per worker: its own readiness
check (`services.ready`: a command, or a line of its log since its start); else, with `celery`
configured, celery's remote control (`inspect`) when the app's broker has it, or celery's own
"<node> ready." log line when it does not (SQLAlchemy/database transports, SQS …); else its
process staying up. Every answer names the method used.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from rollbook.actions.fleet import each_host
from rollbook.core.config import Environment
from rollbook.core.errors import StepFailed
from rollbook.core.host import Host
from rollbook.core.incident import Incident
from rollbook.core.records import Records
from rollbook.core.resources import Checkout, Venv, digest
from rollbook.core.site import Site
from rollbook.core.state import CeleryBroker, ServiceLogsBefore, WorkersBefore
from rollbook.core.verdict import Verdict, judged
from rollbook.core.waiting import wait_until
from rollbook.services import manager_for
from rollbook.services.base import ServiceManager

CELERY_NO_BROKER = "Could not connect to the message broker"  # celery's own words
MARK_LINES = 3  # a log's last lines before a start: what came after them is since the start
SETTLE = 2.0  # seconds a worker checked by its process alone must have stayed up
# celery writes "<node> ready." at INFO; a worker started without --loglevel logs at WARNING
CELERY_LEVELS = {
    "DEBUG": 10,
    "INFO": 20,
    "WARNING": 30,
    "WARN": 30,
    "ERROR": 40,
    "CRITICAL": 50,
    "FATAL": 50,
}

# Loads the app's celery app as `celery -A` does and says whether its broker has remote control
# (celery's own rule: the worker setting, and a transport with fanout exchanges).
_PROBE = (
    "import sys\n"
    "from celery.app.utils import find_app\n"
    "app = find_app(sys.argv[1])\n"
    "conn = app.connection_for_write()\n"
    "remote = app.conf.worker_enable_remote_control and conn.supports_exchange_type('fanout')\n"
    "print('remote-control' if remote else 'no-remote-control', conn.transport.driver_type)\n"
)


def worker_node(host: Host, env: Environment) -> str:
    """The worker's celery node name on this host (celery.node, %h = the host's hostname)."""
    assert env.celery is not None
    node = env.celery.node
    if "%h" not in node:
        return node
    return node.replace("%h", host.run(["hostname"], mutating=False).stdout.strip())


def celery_remote_control(host: Host, env: Environment, records: Records) -> tuple[bool, str]:
    """(has remote control, broker transport) of the app's celery app, loaded with the app's venv
    and settings on this host; StepFailed naming the cause when it cannot be loaded. Loaded once
    per checkout commit and venv package set (a Python start and the app's imports): the answer
    of earlier in the run is reused while both are unchanged."""
    assert env.celery is not None
    venv = Venv(host, env.app)
    code = Checkout(host, env.app.path).git("rev-parse", "HEAD", check=False)
    loaded: dict[str, str] | None = None  # not a checkout: nothing to know the answer by
    if code:
        loaded = {"code": code, "packages_sha256": digest(venv.freeze()), "app": env.celery.app}
    known = records.known(CeleryBroker)
    earlier = known.hosts.get(host.spec) if known else None
    if loaded and earlier and earlier["loaded"] == loaded:
        return earlier["remote_control"], earlier["transport"]
    result = venv.run(
        [venv.tool("python"), "-c", _PROBE, env.celery.app], mutating=False, check=False, timeout=60
    )
    words = result.stdout.split()
    if not result.ok or len(words) < 2:
        said = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise StepFailed(
            f"{host.name}: celery app {env.celery.app!r} (key celery.app) cannot be loaded with "
            f"the app's venv and settings: {said} — fix the key, or remove `celery` when the "
            "workers are not celery's"
        )
    remote, transport = words[0] == "remote-control", words[1]
    if loaded:
        records.keep_host(
            CeleryBroker,
            host.spec,
            {"loaded": loaded, "remote_control": remote, "transport": transport},
        )
    return remote, transport


def methods(host: Host, env: Environment, records: Records) -> dict[str, str]:
    """How each worker of this host is checked: "command", "log", "inspect", "celery log" or
    "process". Checks the method can be used (its command exists, celery's app loads)."""
    celery = ""
    found: dict[str, str] = {}
    for name in env.services.workers:
        own = env.services.ready.get(name)
        if own and own.command:
            tool = Venv(host, env.app).command(own.command)[0]
            if not host.run(
                ["sh", "-c", 'command -v "$1"', "sh", tool],
                mutating=False,
                check=False,
                cwd=env.app.path,
                app=True,
            ).ok:
                raise StepFailed(
                    f"{host.name}: services.ready.{name}.command: {tool!r} is not a command on "
                    "this host — give its full path"
                )
            found[name] = "command"
        elif own:
            found[name] = "log"
        elif env.celery is not None:
            if not celery:
                remote, transport = celery_remote_control(host, env, records)
                celery = "inspect" if remote else f"celery log ({transport}: no remote control)"
            found[name] = celery
        else:
            found[name] = "process"
    return found


def plan_methods(incident: Incident, site: Site, records: Records) -> dict[str, dict[str, str]]:
    """Before any change: how each app host's workers will be checked; {host: {worker: method}}.
    A method that cannot be used with the deployed release (its celery app does not load, its
    command is missing) is said loudly but does not stop the rollback: the release being rolled
    back may be what breaks it; Paso 5.2 decides again with the target's code."""

    def plan(host: Host) -> dict[str, str]:
        try:
            return methods(host, site.env, records)
        except StepFailed as exc:
            incident.say(f"WARNING: {exc} (with the deployed release; Paso 5.2 tries the target's)")
            return {name: f"unusable now: {exc}" for name in site.env.services.workers}

    chosen = each_host(incident, site, "app", plan)
    incident.note("worker_methods", hosts=chosen)
    each_host(incident, site, "app", lambda host: observable(host, site.env, chosen[host.spec]))
    for spec, by_worker in chosen.items():
        said = ", ".join(f"{worker} by {method}" for worker, method in by_worker.items())
        incident.say(f"workers on {spec}: {said or 'none'}")
    return chosen


def observable(host: Host, env: Environment, chosen: dict[str, str]) -> None:
    """A worker checked by celery's "<node> ready." line must run at a level that writes it:
    its running process's command line is read; StepFailed with the fix when the level hides
    the line (Paso 5.2 would wait for a line that never comes, services down)."""
    manager = manager_for(host, env.services)
    for name, method in chosen.items():
        if not method.startswith("celery log"):
            continue
        for pid in manager.pids(name):
            argv = host.run(
                ["sh", "-c", 'tr "\\000" "\\n" < "$1"', "sh", f"/proc/{pid}/cmdline"],
                mutating=False,
                check=False,
            ).stdout.splitlines()
            level = celery_log_level(argv)
            if level is not None and CELERY_LEVELS.get(level.upper(), 0) > CELERY_LEVELS["INFO"]:
                raise StepFailed(
                    f"{host.name}: worker {name} is checked by celery's '<node> ready.' log line "
                    f"(its broker has no remote control), but it runs at log level {level} "
                    f"(pid {pid}) and celery writes that line at INFO: its readiness cannot be "
                    "observed — run the worker with `--loglevel INFO`, or give "
                    f"services.ready.{name}.command (a command that exits 0 when it is ready)"
                )


def celery_log_level(argv: list[str]) -> str | None:
    """The log level a celery worker's command line gives it (celery's default, WARNING, when
    it gives none); None when `argv` is not a celery worker's."""
    if "worker" not in argv or not any(part.rsplit("/", 1)[-1] == "celery" for part in argv):
        return None
    for index, part in enumerate(argv):
        if part in ("-l", "--loglevel") and index + 1 < len(argv):
            return argv[index + 1]
        if part.startswith("--loglevel="):
            return part.split("=", 1)[1]
        if part.startswith("-l") and not part.startswith("--") and len(part) > 2:
            return part[2:]
    return "WARNING"


def try_before(incident: Incident, site: Site, records: Records) -> WorkersBefore | None:
    """Paso 2.1, before any change (dry-run included): each app host's workers tried once by
    their method — what §9 must give back. Not ready is said, never a failure: the release being
    rolled back may be what breaks them."""
    if not site.env.services.workers:
        return None
    tried = each_host(incident, site, "app", lambda host: ready_now(host, site.env, records))
    ready = records.keep(WorkersBefore(tried))
    for spec, state in ready.hosts.items():
        if not state["ready"]:
            incident.say(f"WARNING: {spec}: workers not ready before any change: {state['said']}")
    return ready


def ready_now(host: Host, env: Environment, records: Records) -> dict[str, Any]:
    """The host's workers tried once by their methods, now: {"ready": bool, "said": str}."""
    try:
        return {"ready": True, "said": check_host(host, env, records, {}, wait=False)}
    except StepFailed as exc:
        return {"ready": False, "said": str(exc)}


def log_marks(manager: ServiceManager, names: list[str]) -> dict[str, list[str]]:
    """Each service's last log lines before a start."""
    return {name: manager.last_lines(name, MARK_LINES) for name in names}


def lines_since(mark: list[str], lines: list[str]) -> list[str]:
    """The lines of `lines` (a log's end) written after `mark` (its end before the start); all
    of them when the mark is gone (the log was rotated or truncated)."""
    size = len(mark)
    if not size:
        return lines
    for end in range(len(lines), size - 1, -1):
        if lines[end - size : end] == mark:
            return lines[end:]
    return lines


def check_host(
    host: Host,
    env: Environment,
    records: Records,
    marks: dict[str, list[str]],
    *,
    wait: bool,
    chosen: dict[str, str] | None = None,
    answered: dict[str, str] | None = None,
) -> str:
    """This host's workers work, each by its method (waiting up to the start timeout when
    `wait`); "worker: method — what it showed; …". StepFailed names the worker and method.
    `chosen`: the methods, when already known; `answered`: the celery nodes that answered the
    fleet's one inspect (check_all; None when there was none), the others asked once more."""
    manager = manager_for(host, env.services)
    timeout = env.services.start_timeout if wait else 0.0
    said = []
    for name, method in (chosen or methods(host, env, records)).items():
        try:
            shown = _check(host, env, manager, name, method, marks, timeout, answered)
        except StepFailed as exc:
            raise StepFailed(f"{exc} [worker checked by {method}]") from None
        own = env.services.ready.get(name)
        if wait and own and own.roundtrip:  # started: a real job too
            shown += f"; {job(host, env, name)}"
        said.append(f"{name}: {method} — {shown}")
    return "; ".join(said)


def job(host: Host, env: Environment, name: str) -> str:
    """A real job through worker `name`'s queue and back, by its configured command
    (services.ready.<worker>.roundtrip, with the app's env); what came back, or StepFailed with
    the error the command gave."""
    venv = Venv(host, env.app)
    argv = venv.command(env.services.ready[name].roundtrip)
    result = venv.run(argv, mutating=False, check=False, timeout=90)
    if not result.ok:
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise StepFailed(
            f"{host.name}: worker {name}'s job round-trip `{shlex.join(argv)}` failed: "
            f"{said[-1] if said else f'exit {result.exit_status}'}"
        )
    return f"job round-trip: {(result.stdout.strip().splitlines() or ['exit 0'])[-1]}"


def without_roundtrip(env: Environment) -> list[str]:
    """The workers no real job can be sent through: not celery's, no configured round-trip."""
    if env.celery is not None:
        return []
    ready = env.services.ready
    return [w for w in env.services.workers if not (w in ready and ready[w].roundtrip)]


def _check(
    host: Host,
    env: Environment,
    manager: ServiceManager,
    name: str,
    method: str,
    marks: dict[str, list[str]],
    timeout: float,
    answered: dict[str, str] | None = None,
) -> str:
    if not manager.is_running(name):
        raise StepFailed(f"{host.name}: worker {name} is not running (service manager)")
    mark = marks.get(name, [])
    if method == "command":
        return _command(host, env, name, timeout)
    if method == "log":
        pattern = re.compile(env.services.ready[name].log or "")
        return _log_line(manager, host.name, name, pattern, mark, timeout)
    if method == "inspect":
        return _inspect(host, env, timeout, answered)
    if method.startswith("celery log"):
        ready = re.compile(re.escape(worker_node(host, env)) + r" ready\.")
        return _log_line(manager, host.name, name, ready, mark, timeout)
    return _process(manager, host.name, name, timeout)


def unchecked(site: Site, answers: dict[str, str]) -> Verdict:
    """Each app host's each worker named in what check_all showed: none left unchecked."""
    return judged(
        (
            f"{spec} {name}"
            for spec in site.hosts("app")
            for name in site.env.services.workers
            if f"{name}: " not in answers.get(spec, "")
        ),
        "workers not checked",
    )


def check_all(incident: Incident, site: Site, records: Records, *, wait: bool) -> dict[str, str]:
    """Every app host's workers work; {host: what each showed}. The log marks are those the
    last start recorded (ServiceLogsBefore), if any."""
    logs_before = records.known(ServiceLogsBefore)
    marks = logs_before.hosts if logs_before else {}
    env = site.env
    chosen = each_host(incident, site, "app", lambda host: methods(host, env, records))
    answered = _inspect_fleet(incident, site, chosen, wait=wait)
    answers = each_host(
        incident,
        site,
        "app",
        lambda host: check_host(
            host,
            env,
            records,
            marks.get(host.spec, {}),
            wait=wait,
            chosen=chosen[host.spec],
            answered=answered,
        ),
    )
    incident.note("workers_checked", hosts=answers)
    return answers


def _inspect_fleet(
    incident: Incident, site: Site, chosen: dict[str, dict[str, str]], *, wait: bool
) -> dict[str, str] | None:
    """One `celery inspect active` naming the celery node of every host whose workers are
    checked by inspect, asked from the first of them and polled until all answered (up to the
    start timeout when `wait`): {host: its node} of the nodes that answered. Where fewer than
    two hosts inspect, none is asked here (None). A node that did not answer is asked again
    from its own host (check_host): a host with a broker of its own is still checked, later."""
    env = site.env
    specs = [spec for spec, found in chosen.items() if "inspect" in found.values()]
    if len(specs) < 2 or env.celery is None:
        return None
    named = each_host(incident, site, "app", lambda host: worker_node(host, env), among=specs)
    nodes, venv = set(named.values()), Venv(site.host(specs[0]), env.app)
    asked = ["inspect", "active", "-d", ",".join(sorted(nodes))]
    argv = [venv.tool("celery"), "-A", env.celery.app, *asked]
    seen: set[str] = set()

    def all_answered() -> bool:
        result = venv.run(argv, mutating=False, check=False, timeout=30)
        seen.update(node for node in nodes if f"{node}: OK" in result.stdout)
        # no broker: waiting would not help; each host says so with its own check
        return seen == nodes or CELERY_NO_BROKER in result.stdout + result.stderr

    wait_until(all_answered, env.services.start_timeout if wait else 0.0, interval=0.2)
    return {spec: node for spec, node in named.items() if node in seen}


def _poll(probe: Callable[[], str], timeout: float, *, failure: str, interval: float = 0.5) -> str:
    """probe() until it says something, up to `timeout` (0: once); StepFailed(`failure`, and
    the wait) when it never does."""
    shown = (wait_until(probe, timeout, interval=interval) if timeout else probe()) or ""
    if not shown:
        raise StepFailed(failure + (f" within {timeout:.0f} s" if timeout else ""))
    return shown


def _command(host: Host, env: Environment, name: str, timeout: float) -> str:
    venv = Venv(host, env.app)
    argv = venv.command(env.services.ready[name].command)

    def ok() -> str:
        result = venv.run(argv, mutating=False, check=False, timeout=30)
        return f"`{shlex.join(argv)}` exit 0" if result.ok else ""

    return _poll(
        ok,
        timeout,
        failure=f"{host.name}: worker {name} is running but its readiness "
        f"command `{shlex.join(argv)}` did not exit 0",
    )


def _log_line(
    manager: ServiceManager,
    where: str,
    name: str,
    pattern: re.Pattern[str],
    mark: list[str],
    timeout: float,
) -> str:
    def seen() -> str:
        new = lines_since(mark, manager.last_lines(name, 200))
        return next((line.strip() for line in reversed(new) if pattern.search(line)), "")

    return _poll(
        seen,
        timeout,
        failure=f"{where}: worker {name} is running but its log shows "
        f"no line matching {pattern.pattern!r} since its start",
    )


def _process(manager: ServiceManager, where: str, name: str, timeout: float) -> str:
    def up() -> str:
        uptime = manager.uptime(name)
        if not manager.is_running(name):
            return "down"
        return (
            f"running {uptime:.0f} s, pid {manager.pids(name)}" if (uptime or 0) >= SETTLE else ""
        )

    stopped = f"{where}: worker {name} did not stay running (service manager)"
    shown = _poll(up, max(timeout, SETTLE + 1), failure=stopped)
    if shown == "down":
        raise StepFailed(stopped)
    return shown


def _inspect(
    host: Host, env: Environment, timeout: float, answered: dict[str, str] | None = None
) -> str:
    """The worker's node answers `celery inspect active`: asked from this host (polled up to
    `timeout`), or already seen in the fleet's one inspect (`answered`; a node missing there
    was waited for already: asked once more, from here)."""
    assert env.celery is not None
    if answered is not None and host.spec in answered:  # its node, named then: no 2nd hostname
        return f"{answered[host.spec]} answered (one inspect for every host's worker)"
    node, venv = worker_node(host, env), Venv(host, env.app)
    timeout = timeout if answered is None else 0.0
    argv = [venv.tool("celery"), "-A", env.celery.app, "inspect", "active", "-d", node]

    def inspect() -> str:
        result = venv.run(argv, mutating=False, check=False, timeout=30)
        if CELERY_NO_BROKER in result.stdout + result.stderr:  # waiting would not help
            raise StepFailed(
                f"{host.describe_failure(result)} — the workers have no broker: start "
                "it (redis / rabbitmq, as the app's settings name it), then run again"
            )
        return f"{node} answered" if result.ok and f"{node}: OK" in result.stdout else ""

    # each inspect already waits celery's 1 s for replies: polled with a short pause
    failure = f"{host.name}: worker {node} is running but did not answer `{shlex.join(argv[1:])}`"
    return _poll(inspect, timeout, failure=failure, interval=0.2)


def roundtrip(host: Host, env: Environment) -> dict[str, str]:
    """§8.2: a real task sent from a process with the app's settings loaded (`manage.py shell`,
    so a result backend that needs the ORM works) and its result awaited; {task, id, result}."""
    assert env.celery is not None
    task = env.celery.roundtrip_task or "celery.accumulate"
    token = f"rollbook-{host.name}"
    args, kwargs = ([], {}) if env.celery.roundtrip_task else ([token], {"index": 0})
    code = (
        "from celery.app.utils import find_app\n"
        f"app = find_app({env.celery.app!r})\n"
        f"sent = app.send_task({task!r}, args={args!r}, kwargs={kwargs!r})\n"
        "print('rollbook-task', sent.id, flush=True)\n"
        "print('rollbook-result', repr(sent.get(timeout=30)))\n"
    )
    venv = Venv(host, env.app)
    argv = [venv.tool("python"), env.app.manage, "shell", "-c", code]
    result = venv.run(argv, mutating=False, check=False, timeout=90)
    said = dict(
        line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith("rollbook-")
    )
    answer = {
        "task": task,
        "id": said.get("rollbook-task", ""),
        "result": said.get("rollbook-result", ""),
    }
    expected = repr(token) if not env.celery.roundtrip_task else None
    if not result.ok or not answer["result"] or (expected and answer["result"] != expected):
        why = roundtrip_failure(result.stderr, answer["result"], expected, result.exit_status)
        raise StepFailed(f"{host.name}: celery task {task} (id {answer['id'] or 'not sent'}) {why}")
    return answer


def roundtrip_failure(stderr: str, came: str, expected: str | None, status: int) -> str:
    """Why a round-trip failed, as the client said it: a wrong result, no worker in time, no
    result backend to wait on, or the error the client raised."""
    last = (stderr.strip().splitlines() or ["no output"])[-1]
    if came:
        return f"came back with {came}, not {expected}"
    if status == 124 or "TimeoutError" in last:
        return "did not come back from a worker within 30 s"
    raised = next((line for line in stderr.splitlines() if "No result backend" in line), None)
    if raised:  # celery's message goes on over a second line: the exception's own is named
        return (
            f"cannot be awaited: the app's celery has no result backend ({raised}) — "
            "configure one (CELERY_RESULT_BACKEND) for §8.2's round-trip"
        )
    return f"failed before a worker answered: {last}"
