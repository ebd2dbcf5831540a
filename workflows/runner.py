"""Create, execute, cancel and re-run runs: the Django side of the engine.

A run is one Huey task. Whichever worker claims it (a conditional UPDATE, so exactly one)
runs its DAG with the engine's executor and writes a heartbeat; `recovery` hands a run whose
worker died back to the queue, and the next worker resumes it where it stopped.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Max
from django.utils import timezone

from dashboard.events import publish_events

from .batchsql import HotSql
from .changes import commit_changes, run_event
from .engine import executor as ex
from .engine.spec import WorkflowSpec
from .extensions import RunExtension, RunHooks, Stop, extension_classes, refusal
from .models import Run, TaskRun, Workflow
from .recorder import RunRecorder
from .recovery import worker_id

log = logging.getLogger("runner")

# Executors running in this process, so a cancel from this process needs no round trip.
ACTIVE: dict[int, ex.Executor] = {}
_ACTIVE_LOCK = threading.Lock()


class ParamError(ValueError):
    pass


class RunRefused(ParamError):
    """A run extension refused a new run (a spent budget); the message says why."""


# ------------------------------------------------------------------ creating runs


def resolve_params(spec: WorkflowSpec, given: Mapping[str, Any] | None) -> dict[str, Any]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        raise ParamError(
            f"unknown parameter '{unknown[0]}' (the workflow declares: {', '.join(spec.params) or 'none'})"
        )
    values: dict[str, Any] = {}
    for name, param in spec.params.items():
        if name in given and given[name] not in (None, ""):
            value = given[name]
        elif param.required:
            raise ParamError(f"parameter '{name}' is required")
        else:
            value = param.default
        if param.choices is not None and value is not None and str(value) not in map(str, param.choices):
            raise ParamError(f"parameter '{name}' must be one of: {', '.join(map(str, param.choices))}")
        values[name] = value
    return values


def create_run(
    workflow: Workflow,
    *,
    params: Mapping[str, Any] | None = None,
    trigger: str = "ui",
    user: Any = None,
    rerun_of: Run | None = None,
    reuse: Mapping[str, TaskRun] | None = None,
    enqueue: bool = True,
) -> Run:
    """A queued run with one TaskRun per node; `reuse` carries successful results into a re-run."""
    if trigger in ("ui", "api") and (reason := refusal(workflow, trigger=trigger, user=user)):
        raise RunRefused(reason)
    version = rerun_of.workflow_version if rerun_of else workflow.versions.get(version=workflow.version)
    spec = version.spec()
    values = dict(rerun_of.params) if rerun_of else resolve_params(spec, params)
    plan = version.plan()
    reuse = reuse or {}
    with transaction.atomic():
        Workflow.objects.select_for_update().filter(pk=workflow.pk).exists()
        number = (workflow.runs.aggregate(n=Max("number"))["n"] or 0) + 1
        run = Run.objects.create(
            workflow=workflow, workflow_version=version, number=number, trigger=trigger,
            triggered_by=user if user is not None and user.is_authenticated else None,
            params=values, tags=spec.tags, rerun_of=rerun_of, last_seq=1,  # seq 1: the "queued" event below
        )  # fmt: skip
        rows = []
        for position, (node_id, node) in enumerate(plan.nodes.items()):
            row = {"run_id": run.pk, "node_id": node_id, "task_id": node.task.id, "leg": node.leg, "position": position}
            old = reuse.get(node_id)
            if old is not None:
                row.update(
                    status=TaskRun.SUCCESS, outputs=old.outputs, exit_code=old.exit_code, reused=True,
                    reason=f"reused from run #{old.run.number}",
                )  # fmt: skip
            rows.append(row)
        with connection.cursor() as cursor:
            HotSql(connection).insert_rows(cursor, TaskRun, rows)  # 500 tasks: ~10 ms, not ~80
        # Sent once the run is there to read, before a worker can change it; should sending
        # fail, the run is still queued (robust: the next hook runs all the same).
        queued = run_event(run.pk, 1, {"status": Run.QUEUED, "created_at": run.created_at})
        transaction.on_commit(lambda: publish_events(run.pk, [queued], to_run_list=True), robust=True)
        if enqueue:
            transaction.on_commit(lambda: enqueue_run(run.pk))
    return run


def enqueue_run(run_id: int) -> None:
    from .tasks import execute_run

    execute_run(run_id)


def rerun(run: Run, *, failed_only: bool, user: Any = None) -> Run:
    """Re-run all tasks, or only the failed ones and everything downstream of them."""
    reuse: dict[str, TaskRun] = {}
    if failed_only:
        plan = run.plan()
        tasks = {t.node_id: t for t in run.tasks.select_related("run")}
        bad = {n for n, t in tasks.items() if t.status in TaskRun.UNSUCCESSFUL}
        again = plan.descendants(bad)
        reuse = {n: t for n, t in tasks.items() if n not in again and t.status == TaskRun.SUCCESS}
    return create_run(run.workflow, trigger="rerun", user=user, rerun_of=run, reuse=reuse)


# ------------------------------------------------------------------ cancelling


def request_cancel(run: Run, user: Any = None) -> bool:
    """Cancel a run: at once if still queued, else the worker running it stops its tasks."""
    who = f" by {user.get_username()}" if user is not None and user.is_authenticated else ""
    reason = f"cancelled{who}"
    now = timezone.now()
    if Run.objects.filter(pk=run.pk, status=Run.QUEUED).update(
        status=Run.CANCELLED, cancel_requested=True, finished_at=now, message=reason
    ):
        pending = list(run.tasks.exclude(status__in=ex.TERMINAL).values_list("pk", flat=True))
        commit_changes(
            run.pk,
            task_fields={pk: {"status": TaskRun.CANCELLED, "reason": reason, "finished_at": now} for pk in pending},
            run_fields={"status": Run.CANCELLED, "finished_at": now, "message": reason},
            to_run_list=True,
        )
        return True
    if not Run.objects.filter(pk=run.pk, status=Run.RUNNING).update(cancel_requested=True, message=reason):
        return False
    with _ACTIVE_LOCK:
        executor = ACTIVE.get(run.pk)
    if executor is not None:
        executor.cancel(reason)
    return True


# ------------------------------------------------------------------ executing


def task_environment() -> dict[str, str]:
    """What every task inherits: an allow-list of the server's variables, never its secrets."""
    env = {k: os.environ[k] for k in settings.RUNNER_INHERIT_ENV if k in os.environ}
    # `python` in a task means this interpreter (and its installed packages).
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", os.defpath)
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONUNBUFFERED"] = "1"  # print() lines reach the live log as they happen
    return env


class _Heartbeat(threading.Thread):
    """Marks the run alive and notices a cancel requested by another process."""

    def __init__(self, run_id: int, executor: ex.Executor):
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.run_id, self.executor = run_id, executor
        self.stop = threading.Event()

    def run(self) -> None:
        beat_every = settings.RUNNER_HEARTBEAT_SECONDS
        since_beat = 0.0
        try:
            while not self.stop.wait(0.5):
                since_beat += 0.5
                row = Run.objects.filter(pk=self.run_id).values("cancel_requested", "message").first()
                if row and row["cancel_requested"] and not self.executor.cancelled:
                    self.executor.cancel(row["message"] or "cancelled")
                if since_beat >= beat_every:
                    since_beat = 0.0
                    Run.objects.filter(pk=self.run_id).update(heartbeat_at=timezone.now())
        finally:
            connection.close()


def execute(run_id: int) -> str | None:
    """Run a queued run to its end in this process; None if another worker has it already."""
    close_old_connections()
    now = timezone.now()
    me = worker_id()
    if not Run.objects.filter(pk=run_id, status=Run.QUEUED, cancel_requested=False).update(
        status=Run.RUNNING, worker=me, heartbeat_at=now
    ):
        return None
    run = Run.objects.select_related("workflow", "workflow_version").get(pk=run_id)
    started = run.started_at or now
    plan = run.plan()
    recorder = RunRecorder(run)
    recorder.run_state(status=Run.RUNNING, started_at=started, worker=me)
    initial, attempts_used = _resume_state(recorder.tasks.values())
    extensions = _start_extensions(run, plan, recorder)
    executor = ex.Executor(
        plan, RunHooks(recorder, extensions), params=run.params, base_env=task_environment(),
        base_dir=run.workflow.workdir(), run_id=str(run.pk), initial=initial, attempts_used=attempts_used,
    )  # fmt: skip
    for extension in extensions:
        extension.stop_run = executor.cancel  # type: ignore[method-assign]
    # Nothing more of the run could be stored: stop it now, not after running every task blind.
    recorder.on_failure = lambda exc: executor.cancel(UNRECORDED)
    stop = _before_tasks(extensions)
    if stop is not None:
        outcome = ex.RunOutcome(stop.status, stop.reason)
        for node_id in plan.nodes:
            if node_id not in initial:
                recorder.node_state(node_id, ex.CANCELLED, outcome=ex.NodeOutcome(ex.CANCELLED), reason=stop.reason)
    else:
        outcome = _run_executor(run_id, executor)
    for extension in extensions:
        try:
            extension.after_run(outcome)
        except Exception:
            log.exception("run extension %s failed after the run", extension.name)
    recorder.run_state(status=outcome.status, finished_at=timezone.now(), message=outcome.reason)
    try:
        recorder.close()
    except Exception as exc:  # its writer failed: what it could not store must not look finished
        _fail_unrecorded(run_id, recorder.mask(str(exc) or repr(exc)))
        return Run.FAILED
    return outcome.status


UNRECORDED = "the run's records could not be stored"


def _fail_unrecorded(run_id: int, error: str) -> None:
    """The run's writer failed part-way: end the run as failed, saying so, rather than leave it
    "running" for ever (its worker is alive, so no reaper would take it) or claim a result
    whose records are missing."""
    close_old_connections()
    now = timezone.now()
    reason = f"{UNRECORDED}: {error}"
    log.error("run %s: %s", run_id, reason)
    # What is not final as stored may have run or not: its records are lost, so it failed.
    unfinished = TaskRun.objects.filter(run_id=run_id).exclude(status__in=ex.TERMINAL).values_list("pk", flat=True)
    commit_changes(
        run_id,
        task_fields={pk: {"status": TaskRun.FAILED, "reason": reason, "finished_at": now} for pk in unfinished},
        run_fields={"status": Run.FAILED, "finished_at": now, "message": reason},
        to_run_list=True,
    )


def _start_extensions(run: Run, plan: Any, recorder: RunRecorder) -> list[RunExtension]:
    extensions = []
    for cls in extension_classes():
        try:
            extensions.append(cls(run, plan, recorder))
        except Exception:
            log.exception("run extension %s could not start", cls.__name__)
            raise
    return extensions


def _before_tasks(extensions: list[RunExtension]) -> Stop | None:
    for extension in extensions:
        try:
            stop = extension.before_tasks()
        except Exception as exc:  # fail closed: a gate that cannot decide must not let tasks run
            log.exception("run extension %s failed before the tasks", extension.name)
            return Stop(f"{extension.name or type(extension).__name__} failed: {exc}")
        if stop is not None:
            return stop
    return None


def _run_executor(run_id: int, executor: ex.Executor) -> ex.RunOutcome:
    with _ACTIVE_LOCK:
        ACTIVE[run_id] = executor
    heartbeat = _Heartbeat(run_id, executor)
    heartbeat.start()
    try:
        return executor.run()
    except Exception as exc:  # an engine bug must still end the run, visibly
        log.exception("run %s crashed", run_id)
        return ex.RunOutcome(ex.FAILED, f"internal error: {exc!r}")
    finally:
        heartbeat.stop.set()
        heartbeat.join()
        with _ACTIVE_LOCK:
            ACTIVE.pop(run_id, None)


def execute_in_thread(run_id: int) -> threading.Thread:
    def target() -> None:
        try:
            execute(run_id)
        finally:
            connection.close()

    thread = threading.Thread(target=target, name=f"run-{run_id}", daemon=True)
    thread.start()
    return thread


def stop_active_runs(reason: str, timeout: float = 10.0) -> None:
    """On shutdown: cancel what this process runs, so no run is left 'running' by a clean stop."""
    with _ACTIVE_LOCK:
        executors = list(ACTIVE.values())
    for executor in executors:
        executor.cancel(reason)
    deadline = time.monotonic() + timeout
    while ACTIVE and time.monotonic() < deadline:
        time.sleep(0.05)


def site_url() -> str:
    return settings.SITE_URL


def _resume_state(rows: Iterable[dict[str, Any]]) -> tuple[dict[str, ex.NodeOutcome], dict[str, int]]:
    """What an earlier (crashed) execution of this run already settled."""
    initial: dict[str, ex.NodeOutcome] = {}
    attempts: dict[str, int] = {}
    for row in rows:
        if row["status"] in ex.TERMINAL:
            initial[row["node_id"]] = ex.NodeOutcome(
                row["status"], row["exit_code"], row["outputs"] or {}, row["attempts"], row["reason"]
            )
        elif row["attempts"]:
            attempts[row["node_id"]] = row["attempts"]
    return initial, attempts


# ------------------------------------------------------------------ schedules


def trigger_scheduled(now: Any = None) -> list[Run]:
    """Start a run of every workflow whose cron `schedule:` matches this minute, once."""
    from django.db.models import Q

    from .engine.cron import Cron, CronError

    minute = (now or timezone.now()).replace(second=0, microsecond=0)
    local = timezone.localtime(minute)
    started = []
    for workflow in Workflow.objects.exclude(schedule="").only("pk", "schedule"):
        try:
            if not Cron(workflow.schedule).matches(local):
                continue
        except CronError:
            continue
        claimed = Workflow.objects.filter(
            Q(last_scheduled_at__lt=minute) | Q(last_scheduled_at__isnull=True), pk=workflow.pk
        ).update(last_scheduled_at=minute)
        if claimed:
            started.append(create_run(Workflow.objects.get(pk=workflow.pk), trigger="schedule"))
    return started
