"""Sampling decisions: the SDK's head samplers when a run starts, or a tail decision when it ends.

Tail sampling keeps a run's trace when the run failed, was slower than a threshold or than
its workflow's usual (median) duration, retried a task, or carries a tag a rule names;
any other trace is kept by a ratio, decided on the trace id like OTel's TraceIdRatioBased, so
the same trace always gets the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

from .config import Sampling, TailPolicy


@dataclass(frozen=True)
class Decision:
    sampled: bool
    reason: str


@dataclass(frozen=True)
class RunFacts:
    """What the tail sampler looks at once a run has ended."""

    trace_id: str
    status: str  # success, failed, cancelled
    duration_s: float | None
    usual_s: float | None = None  # the workflow's median duration of recent successful runs
    retried: bool = False
    tags: Mapping[str, str] | None = None


def head_sampler(sampling: Sampling) -> Sampler:
    if sampling.sampler == "always_off":
        return ParentBased(ALWAYS_OFF)
    if sampling.sampler == "ratio":
        return ParentBased(TraceIdRatioBased(sampling.effective_ratio))
    return ParentBased(ALWAYS_ON)  # always_on, and tail (which records everything until the end)


def _sampled(sampler: Sampler, trace_id: str) -> bool:
    return sampler.should_sample(None, int(trace_id, 16), "run").decision.is_sampled()


def head_decision(sampling: Sampling, trace_id: str) -> Decision | None:
    """Decided when the run starts; None for tail sampling (decided when it ends)."""
    if sampling.sampler == "tail":
        return None
    sampled = _sampled(head_sampler(sampling), trace_id)
    if sampling.sampler == "ratio":
        return Decision(sampled, f"ratio {sampling.effective_ratio:g}")
    return Decision(sampled, sampling.sampler)


def tail_decision(policy: TailPolicy, ratio: float, facts: RunFacts) -> Decision:
    if policy.failed and facts.status == "failed":
        return Decision(True, "the run failed")
    duration = facts.duration_s
    if duration is not None and policy.slower_than_s is not None and duration > policy.slower_than_s:
        return Decision(True, f"slower than {policy.slower_than_s:g}s ({duration:.1f}s)")
    if (
        duration is not None
        and policy.slower_than_usual is not None
        and facts.usual_s
        and duration > policy.slower_than_usual * facts.usual_s
    ):
        return Decision(
            True,
            f"{duration / facts.usual_s:.1f}x its usual {facts.usual_s:.1f}s (limit {policy.slower_than_usual:g}x)",
        )
    if policy.retried and facts.retried:
        return Decision(True, "a task was retried")
    tags = facts.tags or {}
    for key, value in policy.tags:
        if key in tags and (value == "*" or str(tags[key]) == value):
            return Decision(True, f"tag {key}={tags[key]}")
    sampled = _sampled(TraceIdRatioBased(ratio), facts.trace_id)
    return Decision(sampled, f"ratio {ratio:g} ({'kept' if sampled else 'dropped'})")


def decide(sampling: Sampling, facts: RunFacts) -> Decision:
    """The final decision for a finished run under any sampler."""
    head = head_decision(sampling, facts.trace_id)
    if head is not None:
        return head
    return tail_decision(sampling.tail, sampling.effective_ratio, facts)
