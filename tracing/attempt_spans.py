"""The spans of a run's task attempts, made from the attempts' own rows when someone reads them.

Every fact an attempt's span shows (its command, when it was ready, started and ended, its pid,
exit code, signal, CPU, memory, error and retry) is in its row already (workflows.TaskAttempt),
and so is every fact of its id (tracing.task_spans.attempt_span_id). A run's writer therefore
stores no span row per attempt: writing each attempt twice was most of what tracing cost a run
of short tasks. The spans are made when read, with the same code that makes the ones the run's
page gets live (tracing.task_spans.AttemptSpan), so both say the same to the microsecond.

A trace's `attempt_spans` says where its attempt spans are:
- pending: made from the attempt rows when read. The first read after the run ended stores them
  ("made"); until then, readers that query span rows in SQL (the span API, the attribute search,
  a child span's link to its task) store what the rows say at that moment, and later reads
  store them again.
- made: stored from the run's final attempt rows, read like any other span.
- stored: traces from before this, whose attempt spans were stored as the run went.
- none: the trace keeps no spans (sampled out with only sampled traces stored).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from workflows.models import Run, TaskAttempt

from .models import Span, Trace, span_dict
from .store import upsert_spans
from .task_spans import AttemptSpan, RunTaskSpans

SNAPSHOT_LIMIT = 5000
DERIVED = (Trace.PENDING, Trace.MADE)  # traces whose attempt spans are made from attempt rows

_ATTEMPT_FIELDS = ("taskrun_id", "taskrun__node_id", "number", "status", "command", "ready_at", "started_at",
                   "finished_at", "exit_code", "signal", "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes",
                   "error", "retry_delay", "pid")  # fmt: skip


class _Stored:
    """The masking of spans made from stored rows: what was stored had been masked already."""

    @staticmethod
    def mask(text: str) -> str:
        return text


def attempt_rows(trace: Trace) -> list[dict[str, Any]]:
    """The spans (tracing.store's row shape) of the trace's run's attempts, as their rows say now."""
    if trace.attempt_spans not in DERIVED:
        return []
    run = Run.objects.select_related("workflow_version").get(pk=trace.run_id)
    plan = run.plan()
    spans = RunTaskSpans(plan, trace.trace_id, trace.root_span_id, run_pk=run.pk, service=trace.service,
                         recorder=_Stored)  # fmt: skip
    attempts = TaskAttempt.objects.filter(taskrun__run_id=run.pk).order_by("taskrun_id", "number")
    rows = []
    for values in attempts.values(*_ATTEMPT_FIELDS):
        node_id = values["taskrun__node_id"]
        if node_id in plan.nodes:
            rows.append(AttemptSpan.from_stored(spans, node_id, values).row(values["taskrun_id"], values["number"]))
    return rows


def sync(trace: Trace, *, running: bool = True) -> bool:
    """Store the trace's attempt spans as their rows say now; once the run has ended, for good.
    With `running` False, a run still going is left alone. True if they are stored now."""
    if trace.attempt_spans != Trace.PENDING:
        return trace.attempt_spans != Trace.NONE
    # Read before any write transaction: a page's read of a running run takes no write lock. The
    # trace's end is stored after (or with) its attempts' ends, so once it says the run ended,
    # the attempt rows read after this are final.
    state, status = Trace.objects.filter(pk=trace.pk).values_list("attempt_spans", "status").get()
    trace.attempt_spans = state
    if state != Trace.PENDING:
        return state != Trace.NONE
    final = status in Run.FINAL
    if not final and not running:
        return False
    with transaction.atomic():
        # Held until the rows are in: a run's end that drops its trace (deleting its spans) then
        # waits for this, rather than this storing spans of a dropped trace after it.
        state = Trace.objects.select_for_update().filter(pk=trace.pk).values_list("attempt_spans", flat=True).get()
        if state != Trace.PENDING:
            trace.attempt_spans = state
            return state != Trace.NONE
        upsert_spans(trace.pk, attempt_rows(trace))
        if final:
            Trace.objects.filter(pk=trace.pk, attempt_spans=Trace.PENDING).update(attempt_spans=Trace.MADE)
            trace.attempt_spans = Trace.MADE
    return True


def sync_pending() -> None:
    """Store the attempt spans of every trace whose stored spans may lack them, before a query
    over the span rows of many traces."""
    for trace in Trace.objects.filter(attempt_spans=Trace.PENDING).only(
        "id", "run_id", "trace_id", "root_span_id", "service", "attempt_spans"
    ):
        sync(trace)


def trace_spans(trace: Trace, limit: int = SNAPSHOT_LIMIT) -> list[dict[str, Any]]:
    """The trace's spans in start order, as the pages and the API show them. A finished run's
    attempt spans are stored the first time they are read; a running run's are made in memory
    (a page's read should not write while the run's own writer works)."""
    spans = Span.objects.filter(trace=trace)
    if trace.attempt_spans == Trace.PENDING and not sync(trace, running=False):
        # Attempt spans an earlier read stored may be out of date: made again from their rows.
        stored = spans.exclude(source="runner", attempt__isnull=False).order_by("start_us", "id").values()[:limit]
        rows = [span_dict(row) for row in stored] + attempt_rows(trace)
        rows.sort(key=lambda row: row["start_us"])
        return rows[:limit]
    return [span_dict(row) for row in spans.order_by("start_us", "id").values()[:limit]]
