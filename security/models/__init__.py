"""The security app's models: scanning and triage (scanning.py), secret providers (secrets.py)."""

from .scanning import (
    SEVERITY_CHOICES,
    Advisory,
    AdvisoryPackage,
    Component,
    Finding,
    FindingEvent,
    FindingQuerySet,
    GateCheck,
    Occurrence,
    Sbom,
    Scan,
    Target,
)
from .secrets import ProviderChange, SecretNotice, SecretProvider, SecretRead

__all__ = [
    "SEVERITY_CHOICES", "Advisory", "AdvisoryPackage", "Component", "Finding", "FindingEvent", "FindingQuerySet",
    "GateCheck", "Occurrence", "ProviderChange", "Sbom", "Scan", "SecretNotice", "SecretProvider", "SecretRead",
    "Target",
]  # fmt: skip
