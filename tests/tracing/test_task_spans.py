"""What a task's span says about its attempt: figures, status, message and events, for each way
an attempt or a task can end."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.engine.conftest import plan_of
from tracing import task_spans
from tracing.models import span_dict
from tracing.otel.spans import ERROR, OK, RUNNING, UNSET, new_span_id, new_trace_id
from workflows.engine import executor as ex
from workflows.engine import spawn
from workflows.engine.process import ProcessResult

PLAN = plan_of("""
name: spans
tasks:
  build:
    run: "true"
    timeout: 2.5
    skip_if: "1 == 1"
    matrix: {py: ["3.11"], opt: [2]}
""")


NODE = next(n for n in PLAN.nodes if n.startswith("build"))


def run_spans() -> task_spans.RunTaskSpans:
    recorder = SimpleNamespace(mask=lambda text: text.replace("pw", "***"))
    return task_spans.RunTaskSpans(PLAN, new_trace_id(), new_span_id(), run_pk=7, service="runner", recorder=recorder)


def span():
    return run_spans().record(NODE, new_span_id(), 1_000_000)


def started(attempt: int = 2, command: str = "true") -> task_spans.AttemptSpan:
    info = {"ready_at": 1.0, "started_at": 1.25, "command": command, "pid": 42}
    return task_spans.AttemptSpan(run_spans(), NODE, attempt, new_span_id(), info)


def finish(status: str, *, retry: float | None = None, **result) -> tuple:
    attempt = started()
    fields = {"started_at": 1.25, "ended_at": 3.0, "wall_s": 1.75, "cpu_user_s": 0.5, "cpu_sys_s": 0.25}
    attempt.info = ex.AttemptInfo(NODE, 2, ProcessResult(**{**fields, **result}), status, {}, [], retry)
    record = attempt.record()
    return record, any(e.name == "retry scheduled" for e in record.events)


def test_a_leg_of_a_matrix_task_names_its_values() -> None:
    attributes = span().attributes
    assert attributes["runner.task"] == "build" and attributes["runner.run.id"] == 7
    assert (attributes["runner.matrix.py"], attributes["runner.matrix.opt"]) == ("3.11", 2)
    assert attributes["runner.matrix"] == next(iter(PLAN.nodes.values())).leg_key


def test_a_started_attempt_shows_its_queue_wait_and_process() -> None:
    record = started(1).record()
    assert record.attributes["runner.queue_wait_s"] == 0.25 and record.attributes["process.pid"] == 42
    assert [(e.name, e.ts_us, e.attributes) for e in record.events] == [("process started", 1_250_000, {"pid": 42})]
    assert (record.start_us, record.end_us, record.attributes["runner.attempt"]) == (1_000_000, None, 1)


def test_an_attempts_row_is_in_the_pages_shape_and_its_own() -> None:
    """The writer stores and sends an attempt's row as made from its facts: the public span shape,
    running until the attempt ends, with the command masked, and not sharing the node's attributes."""
    attempt = started(command="deploy --password pw")
    row = attempt.row(11, 2)
    assert set(row) == set(span_dict({}))
    assert (row["status"], row["duration_us"], row["taskrun"], row["attempt"]) == (RUNNING, None, 11, 2)
    assert row["attributes"]["process.command_line"] == "deploy --password ***"
    assert row["parent_id"] == attempt.run.root_id and row["name"] == NODE
    row["attributes"]["changed"] = True
    assert "changed" not in attempt.run.attributes(NODE) and "changed" not in attempt.row()["attributes"]
    fields = {"started_at": 1.25, "ended_at": 3.0, "wall_s": 1.75, "exit_code": 0}
    attempt.info = ex.AttemptInfo(NODE, 2, ProcessResult(**fields), "success", {}, [], None)
    ended = attempt.row(11, 2)
    assert (ended["status"], ended["duration_us"], ended["attributes"]["runner.status"]) == (OK, 2_000_000, "success")


def test_success_keeps_the_figures_and_drops_what_is_unknown() -> None:
    record, retried = finish("success", exit_code=0, peak_rss_bytes=0)
    assert (record.status, record.status_message, record.end_us, retried) == (OK, "", 3_000_000, False)
    assert record.attributes["runner.cpu_s"] == 0.75 and record.attributes["process.exit_code"] == 0
    assert "runner.peak_rss_bytes" not in record.attributes and "runner.signal" not in record.attributes


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"exit_code": 3}, "exit code 3"),
        ({"signal": 9}, "killed by signal 9"),
        ({"error": "cannot start: pw missing"}, "cannot start: *** missing"),  # masked
    ],
)
def test_a_failure_says_why(result: dict, message: str) -> None:
    record, _ = finish("failed", **result)
    assert (record.status, record.status_message) == (ERROR, message)


def test_a_timeout_and_a_scheduled_retry_are_events() -> None:
    record, retried = finish("timeout", signal=15, timed_out=True, retry=1.5)
    assert (record.status, record.status_message, retried) == (ERROR, "timed out after 2.5s", True)
    assert [(e.name, e.attributes) for e in record.events[1:]] == [
        ("timeout", {"timeout_s": 2.5}),
        ("retry scheduled", {"delay_s": 1.5, "next_attempt": 3}),
    ]


def test_a_cancelled_attempt_is_not_an_error() -> None:
    record, _ = finish("cancelled", cancelled=True)
    assert record.status == UNSET and record.events[-1].name == "cancelled"


def test_a_task_that_never_ran_says_why() -> None:
    task = next(iter(PLAN.nodes.values())).task
    skipped = span()
    task_spans.ended_without_attempt(skipped, ex.SKIPPED, "skip_if: 1 == 1", task, 2_000_000)
    assert (skipped.status, skipped.end_us, skipped.attributes["runner.status"]) == (UNSET, 2_000_000, "skipped")
    assert skipped.events[0].attributes == {"reason": "skip_if: 1 == 1", "condition": "1 == 1"}
    upstream = span()
    task_spans.ended_without_attempt(upstream, ex.UPSTREAM_FAILED, "needs failed: lint", task, 2_000_000)
    assert upstream.events[0].name == "upstream failed" and "condition" not in upstream.events[0].attributes
    failed = span()
    task_spans.ended_without_attempt(failed, ex.FAILED, "", task, 2_000_000)
    assert (failed.status, failed.status_message, failed.events) == (ERROR, "failed", [])


def test_an_attempts_environment_is_the_trace_context_the_propagators_write() -> None:
    """Each attempt's is the same as TaskContext.env (the W3C propagators' format) would write,
    with the node's name quoted in BAGGAGE."""
    from tracing.otel.spans import TaskContext

    context = TaskContext(new_trace_id(), sampled=True, state={"runner": "7"}, baggage={"runner.workflow": "spans"})
    trace_id = context.prefix[3:35]
    envs = task_spans.AttemptEnvironments(PLAN, context, trace_id)
    for attempt in (1, 2):
        span_id = task_spans.attempt_span_id(trace_id, NODE, attempt)
        env = envs.env(NODE, attempt)
        assert env == {"OTEL_SERVICE_NAME": "spans.build",
                       **context.env(span_id, {"runner.node": NODE, "runner.attempt": str(attempt)})}  # fmt: skip
        assert "runner.node=build%5B" in env["BAGGAGE"] and env["BAGGAGE"].endswith(f",runner.attempt={attempt}")


def test_node_parts_are_kept_with_the_plan_and_every_run_gets_its_own_variables() -> None:
    """What no run changes (a node's baggage entry, its task's service name) is worked out once
    per plan and kept for its next runs; each run's variables carry its own trace, and are
    encoded as the start would encode them. A task with its own service name keeps it."""
    from tracing.otel.spans import TaskContext

    tasks = "\n".join(f"  t{i}: {{run: 'true'}}" for i in range(40))
    plan = plan_of(f"name: many\ntasks:\n  own: {{run: 'true', env: {{OTEL_SERVICE_NAME: mine}}}}\n{tasks}\n")
    contexts = [TaskContext(new_trace_id(), sampled=False, baggage={"runner.run.id": str(run)}) for run in (3, 4)]
    runs = [task_spans.AttemptEnvironments(plan, context, context.prefix[3:35]) for context in contexts]
    first = runs[0].env("t5", 1)
    kept = dict(task_spans._plan_nodes(plan))
    assert list(kept) == ["t5"]
    for envs, context in zip(runs, contexts):
        trace_id = context.prefix[3:35]
        for node in ("t5", "own", "t39"):
            for attempt in (1, 3):
                env = envs.env(node, attempt)
                assert env.entries == [spawn.encode_entry(key, value) for key, value in env.items()]
                span_id = task_spans.attempt_span_id(trace_id, node, attempt)
                assert env["TRACEPARENT"] == f"00-{trace_id}-{span_id}-00"
                assert env == {
                    **({} if node == "own" else {"OTEL_SERVICE_NAME": f"many.{node}"}),
                    **context.env(span_id, {"runner.node": node, "runner.attempt": str(attempt)}),
                }
    parts = task_spans._plan_nodes(plan)
    assert set(parts) == {"t5", "own", "t39"} and parts["t5"] is kept["t5"]  # worked out once, for both runs
    assert "OTEL_SERVICE_NAME" not in runs[1].env("own", 1) and first["OTEL_SERVICE_NAME"] == "many.t5"
    other = plan_of(f"name: many\ntasks:\n{tasks}\n")  # another plan (version) of the workflow: its own parts
    assert task_spans._plan_nodes(other) == {} and task_spans._plan_nodes(plan) is parts
    assert task_spans.attempt_span_id("a" * 32, NODE, 1) != task_spans.attempt_span_id("a" * 32, NODE, 2)


def test_only_the_last_plans_parts_are_kept() -> None:
    """Plans' parts are kept for the PLANS_KEPT plans used last, each with its plan (so an id
    reused by a new plan never finds an old plan's parts)."""
    from tracing.otel.spans import TaskContext

    context = TaskContext(new_trace_id(), sampled=True)
    plans = [plan_of(f"name: p{i}\ntasks:\n  a: {{run: 'true'}}\n") for i in range(task_spans.PLANS_KEPT + 1)]
    for plan in plans:
        assert task_spans.AttemptEnvironments(plan, context, context.prefix[3:35]).env("a", 1)["OTEL_SERVICE_NAME"] == (
            f"{plan.spec.name}.a"
        )
    assert plans[0] not in [kept for kept, _nodes in task_spans._PLANS.values()]
    assert all(task_spans._plan_nodes(plan) for plan in plans[1:])  # still kept, with their node's part


def test_first_attempts_are_prepared_as_the_run_starts_up_to_a_limit() -> None:
    """prepare makes the first PREPARED nodes' first-attempt variables in one go; each is handed
    out once, and is what the attempt would get made as it starts. Other nodes' (beyond the
    limit) and retries' are made as they start."""
    from tracing.otel.spans import TaskContext

    tasks = "\n".join(f"  t{i}: {{run: 'true'}}" for i in range(6))
    plan = plan_of(f"name: ready\ntasks:\n{tasks}\n")
    context = TaskContext(new_trace_id(), sampled=True, baggage={"runner.run.id": "5"})
    trace_id = context.prefix[3:35]
    envs = task_spans.AttemptEnvironments(plan, context, trace_id)
    envs.PREPARED = 4
    envs.prepare()
    assert list(envs._first) == ["t0", "t1", "t2", "t3"]
    prepared = envs._first["t2"]
    assert envs.env("t2", 1) is prepared and "t2" not in envs._first
    fresh = task_spans.AttemptEnvironments(plan, context, trace_id)  # nothing prepared: made as asked
    for node in ("t2", "t5"):
        assert envs.env(node, 1) == fresh.env(node, 1)
        assert envs.env(node, 2) == fresh.env(node, 2) != fresh.env(node, 1)
    assert prepared == fresh.env("t2", 1)
