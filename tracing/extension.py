"""Tracing's part in every run: a root span, a gates span, one span per task attempt.

Spans are kept in memory, stored through the run's recorder (tracing.outbox: so each change reaches
the run page as an event with the run's sequence number) and exported by the process's
TracerProvider: as they end when the run was sampled at its start, or all at once when a tail
sampler decides at the run's end. Each attempt's environment carries TRACEPARENT, TRACESTATE and BAGGAGE, and a
per-run token with the dashboard's Zipkin endpoint, so a task's own spans join the trace.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from security.providers.masking import Masker, RunMask
from workflows.engine import executor as ex
from workflows.extensions import RunExtension

from . import task_spans
from .attempt_spans import DERIVED, attempt_rows, trace_spans
from .models import Span, Trace
from .otel.config import for_workflow
from .otel.sampling import Decision, RunFacts, decide, head_decision
from .otel.spans import ERROR, OK, UNSET, SpanRecord, TaskContext, new_span_id, new_trace_id, us
from .outbox import SpanOutbox
from .store import insert_trace, record_from_row, refresh_counts, trace_dict, usual_duration
from .telemetry import global_config, telemetry

log = logging.getLogger("runner.tracing")

ZIPKIN_PATH = "/api/v2/spans"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _seconds(us_value: int | None) -> float | None:
    return None if us_value is None else us_value / 1_000_000


class TracingExtension(RunExtension):
    name = "tracing"
    panel_template = "tracing/_run_panel.html"
    script = "js/tracing_run.js"

    def __init__(self, run: Any, plan: Any, recorder: Any):
        super().__init__(run, plan, recorder)
        self.active = False
        try:
            self._start()
        except Exception:  # tracing must never keep a run from running
            log.exception("tracing could not start for run %s; the run goes on untraced", run.pk)
            self.active = False
            outbox = getattr(self, "outbox", None)
            if outbox is not None:
                outbox.stop()

    # ---------------------------------------------------------------- start

    def _start(self) -> None:
        run, spec = self.run, self.run.spec()
        self.config = for_workflow(global_config(), spec.tracing)
        if not self.config.enabled:
            return
        self.telemetry = telemetry()
        self.lock = threading.Lock()
        self.spans: dict[str, SpanRecord] = {}  # this execution's spans without an attempt, by span id
        self.traced_nodes: set[str] = set()  # nodes given a span of their own here (reused, no attempt)
        self.retried = False
        self.tasks_began = False
        self.gates: SpanRecord | None = None
        self.token = secrets.token_urlsafe(32)
        now = time.time()
        # A run that never started has no trace to look for. (Its first execution's started_at may
        # not have reached the database before its worker died: then the insert finds the trace.)
        trace = Trace.objects.filter(run=run).first() if run.started_at else None
        resumed = trace is not None
        if trace is None:
            trace_id = new_trace_id()
            head = head_decision(self.config.sampling, trace_id)
            sampled = head.sampled if head else None
            keep = self.config.store == "all" or sampled is not False
            trace = Trace(
                run=run, trace_id=trace_id, root_span_id=new_span_id(), status=run.RUNNING,
                started_at=datetime.fromtimestamp(now, tz=UTC), sampler=self.config.sampling.sampler,
                sampled=sampled, decision=head.reason if head else "", token_hash=token_hash(self.token),
                service=self.telemetry.service_name[:200], attempt_spans=Trace.PENDING if keep else Trace.NONE,
            )  # fmt: skip
            try:
                insert_trace(trace)
            except IntegrityError:
                trace, resumed = Trace.objects.get(run=run), True
        if not resumed:
            root_start = us(now)
        else:  # resumed after its worker died: same trace, same root; close what the dead worker left open
            Trace.objects.filter(pk=trace.pk).update(token_hash=token_hash(self.token))
            root_start = us(trace.started_at.timestamp())
            self._close_lost(trace, us(now))
        self.trace, self.resumed = trace, resumed
        self.sampled = trace.sampled  # True/False: decided at the start; None: tail, decided at the end
        self.outbox = SpanOutbox(
            self.recorder, run.pk, trace.pk, keep_rows=trace.attempt_spans != Trace.NONE,
            export_live=self.sampled is True and self.telemetry.exporting, telemetry=self.telemetry,
        )  # fmt: skip
        self.active = True
        self.service = self.telemetry.service_name
        attributes = {
            "runner.workflow": spec.name,
            "runner.run.id": run.pk,
            "runner.run.number": run.number,
            "runner.trigger": run.trigger,
            "runner.workflow.version": run.workflow_version.version,
            **{f"runner.tag.{k}": v for k, v in (run.tags or {}).items()},
            **dict(self.config.attributes),
        }
        self.root = SpanRecord(
            trace.trace_id, trace.root_span_id, f"run {spec.name} #{run.number}", root_start,
            attributes=attributes, service=self.service,
        )  # fmt: skip
        self.outbox.emit(self.root)
        self.run_task_spans = task_spans.RunTaskSpans(
            self.plan, trace.trace_id, trace.root_span_id, run_pk=run.pk, service=self.service, recorder=self.recorder
        )
        # This execution's attempts, as the recorder sees them reported: no hook of ours per attempt.
        self.attempts = task_spans.NotedAttempts(self.run_task_spans, self.outbox, self.recorder.tap_attempts())
        if not resumed:
            self._reused_spans(us(now))
        self._mask_token()
        self.static_env = self._static_env()
        context = TaskContext(
            trace.trace_id,
            sampled=self.sampled is not False,  # undecided (tail): the task's script records, we decide later
            state={"runner": str(run.pk)},
            baggage={"runner.workflow": spec.name, "runner.run.id": str(run.pk)},
        )
        self.envs = task_spans.AttemptEnvironments(self.plan, context, trace.trace_id)
        self.envs.prepare()

    def _close_lost(self, trace: Trace, now_us: int) -> None:
        """Spans a dead worker left running end now, as errors; the root stays open for us. (Its
        attempts' spans are made from their rows, which the reaper marked lost.)"""
        if trace.attempt_spans == Trace.STORED:
            # Begun before attempt spans were made from attempt rows: they are from now on, under
            # other ids, so the ones stored as it went would be there twice.
            Span.objects.filter(trace=trace, source="runner", attempt__isnull=False).delete()
            Trace.objects.filter(pk=trace.pk).update(attempt_spans=Trace.PENDING)
            trace.attempt_spans = Trace.PENDING
        for row in Span.objects.filter(trace=trace, duration_us__isnull=True).exclude(span_id=trace.root_span_id):
            row.duration_us = max(0, now_us - row.start_us)
            row.status, row.status_message = ERROR, "lost: the worker running it stopped"
            row.save(update_fields=["duration_us", "status", "status_message"])

    def _reused_spans(self, now_us: int) -> None:
        """A re-run carries some results over: mark those tasks in the trace, at zero length."""
        for node_id, row in self.recorder.tasks.items():
            if row.get("reused") and node_id in self.plan.nodes:
                record = self._node_record(node_id, now_us)
                self.outbox.links[record.span_id] = (row["id"], None)
                record.end(now_us, OK)
                record.attributes["runner.status"] = "reused"
                record.add_event(now_us, "reused", reason=self.recorder.mask(row.get("reason") or ""))
                self.traced_nodes.add(node_id)
                self._finished(record)

    def _mask_token(self) -> None:
        # The token is a credential: never stored, even if a script prints its environment (in
        # any of the forms a secret is masked in, and kept whole when a long line is cut).
        self.recorder.mask = RunMask(Masker([self.token]), self.recorder.mask)

    def _static_env(self) -> dict[str, str]:
        site = urlsplit(settings.SITE_URL)
        endpoint = urlunsplit((site.scheme, site.netloc, site.path.rstrip("/") + ZIPKIN_PATH, "", ""))
        # The Zipkin exporter has no header setting; credentials in the URL become HTTP Basic auth.
        with_auth = urlunsplit(
            (site.scheme, f"run-{self.run.pk}:{self.token}@{site.netloc}", site.path.rstrip("/") + ZIPKIN_PATH, "", "")
        )
        return {
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT": with_auth,
            "RUNNER_TRACE_ENDPOINT": endpoint,
            "RUNNER_TRACE_TOKEN": self.token,
            "RUNNER_TRACE_ID": self.trace.trace_id,
        }

    def _finished(self, record: SpanRecord) -> None:
        # Kept for a tail decision's export too: spans with no attempt (skipped, upstream failed,
        # cancelled, reused) exist only here until the writer stores them.
        self.spans.setdefault(record.span_id, record)
        self.outbox.ended(record)

    # ---------------------------------------------------------------- gates

    def before_tasks(self) -> None:
        if not self.active:
            return None
        gates = self.run.spec().gates
        if gates:
            # Gates run in the extensions after this one (tracing is listed first): their time is
            # from here to the executor's first report.
            self.gates = SpanRecord(
                self.trace.trace_id, new_span_id(), "gates", us(time.time()), parent_id=self.root.span_id,
                attributes={"runner.gates": ",".join(sorted(gates))}, service=self.service,
            )  # fmt: skip
            self.outbox.emit(self.gates)
        return None

    def _began(self) -> None:
        if self.tasks_began:
            return
        self.tasks_began = True
        gates = self.gates
        if gates is not None and gates.end_us is None:
            gates.end(us(time.time()), OK)
            self._finished(gates)

    # ---------------------------------------------------------------- attempts

    def attempt_env(self, node_id: str, attempt: int) -> Mapping[str, str]:
        if not self.active:
            return {}
        try:
            if not self.tasks_began:
                self._began()
            return self.envs.env(node_id, attempt)
        except Exception:  # a tracing bug must not fail the attempt
            log.exception("tracing could not prepare the environment of %s", node_id)
            return {}

    def run_env(self) -> Mapping[str, str]:
        """Where a task's own spans go (our Zipkin endpoint, with the run's token) and the trace
        id; the workflow's `env:` may set these itself, and then wins."""
        return self.static_env if self.active else {}

    def _node_record(self, node_id: str, start_us: int) -> SpanRecord:
        return self.run_task_spans.record(node_id, new_span_id(), start_us)

    # A retry (the tail sampler's rule), and a task that ended without an attempt of its own.
    node_states = frozenset({ex.RETRYING, *ex.TERMINAL} - {ex.SUCCESS})

    def node_state(self, node_id: str, state: str, **info: Any) -> None:
        if not self.active:
            return
        if not self.tasks_began:
            self._began()
        if state == ex.RETRYING:  # known here only: attempt spans may never be made
            self.retried = True
            return
        if state not in self.node_states or node_id in self.traced_nodes or self.attempts.had_attempt(node_id):
            return
        # Ended without an attempt of its own: a zero-length span says why.
        with self.lock:
            if node_id in self.traced_nodes:
                return
            self.traced_nodes.add(node_id)
        now = us(time.time())
        reason = self.recorder.mask(info.get("reason") or "")
        record = self._node_record(node_id, now)
        task_row = self.recorder.tasks.get(node_id)
        if task_row is not None:
            self.outbox.links[record.span_id] = (task_row["id"], None)
        task_spans.ended_without_attempt(record, state, reason, self.plan.nodes[node_id].task, now)
        self._finished(record)

    # ---------------------------------------------------------------- the end

    def after_run(self, outcome: ex.RunOutcome) -> None:
        if not self.active:
            return
        try:
            self._end(outcome)
        finally:
            self.outbox.stop()  # the process's ticker lets go of this run's outbox, whatever happened

    def _end(self, outcome: ex.RunOutcome) -> None:
        now = time.time()
        ran_tasks = self.tasks_began
        gates = self.gates
        if gates is not None and gates.end_us is None:
            self.tasks_began = True
            blocked = not ran_tasks and outcome.status != ex.SUCCESS
            gates.end(us(now), ERROR if blocked else OK, self.recorder.mask(outcome.reason) if blocked else "")
            self._finished(gates)
        root = self.root
        reason = self.recorder.mask(outcome.reason or "")
        root.attributes["runner.status"] = outcome.status
        if outcome.status == ex.FAILED:
            root.end(us(now), ERROR, reason or "failed")
        elif outcome.status == ex.CANCELLED:
            root.add_event(us(now), "cancelled", reason=reason)
            root.end(us(now), UNSET)
        else:
            root.end(us(now), OK)
        self.outbox.emit(root)
        self.outbox.stop()
        self.outbox.flush_due(force=True)  # everything still in memory goes before the trace's event
        duration = _seconds(root.duration_us)
        decision = self._decide(outcome.status, duration)
        self.sampled = decision.sampled
        if decision.sampled and self.telemetry.exporting:
            if self.outbox.export_live:
                self.outbox.to_export.append(root)
                self.outbox.export_ended()  # the rest of what ended since the ticker's last round too
            else:
                self.outbox.drain_noted()  # every attempt has ended: each has its span
                self.telemetry.export(self._all_spans())
        drop = not decision.sampled and self.config.store == "sampled"
        fields = {
            "status": outcome.status,
            "ended_at": datetime.fromtimestamp(now, tz=UTC),
            "duration_s": duration,
            "sampled": decision.sampled,
            "decision": decision.reason[:200],
        }
        if drop:
            fields["attempt_spans"] = Trace.NONE
        trace_pk, run_pk = self.trace.pk, self.run.pk
        derived = not drop and self.trace.attempt_spans in DERIVED

        def store() -> None:
            # The span rows went with the span event queued before this one.
            if drop:
                Span.objects.filter(trace_id=trace_pk).delete()
            refresh_counts(trace_pk, fields, attempts_of_run=run_pk if derived else None)

        for key, value in fields.items():
            setattr(self.trace, key, value)
        self.recorder.emit({"kind": "trace", "trace": trace_dict(self.trace), "dropped": drop}, store=store)

    def _decide(self, status: str, duration: float | None) -> Decision:
        if self.trace.sampled is not None and self.config.sampling.sampler != "tail":
            return Decision(self.trace.sampled, self.trace.decision)
        facts = RunFacts(
            trace_id=self.trace.trace_id,
            status=status,
            duration_s=duration,
            usual_s=usual_duration(self.run) if self.config.sampling.tail.slower_than_usual else None,
            retried=self.retried or self._retried_before(),
            tags=self.run.tags or {},
        )
        return decide(self.config.sampling, facts)

    def _retried_before(self) -> bool:
        """A resumed run may have retried in its earlier execution."""
        return any((row.get("attempts") or 0) > 1 for row in self.recorder.tasks.values())

    def _all_spans(self) -> list[SpanRecord]:
        """This execution's spans from memory, everything else (children, earlier executions) from
        the database: a tail decision exports the whole trace."""
        mine = {span.span_id: span.record() for span in self.attempts.spans.values()}
        mine.update(self.spans)
        for record in (self.root, self.gates):
            if record is not None:
                mine[record.span_id] = record
        with transaction.atomic():
            stored = Span.objects.filter(trace=self.trace).exclude(span_id__in=list(mine))
            if self.resumed and self.trace.attempt_spans in DERIVED:  # an earlier execution's attempts: from their rows
                stored = stored.exclude(source="runner", attempt__isnull=False)
                rows = [*stored.values(), *(row for row in attempt_rows(self.trace) if row["span_id"] not in mine)]
            else:  # (a reader may have stored this execution's attempt spans: they are in `mine`)
                rows = list(stored.values())
            others = [record_from_row(self.trace.trace_id, row) for row in rows]
        return [*mine.values(), *others]

    # ---------------------------------------------------------------- the run page

    @classmethod
    def snapshot(cls, run_id: int) -> Any:
        trace = Trace.objects.filter(run_id=run_id).first()
        if trace is None:
            return None
        return {"trace": trace_dict(trace), "spans": trace_spans(trace)}
