"""Trace pages: search, one trace's waterfall, two traces side by side. Thin over the models."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from workflows.models import Workflow

from .attempt_spans import trace_spans
from .models import Trace
from .otel.compare import compare_spans
from .search import STATUSES, TraceSearch
from .store import trace_dict

PAGE_SIZE = 50


def _traces() -> Any:
    return Trace.objects.select_related("run", "run__workflow").defer("run__workflow__source", "token_hash")


@permission_required("tracing.view_trace", raise_exception=True)
def trace_list(request: HttpRequest) -> HttpResponse:
    """Keyset pagination on (started_at, id), like the run list."""
    search = TraceSearch.parse(request.GET)
    traces = _traces().order_by("-started_at", "-id")
    if not search.problems:
        traces = search.apply(traces)
    before = request.GET.get("before", "")
    problems = list(search.problems)
    if before:
        try:
            stamp, pk = before.rsplit("_", 1)
            moment = datetime.fromisoformat(stamp)
            traces = traces.filter(Q(started_at__lt=moment) | Q(started_at=moment, id__lt=int(pk)))
        except ValueError:
            problems.append("bad page link")
    page = list(traces[: PAGE_SIZE + 1]) if not search.problems else []
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    cursor = f"{page[-1].started_at.isoformat()}_{page[-1].pk}" if more and page else None
    context = {
        "traces": page,
        "search": search,
        "problems": problems,
        "statuses": STATUSES,
        "workflows": Workflow.objects.only("id", "name"),
        "next_query": "?" + urlencode({**search.raw, "before": cursor}) if cursor else None,
        "first_query": "?" + urlencode(search.raw) if before else None,
    }
    return render(request, "tracing/trace_list.html", context)


@permission_required("tracing.view_trace", raise_exception=True)
def trace_detail(request: HttpRequest, trace_id: str) -> HttpResponse:
    trace = get_object_or_404(_traces(), trace_id=trace_id)
    others = _traces().filter(run__workflow_id=trace.run.workflow_id).exclude(pk=trace.pk).order_by("-started_at")[:20]
    context = {
        "trace": trace,
        "run": trace.run,
        "others": others,
        "data": {"trace": trace_dict(trace), "spans": trace_spans(trace)},
    }
    return render(request, "tracing/trace_detail.html", context)


@permission_required("tracing.view_trace", raise_exception=True)
def trace_compare(request: HttpRequest) -> HttpResponse:
    ids = [request.GET.get("a", ""), request.GET.get("b", "")]
    picked = [value for value in request.GET.getlist("t") if value]
    if not all(ids) and len(picked) == 2:
        ids = picked
    problems = []
    pair: list[Trace] = []
    for key, value in zip(("a", "b"), ids):
        trace = _traces().filter(trace_id=value.strip().lower()).first() if value else None
        if trace is None:
            problems.append(f"{key}: {'no trace ' + value[:40] if value else 'choose a trace'}")
        else:
            pair.append(trace)
    context: dict[str, Any] = {"problems": problems, "pair": pair}
    if len(pair) == 2:
        a, b = pair
        spans_a, spans_b = trace_spans(a), trace_spans(b)
        context.update(
            {
                "a": a,
                "b": b,
                "rows": compare_spans(spans_a, spans_b),
                "data": {
                    "a": {"trace": trace_dict(a), "spans": spans_a},
                    "b": {"trace": trace_dict(b), "spans": spans_b},
                },
                "delta": (b.duration_s - a.duration_s)
                if a.duration_s is not None and b.duration_s is not None
                else None,
            }
        )
    return render(request, "tracing/trace_compare.html", context, status=200 if len(pair) == 2 else 400)
