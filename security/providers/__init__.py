"""Secret providers (plain Python, no Django): Vault, AWS Secrets Manager, Azure Key Vault.

`build_provider(kind, name, config)` makes one; each kind's client library is imported only
when a provider of that kind is built. See base.py for the interface and the reference syntax.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from .base import Provider

# kind -> (module, class, label); the label is here so a list of kinds needs no client library.
PROVIDER_KINDS: dict[str, tuple[str, str, str]] = {
    "vault": ("security.providers.vault", "VaultProvider", "HashiCorp Vault"),
    "aws": ("security.providers.aws", "AwsProvider", "AWS Secrets Manager"),
    "azure": ("security.providers.azure", "AzureProvider", "Azure Key Vault"),
}


def provider_class(kind: str) -> type[Provider]:
    try:
        module, cls, _ = PROVIDER_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown provider kind {kind!r} (expected {', '.join(PROVIDER_KINDS)})") from None
    return getattr(importlib.import_module(module), cls)


def build_provider(kind: str, name: str, config: Mapping[str, Any]) -> Provider:
    """A provider ready to use; raises ProviderConfigError naming each bad field."""
    return provider_class(kind)(name, config)
