"""Regressions in a workflow's run totals, and the nearest equivalent instance on each cloud (no Django)."""

from __future__ import annotations

import pytest

from costs.pricing.catalogue import Catalogue, build_builtin
from costs.pricing.model import GIB, Target, attempt_inputs
from costs.pricing.trend import regressions
from costs.pricing.whatif import what_if


def test_a_run_well_above_the_median_of_the_runs_before_is_a_regression():
    marks = regressions([1.0, 1.1, 0.9, 1.0, 1.6, 1.0, None, 1.2])
    assert marks == [False, False, False, False, True, False, False, False]


def test_what_if_prices_the_same_usage_on_each_clouds_nearest_equivalent():
    catalogue = Catalogue([build_builtin().rows])
    usage = [attempt_inputs(wall_s=3600, cpu_s=1800, peak_rss_bytes=2 * GIB)]
    result = {alt.provider: alt for alt in what_if(catalogue, Target("aws", "us-east-1", "m5.large"), usage)}
    assert result["aws"].actual and result["aws"].instance_type == "m5.large"
    for provider in ("azure", "gcp"):
        alt = result[provider]
        assert (alt.vcpu, alt.memory_gib) == (2, 8), alt
        assert alt.amount is not None and alt.amount > 0 and not alt.actual
    # allocation: 0.5 vCPU used x 1 h x vCPU rate + 2 GiB x 1 h x GiB rate, each cloud with its own rates
    assert result["aws"].amount == pytest.approx(0.5 * 0.0312471 + 2 * 0.0041882, rel=1e-5)
