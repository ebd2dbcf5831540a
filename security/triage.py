"""Triage: a person changes findings' states, with a comment; every change is kept in the history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .models import Finding, FindingEvent

MAX_BULK = 1000


class TriageError(ValueError):
    pass


def parse_expiry(value: Any) -> datetime | None:
    """A date means through the end of that day (UTC); a datetime is taken as given."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value + timedelta(days=1), time.min)
    else:
        text = str(value).strip()
        try:
            day = parse_date(text)
            moment = datetime.combine(day + timedelta(days=1), time.min) if day else parse_datetime(text)
        except ValueError:
            moment = None
        if moment is None:
            raise TriageError(f"'{text}' is not a date (YYYY-MM-DD) or a date and time")
    return timezone.make_aware(moment, UTC) if timezone.is_naive(moment) else moment


def triage(findings: Iterable[Finding], *, state: str, user: Any, comment: str = "",
           accepted_until: Any = None) -> int:  # fmt: skip
    """Set the state of these findings; returns how many changed. Raises TriageError on bad input."""
    states = {s for s, _ in Finding.STATES}
    if state not in states:
        raise TriageError(f"unknown state '{state}' (expected one of {', '.join(sorted(states))})")
    comment = (comment or "").strip()
    until = parse_expiry(accepted_until)
    if state == Finding.ACCEPTED_RISK:
        if not comment:
            raise TriageError("accepting a risk needs a reason (the comment)")
        if until is None:
            raise TriageError("accepting a risk needs an expiry date (accepted_until)")
        if until <= timezone.now():
            raise TriageError("the expiry date must be in the future")
    elif until is not None:
        raise TriageError("only an accepted risk has an expiry date")
    if state == Finding.FALSE_POSITIVE and not comment:
        raise TriageError("say why it is a false positive (the comment)")
    rows = list(findings)
    if len(rows) > MAX_BULK:
        raise TriageError(f"at most {MAX_BULK} findings at once")
    now = timezone.now()
    changed, events = [], []
    for finding in rows:
        if finding.state == state and finding.accepted_until == until and not comment:
            continue
        events.append(FindingEvent(finding=finding, user=user, at=now, from_state=finding.state, to_state=state,
                                   comment=comment, accepted_until=until))  # fmt: skip
        finding.state, finding.accepted_until = state, until
        finding.state_reason = comment
        finding.triaged_by, finding.triaged_at = user, now
        changed.append(finding)
    with transaction.atomic():
        Finding.objects.bulk_update(changed, ["state", "accepted_until", "state_reason", "triaged_by", "triaged_at"])
        FindingEvent.objects.bulk_create(events)
    return len(changed)
