"""Running a plan with real subprocesses: scheduling, trigger rules, conditions, outputs, retries,
timeouts, cancellation, environment, resume, and that every run ends."""

from __future__ import annotations

import json
import random
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from workflows.engine.executor import Executor, Hooks, NodeOutcome
from workflows.engine.spec import Retry

from .conftest import Recorder, execute, gone, plan_of, start, statuses, wait_until

PY = sys.executable

# --------------------------------------------------------------------------- scheduling


def test_it_starts_a_task_as_soon_as_its_own_needs_are_done(tmp_path: Path) -> None:
    # `slow` only finishes once `b` has started; in waves, `b` would wait for `slow` and both would hang.
    outcome, recorder = execute(
        """
        name: w
        tasks:
          a: {run: "true"}
          slow:
            run: "for i in $(seq 1000); do [ -e b.started ] && exit 0; sleep 0.01; done; exit 1"
          b: {run: "touch b.started", needs: [a]}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {"a": "success", "slow": "success", "b": "success"}
    assert recorder.position("started", "b") < recorder.position("state", "slow", "success")


def test_it_never_runs_more_than_max_parallel_tasks_at_once(tmp_path: Path) -> None:
    # Each task waits until two have started, so the first two surely overlap; the times they
    # record show whether a third ever joined them.
    command = (
        'touch "$RUNNER_NODE.start"; date +%s%N > "$RUNNER_NODE.t0"; '
        "for i in $(seq 1000); do [ $(ls *.start | wc -l) -ge 2 ] && break; sleep 0.01; done; "
        'sleep 0.1; date +%s%N > "$RUNNER_NODE.t1"'
    )
    tasks = "\n".join(f"  t{i}: {{run: '{command}'}}" for i in range(6))

    outcome, _ = execute(f"name: w\nmax_parallel: 2\ntasks:\n{tasks}\n", tmp_path)

    assert outcome.status == "success"
    spans = [(int((tmp_path / f"t{i}.t0").read_text()), int((tmp_path / f"t{i}.t1").read_text())) for i in range(6)]
    assert max_overlap(spans) == 2


def test_parallel_tasks_run_from_the_thread_that_called_run(tmp_path: Path) -> None:
    """No thread per task: one loop starts, watches and records every process (their GIL
    hand-offs cost more than a short task). Hooks other than progress() come from that thread."""
    threads: set[int] = set()

    class Where(Recorder):
        def _add(self, *event: Any) -> None:
            if event[0] != "progress":
                threads.add(threading.get_ident())
            super()._add(*event)

    tasks = "\n".join(f"  t{i}: {{run: 'echo {i}; sleep 1'}}" for i in range(4))
    before = threading.active_count()
    running, recorder = start(f"name: w\nmax_parallel: 4\ntasks:\n{tasks}\n", tmp_path, hooks=Where())
    wait_until(lambda: len(recorder.of("log")) == 4)
    during = threading.active_count()  # all four are running: each has printed and sleeps
    outcome = running.outcome()

    assert outcome.status == "success"
    assert len(threads) == 1  # the run's own thread
    assert during <= before + 2  # that thread (and a usage sampler): none per running task


def max_overlap(spans: list[tuple[int, int]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])  # an end sorts before a start
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_it_says_once_when_every_task_has_started_or_ended(tmp_path: Path) -> None:
    """The hooks hear when nothing is left to start (the recorder stops gathering events then,
    so that the run's end is stored and sent at once): once, when the last task is started,
    and not while a task that waits for a retry may still start again."""

    class Ending(Recorder):
        def ending(self) -> None:
            self._add("ending", None)

    outcome, recorder = execute(
        """
        name: w
        max_parallel: 1
        tasks:
          a: {run: "true"}
          flaky:
            run: '[ -e tried ] || { touch tried; exit 1; }'
            needs: [a]
            retry: {max_attempts: 2, initial_delay: 0.01}
          c: {run: "true", needs: [flaky]}
        """,
        tmp_path,
        hooks=Ending(),
    )

    assert statuses(outcome) == {"a": "success", "flaky": "success", "c": "success"}
    seen = [(e[0], e[1]) for e in recorder.events if e[0] in ("started", "finished", "ending")]
    assert seen.count(("ending", None)) == 1
    at = seen.index(("ending", None))
    assert seen[:at].count(("finished", "flaky")) == 2  # both attempts of the retried task came first
    assert seen[at + 1 :] == [("started", "c"), ("finished", "c")]


def test_it_starts_ready_tasks_by_priority(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: w
        max_parallel: 1
        tasks:
          low: {run: "true"}
          high: {run: "true", priority: 10}
          middle: {run: "true", priority: 5}
        """,
        tmp_path,
    )

    assert outcome.status == "success"
    assert [e[1] for e in recorder.of("started")] == ["high", "middle", "low"]


# --------------------------------------------------------------------------- trigger rules


def test_seed_defect_a_failed_upstream_no_longer_hangs_its_dependents(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: w
        tasks:
          a: {run: "false"}
          b: {run: "true", needs: [a]}
          c: {run: "true", needs: [b]}
        """,
        tmp_path,
    )

    assert outcome.status == "failed" and outcome.reason == "1 task(s) failed: a"
    assert statuses(outcome) == {"a": "failed", "b": "upstream_failed", "c": "upstream_failed"}
    assert outcome.nodes["c"].reason == "'b' upstream_failed"
    assert recorder.starts("b") == recorder.starts("c") == []


def test_seed_defect_a_skipped_upstream_no_longer_hangs_its_dependents(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: w
        tasks:
          a: {run: "true", skip_if: "true"}
          b: {run: "true", needs: [a]}
          c: {run: "true", needs: [b]}
        """,
        tmp_path,
    )

    assert outcome.status == "success"
    assert statuses(outcome) == {"a": "skipped", "b": "skipped", "c": "skipped"}
    assert outcome.nodes["b"].reason == "'a' was skipped"
    assert recorder.of("started") == []


def test_seed_defect_run_always_runs_after_a_failure(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a: {run: "false"}
          cleanup: {run: "touch cleaned", needs: [a], run_always: true}
          b: {run: "true", needs: [a]}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {"a": "failed", "cleanup": "success", "b": "upstream_failed"}
    assert (tmp_path / "cleaned").exists()
    assert outcome.status == "failed"


def test_it_runs_a_run_always_task_after_a_skip(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a: {run: "true", skip_if: "true"}
          notify: {run: "touch notified", needs: [a], run_always: true}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {"a": "skipped", "notify": "success"}
    assert (tmp_path / "notified").exists()


def test_it_runs_a_run_always_task_below_an_upstream_failure(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a: {run: "false"}
          b: {run: "true", needs: [a]}
          report: {run: "true", needs: [b], run_always: true}
          after_report: {run: "true", needs: [report]}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {"a": "failed", "b": "upstream_failed", "report": "success", "after_report": "success"}


def test_it_lets_dependents_run_after_a_task_that_may_fail(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          lint: {run: "exit 2", continue_on_error: true}
          build: {run: "true", needs: [lint]}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {"lint": "failed", "build": "success"}
    assert outcome.nodes["lint"].exit_code == 2 and outcome.nodes["lint"].reason == "exit code 2"
    assert outcome.status == "success"


def test_it_marks_a_task_upstream_failed_rather_than_skipped_when_both_apply(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          skipped: {run: "true", skip_if: "true"}
          broken: {run: "false"}
          c: {run: "true", needs: [skipped, broken]}
        """,
        tmp_path,
    )

    assert outcome.nodes["c"].status == "upstream_failed"


def test_it_reports_exactly_one_final_state_per_task(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: w
        tasks:
          a: {run: "false"}
          b: {run: "true", needs: [a]}
          c: {run: "true", needs: [a, b]}
          d: {run: "true", needs: [b, c], run_always: true}
        """,
        tmp_path,
    )

    assert {n: recorder.states(n) for n in outcome.nodes} == {
        "a": ["failed"],
        "b": ["upstream_failed"],
        "c": ["upstream_failed"],
        "d": ["success"],
    }


# --------------------------------------------------------------------------- skip_if


def test_it_skips_a_task_on_an_upstream_output(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: w
        tasks:
          extract: {run: 'echo rows=0 >> "$RUNNER_OUTPUT"'}
          load: {run: "touch loaded", needs: [extract], skip_if: "extract.outputs.rows == 0"}
          audit: {run: "touch audited", needs: [extract], skip_if: "tasks.extract.outputs.rows > 0"}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {"extract": "success", "load": "skipped", "audit": "success"}
    assert outcome.nodes["load"].reason == "skip_if: extract.outputs.rows == 0"
    assert not (tmp_path / "loaded").exists() and (tmp_path / "audited").exists()
    assert recorder.starts("load") == []


def test_it_skips_a_task_on_an_upstream_status_or_exit_code(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          probe: {run: "exit 3", continue_on_error: true}
          on_success: {run: "true", needs: [probe], skip_if: "probe.status != 'success'"}
          on_code_3: {run: "true", needs: [probe], skip_if: "probe.exit_code != 3"}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {"probe": "failed", "on_success": "skipped", "on_code_3": "success"}


def test_it_fails_a_task_whose_condition_cannot_be_evaluated(tmp_path: Path) -> None:
    # Found while writing these tests: the error escaped run() and left `slow` unreported.
    outcome, _ = execute(
        """
        name: w
        tasks:
          a: {run: 'echo data=not-json >> "$RUNNER_OUTPUT"'}
          slow: {run: "sleep 0.3"}
          b: {run: "true", needs: [a], skip_if: "fromJSON(a.outputs.data).rows == 0"}
          c: {run: "true", needs: [b]}
        """,
        tmp_path,
    )

    assert statuses(outcome) == {"a": "success", "slow": "success", "b": "failed", "c": "upstream_failed"}
    assert outcome.nodes["b"].reason.startswith("skip_if could not be evaluated: fromJSON()")


# --------------------------------------------------------------------------- outputs


def test_seed_defect_outputs_are_passed_downstream(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          extract: {run: 'echo rows=42 >> "$RUNNER_OUTPUT"; echo "name=Big Sales" >> "$RUNNER_OUTPUT"'}
          load:
            run: 'echo ${{ tasks.extract.outputs.rows }} ${{ extract.outputs.name }} > run.txt; printf %s "$NAME" > env.txt'
            env: {NAME: "${{ tasks.extract.outputs.name }} report"}
            needs: [extract]
        """,
        tmp_path,
    )

    assert outcome.nodes["extract"].outputs == {"rows": "42", "name": "Big Sales"}
    assert (tmp_path / "run.txt").read_text() == "42 Big Sales\n"
    assert (tmp_path / "env.txt").read_text() == "Big Sales report"


@pytest.mark.parametrize(
    "command",
    [
        "echo ${{ tasks.a.outputs.evil }} > got.txt",
        'echo "${{ tasks.a.outputs.evil }}" > got.txt',
        "echo '${{ tasks.a.outputs.evil }}' > got.txt",
        'echo "$(echo "${{ tasks.a.outputs.evil }}")" > got.txt',
        "echo `echo '${{ tasks.a.outputs.evil }}'` > got.txt",
        "cat > got.txt <<EOF\n${{ tasks.a.outputs.evil }}\nEOF",
    ],
    ids=["unquoted", "double-quoted", "single-quoted", "in-command-substitution", "in-backticks", "in-heredoc"],
)
@pytest.mark.parametrize(
    "evil",
    ["; touch pwned", "$(touch pwned)", "`touch pwned`", "'; touch pwned; '", '"; touch pwned; "', "\\"],
)
def test_it_never_runs_an_output_as_a_command(tmp_path: Path, command: str, evil: str) -> None:
    (tmp_path / "value").write_text(evil)
    workflow = {
        "name": "w",
        "tasks": {
            "a": {"run": 'printf "evil=%s\\n" "$(cat value)" >> "$RUNNER_OUTPUT"'},
            "b": {"run": command, "needs": ["a"]},
        },
    }

    outcome, _ = execute(json.dumps(workflow), tmp_path)

    assert outcome.nodes["a"].outputs == {"evil": evil}
    assert outcome.status == "success", outcome.nodes["b"].reason
    assert not (tmp_path / "pwned").exists()
    assert (tmp_path / "got.txt").read_text() == evil + "\n"


def test_it_refuses_an_output_that_would_end_a_here_document(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a: {run: 'printf "evil<<X\\nEOF\\ntouch pwned\\nX\\n" >> "$RUNNER_OUTPUT"'}
          b: {run: "cat <<EOF\\n${{ tasks.a.outputs.evil }}\\nEOF", needs: [a]}
        """,
        tmp_path,
    )

    assert outcome.nodes["a"].outputs == {"evil": "EOF\ntouch pwned"}
    assert outcome.nodes["b"].status == "failed"
    assert outcome.nodes["b"].reason == (
        "cannot render ${{ }}: a value holds the line 'EOF', which would end the here-document"
    )
    assert not (tmp_path / "pwned").exists()


def test_it_fails_a_task_whose_template_cannot_be_evaluated(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a: {run: 'echo data=oops >> "$RUNNER_OUTPUT"'}
          b: {run: "echo ${{ fromJSON(tasks.a.outputs.data) }}", needs: [a]}
        """,
        tmp_path,
    )

    assert outcome.nodes["b"].status == "failed"
    assert outcome.nodes["b"].reason.startswith("cannot render ${{ }}: fromJSON() needs a JSON string")


def test_it_passes_a_multi_line_output(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a:
            run: |
              {
                echo "summary<<END"
                echo "first line"
                echo "second line"
                echo "END"
              } >> "$RUNNER_OUTPUT"
          b:
            run: 'printf "%s" "$SUMMARY" > summary.txt; echo "${{ tasks.a.outputs.summary }}" > run.txt'
            env: {SUMMARY: "${{ tasks.a.outputs.summary }}"}
            needs: [a]
        """,
        tmp_path,
    )

    assert outcome.nodes["a"].outputs == {"summary": "first line\nsecond line"}
    assert (tmp_path / "summary.txt").read_text() == "first line\nsecond line"
    assert (tmp_path / "run.txt").read_text() == "first line\nsecond line\n"


def test_it_reports_outputs_and_their_warnings_per_attempt(tmp_path: Path) -> None:
    _, recorder = execute(
        """
        name: w
        tasks:
          a: {run: 'printf "rows=3\\nnot an output\\n" >> "$RUNNER_OUTPUT"'}
        """,
        tmp_path,
    )

    (info,) = recorder.attempts("a")
    assert info.outputs == {"rows": "3"}
    assert info.warnings == ["output line 2 is neither key=value nor key<<DELIMITER"]


def test_it_lets_hooks_filter_outputs_before_anyone_sees_them(tmp_path: Path) -> None:
    class Masking(Recorder):
        def filter_outputs(self, node_id: str, outputs: dict[str, str]) -> dict[str, str]:
            return {k: v.replace("hunter2", "***") for k, v in outputs.items()}

    outcome, _ = execute(
        """
        name: w
        tasks:
          a: {run: 'echo token=hunter2 >> "$RUNNER_OUTPUT"'}
          b: {run: 'echo "${{ tasks.a.outputs.token }}" > seen.txt', needs: [a]}
        """,
        tmp_path,
        hooks=Masking(),
    )

    assert outcome.nodes["a"].outputs == {"token": "***"}
    assert (tmp_path / "seen.txt").read_text() == "***\n"


def test_it_gives_each_attempt_a_fresh_outputs_file(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a:
            run: |
              if [ -e tried ]; then echo second=2 >> "$RUNNER_OUTPUT"; exit 0; fi
              touch tried; echo first=1 >> "$RUNNER_OUTPUT"; exit 1
            retry: {max_attempts: 2, initial_delay: 0.01}
        """,
        tmp_path,
    )

    assert outcome.nodes["a"].outputs == {"second": "2"}


# --------------------------------------------------------------------------- retries


def test_it_retries_with_a_growing_delay_until_max_attempts(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: w
        tasks:
          a:
            run: 'echo "$RUNNER_ATTEMPT" >> attempts.log; exit 1'
            retry: {max_attempts: 3, initial_delay: 0.05, backoff: 2}
        """,
        tmp_path,
    )

    assert (tmp_path / "attempts.log").read_text() == "1\n2\n3\n"
    assert outcome.nodes["a"].status == "failed" and outcome.nodes["a"].attempts == 3
    assert [info.retry_delay for info in recorder.attempts("a")] == [0.05, 0.1, None]
    assert recorder.states("a") == ["retrying", "retrying", "failed"]
    started = [e[4] for e in recorder.starts("a")]
    assert started[1] - started[0] >= 0.05 and started[2] - started[1] >= 0.1


def test_it_stops_retrying_once_an_attempt_succeeds(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a:
            run: 'echo x >> attempts.log; [ "$RUNNER_ATTEMPT" = 2 ]'
            retry: {max_attempts: 5, initial_delay: 0.01}
        """,
        tmp_path,
    )

    assert outcome.nodes["a"].status == "success" and outcome.nodes["a"].attempts == 2
    assert (tmp_path / "attempts.log").read_text() == "x\nx\n"


@pytest.mark.parametrize(("code", "attempts"), [(75, 3), (1, 1)])
def test_it_retries_only_the_listed_exit_codes(tmp_path: Path, code: int, attempts: int) -> None:
    outcome, _ = execute(
        f"""
        name: w
        tasks:
          a:
            run: "exit {code}"
            retry: {{max_attempts: 3, initial_delay: 0.01, retry_on_exit_codes: [75]}}
        """,
        tmp_path,
    )

    assert outcome.nodes["a"].attempts == attempts
    assert outcome.nodes["a"].exit_code == code


def test_it_retries_a_timed_out_attempt_whatever_the_listed_exit_codes(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a:
            run: "sleep 5"
            timeout: 0.2
            retry: {max_attempts: 2, initial_delay: 0.01, retry_on_exit_codes: [75]}
        """,
        tmp_path,
    )

    assert outcome.nodes["a"].attempts == 2
    assert outcome.nodes["a"].reason == "timed out after 0.2s"


def test_it_spreads_retry_delays_with_jitter_from_its_random_source(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: w
        tasks:
          a: {run: "false", retry: {max_attempts: 3, initial_delay: 0.02, backoff: 2, jitter: 0.5}}
        """,
        tmp_path,
        rng=random.Random(7),
    )

    draws = random.Random(7)
    retry = Retry(max_attempts=3, initial_delay=0.02, backoff=2, jitter=0.5)
    expected = [retry.delay(1, draws.random()), retry.delay(2, draws.random()), None]
    assert [info.retry_delay for info in recorder.attempts("a")] == expected
    assert expected[0] != 0.02


def test_a_retry_delay_grows_by_the_backoff_up_to_max_delay() -> None:
    retry = Retry(max_attempts=10, initial_delay=1, backoff=3, max_delay=20)

    assert [retry.delay(n) for n in range(1, 6)] == [1, 3, 9, 20, 20]


def test_a_retry_delay_stays_within_its_jitter() -> None:
    retry = Retry(max_attempts=3, initial_delay=10, backoff=1, jitter=0.2)

    assert (retry.delay(1, rand=0.0), retry.delay(1, rand=0.5), retry.delay(1, rand=0.999999)) == pytest.approx(
        (8.0, 10.0, 12.0)
    )


# --------------------------------------------------------------------------- timeouts and cancelling


def test_seed_defect_a_timeout_kills_the_grandchild_too(tmp_path: Path) -> None:
    outcome, recorder = execute(
        """
        name: w
        tasks:
          a: {run: "sleep 30 & echo $! > grandchild.pid; wait", timeout: 0.5}
          b: {run: "true", needs: [a]}
        """,
        tmp_path,
    )

    grandchild = int((tmp_path / "grandchild.pid").read_text())
    assert statuses(outcome) == {"a": "failed", "b": "upstream_failed"}
    assert outcome.nodes["a"].reason == "timed out after 0.5s"
    assert recorder.attempts("a")[0].status == "timeout"
    assert recorder.attempts("a")[0].result.wall_s < 5
    assert wait_until(lambda: gone(grandchild), timeout=5)


def test_it_cancels_from_another_thread_and_ends_every_task(tmp_path: Path) -> None:
    running, recorder = start(
        """
        name: w
        tasks:
          a: {run: "sleep 30 & echo $! > grandchild.pid; wait"}
          c: {run: "sleep 30"}
          b: {run: "true", needs: [a]}
          d: {run: "true", needs: [b, c]}
        """,
        tmp_path,
    )
    wait_until(lambda: recorder.starts("a") and recorder.starts("c") and (tmp_path / "grandchild.pid").exists())
    grandchild = int((tmp_path / "grandchild.pid").read_text())

    running.executor.cancel("stopped by the operator")
    outcome = running.outcome(timeout=15)

    assert outcome.status == "cancelled" and outcome.reason == "stopped by the operator"
    assert statuses(outcome) == {"a": "cancelled", "c": "cancelled", "b": "cancelled", "d": "cancelled"}
    assert recorder.starts("b") == recorder.starts("d") == []
    assert all(recorder.states(n) == ["cancelled"] for n in "abcd")
    children = [e[5] for e in recorder.of("started")]
    assert wait_until(lambda: all(gone(pid) for pid in [*children, grandchild]), timeout=5)


def test_it_cancels_a_task_waiting_to_be_retried(tmp_path: Path) -> None:
    running, recorder = start(
        """
        name: w
        tasks:
          a: {run: "false", retry: {max_attempts: 3, initial_delay: 30}}
        """,
        tmp_path,
    )
    wait_until(lambda: "retrying" in recorder.states("a"))

    running.executor.cancel()
    outcome = running.outcome(timeout=10)

    assert outcome.status == "cancelled"
    assert outcome.nodes["a"].status == "cancelled" and outcome.nodes["a"].attempts == 1


def test_it_runs_nothing_when_cancelled_before_it_starts(tmp_path: Path) -> None:
    recorder = Recorder()
    executor = Executor(plan_of("name: w\ntasks:\n  a: {run: 'touch ran'}\n"), recorder, base_dir=str(tmp_path))

    executor.cancel("never mind")
    outcome = executor.run()

    assert outcome.status == "cancelled" and statuses(outcome) == {"a": "cancelled"}
    assert recorder.of("started") == [] and not (tmp_path / "ran").exists()


def test_it_ends_the_whole_run_at_the_run_timeout(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        timeout: 0.5
        tasks:
          a: {run: "sleep 30"}
          b: {run: "true", needs: [a]}
        """,
        tmp_path,
    )

    assert outcome.status == "failed" and outcome.reason == "the run timed out after 0.5s"
    assert statuses(outcome) == {"a": "cancelled", "b": "cancelled"}


# --------------------------------------------------------------------------- what each attempt records


def test_it_records_times_exit_code_and_resource_usage_of_an_attempt(tmp_path: Path) -> None:
    burn = "import time; b = bytearray(64 << 20); t = time.process_time()\nwhile time.process_time() - t < 0.2: pass"
    (tmp_path / "burn.py").write_text(burn)

    outcome, recorder = execute(f"name: w\ntasks:\n  a: {{run: [{PY}, burn.py]}}\n", tmp_path)

    (info,) = recorder.attempts("a")
    assert outcome.status == "success" and info.status == "success"
    assert info.result.exit_code == 0 and info.attempt == 1
    assert info.result.started_at < info.result.ended_at
    assert info.result.wall_s >= info.result.cpu_s >= 0.2
    assert info.result.peak_rss_bytes >= 64 << 20


def test_it_streams_log_lines_while_the_task_runs(tmp_path: Path) -> None:
    running, recorder = start(
        """
        name: w
        tasks:
          a: {run: "echo first; echo oops >&2; for i in $(seq 1000); do [ -e go ] && break; sleep 0.01; done; echo second"}
        """,
        tmp_path,
    )

    wait_until(lambda: recorder.lines("a") == ["first"])
    (tmp_path / "go").touch()
    outcome = running.outcome()

    assert outcome.status == "success"
    assert recorder.lines("a") == ["first", "second"]
    assert recorder.lines("a", "stderr") == ["oops"]


def test_it_samples_progress_of_a_long_attempt(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.progress_interval = 0.05

    execute("name: w\ntasks:\n  a: {run: 'sleep 0.5'}\n", tmp_path, hooks=recorder)

    samples = recorder.of("progress", "a")
    assert samples and all(rss > 0 and wall > 0 for _, _, _, rss, wall in samples)


def test_it_reports_the_command_it_ran(tmp_path: Path) -> None:
    _, recorder = execute(
        """
        name: w
        tasks:
          a: {run: "echo ${{ matrix.word }}", matrix: {word: ["two words"]}}
        """,
        tmp_path,
    )

    assert recorder.starts("a[word=two words]")[0][3] == "echo 'two words'"


def test_it_fails_a_task_whose_command_cannot_start(tmp_path: Path) -> None:
    outcome, recorder = execute("name: w\ntasks:\n  a: {run: [./no-such-program]}\n", tmp_path)

    assert outcome.nodes["a"].status == "failed"
    assert outcome.nodes["a"].reason.startswith("cannot start")
    assert recorder.lines("a", "stderr")[0].startswith("cannot start")


# --------------------------------------------------------------------------- environment and directory


def test_it_layers_the_environment_workflow_then_task_then_hooks(tmp_path: Path) -> None:
    base = {"PATH": "/usr/bin:/bin", "A": "base", "B": "base", "C": "base", "D": "base"}
    hooks = Recorder(env={"a": {"D": "hooks"}})

    outcome, _ = execute(
        """
        name: w
        env: {B: workflow, C: workflow, D: workflow}
        tasks:
          a: {run: 'echo "$A $B $C $D" > env.txt', env: {C: task, D: task}}
        """,
        tmp_path,
        hooks=hooks,
        base_env=base,
    )

    assert outcome.status == "success"
    assert (tmp_path / "env.txt").read_text() == "base workflow task hooks\n"


def test_the_hooks_run_wide_variables_sit_under_the_workflows_and_are_asked_once(tmp_path: Path) -> None:
    asked = []

    class RunWide(Recorder):
        def run_env(self) -> dict[str, str]:
            asked.append(1)
            return {"A": "run", "B": "run", "C": "run", "PATH": "/nowhere"}

    outcome, _ = execute(
        """
        name: w
        env: {B: workflow, PATH: /usr/bin:/bin}
        tasks:
          a: {run: 'echo "$A $B $C" > a.txt', env: {C: task}}
          b: {run: 'echo "$A $B $C" > b.txt', needs: [a]}
        """,
        tmp_path,
        hooks=RunWide(),
    )

    assert outcome.status == "success"
    assert (tmp_path / "a.txt").read_text() == "run workflow task\n"
    assert (tmp_path / "b.txt").read_text() == "run workflow run\n"
    assert asked == [1]


def test_templated_values_keep_their_place_in_the_layers(tmp_path: Path) -> None:
    """A workflow value with ${{ }} is worked out per attempt, yet a task's plain value of the
    same name still wins over it, and no workflow value replaces a RUNNER_ variable."""
    outcome, _ = execute(
        """
        name: w
        env: {B: "${{ params.p }}", C: "${{ params.p }}", RUNNER_RUN_ID: "${{ params.p }}", RUNNER_WORKFLOW: x}
        tasks:
          a: {run: 'echo "$B $C $RUNNER_RUN_ID $RUNNER_WORKFLOW $RUNNER_TASK" > env.txt', env: {C: task, RUNNER_TASK: t}}
        """,
        tmp_path,
        run_id="17",
        params={"p": "fromparam"},
    )

    assert outcome.status == "success"
    assert (tmp_path / "env.txt").read_text() == "fromparam task 17 w a\n"


def test_it_sets_the_runner_variables(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: nightly
        tasks:
          t:
            run: 'echo "$RUNNER_RUN_ID $RUNNER_WORKFLOW $RUNNER_TASK $RUNNER_NODE $RUNNER_ATTEMPT $RUNNER_MATRIX_FORMAT_NAME" > vars.txt; test -d "$(dirname "$RUNNER_OUTPUT")"'
            matrix: {format-name: [csv]}
        """,
        tmp_path,
        run_id="17",
    )

    assert outcome.status == "success"
    assert (tmp_path / "vars.txt").read_text() == "17 nightly t t[format-name=csv] 1 csv\n"


def test_it_renders_params_into_commands(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        params: {limit: 10}
        tasks:
          a: {run: "echo ${{ params.limit }} > limit.txt", skip_if: "params.limit == 0"}
        """,
        tmp_path,
        params={"limit": 5},
    )

    assert outcome.status == "success"
    assert (tmp_path / "limit.txt").read_text() == "5\n"


@pytest.mark.parametrize(
    ("workflow_setting", "task_setting", "expected"),
    [
        ("", ", working_directory: jobs/a", "jobs/a"),
        ("", ", cwd: jobs/a", "jobs/a"),
        ("working_directory: jobs", "", "jobs"),
        ("working_directory: jobs", ", cwd: other", "other"),
    ],
)
def test_it_runs_in_the_working_directory(
    tmp_path: Path, workflow_setting: str, task_setting: str, expected: str
) -> None:
    (tmp_path / expected).mkdir(parents=True)

    outcome, _ = execute(
        f"name: w\n{workflow_setting}\ntasks:\n  a: {{run: 'pwd > here.txt'{task_setting}}}\n", tmp_path
    )

    assert outcome.status == "success"
    assert (tmp_path / expected / "here.txt").read_text() == f"{tmp_path / expected}\n"


# --------------------------------------------------------------------------- resuming


def test_it_resumes_without_rerunning_finished_tasks(tmp_path: Path) -> None:
    done = {"extract": NodeOutcome("success", 0, {"rows": "7"}, attempts=1)}

    outcome, recorder = execute(
        """
        name: w
        tasks:
          extract: {run: "touch extract-ran"}
          load: {run: "echo ${{ tasks.extract.outputs.rows }} > rows.txt", needs: [extract]}
        """,
        tmp_path,
        initial=done,
        attempts_used={"extract": 1},
    )

    assert statuses(outcome) == {"extract": "success", "load": "success"}
    assert recorder.starts("extract") == [] and not (tmp_path / "extract-ran").exists()
    assert (tmp_path / "rows.txt").read_text() == "7\n"


def test_it_resumes_counting_attempts_already_used(tmp_path: Path) -> None:
    outcome, _ = execute(
        """
        name: w
        tasks:
          a: {run: 'echo "$RUNNER_ATTEMPT" >> attempts.log; exit 1', retry: {max_attempts: 3, initial_delay: 0.01}}
        """,
        tmp_path,
        attempts_used={"a": 2},
    )

    assert (tmp_path / "attempts.log").read_text() == "3\n"
    assert outcome.nodes["a"].attempts == 3


# --------------------------------------------------------------------------- every run ends


def test_it_ends_a_thousand_task_chain_whose_head_fails(tmp_path: Path) -> None:
    chain = "\n".join(f"  t{i}: {{run: 'true', needs: [t{i - 1}]}}" for i in range(1, 1000))

    outcome, recorder = execute(f"name: chain\ntasks:\n  t0: {{run: 'false'}}\n{chain}\n", tmp_path)

    assert outcome.status == "failed"
    assert list(statuses(outcome).values()).count("upstream_failed") == 999
    assert len(recorder.of("started")) == 1


def test_it_fails_a_task_whose_hook_raises_and_still_ends(tmp_path: Path) -> None:
    class Broken(Recorder):
        def attempt_env(self, node_id: str, attempt: int) -> dict[str, str]:
            raise RuntimeError("vault is down")

    outcome, _ = execute("name: w\ntasks:\n  a: {run: 'true'}\n  b: {run: 'true', needs: [a]}\n", tmp_path, Broken())

    assert statuses(outcome) == {"a": "failed", "b": "upstream_failed"}
    assert "vault is down" in outcome.nodes["a"].reason


@pytest.mark.parametrize("where", ["log", "filter_outputs"])
def test_an_attempt_whose_hook_raises_after_its_start_is_also_reported_ended(tmp_path: Path, where: str) -> None:
    """A stored attempt is announced by attempt_started: if a hook then fails it, attempt_finished
    must still come, or its row would say "running" for ever."""

    class Broken(Recorder):
        def log(self, node_id: str, attempt: int, stream: str, line: str) -> None:
            if where == "log":
                raise RuntimeError("the log store is down")
            super().log(node_id, attempt, stream, line)

        def filter_outputs(self, node_id: str, outputs: dict[str, str]) -> dict[str, str]:
            if where == "filter_outputs":
                raise RuntimeError("the masker is down")
            return outputs

    outcome, recorder = execute(
        "name: w\ntasks:\n  a: {run: 'echo hi; echo k=v >> $RUNNER_OUTPUT'}\n", tmp_path, Broken()
    )

    assert statuses(outcome) == {"a": "failed"}
    assert [e[2] for e in recorder.of("started", "a")] == [1]
    (info,) = recorder.attempts("a")
    assert (info.attempt, info.status) == (1, "failed")
    assert "is down" in (info.result.error or "")


def expected_statuses(tasks: dict[str, dict]) -> dict[str, str]:
    """The trigger rules, restated: what each task of a random workflow must end as."""
    result: dict[str, str] = {}
    for name, task in tasks.items():  # written in dependency order
        ups = [result[u] for u in task["needs"]]
        hard_failed = [
            u
            for u in task["needs"]
            if result[u] == "upstream_failed" or (result[u] == "failed" and not tasks[u]["coe"])
        ]
        if not task["always"] and hard_failed:
            result[name] = "upstream_failed"
        elif not task["always"] and "skipped" in ups:
            result[name] = "skipped"
        elif task["skip"]:
            result[name] = "skipped"
        else:
            result[name] = "success" if task["run"] == "true" else "failed"
    return result


@pytest.mark.parametrize("seed", range(20))
def test_every_random_workflow_ends_as_the_trigger_rules_say(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    tasks: dict[str, dict] = {}
    for i in range(7):
        tasks[f"t{i}"] = {
            "run": rng.choice(["true", "true", "false"]),
            "needs": sorted(rng.sample(list(tasks), k=min(len(tasks), rng.randint(0, 2)))),
            "skip": rng.random() < 0.15,
            "always": rng.random() < 0.2,
            "coe": rng.random() < 0.2,
        }
    lines = [
        f"  {n}: {{run: '{t['run']}', needs: {t['needs']}, skip_if: '{str(t['skip']).lower()}', "
        f"run_always: {str(t['always']).lower()}, continue_on_error: {str(t['coe']).lower()}}}"
        for n, t in tasks.items()
    ]

    outcome, recorder = execute("name: random\nmax_parallel: 3\ntasks:\n" + "\n".join(lines) + "\n", tmp_path)

    assert statuses(outcome) == expected_statuses(tasks)
    assert all(len(recorder.states(n)) == 1 for n in tasks)
    assert {e[1] for e in recorder.of("started")} == {
        n for n, s in statuses(outcome).items() if s in ("success", "failed")
    }


def test_hooks_default_to_doing_nothing(tmp_path: Path) -> None:
    outcome = Executor(plan_of("name: w\ntasks:\n  a: {run: 'true'}\n"), Hooks(), base_dir=str(tmp_path)).run()

    assert outcome.status == "success"


def test_it_can_run_from_a_thread_other_than_the_main_one(tmp_path: Path) -> None:
    results: list[str] = []
    thread = threading.Thread(
        target=lambda: results.append(Executor(plan_of("name: w\ntasks:\n  a: {run: 'true'}\n")).run().status)
    )

    thread.start()
    thread.join(30)

    assert results == ["success"]
