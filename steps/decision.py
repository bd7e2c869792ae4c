"""Anexo C — Árbol de decisión (decision_tree.feature): reglas puras, sin ambiente."""

from pytest_bdd import given, parsers, then, when

from rollbook.actions.decision import Decision, decide


@given(
    parsers.parse("un problema de severidad {severity} que afecta al {users:g}% de los usuarios"),
    target_fixture="problem",
)
def problem(severity: str, users: float) -> dict[str, object]:
    return {"severity": severity, "users": users}


@given(parsers.re(r"que (?P<has>sí|no) hay backup válido"))
def backup(problem: dict[str, object], has: str) -> None:
    problem["backup"] = has == "sí"


@given(parsers.re(r'la aprobación de "(?P<approver>[^"]*)"'))
def approval(problem: dict[str, object], approver: str) -> None:
    problem["approver"] = approver or None


@given(parsers.re(r"que el Paso 1\.1 (?P<seen>sí|no) observa el servicio caído"))
def observed(problem: dict[str, object], seen: str) -> None:
    problem["contradicted"] = problem["severity"] == "CRITICO" and seen == "no"


@when("se recorre el árbol de decisión", target_fixture="decision")
def walk(problem: dict[str, object]) -> Decision:
    return decide(
        str(problem["severity"]),
        float(problem["users"]),  # type: ignore[arg-type]
        bool(problem["backup"]),
        problem["approver"],  # type: ignore[arg-type]
        bool(problem.get("contradicted")),
    )


@then(parsers.parse('la rama es "{branch}"'))
def branch_is(decision: Decision, branch: str) -> None:
    assert decision.branch == branch, decision.reason


@then(parsers.re(r"el rollback (?P<verdict>procede|no procede)"))
def verdict(decision: Decision, verdict: str) -> None:
    assert decision.proceed == (verdict == "procede"), decision.reason
