"""tests/durations.json from a run's JUnit XML: each test module's measured seconds, which
`make test` orders the modules by (slowest first).

    .venv/bin/pytest tests -n 2 --dist loadscope --junitxml=/tmp/run.xml
    .venv/bin/python -m tests.durations /tmp/run.xml
"""

import json
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

DURATIONS = Path(__file__).with_name("durations.json")


def module_seconds(junit: Path) -> dict[str, int]:
    seconds: Counter[str] = Counter()
    for case in ElementTree.parse(junit).iter("testcase"):
        seconds[case.get("classname", "").replace(".", "/") + ".py"] += float(case.get("time", 0))
    return {module: round(s) for module, s in seconds.most_common() if round(s)}


if __name__ == "__main__":
    DURATIONS.write_text(json.dumps(module_seconds(Path(sys.argv[1])), indent=1) + "\n")
