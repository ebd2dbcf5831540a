"""Run extensions: how gates, secrets, tracing and costs take part in a run."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from tests.conftest import make_workflow
from workflows import runner
from workflows.extensions import RunExtension, Stop, extension_classes
from workflows.models import Run, TaskRun
from workflows.snapshots import run_snapshot

SEEN: list[tuple] = []


class Recording(RunExtension):
    name = "recording"

    def attempt_env(self, node_id, attempt):
        return {"FROM_EXTENSION": f"{node_id}-{attempt}"}

    def attempt_finished(self, info):
        SEEN.append(("finished", info.node_id, info.status))
        self.recorder.emit({"kind": "recording", "node": info.node_id}, store=lambda: SEEN.append(("stored",)))

    def after_run(self, outcome):
        SEEN.append(("after", outcome.status))

    @classmethod
    def snapshot(cls, run_id):
        return {"run": run_id}


class Blocking(RunExtension):
    name = "blocking"

    def before_tasks(self):
        return Stop("blocked by a test gate", status="failed")


class Broken(RunExtension):
    name = "broken"

    def node_state(self, node_id, state, **info):
        raise RuntimeError("boom")


class WantsSomeStates(RunExtension):
    name = "some-states"
    node_states = frozenset({"skipped", "failed"})

    def node_state(self, node_id, state, **info):
        SEEN.append(("some", node_id, state))


class WantsEveryState(RunExtension):
    name = "every-state"

    def node_state(self, node_id, state, **info):
        SEEN.append(("every", node_id, state))


class SwallowsAnError(RunExtension):
    """Its store hides a failed ORM write: Django then rolls the writer's whole transaction back
    when it ends (no error raised), so the batch with the attempt's end would vanish."""

    name = "swallows"

    def attempt_finished(self, info):
        def store():
            try:  # a second row for a node that has one: the unique constraint refuses it
                TaskRun.objects.create(run_id=self.run.pk, node_id=info.node_id, task_id="x", position=99)
            except IntegrityError:
                pass

        self.recorder.emit({"kind": "swallows"}, store=store)


@pytest.fixture
def extensions(settings):
    def use(*classes):
        settings.RUNNER_EXTENSIONS = [f"{__name__}.{cls.__name__}" for cls in classes]
        extension_classes.cache_clear()

    SEEN.clear()
    yield use
    extension_classes.cache_clear()


def run_now(text: str) -> Run:
    run = runner.create_run(make_workflow(text), enqueue=False)
    runner.execute(run.pk)
    return Run.objects.get(pk=run.pk)


def test_an_extension_adds_environment_and_records_of_its_own(transactional_db, extensions):
    extensions(Recording)
    run = run_now("name: ext\ntasks:\n  a: {run: 'echo $FROM_EXTENSION'}\n")
    assert run.status == Run.SUCCESS
    assert list(run.log_lines.values_list("text", flat=True)) == ["a-1"]
    assert {("finished", "a", "success"), ("stored",), ("after", "success")} <= set(SEEN)
    assert run_snapshot(run.pk)["extras"] == {"recording": {"run": run.pk}}


def test_an_extension_can_stop_a_run_before_any_task(transactional_db, extensions):
    extensions(Blocking)
    run = run_now("name: gated\ntasks:\n  a: {run: 'touch should-not-exist'}\n  b: {run: 'true', needs: [a]}\n")
    assert run.status == Run.FAILED and run.message == "blocked by a test gate"
    assert set(run.tasks.values_list("status", flat=True)) == {"cancelled"}
    assert not run.tasks.filter(attempts__gt=0).exists()


def test_a_failing_extension_does_not_break_the_run(transactional_db, extensions):
    extensions(Broken, Recording)
    run = run_now("name: sturdy\ntasks:\n  a: {run: 'true'}\n")
    assert run.status == Run.SUCCESS
    assert ("finished", "a", "success") in SEEN


def test_an_extension_is_told_only_the_node_states_it_asks_for(transactional_db, extensions):
    extensions(WantsSomeStates, WantsEveryState, Broken)
    run_now(
        "name: states\ntasks:\n  a: {run: 'false'}\n  b: {run: 'true', needs: [a]}\n  c: {run: 'true', skip_if: 1 == 1}\n"
    )
    every = [(node, state) for kind, node, state in SEEN if kind == "every"]
    assert sorted(every) == [("a", "failed"), ("b", "upstream_failed"), ("c", "skipped")]
    some = [(node, state) for kind, node, state in SEEN if kind == "some"]
    assert sorted(some) == [("a", "failed"), ("c", "skipped")]  # what it asked for, nothing else


@pytest.mark.integration  # also on PostgreSQL, where a failed statement aborts the transaction
def test_a_store_that_hides_a_database_error_fails_the_run_loudly(transactional_db, extensions, tmp_path):
    """Never a run that says it succeeded, or stays "running", while records of it are missing;
    and once nothing more can be stored, the run stops instead of running its other tasks blind."""
    extensions(SwallowsAnError)
    ran = tmp_path / "b-ran"
    run = run_now(
        f"name: lossy\ntasks:\n  a: {{run: 'echo hello'}}\n  b: {{run: 'sleep 60 && touch {ran}', needs: [a]}}\n"
    )
    assert run.status == Run.FAILED, run.message
    assert run.message.startswith("the run's records could not be stored: ")
    assert run.finished_at is not None
    # a's end was in the batch that failed, and b was stopped: neither is left unfinished.
    assert dict(run.tasks.values_list("node_id", "status")) == {"a": "failed", "b": "failed"}
    assert all(
        reason.startswith("the run's records could not be stored")
        for reason in run.tasks.values_list("reason", flat=True)
    )
    assert not ran.exists()


def test_one_extensions_attempt_variables_are_passed_on_as_they_are():
    """Several extensions' variables are merged, later ones winning; when only one has any for an
    attempt, its mapping is passed on as it is (tracing's come encoded for the start)."""
    from types import SimpleNamespace

    from workflows.engine.spawn import EncodedEnv
    from workflows.extensions import RunHooks

    encoded = EncodedEnv.of({"TRACEPARENT": "00-1-2-01", "SHARED": "first"})

    class Encoded(RunExtension):
        def attempt_env(self, node_id, attempt):
            return encoded

    class Secrets(RunExtension):
        def attempt_env(self, node_id, attempt):
            return {"TOKEN": "x", "SHARED": "second"} if node_id == "with-secrets" else {}

    recorder = SimpleNamespace(progress_interval=None)
    hooks = RunHooks(recorder, [Encoded(None, None, recorder), Secrets(None, None, recorder)])
    assert hooks.attempt_env("plain", 1) is encoded
    assert hooks.attempt_env("with-secrets", 1) == {"TRACEPARENT": "00-1-2-01", "SHARED": "second", "TOKEN": "x"}
    assert RunHooks(recorder, [Secrets(None, None, recorder)]).attempt_env("plain", 1) == {}
