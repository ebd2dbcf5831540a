"""vCPU and memory (GiB) of each instance type: what the allocation model and the what-if need.

- AWS EC2: apache-libcloud's instance-type table (`libcloud/compute/constants/ec2_instance_types.py`).
- Azure: the VM size series documented by Microsoft (learn.microsoft.com/azure/virtual-machines/sizes,
  read 2025-03): in the D v3+ series a size's number is its vCPU count with 4 GiB per vCPU, E v3+
  8 GiB, F/Fs/Fs v2 2 GiB; the B and Av2 sizes are listed one by one.
- GCP: the predefined machine types documented by Google (cloud.google.com/compute/docs/machine-types,
  read 2025-03): `family-class-N` has N vCPUs and a fixed GiB per vCPU for the class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    vcpu: float
    memory_gib: float


def normalise(provider: str, sku: str) -> str:
    """The key a type is stored under: Azure's `Standard_D2s_v3` is libcloud's `standardd2sv3`."""
    sku = sku.strip()
    if provider == "azure":
        return re.sub(r"[^a-z0-9]", "", sku.lower())
    return sku.lower()


# ------------------------------------------------------------------ AWS


def ec2_shapes() -> dict[str, Shape]:
    """vCPU and memory per EC2 type from libcloud's table (memory is given in MiB as `ram`)."""
    from libcloud.compute.constants.ec2_instance_types import INSTANCE_TYPES

    shapes = {}
    for name, entry in INSTANCE_TYPES.items():
        vcpu = str(entry.get("extra", {}).get("vcpu", "")).strip()
        ram = entry.get("ram")
        if vcpu.replace(".", "", 1).isdigit() and isinstance(ram, (int, float)) and ram > 0:
            shapes[name.lower()] = Shape(float(vcpu), round(ram / 1024, 3))
    return shapes


# ------------------------------------------------------------------ Azure

AZURE_GIB_PER_VCPU = {"d": 4.0, "e": 8.0, "f": 2.0}
# Sizes whose number is not their vCPU count, listed by Microsoft one by one.
AZURE_LISTED = {
    "standardb1ls": Shape(1, 0.5), "standardb1s": Shape(1, 1), "standardb1ms": Shape(1, 2),
    "standardb2s": Shape(2, 4), "standardb2ms": Shape(2, 8), "standardb4ms": Shape(4, 16),
    "standardb8ms": Shape(8, 32), "standardb12ms": Shape(12, 48), "standardb16ms": Shape(16, 64),
    "standardb20ms": Shape(20, 80),
    "standarda1v2": Shape(1, 2), "standarda2v2": Shape(2, 4), "standarda4v2": Shape(4, 8),
    "standarda8v2": Shape(8, 16), "standarda2mv2": Shape(2, 16), "standarda4mv2": Shape(4, 32),
    "standarda8mv2": Shape(8, 64),
}  # fmt: skip
# D/E series v3 and later (any of the a/d/s suffixes), F v1 and Fs v2: number = vCPUs.
_AZURE_SERIES = re.compile(r"^standard(?P<series>[def])(?P<n>\d+)(?P<suffix>[ads]*)(?P<version>v[2-5])?$")


def azure_shape(key: str) -> Shape | None:
    if key in AZURE_LISTED:
        return AZURE_LISTED[key]
    match = _AZURE_SERIES.match(key)
    if not match:
        return None
    series, n, version = match["series"], int(match["n"]), match["version"]
    if series in "de" and version not in ("v3", "v4", "v5"):
        return None  # D v2 and older number their sizes differently
    if series == "f" and version not in (None, "v2"):
        return None
    if series == "e" and n >= 64:
        return None  # the largest E sizes break the 8 GiB rule
    return Shape(float(n), AZURE_GIB_PER_VCPU[series] * n)


# ------------------------------------------------------------------ GCP

# family -> class -> (GiB per vCPU, the vCPU counts Google offers)
GCP_TYPES: dict[str, dict[str, tuple[float, tuple[int, ...]]]] = {
    "n1": {
        "standard": (3.75, (1, 2, 4, 8, 16, 32, 64, 96)),
        "highmem": (6.5, (2, 4, 8, 16, 32, 64, 96)),
        "highcpu": (0.9, (2, 4, 8, 16, 32, 64, 96)),
    },
    "n2": {
        "standard": (4.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128)),
        "highmem": (8.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128)),
        "highcpu": (1.0, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    },
    "n2d": {
        "standard": (4.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)),
        "highmem": (8.0, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
        "highcpu": (1.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)),
    },
    "e2": {
        "standard": (4.0, (2, 4, 8, 16, 32)),
        "highmem": (8.0, (2, 4, 8, 16)),
        "highcpu": (1.0, (2, 4, 8, 16, 32)),
    },
    "c2": {"standard": (4.0, (4, 8, 16, 30, 60))},
}


def gcp_types() -> dict[str, tuple[str, Shape]]:
    """Every predefined machine type: name -> (family, shape)."""
    types = {}
    for family, classes in GCP_TYPES.items():
        for klass, (per_vcpu, counts) in classes.items():
            for n in counts:
                types[f"{family}-{klass}-{n}"] = (family, Shape(float(n), per_vcpu * n))
    return types
