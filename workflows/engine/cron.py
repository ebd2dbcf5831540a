"""Five-field cron expressions (minute hour day-of-month month day-of-week) for `schedule:`.

Supports `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, names (jan, mon)
and the @hourly/@daily/@weekly/@monthly/@yearly shorthands. Day-of-month and day-of-week
follow cron's rule: when both are restricted, either may match.
"""

from __future__ import annotations

from datetime import datetime

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
NAMES = {
    3: {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)},
    4: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}
SHORTHANDS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class CronError(ValueError):
    pass


class Cron:
    def __init__(self, expression: str):
        text = SHORTHANDS.get(expression.strip().lower(), expression.strip())
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"needs five fields (minute hour day month weekday), got {len(parts)}")
        self.expression = expression
        self.sets = [_parse_field(part, index) for index, part in enumerate(parts)]
        self.sets[4] = {0 if d == 7 else d for d in self.sets[4]}  # 7 is Sunday too
        self.dom_any, self.dow_any = parts[2] == "*", parts[4] == "*"

    def matches(self, moment: datetime) -> bool:
        minutes, hours, days, months, weekdays = self.sets
        if moment.minute not in minutes or moment.hour not in hours or moment.month not in months:
            return False
        dom = moment.day in days
        dow = (moment.isoweekday() % 7) in weekdays
        if self.dom_any or self.dow_any:
            return dom and dow
        return dom or dow


def _parse_field(text: str, index: int) -> set[int]:
    name, low, high = FIELDS[index]
    values: set[int] = set()
    for item in text.lower().split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"{name}: bad step '{step_text}'")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, index), _number(last, index)
        else:
            start = _number(base, index)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise CronError(f"{name}: '{item}' is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _number(text: str, index: int) -> int:
    if text in NAMES.get(index, {}):
        return NAMES[index][text]
    if not text.isdigit():
        raise CronError(f"{FIELDS[index][0]}: '{text}' is not a number")
    return int(text)
