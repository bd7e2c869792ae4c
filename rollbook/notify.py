"""Messages of the procedure (Pasos 1.4, 7.2, §9.1): shown to the operator and journaled."""

from __future__ import annotations

from rollbook.run import Run


def announce(run: Run, kind: str, lines: list[str]) -> str:
    text = "\n".join(lines)
    width = max(len(line) for line in lines) + 4
    run.say(
        "\n" + "=" * width + "\n" + "\n".join(f"  {line}" for line in lines) + "\n" + "=" * width
    )
    run.journal.write("notification", paso=run.executor.paso, kind=kind, text=text)
    return text
