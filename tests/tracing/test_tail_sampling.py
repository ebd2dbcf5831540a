"""Tail sampling, decided when a run ends: what keeps a trace, and the ratio for the rest."""

from __future__ import annotations

from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

from tracing.otel.config import Sampling, TailPolicy
from tracing.otel.sampling import RunFacts, decide, tail_decision

LOW = "00000000000000000000000000000001"  # the lowest trace ids fall inside any ratio above 0
HIGH = "0000000000000000ffffffffffffffff"  # the highest fall outside any ratio below 1


def facts(**changes) -> RunFacts:
    values = {"trace_id": HIGH, "status": "success", "duration_s": 10.0, "usual_s": 10.0, "retried": False, "tags": {}}
    values.update(changes)
    return RunFacts(**values)


def test_a_failed_run_is_kept_whatever_the_ratio():
    decision = tail_decision(TailPolicy(), 0.0, facts(status="failed"))
    assert decision.sampled and decision.reason == "the run failed"


def test_a_failed_run_is_left_to_the_ratio_when_the_policy_says_so():
    decision = tail_decision(TailPolicy(failed=False), 0.0, facts(status="failed"))
    assert not decision.sampled and decision.reason.startswith("ratio 0")


def test_a_run_slower_than_the_threshold_is_kept():
    decision = tail_decision(TailPolicy(slower_than_s=5), 0.0, facts(duration_s=6.5, usual_s=None))
    assert decision.sampled and decision.reason == "slower than 5s (6.5s)"


def test_a_run_within_the_threshold_is_not_kept_for_its_speed():
    assert not tail_decision(TailPolicy(slower_than_s=5), 0.0, facts(duration_s=4.9, usual_s=None)).sampled


def test_a_run_much_slower_than_its_workflow_usually_is_kept():
    decision = tail_decision(TailPolicy(slower_than_usual=1.5), 0.0, facts(duration_s=16.0, usual_s=10.0))
    assert decision.sampled and "1.6x its usual 10.0s" in decision.reason


def test_without_a_usual_duration_yet_speed_decides_nothing():
    assert not tail_decision(TailPolicy(slower_than_usual=1.5), 0.0, facts(duration_s=1000.0, usual_s=None)).sampled


def test_a_run_that_retried_a_task_is_kept():
    decision = tail_decision(TailPolicy(), 0.0, facts(retried=True))
    assert decision.sampled and decision.reason == "a task was retried"


def test_a_tag_rule_keeps_matching_runs_only():
    policy = TailPolicy(tags=(("team", "data"),))
    assert tail_decision(policy, 0.0, facts(tags={"team": "data"})).reason == "tag team=data"
    assert not tail_decision(policy, 0.0, facts(tags={"team": "web"})).sampled


def test_a_tag_rule_with_a_star_matches_any_value():
    policy = TailPolicy(tags=(("release", "*"),))
    assert tail_decision(policy, 0.0, facts(tags={"release": "1.2"})).sampled


def test_the_rest_is_kept_by_the_ratio_on_the_trace_id():
    assert tail_decision(TailPolicy(), 0.5, facts(trace_id=LOW)).reason == "ratio 0.5 (kept)"
    assert tail_decision(TailPolicy(), 0.5, facts(trace_id=HIGH)).reason == "ratio 0.5 (dropped)"


def test_the_ratio_keeps_about_its_share_and_agrees_with_the_sdk():
    import secrets

    ids = [secrets.token_hex(16) for _ in range(4000)]
    kept = [i for i in ids if tail_decision(TailPolicy(), 0.25, facts(trace_id=i)).sampled]
    sdk = TraceIdRatioBased(0.25)
    assert kept == [i for i in ids if sdk.should_sample(None, int(i, 16), "run").decision.is_sampled()]
    assert 0.2 < len(kept) / len(ids) < 0.3


def test_decide_uses_the_tail_rules_only_for_the_tail_sampler():
    failed = facts(status="failed", trace_id=HIGH)
    assert decide(Sampling("tail", 0.0), failed).sampled
    assert not decide(Sampling("ratio", 0.0), failed).sampled  # a head ratio does not look at the outcome
