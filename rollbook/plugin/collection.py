""".feature files collected as modules of pytest-bdd scenarios (one test per Escenario), and
the order guard on a selection."""

from __future__ import annotations

import re
import types
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from pytest_bdd import scenario
from pytest_bdd.feature import get_feature
from pytest_bdd.gherkin_parser import get_gherkin_document

from rollbook.lifecycle.selection import (
    Scenario,
    order_problem,
)

PASO = re.compile(r"Paso (\d+\.\d+)")


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".feature":
        return FeatureFile.from_parent(parent, path=file_path)
    return None


def node_name(scenario_name: str) -> str:
    """'Paso 4.3 — Restaurar base de datos' → 'test_paso_4_3_restaurar_base_de_datos'."""
    ascii_name = unicodedata.normalize("NFKD", scenario_name).encode("ascii", "ignore").decode()
    return "test_" + re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")


def duplicate_scenarios(path: Path) -> list[str]:
    document = get_gherkin_document(str(path))
    names: list[str] = []
    for child in document.feature.children if document.feature else []:
        children = child.rule.children if child.rule else [child]
        names += [c.scenario.name for c in children if c.scenario]
    return [name for name, count in Counter(names).items() if count > 1]


class FeatureFile(pytest.Module):
    """A .feature file collected as a module of pytest-bdd scenarios, one test per Escenario."""

    def _getobj(self) -> types.ModuleType:
        duplicates = duplicate_scenarios(self.path)
        if duplicates:
            raise self.CollectError(
                f"{self.path}: two scenarios named {duplicates[0]!r}: pytest-bdd would merge them "
                "into one test; give each Escenario its own name"
            )
        base = str(self.path.parent)
        feature = get_feature(base, self.path.name)
        module = types.ModuleType(self.path.stem)
        module.__file__ = str(self.path)
        for name, template in feature.scenarios.items():
            function = scenario(self.path.name, name, features_base_dir=base)(lambda: None)
            function.rollbook_scenario = (name, template.line_number)  # type: ignore[attr-defined]
            module.__dict__[node_name(name)] = function
        return module

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        items = list(super().collect())
        for item in items:
            made = getattr(getattr(item, "obj", None), "rollbook_scenario", None)
            if made is not None:
                line = made[1]
                item.reportinfo = lambda line=line, item=item: (self.path, line - 1, item.name)
        self.scenarios = [scenario_of(item) for item in items if isinstance(item, pytest.Item)]
        return items


def feature_of(item: pytest.Item) -> FeatureFile | None:
    return item.getparent(FeatureFile)


def scenario_name(item: pytest.Item) -> str:
    """The Escenario's own name ('Paso 4.3 — Restaurar base de datos'), as collection made it."""
    made = getattr(getattr(item, "obj", None), "rollbook_scenario", None)
    return str(made[0]) if made else item.name


def paso_of(item: pytest.Item) -> str:
    """'4.3' for 'Paso 4.3 — …'; the whole scenario name for a checklist item."""
    name = scenario_name(item)
    match = PASO.search(name)
    return match.group(1) if match else name


def scenario_of(item: pytest.Item) -> Scenario:
    tags = frozenset(mark.name for mark in item.iter_markers())
    return Scenario(paso_of(item), scenario_name(item), tags)


def check_order(items: list[pytest.Item]) -> None:
    features: dict[FeatureFile, list[Scenario]] = {}
    for item in items:
        feature = feature_of(item)
        if feature is not None:
            features.setdefault(feature, []).append(scenario_of(item))
    for feature, selected in features.items():
        problem = order_problem(feature.path.name, feature.scenarios, selected)
        if problem:
            raise pytest.UsageError(problem)
