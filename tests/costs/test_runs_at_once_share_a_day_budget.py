"""Runs going on at the same time share a day budget: each looks again at what the others have
spent whenever it stores its own attempts' costs, so together they stop near the limit instead of
each spending up to it on its own. (Each used to take the day's spend once, when it started.)"""

from __future__ import annotations

import pytest

from tests.conftest import make_workflow, wait_for_run

pytestmark = pytest.mark.integration

# 1000 requested vCPUs on an m5.large split cost about $0.0087 a second, so each `sleep 0.4` step
# costs about $0.0035 and one run of ten about $0.035: under the day's $0.05 alone, over it together.
WORKFLOW = """
name: shared_day
cost: {provider: aws, region: us-east-1, instance_type: m5.large, requests: {cpu: 1000}}
budget: {day: 0.05}
max_parallel: 1
tasks:
  s0: {run: "sleep 0.4"}
""" + "".join(f'  s{i}: {{run: "sleep 0.4", needs: [s{i - 1}]}}\n' for i in range(1, 10))


def test_two_runs_at_once_stop_together_near_their_shared_day_limit(consumer):
    from costs.models import BudgetAlert, CostRecord
    from workflows import runner

    workflow = make_workflow(WORKFLOW)
    runs = [runner.create_run(workflow, trigger="api") for _ in range(2)]
    done = [wait_for_run(run.pk, timeout=30) for run in runs]

    stopped = [run for run in done if run.status == "cancelled"]
    assert stopped, [(run.status, run.message) for run in done]
    assert all("budget $0.05 today (UTC) would be exceeded" in run.message for run in stopped)
    assert BudgetAlert.objects.filter(run__in=stopped, level="stopped").count() == len(stopped)
    spent = sum(CostRecord.objects.filter(run__in=runs).values_list("amount", flat=True))
    one_step = max(CostRecord.objects.filter(run__in=runs).values_list("amount", flat=True))
    # Each run alone stays under the limit; both would have spent about $0.07. Stopped at the
    # limit, what is spent past it is at most the steps that were going on when it was crossed.
    assert spent <= 0.05 + 2 * one_step + 1e-9, spent
