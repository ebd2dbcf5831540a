"""Run extensions: how the other apps (security gates, secrets, tracing, costs) take part in a run.

Each class named in settings.RUNNER_EXTENSIONS is instantiated once per execution of a run, in
the worker, and sees everything the executor reports. It may stop a run before its first task,
add environment variables to an attempt, add values to mask, and store and publish records of
its own through the run's recorder (so they get the run's sequence numbers like task changes).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import get_resolver
from django.utils.module_loading import import_string

from .engine import executor as ex

if TYPE_CHECKING:
    from .engine.dag import Plan
    from .models import Run
    from .recorder import RunRecorder

log = logging.getLogger("runner")


@dataclass
class Stop:
    """Returned by before_tasks: end the run now, with this status and reason."""

    reason: str
    status: str = "failed"


class RunExtension:
    """Base class; every method is optional. Called from executor threads: be thread-safe."""

    name = ""
    # The run page lists extension classes in its template: without this, Django would call them.
    do_not_call_in_templates = True
    # Shown on the run page: a template included below the DAG, and an ES module it loads.
    panel_template: str | None = None
    script: str | None = None

    def __init__(self, run: Run, plan: Plan, recorder: RunRecorder):
        self.run, self.plan, self.recorder = run, plan, recorder

    def stop_run(self, reason: str) -> None:
        """Stop the run while it goes on (a budget exceeded): running tasks are killed, the run
        ends cancelled with this reason. Set by the runner once the executor exists."""

    def before_tasks(self) -> Stop | None:
        """Stop the run before any task starts (a blocking gate, a budget spent), or None."""
        return None

    def attempt_env(self, node_id: str, attempt: int) -> Mapping[str, str]:
        return {}

    def run_env(self) -> Mapping[str, str]:
        """Variables every task of the run gets, under the workflow's own `env:`."""
        return {}

    def attempt_started(self, node_id: str, attempt: int, **info: Any) -> None: ...

    def attempt_finished(self, info: ex.AttemptInfo) -> None: ...

    def node_state(self, node_id: str, state: str, **info: Any) -> None: ...

    # The states node_state is called for (None: every one). A task goes through several; an
    # extension that needs only some of them saves each task's start a call per other state.
    node_states: frozenset[str] | None = None

    def progress(self, node_id: str, attempt: int, cpu_s: float, rss_bytes: int, wall_s: float) -> None: ...

    def after_run(self, outcome: ex.RunOutcome) -> None: ...

    @classmethod
    def warm_up(cls) -> None:
        """Load, once per worker process as it starts, what every run of this extension needs
        (a price catalogue): a worker's first run is then no slower than the next, and its trace
        shows no loading gap before the first task."""

    @classmethod
    def snapshot(cls, run_id: int) -> Any:
        """This extension's part of the run page's snapshot (None: nothing)."""
        return None

    @classmethod
    def refuse_run(cls, workflow: Any, *, trigger: str, user: Any) -> str | None:
        """Why a run triggered from the UI or the API may not be created now (a spent budget), or None."""
        return None

    @classmethod
    def graph_nodes(cls, spec: Any, run_id: int | None = None) -> list[tuple[str, str, str]]:
        """Nodes drawn before the workflow's first tasks (a security gate): (id, label, status)."""
        return []

    @classmethod
    def refuse_save(cls, workflow: Any, spec: Any, user: Any) -> str | None:
        """Why `user` may not save `spec` as `workflow` (None: a new one), or None."""
        return None


@functools.cache
def extension_classes() -> tuple[type[RunExtension], ...]:
    return tuple(import_string(path) for path in getattr(settings, "RUNNER_EXTENSIONS", ()))


def warm_up() -> None:
    """What a worker loads before its first run: the extensions, their data, the URL
    configuration (a run's end links to its trace). A failure here is logged: the first run
    then loads what it needs itself, as it would have anyway."""
    try:
        get_resolver().url_patterns  # noqa: B018 (loads every app's urls module)
        classes = extension_classes()
    except Exception:
        log.exception("worker warm-up: the extensions could not be loaded")
        return
    for cls in classes:
        try:
            cls.warm_up()
        except Exception:
            log.exception("worker warm-up of the %s extension failed", cls.name or cls.__name__)


class RunHooks(ex.Hooks):
    """The executor's hooks: the recorder first (it stores), then every extension."""

    HOOKS = ("attempt_started", "attempt_finished", "progress", "attempt_env", "run_env")  # node_state: below

    def __init__(self, recorder: RunRecorder, extensions: list[RunExtension]):
        self.recorder = recorder
        self.progress_interval = recorder.progress_interval
        # Per hook, only the extensions that implement it: each attempt calls several hooks, and
        # most extensions leave most of them to the base class's no-op.
        self.hooks = {
            method: [(extension.name, getattr(extension, method)) for extension in extensions
                     if getattr(type(extension), method) is not getattr(RunExtension, method)]
            for method in self.HOOKS
        }  # fmt: skip
        # node_state's, with the states each wants told (RunExtension.node_states).
        self._node_state = [
            (extension.name, extension.node_state, extension.node_states) for extension in extensions
            if type(extension).node_state is not RunExtension.node_state
        ]  # fmt: skip

    def _failed(self, name: str, method: str) -> None:
        # An extension's bug must not stop the run or lose its records.
        log.exception("run extension %s failed in %s", name, method)

    def ending(self):
        self.recorder.ending()

    # The three below run for every task, on the thread that starts the next: the loops are
    # written out rather than shared, and an extension is asked only for the states it wants.
    def node_state(self, node_id, state, *, attempt=0, outcome=None, reason=""):
        self.recorder.node_state(node_id, state, attempt=attempt, outcome=outcome, reason=reason)
        for name, hook, states in self._node_state:
            if states is None or state in states:
                try:
                    hook(node_id, state, attempt=attempt, outcome=outcome, reason=reason)
                except Exception:
                    self._failed(name, "node_state")

    def attempt_started(self, node_id, attempt, **info):
        self.recorder.attempt_started(node_id, attempt, **info)
        for name, hook in self.hooks["attempt_started"]:
            try:
                hook(node_id, attempt, **info)
            except Exception:
                self._failed(name, "attempt_started")

    def attempt_finished(self, info):
        self.recorder.attempt_finished(info)
        for name, hook in self.hooks["attempt_finished"]:
            try:
                hook(info)
            except Exception:
                self._failed(name, "attempt_finished")

    def log(self, node_id, attempt, stream, line):
        self.recorder.log(node_id, attempt, stream, line)

    def attempt_env(self, node_id, attempt):
        """The extensions' variables, later ones winning (a failure here fails the attempt). One
        extension's are passed on as they are, so they may come encoded (spawn.EncodedEnv): also
        when the others have none for this attempt (secrets, for a task that names none)."""
        found: Mapping[str, str] | None = None
        merged: dict[str, str] | None = None
        for _name, hook in self.hooks["attempt_env"]:
            env = hook(node_id, attempt)
            if not env:
                continue
            if found is None:
                found = env
            else:
                if merged is None:
                    merged = dict(found)
                merged.update(env)
        return merged if merged is not None else found if found is not None else {}

    def run_env(self):
        env: dict[str, str] = {}
        for _name, hook in self.hooks["run_env"]:
            env.update(hook())  # a failure here fails the attempt that asked
        return env

    def filter_outputs(self, node_id, outputs):
        return self.recorder.filter_outputs(node_id, outputs)

    def line_cut(self, data, cut):
        safe_cut = getattr(self.recorder.mask, "safe_cut", None)  # the run's masker, when it has secrets
        return safe_cut(data, cut) if safe_cut is not None else cut

    def progress(self, node_id, attempt, cpu_s, rss_bytes, wall_s):
        self.recorder.progress(node_id, attempt, cpu_s, rss_bytes, wall_s)
        for name, hook in self.hooks["progress"]:
            try:
                hook(node_id, attempt, cpu_s, rss_bytes, wall_s)
            except Exception:
                self._failed(name, "progress")


def refusal(workflow: Any, *, trigger: str, user: Any) -> str | None:
    for cls in extension_classes():
        reason = cls.refuse_run(workflow, trigger=trigger, user=user)
        if reason:
            return reason
    return None


def save_refusal(workflow: Any, spec: Any, user: Any) -> str | None:
    for cls in extension_classes():
        reason = cls.refuse_save(workflow, spec, user)
        if reason:
            return reason
    return None


def graph_nodes(spec: Any, run_id: int | None = None) -> list[tuple[str, str, str]]:
    return [node for cls in extension_classes() for node in cls.graph_nodes(spec, run_id)]


def snapshot_extras(run_id: int) -> dict[str, Any]:
    extras = {}
    for cls in extension_classes():
        part = cls.snapshot(run_id)
        if part is not None:
            extras[cls.name] = part
    return extras
