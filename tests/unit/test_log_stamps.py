"""Log lines dated by the stamp near their start: Paso 1.1's error rate and §8.1's window."""

from datetime import UTC, datetime, timedelta, timezone

from rollbook.actions.logs import line_time, recent_errors

LOG = [
    "[2026-12-07 10:50:59 +0000] [41] [INFO] Booting worker with pid: 41",
    "ERROR 2026-12-07 10:51:03,118 log Internal Server Error: /api/health/",
    "Traceback (most recent call last):",
    '  File "core/health.py", line 92, in health',
    "KeyError: 'amount__sum'",
    "[2026-12-07 10:51:04,200: ERROR/MainProcess] Received unregistered task",
    "2026-12-07T11:52:00+01:00 CRITICAL disk full",
]


def test_the_stamp_gives_the_time_in_its_zone_or_utc() -> None:
    assert line_time(LOG[0]) == datetime(2026, 12, 7, 10, 50, 59, tzinfo=UTC)
    assert line_time(LOG[1]) == datetime(2026, 12, 7, 10, 51, 3, tzinfo=UTC)
    assert line_time(LOG[6]) == datetime(2026, 12, 7, 11, 52, tzinfo=timezone(timedelta(hours=1)))
    assert line_time(LOG[2]) is None


def test_error_lines_since_a_time_one_per_error_a_traceback_taking_the_stamp_before_it() -> None:
    since = datetime(2026, 12, 7, 10, 51, tzinfo=UTC)
    found = recent_errors(LOG, "ERROR|CRITICAL|Traceback", since)
    # the 500's ERROR line and its Traceback are one error: its first line
    assert [line for _, line in found] == [LOG[1], LOG[5], LOG[6]]
    assert found[2][0] == datetime(2026, 12, 7, 10, 52, tzinfo=UTC)  # 11:52 at +01:00
    later = recent_errors(LOG, "ERROR|CRITICAL|Traceback", since + timedelta(seconds=30))
    assert [line for _, line in later] == [LOG[6]]
    # a traceback after a line that is no error is one, dated by that line's stamp
    quiet = [LOG[0], "Traceback (most recent call last):", "  File x", "ValueError: boom"]
    [(at, line)] = recent_errors(quiet, "ERROR|Traceback", since - timedelta(minutes=1))
    assert (at, line) == (datetime(2026, 12, 7, 10, 50, 59, tzinfo=UTC), quiet[1])


def test_a_stamp_without_a_zone_is_the_hosts_local_time() -> None:
    madrid = timezone(timedelta(hours=1))
    assert line_time(LOG[1], madrid) == datetime(2026, 12, 7, 9, 51, 3, tzinfo=UTC)
    assert line_time(LOG[6], madrid) == datetime(2026, 12, 7, 10, 52, tzinfo=UTC)  # names its own
