"""Anexo C — the decision tree: may this rollback start?"""

from __future__ import annotations

from dataclasses import dataclass

IMMEDIATE = "Rollback inmediato"
ASK_TECH_LEAD = "Evaluar con Tech Lead"
OVER_10_PCT = "Rollback si >10% usuarios"
CAN_WAIT = "Puede esperar fix"
ESCALATE = "Escalar a DBA/CTO"
PREVENTIVE = "PREVENTIVO"  # §2.3's severity of post-deployment tests failing massively


@dataclass(frozen=True)
class Decision:
    branch: str
    proceed: bool
    reason: str


def decide(
    severity: str | None,
    users_affected: float | None,
    valid_backup: bool,
    approved_by: str | None,
    contradicted: bool = False,
) -> Decision:
    """The tree's branch; a branch that asks for a person proceeds only with their approval.
    `contradicted`: CRITICO was declared but Paso 1.1 observed nothing down. The tree's first
    question is then answered by what was observed (not critical: the Tech Lead evaluates) where
    a Tech Lead approved; without one the operator's word stands (they may see what the URLs do
    not), said as such."""
    if not valid_backup:
        return Decision(ESCALATE, False, "no valid backup: escalate to the DBA / CTO")
    if severity == "CRITICO" and contradicted:
        unseen = "CRITICO declared, nothing observed down in Paso 1.1 (CONTRADICCIÓN)"
        if approved_by:
            approved = f"{unseen}: evaluated and approved by {approved_by}"
            return Decision(ASK_TECH_LEAD, True, approved)
        return Decision(IMMEDIATE, True, f"{unseen}: immediate rollback on the operator's word")
    if severity == "CRITICO":
        return Decision(IMMEDIATE, True, "critical (service down): immediate rollback")
    if not approved_by:
        return Decision(
            ASK_TECH_LEAD,
            False,
            f"severity {severity or 'not given'} is not critical: the Tech Lead evaluates; "
            'start again with --approved-by "<Tech Lead>"',
        )
    if severity == PREVENTIVE:  # §2.3: the tests fail before users do; the tree's users
        # branch would say "wait for a fix" for what §2.3 says to roll back
        return Decision(
            ASK_TECH_LEAD,
            True,
            f"preventive (§2.3: post-deployment tests failing massively): evaluated and approved "
            f"by {approved_by}",
        )
    if users_affected is None:
        return Decision(ASK_TECH_LEAD, True, f"evaluated and approved by {approved_by}")
    if users_affected > 10:
        return Decision(OVER_10_PCT, True, f"{users_affected:g}% of users affected, approved")
    return Decision(
        CAN_WAIT,
        False,
        f"{users_affected:g}% of users affected is not over 10%: the tree says to wait for a "
        "fix; roll back only if the incident is critical (--severity CRITICO) or more users "
        "are affected",
    )
