"""HTTP checks from the app host (curl, as the procedure does) and the maintenance page."""

from __future__ import annotations

from rollbook.actions.fleet import each_host
from rollbook.core.errors import StepFailed
from rollbook.core.run import Run
from rollbook.services import manager_for


def health_status(run: Run, spec: str) -> tuple[int, float]:
    """The health URL asked on the app host `spec` (through health.unix_socket when set)."""
    return http_status(run, spec, run.env.health.url, health_via(run))


def health_via(run: Run) -> list[str]:
    """curl's way to the health URL: through gunicorn's unix socket when the YAML names one."""
    socket = run.env.health.unix_socket
    return ["--unix-socket", socket] if socket else []


def http_status(run: Run, spec: str, url: str, via: list[str] | None = None) -> tuple[int, float]:
    """(status, seconds) of a GET from the host `spec`; status 0 when nothing answered."""
    timeout = str(round(run.env.health.timeout))
    result = run.executor.run(
        spec,
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--max-time",
         timeout, *(via or []), url],
        mutating=False,
        check=False,
    )  # fmt: skip
    parts = result.stdout.split()
    code = int(parts[0]) if parts and parts[0].isdigit() else 0
    return code, float(parts[1]) if len(parts) > 1 else 0.0


def http_body(run: Run, spec: str, url: str, via: list[str] | None = None) -> str:
    timeout = str(round(run.env.health.timeout))
    argv = ["curl", "-sS", "--max-time", timeout, *(via or []), url]
    return run.executor.run(spec, argv, mutating=False, check=False).stdout


def maintenance_on(run: Run, spec: str) -> None:
    """Paso 2.3: copy the template into place and reload the proxy."""
    page = run.env.maintenance
    assert page is not None
    _check_proxy(run, spec)
    run.executor.run(spec, ["cp", page.template, page.page], mutating=True, root="maintenance")
    _reload_proxy(run, spec)


def maintenance_off(run: Run, spec: str) -> None:
    """Paso 5.3: remove the page and reload the proxy."""
    page = run.env.maintenance
    assert page is not None
    _check_proxy(run, spec)
    run.executor.run(spec, ["rm", "-f", page.page], mutating=True, root="maintenance")
    _reload_proxy(run, spec)


def maintenance_active(run: Run, spec: str) -> bool:
    page = run.env.maintenance
    assert page is not None
    return run.executor.run(spec, ["test", "-f", page.page], mutating=False, check=False).ok


def public_state(run: Run) -> tuple[bool, dict[str, int]]:
    """Paso 2.3 / 5.3: is the maintenance page in place; what the first public endpoint answers."""
    spec = run.hosts("proxy")[0]
    answers = {url: http_status(run, spec, url)[0] for url in run.env.health.endpoints[:1]}
    return all(each_host(run, "proxy", lambda s: maintenance_active(run, s)).values()), answers


def maintenance_everywhere(run: Run, on: bool) -> None:
    """Paso 2.3 (on) / 5.3 (off) on every proxy host (the app hosts unless hosts.proxy)."""
    each_host(run, "proxy", lambda spec: (maintenance_on if on else maintenance_off)(run, spec))


def _check_proxy(run: Run, spec: str) -> None:
    """Before anything changes: the proxy would take its configuration (a reload ignores errors)."""
    argv = run.env.services.proxy_check
    if not argv:
        return
    result = run.executor.run(spec, argv, mutating=False, check=False, root="proxy_check")
    if not result.ok:
        raise StepFailed(
            f"{run.executor.describe_failure(result)} — the proxy's configuration is broken, so "
            "nothing was changed or reloaded: fix the file it names (`"
            f"{' '.join(argv)}` must pass), then run again"
        )


def _reload_proxy(run: Run, spec: str) -> None:
    if run.env.services.proxy:
        manager_for(run, spec).reload(run.env.services.proxy)
