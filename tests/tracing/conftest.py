"""Fixtures for the tracing tests: only the tracing extension, a fresh provider per test, and
local receivers that speak the exporters' real wire protocols (Zipkin JSON v2, OTLP/HTTP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import make_workflow
from workflows import runner
from workflows.extensions import extension_classes
from workflows.models import Run


@pytest.fixture(autouse=True)
def only_tracing(settings) -> Iterator[None]:
    """Runs in these tests take part with the tracing extension alone, with a provider of their own."""
    from tracing import telemetry

    settings.RUNNER_EXTENSIONS = ["tracing.extension.TracingExtension"]
    settings.TRACING = {}
    extension_classes.cache_clear()
    telemetry.reset()
    yield
    telemetry.reset()
    extension_classes.cache_clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The users fixture hashes four passwords per test; the default hasher makes that seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run_now(text: str, **kwargs: Any) -> Run:
    """Create and execute a run in this thread (no queue), then read it back."""
    run = runner.create_run(make_workflow(text, **kwargs), enqueue=False)
    runner.execute(run.pk)
    return Run.objects.get(pk=run.pk)


def stored_spans(run: Run) -> Any:
    """The run's span rows, once read as the span API reads them: an attempt's span is made from
    its row and stored at its first read (tracing.attempt_spans)."""
    from tracing.attempt_spans import sync
    from tracing.models import Span, Trace

    sync(Trace.objects.get(run=run))
    return Span.objects.filter(trace__run=run)


class Receiver:
    """A tiny local HTTP server that records each POST (path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.arrived:
                    outer.requests.append(
                        {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                    )
                    outer.arrived.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def zipkin_spans(self) -> list[dict[str, Any]]:
        return [span for request in self.requests for span in json.loads(request["body"])]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def traced_run(token: str = "tok-123", *, sampled: bool | None = True, status: str = "running"):
    """A run with a trace whose scripts' token is `token` (as the extension makes one)."""
    from django.utils import timezone

    from tracing.extension import token_hash
    from tracing.models import Span, Trace
    from tracing.otel.spans import new_span_id, new_trace_id

    run = runner.create_run(make_workflow("name: sent\ntasks:\n  a: {run: 'true'}\n"), enqueue=False)
    Run.objects.filter(pk=run.pk).update(status=status)
    trace = Trace.objects.create(
        run=run, trace_id=new_trace_id(), root_span_id=new_span_id(), started_at=timezone.now(),
        sampler="always_on", sampled=sampled, token_hash=token_hash(token),
    )  # fmt: skip
    Span.objects.create(
        trace=trace, span_id=trace.root_span_id, name="run sent #1", start_us=1_700_000_000_000_000, source="runner"
    )
    task_span = Span.objects.create(
        trace=trace, span_id=new_span_id(), parent_id=trace.root_span_id, name="a", start_us=1_700_000_000_000_100,
        taskrun=run.tasks.get(), attempt=1,
    )  # fmt: skip
    return run, trace, task_span


def zipkin_span(trace_id: str, parent_id: str, span_id: str = "00f067aa0ba902b7", **extra: Any) -> dict[str, Any]:
    span = {
        "traceId": trace_id, "id": span_id, "parentId": parent_id, "name": "query", "timestamp": 1_700_000_000_000_200,
        "duration": 1500, "localEndpoint": {"serviceName": "child"}, "tags": {"db.system": "sqlite"},
    }  # fmt: skip
    span.update(extra)
    return span
