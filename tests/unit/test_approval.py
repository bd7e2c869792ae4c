"""Approvals and sign-offs with the real ssh-keygen: what a plan digest binds, whose signature a
statement carries, and what Paso 1.1's criterion accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollbook.core.config import Environment, Person
from rollbook.core.errors import UserError
from rollbook.core.executor import Mode
from rollbook.governance import approval, signing, statements
from tests.unit.local_run import local_run
from tests.unit.test_signing import make_key

PLAN = {
    "incident": "2026-11-29-0300-staging",
    "environment": "unit",
    "provenance": {
        "environment": {"sha256": "e" * 64},
        "features": {"f": "1" * 64},
        "rollbook": {"version": "0.1.0", "commit": "c" * 40},
    },
    "deployed": {"commit": "d" * 40},
    "target": {"tag": "deploy-1", "commit": "a" * 40},
    "backup": {"path": "/backups/unit_1.sql", "sha256": "b" * 64},
    "database_path": {"path": "restore"},
    "commands": [
        {
            "paso": "3.1",
            "host": "local://",
            "cwd": None,
            "argv": ["tar", "-cf", "/www/.rollbook/static-2026-11-29-0300-staging.tar", "."],
        },
        {
            "paso": "3.2",
            "host": "local://",
            "cwd": "/www/app",
            "argv": [
                "/www/venv/bin/pip",
                "install",
                "-r",  # a run's private folder: random part
                "/home/app/.rollbook/runs/2026-11-29-0300-staging.e02ab339/target/r.txt",
            ],
        },
        {
            "paso": "4.1",
            "host": "local://",
            "cwd": None,
            "argv": ["pg_dump", "-f", "/backups/pre_rollback_20261129_030012.sql"],
        },
    ],
}


ONE_COMMAND = json.loads(json.dumps(PLAN["commands"][:1]).replace("0300-staging", "0312-staging"))


def replanned(**change: object) -> dict[str, object]:
    """PLAN as a later dry-run makes it: another incident id and time, `change` applied."""
    text = json.dumps(PLAN).replace("2026-11-29-0300-staging", "2026-11-29-0312-staging")
    text = text.replace(".e02ab339", ".5f1c07aa")
    plan = json.loads(text.replace("20261129_030012", "20261129_031244"))
    plan.update(change)
    return plan


def test_a_plan_made_again_later_has_the_same_digest() -> None:
    assert approval.digest(replanned()) == approval.digest(PLAN)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"backup": {"path": "/backups/unit_0.sql", "sha256": "0" * 64}}, "backup"),
        ({"target": {"tag": "deploy-0", "commit": "0" * 40}}, "target"),
        ({"database_path": {"path": "migrate"}}, "database_path"),
        ({"database_path": {"path": "restore", "drops": {"t.c": 3}}}, "database_path"),
        ({"commands": ONE_COMMAND}, "commands (3 approved, 1 now; #2 now: (none))"),
    ],
)
def test_any_bound_change_changes_the_digest_and_is_named(change: dict, named: str) -> None:
    other = replanned(**change)
    assert approval.digest(other) != approval.digest(PLAN)
    assert approval.differences(approval.bound(PLAN), approval.bound(other)) == [named]


def test_live_row_counts_and_the_order_of_parallel_hosts_are_not_bound() -> None:
    """The app writes between the plan and the run; a fleet plans its hosts in parallel."""
    counted = {"path": "restore", "drops": {"core_customer.tier": 205}}
    base = approval.digest(replanned(database_path=counted))
    later = {"path": "restore", "drops": {"core_customer.tier": 214}}
    assert approval.digest(replanned(database_path=later)) == base
    lost = replanned(database_path=counted, restore_loss_estimate={"tables": {"o": 3}})
    assert approval.digest(lost) == base
    fleet = [
        {"paso": "2.2", "host": h, "cwd": None, "argv": ["stop", n]}
        for h in ("ssh://a", "ssh://b")
        for n in ("web", "worker")
    ]
    interleaved = [fleet[0], fleet[2], fleet[1], fleet[3]]  # a, b, a, b: each host in its order
    assert approval.digest(replanned(commands=interleaved)) == approval.digest(
        replanned(commands=fleet)
    )
    swapped = [fleet[1], fleet[0], *fleet[2:]]  # host a stops its worker first: another plan
    assert approval.digest(replanned(commands=swapped)) != approval.digest(
        replanned(commands=fleet)
    )


def test_the_environment_file_and_the_procedure_are_bound() -> None:
    for part in ("environment", "features", "rollbook"):
        made = json.loads(json.dumps(PLAN["provenance"]))
        made[part] = {"changed": True}
        assert approval.digest(replanned(provenance=made)) != approval.digest(PLAN), part


def people_env(tmp_path: Path, env: Environment) -> Environment:
    keys = tmp_path / "people"
    keys.mkdir()
    listed = []
    for slug, roles in (("lead", ["tech_lead"]), ("ops", ["devops"])):
        make_key(keys, slug)
        listed.append(
            Person(
                name=slug.title(),
                identity=f"{slug}@unit.invalid",
                roles=roles,
                public_key=str(keys / f"{slug}.pub"),
            )
        )
    return env.model_copy(update={"people": listed})


def test_a_statement_names_its_signer_and_any_change_breaks_it(tmp_path, monkeypatch) -> None:
    run = local_run(tmp_path, monkeypatch)
    env = people_env(tmp_path, run.site.env)
    folder = tmp_path / "plan"
    folder.mkdir()
    signed = statements.sign(folder, env, str(tmp_path / "people" / "lead"), {"kind": "approval"})
    assert (signed.person.name, signed.statement["identity"]) == ("Lead", "lead@unit.invalid")
    assert statements.read(signed.path, env).person.name == "Lead"
    forged = json.loads(signed.path.read_text()) | {"identity": "ops@unit.invalid"}
    signed.path.write_text(json.dumps(forged))  # claims to be the other person
    with pytest.raises(UserError, match="the signature is not Ops's"):
        statements.read(signed.path, env)
    stranger = make_key(tmp_path, "stranger")
    with pytest.raises(UserError, match="is not the key of anyone"):
        statements.sign(folder, env, str(stranger), {"kind": "approval"})


def test_an_addendum_is_never_written_over_another(tmp_path, monkeypatch) -> None:
    """Numbered after the ones there; a number taken meanwhile (another run of the same person,
    a file left by hand) is skipped, never overwritten."""
    run = local_run(tmp_path, monkeypatch)
    env = people_env(tmp_path, run.site.env)
    folder, key = tmp_path / "record", str(tmp_path / "people" / "lead")
    taken = folder / statements.FOLDER / "addendum-tech_lead-lead_unit.invalid-2.json"
    taken.parent.mkdir(parents=True)
    taken.write_text("written meanwhile\n")
    body = {"kind": "addendum", "role": "tech_lead"}
    paths = [statements.sign(folder, env, key, body, append=True).path for _ in range(2)]
    assert [p.name for p in paths] == [
        "addendum-tech_lead-lead_unit.invalid-3.json",
        "addendum-tech_lead-lead_unit.invalid-4.json",
    ]
    assert taken.read_text() == "written meanwhile\n"
    assert all(statements.read(p, env).person.name == "Lead" for p in paths)


def test_only_an_approving_role_may_approve(tmp_path, monkeypatch) -> None:
    run = local_run(tmp_path, monkeypatch)
    env = people_env(tmp_path, run.site.env)
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "plan.json").write_text(json.dumps(PLAN))
    with pytest.raises(UserError, match="Ops holds no approving role"):
        approval.approve(folder, env, str(tmp_path / "people" / "ops"), None)
    signed = approval.approve(folder, env, str(tmp_path / "people" / "lead"), None)
    assert signed.statement["plan_sha256"] == approval.digest(PLAN)
    assert signed.statement["role"] == "tech_lead"


@pytest.mark.parametrize(
    ("fact", "severity", "mode", "covered"),
    [
        ({"status": "pendiente"}, "CRITICO", Mode.EXECUTE, True),
        ({"status": "pendiente"}, "ALTO", Mode.EXECUTE, False),
        ({"status": "pendiente"}, "ALTO", Mode.DRY_RUN, True),
        ({"status": "firmada", "plan_sha256": "x"}, "ALTO", Mode.EXECUTE, True),
        ({"status": "firmada"}, "ALTO", Mode.EXECUTE, False),
        ({"status": "declarada (sin firma)", "approver": "Lead"}, "ALTO", Mode.EXECUTE, True),
        (None, "ALTO", Mode.EXECUTE, False),
    ],
)
def test_the_paso_1_1_criterion(tmp_path, monkeypatch, fact, severity, mode, covered) -> None:
    run = local_run(tmp_path, monkeypatch, mode=mode, severity=severity)
    assert (approval.uncovered(run, fact) is None) is covered


def test_a_declared_approval_does_not_cover_where_a_signed_one_is_required(
    tmp_path, monkeypatch
) -> None:
    run = local_run(tmp_path, monkeypatch, severity="ALTO")
    run.site.env = people_env(tmp_path, run.site.env).model_copy(update={"approval": "required"})
    problem = approval.uncovered(run, {"status": "declarada (sin firma)", "approver": "Lead"})
    assert problem is not None and "signed over the plan" in problem


def test_a_public_key_signs_only_with_its_own_private_half(tmp_path: Path) -> None:
    """Someone else's .pub beside one's own private key: refused before any change (else the
    operator would be taken for the .pub's owner)."""
    own = make_key(tmp_path, "own")
    other = make_key(tmp_path, "other")
    posing = tmp_path / "posing"
    posing.mkdir()
    (posing / "key").write_bytes(own.read_bytes())
    (posing / "key").chmod(0o600)
    (posing / "key.pub").write_bytes(Path(f"{other}.pub").read_bytes())
    problem = signing.usable_key(str(posing / "key.pub"))
    assert problem is not None and "is not the private half" in problem
    assert signing.usable_key(f"{own}.pub") is None  # a pair: its private half beside it


def test_outside_a_sandbox_a_required_approval_needs_the_operators_own_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a critical emergency, whose approval may come after: the record must say who ran
    it by their own key, not by the environment's."""
    run = local_run(tmp_path, monkeypatch, severity="CRITICO")
    run.site.env = run.site.env.model_copy(update={"approval": "required"})
    said = approval.problem(run)
    assert said is not None and said.startswith("environment unit requires approval, and so a")
    assert "--signing-key" in said and "\n" not in said
    run.site.env = run.site.env.model_copy(update={"approval": "optional"})
    assert approval.problem(run) is None
