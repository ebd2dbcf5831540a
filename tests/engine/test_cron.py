"""Cron expressions for `schedule:`."""

from __future__ import annotations

from datetime import datetime

import pytest

from workflows.engine.cron import Cron, CronError


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        ("* * * * *", datetime(2026, 1, 1, 0, 0), True),
        ("*/15 * * * *", datetime(2026, 1, 1, 3, 45), True),
        ("*/15 * * * *", datetime(2026, 1, 1, 3, 46), False),
        ("0 9-17 * * mon-fri", datetime(2026, 11, 25, 12, 0), True),  # a Wednesday
        ("0 9-17 * * mon-fri", datetime(2026, 11, 29, 12, 0), False),  # a Sunday
        ("0 0 * * 7", datetime(2026, 11, 29, 0, 0), True),  # 7 is Sunday too
        ("30 2 1,15 * *", datetime(2026, 3, 15, 2, 30), True),
        ("30 2 1,15 * *", datetime(2026, 3, 16, 2, 30), False),
        ("0 0 1 jan *", datetime(2027, 1, 1, 0, 0), True),
        ("@daily", datetime(2026, 5, 5, 0, 0), True),
        ("@hourly", datetime(2026, 5, 5, 7, 1), False),
        # Both day fields restricted: either one matching is enough (cron's rule).
        ("0 0 13 * fri", datetime(2026, 11, 13, 0, 0), True),
        ("0 0 13 * fri", datetime(2026, 11, 20, 0, 0), True),
        ("0 0 13 * fri", datetime(2026, 11, 21, 0, 0), False),
        ("5-20/5 * * * *", datetime(2026, 1, 1, 0, 15), True),
        ("5-20/5 * * * *", datetime(2026, 1, 1, 0, 25), False),
    ],
)
def test_it_matches_like_cron(expression, moment, expected):
    assert Cron(expression).matches(moment) is expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * *", "five fields"),
        ("60 * * * *", "minute: '60' is outside 0-59"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day of month"),
        ("*/0 * * * *", "bad step"),
        ("* * * foo *", "month: 'foo' is not a number"),
        ("5-1 * * * *", "outside"),
    ],
)
def test_it_rejects_bad_expressions_with_the_field(expression, message):
    with pytest.raises(CronError, match=message):
        Cron(expression)
