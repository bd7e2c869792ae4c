"""bench/cpu_by_program.py's reading of the kernel's process accounting (acct_v3 records): CPU
seconds summed by program name. Built records: the test never switches the machine's
accounting (a global setting) on or off."""

import importlib.util
import struct
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cpu_by_program.py"
spec = importlib.util.spec_from_file_location("cpu_by_program", BENCH)
assert spec and spec.loader
cpu_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cpu_bench)


def record(name: bytes, utime: int, stime: int, version: int = 3) -> bytes:
    """One acct_v3 record; times as comp_t (hundredths of a second)."""
    return struct.pack(
        "<BBHIIIIIIfHHHHHHHH16s",
        0,
        version,
        0,
        0,
        0,
        0,
        1,
        1,
        0,
        0.0,
        utime,
        stime,
        0,
        0,
        0,
        0,
        0,
        0,
        name,
    )


def test_cpu_seconds_are_summed_by_program() -> None:
    big = (1 << 13) | 100  # comp_t 100 * 8**1: 800 hundredths
    data = record(b"pip", 150, 50) + record(b"pip", big, 0) + record(b"psql", 3, 1)
    seconds, processes = cpu_bench.cpu_by_program(data)
    assert seconds["pip"] == pytest.approx(2.0 + 8.0)
    assert seconds["psql"] == pytest.approx(0.04)
    assert processes == {"pip": 2, "psql": 1}


def test_another_record_format_is_refused() -> None:
    with pytest.raises(SystemExit, match="acct_v3"):
        cpu_bench.cpu_by_program(record(b"pip", 1, 1, version=2))
