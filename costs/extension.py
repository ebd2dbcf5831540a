"""The costs app's part in every run: price each attempt, publish the growing cost, enforce budgets.

While a task runs, each usage sample (about once a second) is priced as if the attempt ended now
and published as a `cost` event on the run's own event path; when the attempt ends, its final
price is stored as a CostRecord in the recorder's transaction and published the same way. A
budget crossed on the way warns, or stops the run with the reason.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Sum

from workflows.batchsql import Dumped
from workflows.engine import executor as ex
from workflows.extensions import RunExtension, Stop

from . import budgets, catalogues, records
from .models import Budget, BudgetAlert, BudgetOverride, CostRecord, RunCost
from .pricing import model as pricing

log = logging.getLogger("runner.costs")


def target_for(spec: Any) -> tuple[pricing.Target | None, str]:
    """Where the workflow says it would run, else the site's default; None if neither."""
    cost = spec.cost or {}
    model = cost.get("model") or "allocation"
    if cost.get("provider"):
        return pricing.Target(
            cost["provider"], cost["region"], cost["instance_type"], model
        ), "the workflow's cost section"
    default = (getattr(settings, "COST_DEFAULT_TARGET", "") or "").strip()
    parts = default.split(":")
    if len(parts) == 3 and all(parts):
        return pricing.Target(
            parts[0], parts[1], parts[2], model
        ), "COST_DEFAULT_TARGET (the workflow has no cost section)"
    return None, "the workflow has no cost section and COST_DEFAULT_TARGET is empty"


def task_settings(spec: Any, task: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Requests and declared usage of a task: the workflow's as defaults, the task's own on top."""
    top, own = spec.cost or {}, task.cost or {}
    requests = {**(top.get("requests") or {}), **(own.get("requests") or {})}
    usage = {**(top.get("usage") or {}), **(own.get("usage") or {})}
    return {k: float(v) for k, v in requests.items()}, {k: float(v) for k, v in usage.items()}


class CostExtension(RunExtension):
    name = "costs"
    panel_template = "costs/_run_panel.html"
    script = "js/costs_run.js"

    @classmethod
    def warm_up(cls) -> None:
        catalogues.current()  # builds and caches the prices every run's estimate reads (~0.6 s)

    def __init__(self, run, plan, recorder):
        super().__init__(run, plan, recorder)
        spec = plan.spec
        self.target, self.origin = target_for(spec)
        catalogue, versions = catalogues.current()
        self.built_version = versions[-1].pk
        if self.target is not None:
            self.rates = pricing.resolve_rates(catalogue, self.target)
        else:
            self.rates = {"instance": {"unpriced": self.origin}}
            self.rates.update({key: {"unpriced": self.origin} for key in pricing.USAGE})
        self.model = self.target.model if self.target else "allocation"
        self.pricer = pricing.Pricer(self.rates, self.model)
        self.rates_json = Dumped(self.rates)  # the same on every record of the run: serialised once
        self.task_settings: dict[str, tuple[dict[str, float], dict[str, float]]] = {}  # by task id
        self.lock = threading.Lock()
        self.spans: dict[tuple[str, int], list[float | None]] = {}  # (node, attempt) -> [start, end]
        self.peaks: dict[tuple[str, int], int] = {}
        self.live: dict[str, float] = {}
        # A resumed run keeps what it already priced; one never started has priced nothing.
        done = records.run_nodes(run.pk) if run.started_at is not None else {}
        self.node_final = {node: row["total"] or 0.0 for node, row in done.items()}
        self.final_total = sum(self.node_final.values())
        self.limits = budgets.limits_for(run.workflow, run.tags, spec.budget)
        self.base: dict[int, float] = {}
        self.alerted: set[tuple[int, str]] = set()
        self.stopping = False
        self.waived: set[int] = set()
        self.pending: list[dict[str, Any]] = []  # records waiting for the writer's next transaction
        self.stored_days: dict[date, float] = {}  # this run's amounts in the database, by day
        self.tags = Dumped(dict(run.tags or {}))  # on every record of the run: serialised once
        target = self.target
        self.record_fields = {  # what every record of the run says alike
            "run_id": run.pk, "workflow_id": run.workflow_id, "model": self.model,
            "provider": target.provider if target else "", "region": target.region if target else "",
            "instance_type": target.instance_type if target else "", "catalogue_id": self._catalogue_version(),
            "rates": self.rates_json, "tags": self.tags,
        }  # fmt: skip

    # ---------------------------------------------------------------- run start

    def before_tasks(self) -> Stop | None:
        # This run's records already stored (a resumed run's), by day: not counted twice.
        self.stored_days = records.run_days(self.run.pk) if self.final_total else {}
        for index, limit in enumerate(self.limits):
            # What the others spent in the period; this run's own cost is added as it grows.
            self.base[index] = self._others_spent(limit)
        spent_now = [(limit, self.base[i]) for i, limit in enumerate(self.limits)
                     if limit.period != Budget.RUN and self.base[i] >= limit.limit]  # fmt: skip
        target = {**(self.target.__dict__ if self.target else {}), "origin": self.origin,
                  "unpriced": self.rates.get("instance", {}).get("unpriced", "")}  # fmt: skip
        run_id, workflow_id = self.run.pk, self.run.workflow_id
        if spent_now and not self.final_total:
            override = budgets.unused_override(self.run.workflow)
            limit, so_far = spent_now[0]
            if override is None:
                message = f"refused: {budgets.spent_message(limit, so_far)}"
                self._alert(BudgetAlert.REFUSED, limit, so_far, message, stop=False)
                return Stop(message, status="failed")
            BudgetOverride.objects.filter(pk=override.pk, used_by__isnull=True).update(used_by=self.run)
            # The admin let this run spend past the limits already used up; the rest still hold.
            self.waived = {
                i for i, lim in enumerate(self.limits) if lim.period != Budget.RUN and self.base[i] >= lim.limit
            }
            who = override.created_by.get_username() if override.created_by else "an admin"
            self._alert(BudgetAlert.WARNING, limit, so_far,
                        f"{budgets.spent_message(limit, so_far)}; runs anyway: {who} allowed it", stop=False)  # fmt: skip

        def store() -> None:
            RunCost.objects.update_or_create(run_id=run_id, defaults={"workflow_id": workflow_id, "target": target})

        self.recorder.emit({"kind": "cost", "target": target, "run_total": self.final_total}, store=store)
        return None

    # ---------------------------------------------------------------- attempts

    def attempt_started(self, node_id: str, attempt: int, **info: Any) -> None:
        with self.lock:
            self.spans[(node_id, attempt)] = [info.get("started_at") or time.time(), None]

    def progress(self, node_id: str, attempt: int, cpu_s: float, rss_bytes: int, wall_s: float) -> None:
        now = time.time()
        with self.lock:
            key = (node_id, attempt)
            self.peaks[key] = max(self.peaks.get(key, 0), int(rss_bytes or 0))
            span = self.spans.get(key)
            shared = self._shared(key, span[0], now) if span and self.model == "instance" else None
            inputs = self._inputs(node_id, wall_s=wall_s, cpu_s=cpu_s, peak=self.peaks[key], shared=shared)
            estimate = self.pricer.price(inputs)
            self.live[node_id] = estimate.amount
            node_total = self.node_final.get(node_id, 0.0) + estimate.amount
            run_total = self.final_total + sum(self.live.values())
        self.recorder.emit({
            "kind": "cost", "node": node_id, "id": self._task_id(node_id), "attempt": attempt, "live": True,
            "amount": estimate.amount, "node_total": node_total, "run_total": run_total, "status": estimate.status,
            "reason": "; ".join(estimate.unpriced),
        })  # fmt: skip
        self._check_budgets(run_total)

    def attempt_finished(self, info: ex.AttemptInfo) -> None:
        # Priced in the run's writer thread, not here: this thread starts the task's successor
        # next, and the writer works while that task runs. Order is kept: the writer takes
        # events in the order they were emitted.
        self.recorder.emit(functools.partial(self._price_attempt, info), store=self._store_pending)

    def _price_attempt(self, info: ex.AttemptInfo) -> dict[str, Any]:
        """The attempt's record (left for _store_pending, in the same transaction) and its event."""
        result = info.result
        key = (info.node_id, info.attempt)
        task = self.plan.nodes[info.node_id].task
        reported, problems = pricing.usage_from_outputs(info.outputs or {})
        with self.lock:
            span = self.spans.setdefault(key, [result.started_at, None])
            span[0], span[1] = result.started_at, result.ended_at
            shared = self._shared(key, result.started_at, result.ended_at) if self.model == "instance" else None
            peak = max(self.peaks.pop(key, 0), int(result.peak_rss_bytes or 0))
            inputs = self._inputs(info.node_id, wall_s=result.wall_s, cpu_s=result.cpu_s, peak=peak, shared=shared,
                                  reported=reported, problems=problems)  # fmt: skip
            estimate = self.pricer.price(inputs)
            amount = estimate.amount
            self.live.pop(info.node_id, None)
            self.node_final[info.node_id] = self.node_final.get(info.node_id, 0.0) + amount
            self.final_total += amount
            node_total = self.node_final[info.node_id]
            run_total = self.final_total + sum(self.live.values())
            self._forget_old_spans(result.ended_at)
        ended = datetime.fromtimestamp(result.ended_at or time.time(), tz=UTC)
        status, reason = estimate.status, self.recorder.mask("; ".join(estimate.unpriced))
        taskrun_id = self._task_id(info.node_id)
        fields = {
            **self.record_fields, "node_id": info.node_id, "task_id": task.id, "attempt_number": info.attempt,
            "is_retry": info.attempt > 1, "day": ended.date(), "created_at": ended, "amount": amount,
            "status": status, "reason": reason, "inputs": inputs, "lines": [line.as_dict() for line in estimate.lines],
            "taskrun_id": taskrun_id,
        }  # fmt: skip
        with self.lock:
            self.pending.append(fields)
        self._check_budgets(run_total)
        return {
            "kind": "cost", "node": info.node_id, "id": taskrun_id, "attempt": info.attempt, "live": False,
            "amount": amount, "node_total": node_total, "run_total": run_total, "status": status,
            "reason": reason, "retry": info.attempt > 1,
        }  # fmt: skip

    def _store_pending(self) -> None:
        """In the writer's transaction: every record waiting, in one go (the first store of a batch
        takes them all; the others find nothing left). Then the day and month limits look again at
        what the other runs have spent meanwhile: runs going on at once share those limits."""
        with self.lock:
            pending, self.pending = self.pending, []
        if not pending:
            return
        records.store_records(pending)
        for row in pending:
            self.stored_days[row["day"]] = self.stored_days.get(row["day"], 0.0) + (row["amount"] or 0.0)
        periods = [(i, limit) for i, limit in enumerate(self.limits) if limit.period != Budget.RUN]
        if not periods:
            return
        others = {index: self._others_spent(limit) for index, limit in periods}
        with self.lock:
            self.base.update(others)
            run_total = self.final_total + sum(self.live.values())
        self._check_budgets(run_total)

    def _others_spent(self, limit: budgets.Limit) -> float:
        """What the limit's period has spent, less this run's records in it (0 for a per-run limit)."""
        if limit.period == Budget.RUN:
            return 0.0
        start = budgets.period_start(limit.period)
        return budgets.spent(limit) - sum(amount for day, amount in self.stored_days.items() if day >= start)

    def after_run(self, outcome: ex.RunOutcome) -> None:
        run_id = self.run.pk

        def store() -> None:
            RunCost.objects.filter(run_id=run_id).update(final=True)

        # Built by the writer after the attempts before it were priced: the total is complete then.
        self.recorder.emit(lambda: {"kind": "cost", "final": True, "run_total": self.final_total}, store=store)

    # ---------------------------------------------------------------- helpers

    def _inputs(self, node_id: str, **values: Any) -> dict[str, Any]:
        task = self.plan.nodes[node_id].task
        known = self.task_settings.get(task.id)
        if known is None:
            known = self.task_settings[task.id] = task_settings(self.plan.spec, task)
        requests, declared = known
        return pricing.attempt_inputs(
            wall_s=values["wall_s"], cpu_s=values["cpu_s"], peak_rss_bytes=values["peak"], shared_s=values["shared"],
            requests=requests, declared=declared, reported=values.get("reported"),
            problems=values.get("problems", ()), running_at_once=None,
        )  # fmt: skip

    def _shared(self, key: tuple[str, int], start: float, end: float) -> float:
        others = [(s, e) for k, (s, e) in self.spans.items() if k != key and s is not None]
        return pricing.shared_seconds(start, end, others)

    def _forget_old_spans(self, now: float | None) -> None:
        # Ended spans only matter to attempts that overlapped them; keep an hour of them, not all.
        if now is None or len(self.spans) < 2000:
            return
        for key, (_start, end) in list(self.spans.items()):
            if end is not None and end < now - 3600:
                del self.spans[key]

    def _task_id(self, node_id: str) -> int:
        return self.recorder.tasks[node_id]["id"]

    def _catalogue_version(self) -> int:
        instance = self.rates.get("instance", {})
        for source in instance.get("sources", ()):
            if source.get("layer") is not None:
                return source["layer"]
        return self.built_version

    def _check_budgets(self, run_total: float) -> None:
        for index, limit in enumerate(self.limits):
            if index in self.waived:
                continue
            so_far = run_total + (self.base.get(index, 0.0) if limit.period != Budget.RUN else 0.0)
            if so_far >= limit.warn_at * limit.limit:  # a stop is warned of too, even when one sample crosses both
                self._alert(BudgetAlert.WARNING, limit, so_far,
                            f"warning: {so_far / limit.limit:.0%} of the {limit.describe()} spent (${so_far:.4f})",
                            stop=False)  # fmt: skip
            if so_far > limit.limit:
                self._alert(BudgetAlert.STOPPED, limit, so_far,
                            f"stopped: the {limit.describe()} would be exceeded (${so_far:.4f} so far)", stop=True)  # fmt: skip

    def _alert(self, level: str, limit: budgets.Limit, so_far: float, message: str, *, stop: bool) -> None:
        mark = (id(limit), level)
        with self.lock:
            if mark in self.alerted or (stop and self.stopping):
                return
            self.alerted.add(mark)
            if stop:
                self.stopping = True
        fields = {
            "run_id": self.run.pk, "workflow_id": self.run.workflow_id, "budget_id": limit.budget_id, "level": level,
            "scope": limit.describe(), "spent": so_far, "limit": limit.limit, "message": message,
        }  # fmt: skip
        self.recorder.emit(
            {"kind": "cost_budget", "level": level, "message": message, "spent": so_far, "limit": limit.limit},
            store=lambda: BudgetAlert.objects.create(**fields),
        )
        if stop:
            self.stop_run(message)

    # ---------------------------------------------------------------- the run page

    @classmethod
    def snapshot(cls, run_id: int) -> dict[str, Any]:
        cost = RunCost.objects.filter(run_id=run_id).values().first() or {}
        alerts = list(
            BudgetAlert.objects.filter(run_id=run_id).order_by("id").values("level", "message", "spent", "limit")
        )
        return {
            "total": cost.get("total", 0.0), "retries": cost.get("retries", 0.0), "records": cost.get("records", 0),
            "unpriced": cost.get("unpriced", 0), "final": cost.get("final", False), "target": cost.get("target", {}),
            "nodes": records.run_nodes(run_id), "alerts": alerts,
        }  # fmt: skip

    @classmethod
    def refuse_run(cls, workflow: Any, *, trigger: str, user: Any) -> str | None:
        return budgets.refusal(workflow)


def run_total(run_id: int) -> float:
    return CostRecord.objects.filter(run_id=run_id).aggregate(total=Sum("amount"))["total"] or 0.0
