"""Pricing a task attempt from its measured usage: the allocation and instance models.

Two steps, so an old estimate can be reproduced: `resolve_rates` looks the target up in a
catalogue once (the rates are stored with every cost record), `price` turns rates and inputs into
line items, each with the formula and its numbers. `price(record.rates, record.inputs)` gives the
same figures again, whatever the catalogue says today.

- allocation (OpenCost's method): the hourly price is split into a per-vCPU-hour and a
  per-GiB-hour rate (the provider's own rates where the catalogue has them, else OpenCost's default
  ratio of $0.031611 per vCPU-hour to $0.004237 per GiB-hour); an attempt costs
  max(requested, used vCPU) x hours x vCPU rate + max(requested, peak GiB) x hours x GiB rate.
- instance: the hourly price x the attempt's share of the instance's time (`shared_seconds`: the
  wall time, divided at each moment among the tasks running at once).
Usage a script reports (`cost.transfer_gb=12` in its outputs) or the workflow declares is priced
with the provider's storage, transfer and serverless rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalogue import Catalogue, InstanceQuote, RateQuote, Unpriced

# OpenCost's default prices (configs/default.json): only their ratio is used, to split a price.
OPENCOST_VCPU_HOUR = 0.031611
OPENCOST_GIB_HOUR = 0.004237
GIB = 1024**3
MODELS = ("allocation", "instance")
# usage key -> (catalogue kind, unit shown, divisor from the key's unit to the price's unit)
USAGE = {
    "transfer_gb": ("transfer", "GB", 1.0),
    "storage_gb_month": ("storage", "GB-month", 1.0),
    "gb_seconds": ("serverless_compute", "GB-second", 1.0),
    "requests": ("serverless_requests", "requests", 1_000_000.0),
}
OUTPUT_PREFIX = "cost."


@dataclass(frozen=True)
class Target:
    provider: str
    region: str
    instance_type: str
    model: str = "allocation"

    def describe(self) -> str:
        return f"{self.provider} {self.region} {self.instance_type} ({self.model})"


@dataclass
class Line:
    what: str
    amount: float | None  # None: unpriced
    formula: str
    quantity: float | None = None
    unit: str = ""
    rate: float | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what, "amount": self.amount, "formula": self.formula, "quantity": self.quantity,
            "unit": self.unit, "rate": self.rate, "reason": self.reason,
        }  # fmt: skip


@dataclass
class Estimate:
    lines: list[Line] = field(default_factory=list)

    @property
    def amount(self) -> float:
        return sum(line.amount for line in self.lines if line.amount is not None)

    @property
    def unpriced(self) -> list[str]:
        return [f"{line.what}: {line.reason}" for line in self.lines if line.amount is None]

    @property
    def status(self) -> str:
        if not self.unpriced:
            return "priced"
        return "partial" if any(line.amount is not None for line in self.lines) else "unpriced"


# ------------------------------------------------------------------ rates


def split_rates(hourly: float, vcpu: float, memory_gib: float) -> tuple[float, float]:
    """OpenCost's split of an instance's hourly price into per-vCPU-hour and per-GiB-hour rates."""
    cpu_weight = vcpu * OPENCOST_VCPU_HOUR
    ram_weight = memory_gib * OPENCOST_GIB_HOUR
    total = cpu_weight + ram_weight
    return hourly * cpu_weight / total / vcpu, hourly * ram_weight / total / memory_gib


def resolve_rates(catalogue: Catalogue, target: Target, usage_kinds: Iterable[str] = USAGE) -> dict[str, Any]:
    """Everything needed to price this target's attempts, as plain data (stored with each record)."""
    rates: dict[str, Any] = {"target": target.__dict__.copy()}
    quote = catalogue.instance(target.provider, target.region, target.instance_type)
    if isinstance(quote, Unpriced):
        rates["instance"] = {"unpriced": quote.reason}
    else:
        rates["instance"] = _instance_rates(quote, target.model)
    for key in usage_kinds:
        kind = USAGE[key][0]
        rate = catalogue.rate(target.provider, target.region, kind)
        if isinstance(rate, RateQuote):
            rates[key] = {"rate": rate.price, "unit": rate.unit, "sku": rate.sku, "source": rate.cited.source,
                          "as_of": rate.cited.as_of, "layer": rate.cited.layer}  # fmt: skip
        else:
            rates[key] = {"unpriced": rate.reason}
    return rates


def _instance_rates(quote: InstanceQuote, model: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "sku": quote.sku, "hourly": quote.hourly, "vcpu": quote.vcpu, "memory_gib": quote.memory_gib,
        "sources": [{"source": c.source, "as_of": c.as_of, "layer": c.layer} for c in quote.cited],
    }  # fmt: skip
    if quote.vcpu_hour is not None and quote.gib_hour is not None:
        info.update(vcpu_hour=quote.vcpu_hour, gib_hour=quote.gib_hour, basis="the provider's own rates")
    elif quote.vcpu and quote.memory_gib:
        cpu, ram = split_rates(quote.hourly, quote.vcpu, quote.memory_gib)
        info.update(vcpu_hour=cpu, gib_hour=ram, basis="OpenCost's default vCPU:GiB price ratio")
    elif model == "allocation":
        info["unpriced"] = (
            f"the vCPU and memory of {quote.provider} {quote.sku} are unknown, so its price cannot be split "
            "into vCPU and memory rates (use model: instance)"
        )
    return info


# ------------------------------------------------------------------ inputs


def usage_from_outputs(outputs: Mapping[str, Any]) -> tuple[dict[str, float], list[str]]:
    """`cost.<key>=<number>` lines of a task's outputs; bad ones come back as problems."""
    usage: dict[str, float] = {}
    problems = []
    for name, value in outputs.items():
        if not name.startswith(OUTPUT_PREFIX):
            continue
        key = name[len(OUTPUT_PREFIX) :]
        if key not in USAGE:
            problems.append(f"output {name}: unknown usage (one of {', '.join(OUTPUT_PREFIX + k for k in USAGE)})")
            continue
        try:
            number = float(str(value).strip())
        except ValueError:
            problems.append(f"output {name}: '{str(value)[:30]}' is not a number")
            continue
        if number < 0 or number != number or number == float("inf"):
            problems.append(f"output {name}: must be a positive number")
            continue
        usage[key] = number
    return usage, problems


def attempt_inputs(
    *,
    wall_s: float,
    cpu_s: float,
    peak_rss_bytes: int | None,
    shared_s: float | None = None,
    requests: Mapping[str, float] | None = None,
    declared: Mapping[str, float] | None = None,
    reported: Mapping[str, float] | None = None,
    problems: Iterable[str] = (),
    running_at_once: float | None = None,
) -> dict[str, Any]:
    requests = requests or {}
    return {
        "wall_s": round(max(wall_s, 0.0), 6),
        "cpu_s": round(max(cpu_s, 0.0), 6),
        "peak_rss_bytes": int(peak_rss_bytes or 0),
        "shared_s": round(shared_s, 6) if shared_s is not None else None,
        "running_at_once": running_at_once,
        "requested_vcpu": float(requests.get("cpu", 0.0) or 0.0),
        "requested_gib": float(requests.get("memory_gib", 0.0) or 0.0),
        "declared": dict(declared or {}),
        "reported": dict(reported or {}),
        "problems": list(problems),
    }


# ------------------------------------------------------------------ pricing


def price(rates: Mapping[str, Any], inputs: Mapping[str, Any], model: str | None = None) -> Estimate:
    """Line items for one attempt; the same rates and inputs always give the same figures."""
    return Pricer(rates, model).price(inputs)


class Pricer:
    """`price` for many attempts with the same rates (a run's): what the rates alone decide, the
    model and the fixed text of each formula, is worked out once, not once an attempt."""

    def __init__(self, rates: Mapping[str, Any], model: str | None = None):
        self.rates = rates
        self.model = model or rates.get("target", {}).get("model", "allocation")
        instance = self.instance = rates.get("instance", {})
        self.unpriced = instance.get("unpriced")
        if self.unpriced or self.model == "instance":
            return
        sku, basis, hourly = instance.get("sku", ""), instance.get("basis", ""), instance["hourly"]
        self.vcpu_hour, self.gib_hour = instance["vcpu_hour"], instance["gib_hour"]
        self.vcpu_text = f" s ÷ 3600 × ${self.vcpu_hour:.6f}/vCPU-h ({basis} of ${hourly:.4f}/h {sku}) = $"
        self.gib_text = f" s ÷ 3600 × ${self.gib_hour:.6f}/GiB-h = $"

    def price(self, inputs: Mapping[str, Any]) -> Estimate:
        estimate = Estimate(self._compute_lines(inputs))
        rates = self.rates
        for origin in ("declared", "reported"):
            usage = inputs.get(origin)
            if usage:
                for key, quantity in sorted(usage.items()):
                    estimate.lines.append(_usage_line(key, quantity, origin, rates.get(key, {})))
        for problem in inputs.get("problems") or ():
            estimate.lines.append(Line("usage", None, "", reason=problem))
        return estimate

    def _compute_lines(self, inputs: Mapping[str, Any]) -> list[Line]:
        wall = float(inputs.get("wall_s") or 0.0)
        if self.unpriced:
            return [Line("compute", None, "", reason=self.unpriced)]
        instance = self.instance
        if self.model == "instance":
            sku = instance.get("sku", "")
            shared = inputs.get("shared_s")
            shared = wall if shared is None else float(shared)
            hours = shared / 3600
            amount = instance["hourly"] * hours
            at_once = f" (wall {wall:.3f} s shared with the tasks running at once)" if shared < wall - 1e-9 else ""
            formula = f"${instance['hourly']:.4f}/h {sku} × {shared:.3f} s{at_once} ÷ 3600 = ${amount:.8f}"
            return [Line("instance share", amount, formula, hours, "instance-hour", instance["hourly"])]
        hours = wall / 3600
        used_vcpu = float(inputs.get("cpu_s") or 0.0) / wall if wall > 0 else 0.0
        requested_vcpu, requested_gib = inputs.get("requested_vcpu"), inputs.get("requested_gib")
        vcpu = max(float(requested_vcpu or 0.0), used_vcpu)
        peak_gib = float(inputs.get("peak_rss_bytes") or 0) / GIB
        gib = max(float(requested_gib or 0.0), peak_gib)
        cpu_amount = vcpu * hours * self.vcpu_hour
        ram_amount = gib * hours * self.gib_hour
        return [
            Line(
                "vCPU", cpu_amount,
                f"max({requested_vcpu or 0:g} requested, {used_vcpu:.4f} used) vCPU × {wall:.3f}{self.vcpu_text}"
                f"{cpu_amount:.8f}",
                vcpu * hours, "vCPU-hour", self.vcpu_hour,
            ),
            Line(
                "memory", ram_amount,
                f"max({requested_gib or 0:g} requested, {peak_gib:.4f} peak) GiB × {wall:.3f}{self.gib_text}"
                f"{ram_amount:.8f}",
                gib * hours, "GiB-hour", self.gib_hour,
            ),
        ]  # fmt: skip


def _usage_line(key: str, quantity: float, origin: str, rate: Mapping[str, Any]) -> Line:
    kind, unit, divisor = USAGE.get(key, (key, key, 1.0))
    what = f"{kind.replace('_', ' ')} ({origin})"
    if not rate or rate.get("unpriced"):
        return Line(what, None, "", quantity, unit, reason=rate.get("unpriced", f"no rate for {key}"))
    amount = quantity / divisor * rate["rate"]
    per = f" ÷ {divisor:,.0f}" if divisor != 1 else ""
    formula = f"{quantity:g} {unit}{per} × ${rate['rate']:g}/{rate['unit']} ({rate.get('sku', '')}) = ${amount:.8f}"
    return Line(what, amount, formula, quantity, unit, rate["rate"])


# ------------------------------------------------------------------ sharing an instance


def shared_seconds(start: float, end: float, others: Iterable[tuple[float, float | None]]) -> float:
    """Seconds of [start, end] attributed to one task when the instance's time is divided at each
    moment equally among the tasks running then (`others`: their (start, end); None = still running)."""
    if end <= start:
        return 0.0
    cuts = {start, end}
    spans = []
    for other_start, other_end in others:
        stop = end if other_end is None else other_end
        if stop <= start or other_start >= end:
            continue
        spans.append((other_start, stop))
        cuts.update(t for t in (other_start, stop) if start < t < end)
    points = sorted(cuts)
    total = 0.0
    for a, b in zip(points, points[1:]):
        middle = (a + b) / 2
        running = 1 + sum(1 for s, e in spans if s <= middle < e)
        total += (b - a) / running
    return total
