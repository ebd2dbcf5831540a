"""What a run would have cost on the nearest equivalent instance of each cloud (same vCPU and memory)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalogue import PROVIDERS, Catalogue, InstanceQuote
from .model import Target, price, resolve_rates

# Regions in the same part of the world, one per cloud: the what-if moves a run next door.
REGION_GROUPS = [
    {"aws": "us-east-1", "azure": "eastus", "gcp": "us-east4"},
    {"aws": "us-east-2", "azure": "eastus2", "gcp": "us-east4"},
    {"aws": "us-west-2", "azure": "westus2", "gcp": "us-west2"},
    {"aws": "us-west-1", "azure": "westus", "gcp": "us-west2"},
    {"aws": "eu-west-1", "azure": "northeurope", "gcp": "europe-west1"},
    {"aws": "eu-west-2", "azure": "uksouth", "gcp": "europe-west2"},
    {"aws": "eu-central-1", "azure": "germanywestcentral", "gcp": "europe-west3"},
    {"aws": "ap-southeast-1", "azure": "southeastasia", "gcp": "asia-southeast1"},
    {"aws": "ap-northeast-1", "azure": "japaneast", "gcp": "asia-northeast1"},
    {"aws": "ap-south-1", "azure": "centralindia", "gcp": "asia-south1"},
    {"aws": "sa-east-1", "azure": "brazilsouth", "gcp": "southamerica-east1"},
]


def equivalent_regions(provider: str, region: str) -> dict[str, str]:
    for group in REGION_GROUPS:
        if group.get(provider) == region:
            return {**group, provider: region}
    return {**REGION_GROUPS[0], provider: region}


def nearest(quotes: Iterable[InstanceQuote], vcpu: float, memory_gib: float) -> InstanceQuote | None:
    """The same vCPU count and the closest memory (at least as much when there is one), then the cheapest."""
    quotes = [q for q in quotes if q.vcpu and q.memory_gib]
    if not quotes:
        return None

    def distance(q: InstanceQuote) -> tuple:
        assert q.vcpu is not None and q.memory_gib is not None
        return (abs(q.vcpu - vcpu), q.memory_gib < memory_gib, abs(q.memory_gib - memory_gib), q.hourly, q.sku)

    return min(quotes, key=distance)


@dataclass
class Alternative:
    provider: str
    region: str
    instance_type: str | None
    vcpu: float | None
    memory_gib: float | None
    hourly: float | None
    amount: float | None
    unpriced: list[str]
    actual: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def what_if(catalogue: Catalogue, target: Target, attempts: Iterable[Mapping[str, Any]]) -> list[Alternative]:
    """Re-price every attempt's inputs on each cloud's nearest equivalent of the target instance."""
    inputs = list(attempts)
    own = catalogue.instance(target.provider, target.region, target.instance_type)
    if not isinstance(own, InstanceQuote) or not own.vcpu or not own.memory_gib:
        reason = getattr(own, "reason", "") or f"vCPU and memory of {target.instance_type} unknown"
        return [Alternative(p, "", None, None, None, None, None, [reason], p == target.provider) for p in PROVIDERS]
    regions = equivalent_regions(target.provider, target.region)
    result = []
    for provider in PROVIDERS:
        region = regions[provider]
        if provider == target.provider and region == target.region:
            match: InstanceQuote | None = own
        else:
            match = nearest(catalogue.instances(provider, region), own.vcpu, own.memory_gib)
        if match is None:
            result.append(Alternative(provider, region, None, None, None, None, None,
                                      [f"no priced {provider} instance in {region}"], False))  # fmt: skip
            continue
        alt = Target(provider, region, match.sku, target.model)
        rates = resolve_rates(catalogue, alt)
        total, problems = 0.0, []
        for item in inputs:
            estimate = price(rates, item)
            total += estimate.amount
            problems.extend(estimate.unpriced)
        result.append(
            Alternative(provider, region, match.sku, match.vcpu, match.memory_gib, match.hourly, total,
                        sorted(set(problems)), provider == target.provider and match.sku == own.sku)
        )  # fmt: skip
    return result
